/* The options of `voidbox run`: its option table (base/opts.h; the
 * network's and the shared folders' tables are included from net/opts.h
 * and fs/opts.h), --user parsing and the kernel look-up order. */
#include "run/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/opts.h"
#include "base/util.h"

int run_parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
	uint64_t u, g;
	char buf[32];
	char *colon;

	if (!strcmp(s, "sandbox")) {
		*uid = *gid = 1000;
		return 0;
	}
	if (!strcmp(s, "root")) {
		*uid = *gid = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon)
		*colon = 0;
	if (parse_uint(buf, 0, 0xfffffffe, &u))
		return -EINVAL;
	g = u;
	if (colon && parse_uint(colon + 1, 0, 0xfffffffe, &g))
		return -EINVAL;
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

/* Appends "path (why)" to the list of places tried. */
static void tried(char *why, size_t wlen, const char *path, const char *reason)
{
	size_t n = strlen(why);

	snprintf(why + n, wlen - n, "%s%s (%s)", n ? ", " : "", path, reason);
}

int run_find_kernel(const struct run_opts *o, char *out, size_t len, char *why, size_t wlen)
{
	const char *env = getenv("VOIDBOX_KERNEL");
	char self[4096], cand[4200];
	struct utsname u;
	ssize_t n;

	why[0] = 0;
	if (o->kernel) {
		snprintf(out, len, "%s", o->kernel);
		return 0; /* an explicit choice: its errors are reported as they are */
	}
	if (env && *env) {
		if (!access(env, R_OK)) {
			snprintf(out, len, "%s", env);
			return 0;
		}
		tried(why, wlen, env, "VOIDBOX_KERNEL, unreadable");
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		/* make kernel's own kernel first, then make guest's Debian one */
		static const char *const beside[] = { "kernel/vmlinux", "guest/vmlinuz" };
		for (unsigned i = 0; i < 2; i++) {
			snprintf(cand, sizeof(cand), "%s/%s", self, beside[i]);
			if (!access(cand, R_OK)) {
				snprintf(out, len, "%s", cand);
				return 0;
			}
			tried(why, wlen, cand, "missing");
		}
	}
	if (uname(&u) == 0) {
		snprintf(cand, sizeof(cand), "/boot/vmlinuz-%s", u.release);
		if (!access(cand, R_OK)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
		tried(why, wlen, cand, "missing");
	}
	return -ENOENT;
}

/* --env: NULL when arg is K=V, else why not. */
static const char *env_bad(const char *arg)
{
	return !strchr(arg, '=') || arg[0] == '=' ? "expected K=V" : NULL;
}

/* --workdir: NULL when arg is an absolute path, else why not. */
static const char *workdir_bad(const char *arg)
{
	return arg[0] != '/' ? "must be an absolute path" : NULL;
}

/* --user: sets uid and gid. Returns 0 or -EINVAL (why). */
static int user_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct run_opts *o = obj;

	if (run_parse_user(arg, &o->uid, &o->gid)) {
		snprintf(why, len, "unknown user (sandbox, root, UID or UID:GID)");
		return -EINVAL;
	}
	return 0;
}

