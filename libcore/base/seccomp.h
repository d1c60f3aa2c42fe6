/* Per-thread syscall allowlists (seccomp BPF), written with our own small
 * BPF builder (no libseccomp: the binary links only musl and zlib). Each
 * thread of a running VM installs the list of its kind once its set-up is
 * done: after it, the thread can make only the system calls its job needs
 * (no exec, fork or thread creation, no new files but read-only opens where
 * named, no sockets but AF_INET/AF_UNIX where SLIRP and vsock need them,
 * ioctls by number, no executable mappings). Installing also sets
 * PR_SET_NO_NEW_PRIVS and drops the thread's capabilities (run as root,
 * a thread keeps uid 0 but loses every privilege beyond file ownership).
 * The lists are for the static musl binary on x86_64 (musl makes e.g.
 * open(), poll() and epoll_pwait() where glibc makes openat(), ppoll(),
 * epoll_wait(): both are listed where either may come); docs/security.md
 * has them with their counts.
 *
 * The action for anything else: VOIDBOX_SECCOMP=kill (the default:
 * SECCOMP_RET_KILL_PROCESS), trap (SIGSYS: one line naming the thread and
 * the system call on stderr, then the process exits 159 — what the tests
 * run with), log (allowed, logged by the kernel's audit: for finding what a
 * list lacks), off (no filter; PR_SET_NO_NEW_PRIVS still). */
#ifndef VOIDBOX_SECCOMP_H
#define VOIDBOX_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum seccomp_kind {
	SECCOMP_MAIN,    /* run's main thread: the client, the terminal, the teardown */
	SECCOMP_DEVICE,  /* the device loop under qemu: SLIRP, vsock, the vhost-user side */
	SECCOMP_IO,      /* the KVM monitor's device I/O loop */
	SECCOMP_VCPU,    /* a KVM vCPU */
	SECCOMP_KINDS
};

enum seccomp_mode { SECCOMP_MODE_KILL, SECCOMP_MODE_TRAP, SECCOMP_MODE_LOG, SECCOMP_MODE_OFF };

/* What varies per run: the one process the main thread may signal and reap
 * (qemu; 0 for none), and whether the device threads serve host folders
 * (virtio-fs: the file system calls fs/ makes). */
struct seccomp_params {
	pid_t child;
	bool fs;
};

/* A built filter: classic BPF, at most SECCOMP_MAX_INSNS instructions. */
#define SECCOMP_MAX_INSNS 512
struct seccomp_prog {
	uint16_t len;
	struct {
		uint16_t code;
		uint8_t jt, jf;
		uint32_t k;
	} insn[SECCOMP_MAX_INSNS];
};

/* The mode VOIDBOX_SECCOMP asks for (kill when unset or unknown). */
enum seccomp_mode seccomp_mode_env(void);
/* Builds kind's filter for mode into p. Returns 0 or -E2BIG. */
int seccomp_build(enum seccomp_kind kind, enum seccomp_mode mode, const struct seccomp_params *sp,
		  struct seccomp_prog *p);
/* How many system calls kind's list allows (each counted once), with the
 * host folders' calls on the device threads when with_fs. */
unsigned seccomp_count(enum seccomp_kind kind, bool with_fs);
/* Writes kind's system call names, space-separated, into buf. */
void seccomp_list(enum seccomp_kind kind, bool with_fs, char *buf, size_t len);
/* "main", "device", "io", "vcpu". */
const char *seccomp_kind_name(enum seccomp_kind kind);
/* Hardens the calling thread for kind: no new privileges, no capabilities,
 * then the filter in the mode VOIDBOX_SECCOMP names. Returns 0 or -errno
 * (nothing installed; the caller reports it). */
int seccomp_install(enum seccomp_kind kind, const struct seccomp_params *sp);
/* The process as a whole, before its threads start: not dumpable (no core
 * file or ptrace of a process holding guest memory), no core files, no new
 * privileges for it and its children. Returns 0 or -errno. */
int seccomp_harden_process(void);
/* The name of x86_64 system call nr, or "?" (base/sysnames.c). */
const char *seccomp_syscall_name(long nr);

#endif
