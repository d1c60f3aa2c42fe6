/* Per-thread seccomp allowlists and the BPF builder; see base/seccomp.h.
 *
 * A list is a set of rules, each one system call, either allowed with any
 * arguments or with one argument checked: equal to one of a few values
 * (socket domains, ioctl and fcntl commands, the one child process), or
 * without some bits (PROT_EXEC in mmap's prot, write/create in open's
 * flags). Only an argument's low 32 bits are compared: every argument
 * checked here is an int or unsigned int in the kernel. The program:
 * architecture must be x86_64 (else kill), x32 numbers get the list's
 * action, then per rule "nr == N ? (checks) allow : next", the hot calls
 * first, and the list's action at the end. Every check block ends in a
 * return, so the accumulator still holds the number on the skip path. */
#include "base/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#define X32_SYSCALL_BIT 0x40000000U

enum { OP_ANY, OP_IN, OP_NOBITS, OP_CHILD };

struct rule {
	uint16_t nr;
	uint8_t op, arg, n;
	uint32_t v[6];
};

#define ANY(name) { SYS_##name, OP_ANY, 0, 0, { 0 } }
#define IN(name, arg, ...)                                                               \
	{ SYS_##name, OP_IN, arg, sizeof((uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), \
	  { __VA_ARGS__ } }
#define NOBITS(name, arg, mask) { SYS_##name, OP_NOBITS, arg, 1, { mask } }
#define CHILD(name, arg) { SYS_##name, OP_CHILD, arg, 0, { 0 } }

#define OPEN_WRITE_BITS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)

/* Every thread: I/O on fds it holds, locks, its own end, memory (never
 * executable), the clock, signalling its own threads (vCPU kicks). */
static const struct rule core[] = {
	ANY(read), ANY(write), ANY(futex), ANY(readv), ANY(writev), ANY(close),
	ANY(clock_gettime), ANY(gettimeofday), ANY(rt_sigprocmask), ANY(rt_sigreturn),
	ANY(restart_syscall), ANY(getpid), ANY(gettid), ANY(tkill), ANY(tgkill), ANY(sched_yield),
	ANY(brk), NOBITS(mmap, 2, PROT_EXEC), ANY(munmap), ANY(mremap), ANY(madvise),
	ANY(exit), ANY(exit_group),
};

/* Threads that run base/loop. */
static const struct rule loop[] = {
	ANY(epoll_pwait), ANY(epoll_pwait2), ANY(epoll_wait), ANY(epoll_ctl),
};

/* The device loop's back ends: SLIRP's host sockets (AF_INET, ICMP ones
 * too), vsock's Unix sockets, the spare fd (/dev/null, read-only), the
 * capture file (already open). */
static const struct rule net[] = {
	ANY(recvfrom), ANY(sendto), ANY(recvmsg), ANY(sendmsg),
	IN(ioctl, 1, TIOCOUTQ, FIONREAD),
	IN(socket, 0, AF_INET, AF_UNIX), ANY(connect), ANY(accept4),
	ANY(setsockopt), ANY(getsockopt), ANY(shutdown),
	IN(fcntl, 1, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GET_SEALS),
	NOBITS(open, 1, OPEN_WRITE_BITS), NOBITS(openat, 2, OPEN_WRITE_BITS),
	ANY(fstat), ANY(newfstatat),
};

/* Host folders (virtio-fs, fs/): the device thread works in the shares'
 * trees on behalf of the guest, always relative to a directory descriptor
 * (openat with O_NOFOLLOW, fs/path.c), so these come only with shares:
 * creating, renaming, linking and removing names, reading and writing at
 * offsets, attributes and times, directory listings, syncs. */
static const struct rule fs[] = {
	ANY(openat), ANY(mkdirat), ANY(mknodat), ANY(unlinkat), ANY(renameat), ANY(renameat2),
	ANY(linkat), ANY(symlinkat), ANY(readlinkat), ANY(fchmod), ANY(fchmodat), ANY(ftruncate),
	ANY(utimensat), ANY(faccessat), ANY(faccessat2), ANY(fstatfs), ANY(statx), ANY(lseek),
	ANY(pread64), ANY(pwrite64), ANY(preadv), ANY(pwritev), ANY(getdents64), ANY(fsync),
	ANY(fdatasync), ANY(fallocate), ANY(syncfs), ANY(fstat), ANY(newfstatat),
};

/* The vhost-user side (qemu's device thread): memory tables are mmap'd
 * shared (core's mmap), seals read (fcntl above), qemu reaped when it
 * exits (its pidfd fires in this loop). */
static const struct rule vhost[] = {
	CHILD(wait4, 0),
};

/* A vCPU: KVM_RUN, the registers (general and segment) for a triple-fault
 * report, the UART's interrupt line, waiting for the console pipe to take a
 * line (the write itself and the device hand-off are core). */
static const struct rule vcpu[] = {
	IN(ioctl, 1, KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_IRQ_LINE), ANY(poll), ANY(ppoll),
};

