/* `voidbox run [options] -- CMD [ARGS]`: boots a microVM and runs CMD in it
 * (libcore/run/). This file only parses the options; the table below is the
 * one place an option is declared (add new ones here and in the usage). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/applet.h"
#include "base/util.h"
#include "fs/opts.h"
#include "net/opts.h"
#include "run/run.h"

#define RUN_USAGE \
	"usage: voidbox run [options] -- CMD [ARGS]\n" \
	"Boots a microVM with a stock Linux kernel and runs CMD in it as the\n" \
	"sandbox user; exits with CMD's exit code (128+N on signal N, 124 on\n" \
	"--timeout, 125 setup error, 126 cannot execute, 127 not found).\n\n" \
	"  -k, --kernel PATH     bzImage (default: $VOIDBOX_KERNEL, <voidbox dir>/guest/vmlinuz,\n" \
	"                        /boot/vmlinuz-$(uname -r))\n" \
	"  -I, --initrd PATH     initramfs to boot (default: built and cached)\n" \
	"  -c, --cpus N          virtual CPUs (default 1)\n" \
	"  -m, --memory SIZE     guest RAM, e.g. 512M, 1G (default 512M)\n" \
	"  -e, --env K=V         set an environment variable (repeatable)\n" \
	"  -w, --workdir DIR     working folder (default: the user's home, /workspace)\n" \
	"  -u, --user USER       sandbox (uid 1000, default), root, UID or UID:GID\n" \
	"      --timeout SECS    stop the VM after SECS seconds, exit 124\n" \
	"      --boot-timeout SECS  give up (exit 125) when the guest's agent is not\n" \
	"                        listening after SECS seconds (default 120)\n" \
	"      --append ARGS     extra kernel command line\n" \
	"      --console         show the guest's console (kernel log) on stderr\n" \
	"      --vmm VMM         kvm, qemu or auto (default)\n" \
	"      --dump-boot DIR   write what the KVM monitor would give the guest (zero page,\n" \
	"                        command line, e820, ACPI tables as SIG.dat) and exit\n" \
	"      --control PATH    the vsock control socket (CONNECT <port> protocol)\n" \
	"      --attach SOCK     no VM: use a listening agent, unix:PATH or vsock:PATH\n" \
	"  -i, --interactive     forward stdin (always on without -t)\n" \
	"  -t, --tty             run CMD on a pty (raw host terminal, window size)\n" \
	"      --verbose         say what is started and why it ended\n" \
	"  -h, --help            this text\n\n" \
	FS_OPTS_USAGE "\n" \
	NET_OPTS_USAGE

enum { OPT_TIMEOUT = 256, OPT_BOOT_TIMEOUT, OPT_APPEND, OPT_CONSOLE, OPT_VMM, OPT_CONTROL, OPT_ATTACH,
       O_DUMP_BOOT, OPT_VERBOSE };

static const struct option run_longopts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'I' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "memory", required_argument, NULL, 'm' },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "user", required_argument, NULL, 'u' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "console", no_argument, NULL, OPT_CONSOLE },
	{ "vmm", required_argument, NULL, OPT_VMM },
	{ "dump-boot", required_argument, NULL, O_DUMP_BOOT },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	FS_OPTS_LONG,
	NET_OPTS_LONG,
	{ 0 }
};

/* The option name getopt_long knows c by ("kernel"), or NULL. */
static const char *run_opt_name(int c)
{
	for (const struct option *lo = run_longopts; lo->name; lo++)
		if (lo->val == c)
			return lo->name;
	return NULL;
}

/* Offers option c to the parts that declare their own options: the
 * network's (net/opts.h), then the shared folders' (fs/opts.h). Returns
 * 0, or -EINVAL after printing why. */
static int run_option_module(struct run_opts *o, int c, const char *arg)
{
	char why[512];
	int r = net_opts_parse(&o->net, c, arg, why, sizeof(why));

	if (r == 0)
		r = fs_opts_parse(&o->fs, c, arg, why, sizeof(why));
	if (r < 0)
		vb_err("run", 0, "%s", why);
	return r == 1 ? 0 : -EINVAL;
}