#define R(field) OPT_AT(struct run_opts, field)
/* OPT_MARK: the option shapes a new VM, so --attach (no VM) refuses it. */
static const struct opt run_opt_list[] = {
	{ "kernel", 'k', OPT_STR, R(kernel), .flags = OPT_MARK, .meta = "PATH",
	  .help = "the guest kernel, a bzImage or an ELF vmlinux (default: $VOIDBOX_KERNEL, "
		  "else kernel/vmlinux or guest/vmlinuz beside the voidbox binary, else "
		  "/boot/vmlinuz-$(uname -r))" },
	{ "initrd", 'I', OPT_STR, R(initrd), .flags = OPT_MARK, .meta = "PATH",
	  .help = "initramfs to boot (default: built from this binary and cached)" },
	{ "cpus", 'c', OPT_UINT, R(cpus), .min = 1, .max = 64, .def = "1", .flags = OPT_MARK,
	  .meta = "N", .help = "virtual CPUs" },
	{ "memory", 'm', OPT_SIZE, R(mem_bytes), .min = 64ULL << 20, .max = 64ULL << 30,
	  .def = "512M", .flags = OPT_MARK, .meta = "SIZE", .help = "guest RAM, e.g. 512M, 1G" },
	{ "env", 'e', OPT_LIST_AT(struct run_opts, env, n_env), .check = env_bad, .meta = "K=V",
	  .help = "set an environment variable" },
	{ "workdir", 'w', OPT_STR, R(workdir), .check = workdir_bad, .meta = "DIR",
	  .help = "working folder (default: the user's home, /workspace)" },
	{ "user", 'u', OPT_CALL, .parse = user_parse, .def = "sandbox", .meta = "USER",
	  .help = "sandbox (uid 1000), root, UID or UID:GID" },
	{ "timeout", 0, OPT_UINT, R(timeout_s), .min = 1, .max = 7 * 86400, .meta = "SECS",
	  .help = "stop the VM after SECS seconds, exit 124" },
	{ "boot-timeout", 0, OPT_UINT, R(boot_timeout_s), .min = 1, .max = 3600, .def = "120",
	  .flags = OPT_MARK, .meta = "SECS",
	  .help = "give up (exit 125) when the guest's agent is not listening after SECS seconds" },
	{ "append", 0, OPT_STR, R(append), .flags = OPT_MARK, .meta = "ARGS",
	  .help = "extra kernel command line" },
	{ "console", 0, OPT_FLAG, R(console), .flags = OPT_MARK,
	  .help = "show the guest's console (kernel log) on stderr" },
	{ "vmm", 0, OPT_WORD, R(vmm), .words = "kvm|qemu|auto", .def = "auto", .flags = OPT_MARK,
	  .help = "the virtual machine monitor; auto: KVM where /dev/kvm opens and the CPU "
		  "has VMX or SVM, else qemu" },
	{ "dump-boot", 0, OPT_STR, R(dump_boot), .flags = OPT_MARK, .meta = "DIR",
	  .help = "write what the KVM monitor would give the guest (zero page, command line, "
		  "e820, ACPI tables as SIG.dat) and exit" },
	{ "control", 0, OPT_STR, R(control), .flags = OPT_MARK, .meta = "PATH",
	  .help = "the vsock control socket (CONNECT <port> protocol)" },
	{ "attach", 0, OPT_STR, R(attach), .meta = "SOCK",
	  .help = "no VM: use a listening agent, unix:PATH or vsock:PATH" },
	{ "interactive", 'i', OPT_FLAG, R(interactive),
	  .help = "forward stdin (always on without -t)" },
	{ "tty", 't', OPT_FLAG, R(tty), .help = "run CMD on a pty (raw host terminal, window size)" },
	{ "verbose", 0, OPT_FLAG, R(verbose), .help = "say what is started and why it ended" },
	OPT_INCLUDE_AT(struct run_opts, fs, &fs_opts_table),
	OPT_INCLUDE_AT(struct run_opts, net, &net_opts_table),
	{ .kind = OPT_END },
};
#undef R

static const struct opts_table run_table = { .opts = run_opt_list };

const struct opts_spec run_opts_spec = {
	.applet = "run",
	.usage = "[options] -- CMD [ARGS]",
	.about = "Boots a microVM with a stock Linux kernel and runs CMD in it as the\n"
		 "sandbox user; exits with CMD's exit code (128+N on signal N, 124 on\n"
		 "--timeout, 125 setup error, 126 cannot execute, 127 not found).\n",
	.stop_at_operand = true,
	.bad_value_exit = RUN_EXIT_SETUP,
	.size = sizeof(struct run_opts),
	.table = &run_table,
};
