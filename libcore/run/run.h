/* `voidbox run`: the options the applet parsed, and the two ways to run a
 * command: in a fresh VM (run_vm: image, VMM, devices, agent connection,
 * teardown) or through an agent that is already listening (run_attach:
 * `voidbox agent --listen unix:PATH`, or a running VM's control socket).
 * Both return the exit code run exits with: the command's, 128+N for a
 * signal, 124 timeout, 125 setup failure, 126/127 cannot execute/not found. */
#ifndef VOIDBOX_RUN_H
#define VOIDBOX_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/opts.h"
#include "fs/opts.h"
#include "net/opts.h"
#include "run/end.h"

#define RUN_MAX_ENV 256
#define RUN_BOOT_TIMEOUT_S 120

struct run_opts {
	const char *kernel;      /* NULL: look it up (run_find_kernel) */
	const char *initrd;      /* NULL: build (and cache) the default image */
	unsigned cpus;
	uint64_t mem_bytes;
	const char *env[RUN_MAX_ENV];
	unsigned n_env;
	const char *workdir;     /* NULL: the user's home */
	uint32_t uid, gid;
	unsigned timeout_s;      /* 0: none */
	unsigned boot_timeout_s; /* the agent must be listening by then */
	const char *append;      /* extra kernel command line */
	bool console;            /* show the guest's console on stderr */
	const char *vmm;         /* kvm, qemu, auto */
	const char *dump_boot;   /* write the KVM monitor's boot data here, exit */
	bool verbose;
	const char *control;     /* vsock control socket path, NULL: private */
	bool interactive;        /* -i: forward stdin (always on without -t) */
	bool tty;                /* -t: a pty in the guest */
	const char *attach;      /* unix:PATH or vsock:PATH, NULL: boot a VM */
	struct net_opts net;     /* the guest's network (net/opts.h) */
	struct fs_opts fs;       /* shared folders (fs/opts.h) */
	char **argv;             /* the command */
	int argc;
};

/* run's options (run/opts.c): OPT_MARK on those that shape a new VM. */
extern const struct opts_spec run_opts_spec;

/* Parses --user: sandbox, root, UID or UID:GID. Returns 0 or -EINVAL. */
int run_parse_user(const char *s, uint32_t *uid, uint32_t *gid);
/* Finds the kernel: o->kernel, $VOIDBOX_KERNEL, <dir of our binary>/kernel/
 * vmlinux (make kernel), <dir>/guest/vmlinuz (make guest), /boot/vmlinuz-
 * $(uname -r). Returns 0 with the path in out, or
 * -ENOENT with the places tried in why. */
int run_find_kernel(const struct run_opts *o, char *out, size_t len, char *why, size_t wlen);

int run_attach(const struct run_opts *o);
int run_vm(const struct run_opts *o);

#endif