/* run's main thread once the VM runs: the agent connection (a Unix
 * socket to the control path), stdin/stdout/stderr, the terminal's modes
 * and size, --timeout's timer, qemu signalled and reaped, the run folder
 * and sockets removed. */
static const struct rule main_thread[] = {
	ANY(recvfrom), ANY(sendto), ANY(recvmsg), ANY(sendmsg), ANY(poll), ANY(ppoll),
	IN(socket, 0, AF_UNIX), ANY(connect), ANY(shutdown), ANY(getsockopt),
	IN(ioctl, 1, TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ),
	IN(fcntl, 1, F_GETFD, F_SETFD, F_GETFL, F_SETFL),
	ANY(timerfd_create), ANY(timerfd_settime),
	CHILD(kill, 0), CHILD(wait4, 0),
	ANY(unlink), ANY(unlinkat), ANY(rmdir),
	NOBITS(open, 1, OPEN_WRITE_BITS), NOBITS(openat, 2, OPEN_WRITE_BITS),
	ANY(fstat), ANY(newfstatat),
};

struct group {
	const struct rule *rules;
	size_t n;
};
#define G(a) { a, ARRAY_SIZE_(a) }
#define ARRAY_SIZE_(a) (sizeof(a) / sizeof((a)[0]))

static const struct group lists[SECCOMP_KINDS][5] = {
	[SECCOMP_MAIN] = { G(core), G(loop), G(main_thread) },
	[SECCOMP_DEVICE] = { G(core), G(loop), G(net), G(vhost) },
	[SECCOMP_IO] = { G(core), G(loop), G(net) },
	[SECCOMP_VCPU] = { G(core), G(vcpu) },
};

static const char *const kind_names[SECCOMP_KINDS] = { "main", "device", "io", "vcpu" };

const char *seccomp_kind_name(enum seccomp_kind kind)
{
	return (unsigned)kind < SECCOMP_KINDS ? kind_names[kind] : "?";
}

enum seccomp_mode seccomp_mode_env(void)
{
	const char *e = getenv("VOIDBOX_SECCOMP");

	if (!e || !*e || !strcmp(e, "kill"))
		return SECCOMP_MODE_KILL;
	if (!strcmp(e, "trap"))
		return SECCOMP_MODE_TRAP;
	if (!strcmp(e, "log"))
		return SECCOMP_MODE_LOG;
	if (!strcmp(e, "off"))
		return SECCOMP_MODE_OFF;
	return SECCOMP_MODE_KILL;
}

/* Whether the shares' group allows nr with any arguments. */
static bool fs_allows(uint16_t nr)
{
	for (size_t i = 0; i < ARRAY_SIZE_(fs); i++)
		if (fs[i].nr == nr)
			return true;
	return false;
}

/* Flattens kind's rules, in order, into out (max), with the shares' rules
 * on the device threads when with_fs. Returns how many. */
static size_t rules_of(enum seccomp_kind kind, bool with_fs, const struct rule **out, size_t max)
{
	size_t n = 0;

	with_fs = with_fs && (kind == SECCOMP_DEVICE || kind == SECCOMP_IO);
	for (const struct group *g = lists[kind]; g < lists[kind] + 5 && g->rules; g++)
		for (size_t i = 0; i < g->n && n < max; i++)
			if (!with_fs || !fs_allows(g->rules[i].nr)) /* its narrower rule would deny first */
				out[n++] = &g->rules[i];
	if (with_fs)
		for (size_t i = 0; i < ARRAY_SIZE_(fs) && n < max; i++)
			out[n++] = &fs[i];
	return n;
}

#define MAX_RULES 128

unsigned seccomp_count(enum seccomp_kind kind, bool with_fs)
{
	const struct rule *r[MAX_RULES];
	size_t n = rules_of(kind, with_fs, r, MAX_RULES);
	unsigned count = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= r[j]->nr == r[i]->nr;
		count += !seen;
	}
	return count;
}

void seccomp_list(enum seccomp_kind kind, bool with_fs, char *buf, size_t len)
{
	const struct rule *r[MAX_RULES];
	size_t n = rules_of(kind, with_fs, r, MAX_RULES), used = 0;

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(buf + used, len - used, "%s%s", used ? " " : "",
				 seccomp_syscall_name(r[i]->nr));
		if (k < 0 || (size_t)k >= len - used)
			return;
		used += (size_t)k;
	}
}

static int emit(struct seccomp_prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->len >= SECCOMP_MAX_INSNS)
		return -E2BIG;
	p->insn[p->len].code = code;
	p->insn[p->len].jt = jt;
	p->insn[p->len].jf = jf;
	p->insn[p->len].k = k;
	p->len++;
	return 0;
}

#define LD_ABS(off) (BPF_LD | BPF_W | BPF_ABS), 0, 0, (uint32_t)(off)
#define RET(k) (BPF_RET | BPF_K), 0, 0, (k)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

