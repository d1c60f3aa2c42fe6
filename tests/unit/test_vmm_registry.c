/* The VMM boundary: a back end registered in this file alone (VMM_BACKEND)
 * is found by name, listed, chosen by --vmm auto in priority order, asked
 * for --dump-boot, and driven by `voidbox run`'s whole set-up and teardown
 * (run_vm) without any other file naming it. Its start() checks what run
 * hands a VMM (a vsock device named "vsock" first, the network, the kernel
 * and the command line) and ends the VM at once as a poweroff, so run
 * reports it as the guest powering off before the command's exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"
#include "vmm/vmm.h"
#include "t.h"

static struct {
	int probe_ok;
	int started, stopped, dumped;
	unsigned ndevs;
	char dev0[16], dev1[16];
	char cmdline[300];
} D;

static int dummy_probe(char *why, size_t len)
{
	if (D.probe_ok)
		return 0;
	snprintf(why, len, "the dummy says no");
	return -ENODEV;
}

static int dummy_start(struct vmm *v, const struct vmm_config *c)
{
	D.started++;
	D.ndevs = c->ndevs;
	snprintf(D.dev0, sizeof(D.dev0), "%s", c->ndevs > 0 ? c->devs[0].name : "");
	snprintf(D.dev1, sizeof(D.dev1), "%s", c->ndevs > 1 ? c->devs[1].name : "");
	snprintf(D.cmdline, sizeof(D.cmdline), "%s", c->cmdline ? c->cmdline : "");
	vmm_finish(v, VMM_POWEROFF, NULL);
	return 0;
}

static void dummy_stop(struct vmm *v)
{
	D.stopped++;
}

static int dummy_dump(const struct vmm_config *c, const char *dir, char *why, size_t len)
{
	D.dumped++;
	return 0;
}

VMM_BACKEND(dummy, .name = "dummy", .priority = 1, .probe = dummy_probe, .start = dummy_start,
	    .stop = dummy_stop, .dump_boot = dummy_dump);

static void test_registry(void)
{
	const struct vmm_ops *o = NULL;
	char names[128], why[300];

	T_CHECK(vmm_find("dummy") && vmm_find("kvm") && vmm_find("qemu") && !vmm_find("bogus"), "find");
	vmm_names(names, sizeof(names));
	T_CHECK(!strcmp(names, "dummy, kvm, qemu"), "names in priority order: '%s'", names);
	T_CHECK(vmm_pick("bogus", &o, why, sizeof(why)) == -EINVAL && strstr(why, "dummy, kvm, qemu or auto"),
		"unknown: %s", why);
	D.probe_ok = 1;
	T_CHECK(vmm_pick("auto", &o, why, sizeof(why)) == 0 && o == vmm_find("dummy"), "auto did not pick the dummy");
	D.probe_ok = 0;
	setenv("VOIDBOX_QEMU", "/nonexistent/qemu", 1);
	if (!vmm_host_hw_virt())
		T_CHECK(vmm_pick("auto", &o, why, sizeof(why)) == -ENODEV && strstr(why, "dummy: the dummy says no") &&
				strstr(why, "kvm:") && strstr(why, "qemu:"),
			"auto's reasons: %s", why);
	unsetenv("VOIDBOX_QEMU");
	T_CHECK(vmm_dump_boot("dummy", NULL, "/nonexistent", why, sizeof(why)) == 0 && D.dumped == 1, "dump");
	T_CHECK(vmm_dump_boot("qemu", NULL, "/nonexistent", why, sizeof(why)) == -ENOTSUP && strstr(why, "qemu"),
		"qemu has no dump: %s", why);
}

/* run_vm() through the dummy: everything run sets up reaches it, nothing
 * is left behind. */
static void test_run_through_dummy(void)
{
	const char *gd = getenv("GUEST_DIR");
	char kernel[300], img[] = "/tmp/vb-dummy-img.XXXXXX";
	static char *argv[] = { "true", NULL };
	struct run_opts o = { .cpus = 1, .mem_bytes = 128ULL << 20, .uid = 1000, .gid = 1000,
			      .vmm = "dummy", .boot_timeout_s = 10, .argv = argv, .argc = 1 };
	int fd, code;

	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd ? gd : "build/guest");
	if (access(kernel, R_OK))
		T_SKIP("no guest kernel at %s (make guest)", kernel);
	fd = mkstemp(img);
	T_REQUIRE(fd >= 0 && write(fd, "not a real initrd", 17) == 17, "initrd stand-in");
	close(fd);
	net_opts_init(&o.net);
	o.kernel = kernel;
	o.initrd = img;
	D.probe_ok = 1;
	D.started = D.stopped = 0;
	code = run_vm(&o);
	unlink(img);
	T_CHECK(D.started == 1 && D.stopped == 1, "started %d, stopped %d", D.started, D.stopped);
	T_CHECK(code == RUN_EXIT_SETUP, "exit %d for a VM that powered off before the command", code);
	T_CHECK(D.ndevs == 2 && !strcmp(D.dev0, "vsock") && !strcmp(D.dev1, "net"), "devices %u: %s %s", D.ndevs,
		D.dev0, D.dev1);
	T_CHECK(strstr(D.cmdline, "voidbox.serve=") && strstr(D.cmdline, "voidbox.net="), "command line: %s",
		D.cmdline);
}

int main(void)
{
	/* the seccomp lists are for the static musl binary, not this glibc
	 * and ASan build (base/seccomp.h) */
	setenv("VOIDBOX_SECCOMP", "off", 1);
	T_RUN(test_registry);
	T_RUN(test_run_through_dummy);
	T_EXIT();
}