/* Applies one option to o. Returns 0, or -EINVAL after printing why. */
static int run_option(struct run_opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case 'e': case 'w': case 'u': case OPT_TIMEOUT: case OPT_ATTACH:
	case 'i': case 't': case OPT_VERBOSE:
		break;
	default: /* everything else shapes the VM, which --attach does not boot */
		if (!o->vm_only_opt)
			o->vm_only_opt = c;
	}
	switch (c) {
	case 'k': o->kernel = arg; break;
	case 'I': o->initrd = arg; break;
	case 'c':
		if (parse_uint(arg, 1, 64, &v))
			goto bad;
		o->cpus = (unsigned)v;
		break;
	case 'm':
		if (parse_size(arg, &o->mem_bytes) || o->mem_bytes < (64ULL << 20) ||
		    o->mem_bytes > (64ULL << 30)) {
			vb_err("run", 0, "--memory %s: expected a size from 64M to 64G", arg);
			return -EINVAL;
		}
		break;
	case 'e':
		if (!strchr(arg, '=') || arg[0] == '=') {
			vb_err("run", 0, "--env %s: expected K=V", arg);
			return -EINVAL;
		}
		if (o->n_env == RUN_MAX_ENV) {
			vb_err("run", 0, "--env: more than %d variables", RUN_MAX_ENV);
			return -EINVAL;
		}
		o->env[o->n_env++] = arg;
		break;
	case 'w':
		if (arg[0] != '/') {
			vb_err("run", 0, "--workdir %s: must be an absolute path", arg);
			return -EINVAL;
		}
		o->workdir = arg;
		break;
	case 'u':
		if (run_parse_user(arg, &o->uid, &o->gid)) {
			vb_err("run", 0, "--user %s: unknown user (sandbox, root, UID or UID:GID)", arg);
			return -EINVAL;
		}
		break;
	case OPT_TIMEOUT:
		if (parse_uint(arg, 1, 7 * 86400, &v))
			goto bad;
		o->timeout_s = (unsigned)v;
		break;
	case OPT_BOOT_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &v))
			goto bad;
		o->boot_timeout_s = (unsigned)v;
		break;
	case OPT_APPEND: o->append = arg; break;
	case OPT_CONSOLE: o->console = true; break;
	case OPT_VMM:
		if (strcmp(arg, "kvm") && strcmp(arg, "qemu") && strcmp(arg, "auto")) {
			vb_err("run", 0, "--vmm %s: expected kvm, qemu or auto", arg);
			return -EINVAL;
		}
		o->vmm = arg;
		break;
	case O_DUMP_BOOT: o->dump_boot = arg; break;
	case OPT_CONTROL: o->control = arg; break;
	case OPT_ATTACH: o->attach = arg; break;
	case 'i': o->interactive = true; break;
	case 't': o->tty = true; break;
	case OPT_VERBOSE: o->verbose = true; break;
	default:
		return run_option_module(o, c, arg);
	}
	return 0;
bad:
	vb_err("run", 0, "bad value '%s' for an option", arg);
	return -EINVAL;
}

static int run_main(int argc, char **argv)
{
	struct run_opts o = { .cpus = 1, .mem_bytes = 512ULL << 20, .uid = 1000, .gid = 1000,
			      .vmm = "auto", .boot_timeout_s = RUN_BOOT_TIMEOUT_S };
	char why[256];
	int c;

	net_opts_init(&o.net);
	fs_opts_init(&o.fs);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+k:I:c:m:e:w:u:ith" NET_OPTS_SHORT FS_OPTS_SHORT,
				run_longopts, NULL)) != -1) {
		if (c == 'h')
			return applet_help("run"), 0;
		if (c == '?') {
			if (optopt)
				vb_err("run", 0, "unknown option -%c (see voidbox run --help)", optopt);
			else
				vb_err("run", 0, "unknown option %s (see voidbox run --help)", argv[optind - 1]);
			return 2;
		}
		if (c == ':') {
			vb_err("run", 0, "option %s needs a value", argv[optind - 1]);
			return 2;
		}
		if (run_option(&o, c, optarg))
			return RUN_EXIT_SETUP;
	}
	if (net_opts_check(&o.net, why, sizeof(why))) {
		vb_err("run", 0, "%s", why);
		return RUN_EXIT_SETUP;
	}
	if (optind >= argc && !o.dump_boot) {
		vb_err("run", 0, "no command given (voidbox run [options] -- CMD [ARGS])");
		return 2;
	}
	if (o.attach && o.vm_only_opt) {
		const char *n = run_opt_name(o.vm_only_opt);
		if (n)
			vb_err("run", 0, "--%s: only for a new VM, not with --attach", n);
		else
			vb_err("run", 0, "-%c: only for a new VM, not with --attach", o.vm_only_opt);
		return RUN_EXIT_SETUP;
	}
	o.argv = argv + optind;
	o.argc = argc - optind;
	return o.attach ? run_attach(&o) : run_vm(&o);
}

APPLET(run, run_main, "run a command in a fresh microVM", RUN_USAGE);