/* The kernel's strongest kill it has (KILL_PROCESS since 4.14). */
static uint32_t kill_action(void)
{
	uint32_t a = SECCOMP_RET_KILL_PROCESS;

	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) == 0 ? a
								     : SECCOMP_RET_KILL_THREAD;
}

int seccomp_build(enum seccomp_kind kind, enum seccomp_mode mode, const struct seccomp_params *sp,
		  struct seccomp_prog *p)
{
	const struct rule *rs[MAX_RULES];
	size_t nr = rules_of(kind, sp && sp->fs, rs, MAX_RULES);
	uint32_t kill = kill_action(), deny;
	int e = 0;

	deny = mode == SECCOMP_MODE_TRAP ? SECCOMP_RET_TRAP | (uint32_t)kind
	       : mode == SECCOMP_MODE_LOG ? SECCOMP_RET_LOG
					  : kill;
	p->len = 0;
	e |= emit(p, LD_ABS(offsetof(struct seccomp_data, arch)));
	e |= emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
	e |= emit(p, RET(kill));
	e |= emit(p, LD_ABS(offsetof(struct seccomp_data, nr)));
	e |= emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_SYSCALL_BIT);
	e |= emit(p, RET(deny));
	for (size_t i = 0; i < nr; i++) {
		const struct rule *r = rs[i];

		switch (r->op) {
		case OP_ANY:
			e |= emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, r->nr);
			e |= emit(p, RET(SECCOMP_RET_ALLOW));
			break;
		case OP_CHILD:
			if (!sp || sp->child <= 0)
				break; /* no child: not allowed at all */
			__attribute__((fallthrough)); /* one value */
		case OP_IN: {
			unsigned n = r->op == OP_CHILD ? 1 : r->n;

			e |= emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(2 * n + 2), r->nr);
			e |= emit(p, LD_ABS(ARG_LO(r->arg)));
			for (unsigned k = 0; k < n; k++) {
				e |= emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1,
					  r->op == OP_CHILD ? (uint32_t)sp->child : r->v[k]);
				e |= emit(p, RET(SECCOMP_RET_ALLOW));
			}
			e |= emit(p, RET(deny));
			break;
		}
		case OP_NOBITS:
			e |= emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, r->nr);
			e |= emit(p, LD_ABS(ARG_LO(r->arg)));
			e |= emit(p, BPF_JMP | BPF_JSET | BPF_K, 1, 0, r->v[0]);
			e |= emit(p, RET(SECCOMP_RET_ALLOW));
			e |= emit(p, RET(deny));
			break;
		}
	}
	e |= emit(p, RET(deny));
	return e ? -E2BIG : 0;
}

/* Appends decimal v to buf at *n (async-signal-safe). */
static void put_num(char *buf, size_t *n, long v)
{
	char t[24];
	int k = 0;

	if (v < 0) {
		buf[(*n)++] = '-';
		v = -v;
	}
	do
		t[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < (int)sizeof(t));
	while (k)
		buf[(*n)++] = t[--k];
}

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
	while (*s && *n < cap)
		buf[(*n)++] = *s++;
}

/* VOIDBOX_SECCOMP=trap: a system call outside the thread's list. One line,
 * then the process ends as KILL_PROCESS would (status 159 = 128 + SIGSYS). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[256];
	size_t n = 0;
	unsigned kind = (unsigned)si->si_errno;

	put_str(msg, &n, 160, "voidbox: seccomp: the ");
	put_str(msg, &n, 160, kind < SECCOMP_KINDS ? kind_names[kind] : "?");
	put_str(msg, &n, 160, " thread called ");
	put_str(msg, &n, 160, seccomp_syscall_name(si->si_syscall));
	put_str(msg, &n, 160, " (system call ");
	put_num(msg, &n, si->si_syscall);
	put_str(msg, &n, 200, "), which its allowlist does not permit: stopping\n");
	if (write(2, msg, n) < 0) {
		/* nothing more to do */
	}
	syscall(SYS_exit_group, 128 + SIGSYS);
}

/* Drops every capability of the calling thread (effective, permitted,
 * inheritable). Returns 0 or -errno. */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int seccomp_install(enum seccomp_kind kind, const struct seccomp_params *sp)
{
	enum seccomp_mode mode = seccomp_mode_env();
	struct seccomp_prog *p;
	struct sock_fprog fp;
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if ((r = drop_caps()))
		return r;
	if (mode == SECCOMP_MODE_OFF)
		return 0;
	if (mode == SECCOMP_MODE_TRAP) {
		struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
		sigset_t set;

		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return -errno;
		sigemptyset(&set);
		sigaddset(&set, SIGSYS);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = seccomp_build(kind, mode, sp, p);
	if (!r) {
		fp.len = p->len;
		fp.filter = (struct sock_filter *)p->insn;
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0 &&
		    (errno != ENOSYS || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) < 0))
			r = -errno;
	}
	free(p);
	return r;
}

int seccomp_harden_process(void)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    setrlimit(RLIMIT_CORE, &none) < 0)
		return -errno;
	return 0;
}
