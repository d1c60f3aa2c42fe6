/* Unit tests for vmm/: choosing a VMM, host facts, and qemu supervision
 * without a guest (a qemu that cannot boot must end the VM with qemu's own
 * error line, and stop() must leave no process behind). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/loop.h"
#include "vmm/vmm.h"
#include "t.h"

static void test_pick(void)
{
	const struct vmm_ops *o = NULL;
	char why[256];

	T_CHECK(vmm_pick("bogus", &o, why, sizeof(why)) == -EINVAL && strstr(why, "bogus"),
		"bogus name: %s", why);
	if (!vmm_host_hw_virt())
		T_CHECK(vmm_pick("kvm", &o, why, sizeof(why)) < 0 && why[0],
			"kvm picked on a host without vmx/svm");
	setenv("VOIDBOX_QEMU", "/nonexistent/qemu", 1);
	T_CHECK(vmm_pick("qemu", &o, why, sizeof(why)) < 0 && strstr(why, "not found"),
		"missing qemu: %s", why);
	if (!vmm_host_hw_virt())
		T_CHECK(vmm_pick("auto", &o, why, sizeof(why)) == -ENODEV &&
			strstr(why, "kvm:") && strstr(why, "qemu:"), "auto with nothing: %s", why);
	unsetenv("VOIDBOX_QEMU");
}

static void test_tsc(void)
{
	unsigned long khz = vmm_host_tsc_khz();

	T_CHECK(khz > 100000 && khz < 10000000, "implausible TSC rate %lu kHz", khz);
}

/* Starts qemu (if installed) on a kernel that does not exist, with its run
 * folder made in dir and l as its loop. Records a skip or a failure in the
 * current test; the caller returns when either is set. */
static void start_doomed_qemu(struct vmm *v, struct vmm_config *c, struct loop *l, char *dir)
{
	char why[256];

	if (vmm_find("qemu")->probe(why, sizeof(why)))
		T_SKIP("%s", why);
	*c = (struct vmm_config){ .kernel = "/nonexistent/bzImage", .cmdline = "quiet",
				  .cpus = 1, .mem_bytes = 64 << 20, .console_fd = -1 };
	T_REQUIRE(mkdtemp(dir), "mkdtemp");
	T_REQUIRE(loop_init(l) == 0, "loop");
	c->run_dir = dir;
	c->loop = l;
	T_REQUIRE(vmm_init(v, vmm_find("qemu")) == 0, "init");
	T_REQUIRE(v->ops->start(v, c) == 0, "start: %s", v->why);
}

/* qemu with a kernel that does not exist: it exits at once with an error;
 * the VMM must report VMM_FAILED with qemu's message. */
static void test_qemu_dies(void)
{
	char dir[] = "/tmp/vb-run-unit.XXXXXX";
	struct vmm_config c;
	struct loop l;
	struct vmm v;

	start_doomed_qemu(&v, &c, &l, dir);
	if (t_cur_failed || t_cur_skipped)
		return;
	struct pollfd p = { .fd = v.done_fd, .events = POLLIN };
	T_CHECK(poll(&p, 1, 20000) == 1, "qemu's death not noticed");
	T_CHECK(v.end == VMM_FAILED, "end %d", v.end);
	T_CHECK(strstr(v.why, "qemu exited with status") && strstr(v.why, "nonexistent"),
		"why: %s", v.why);
	vmm_fini(&v);
	vmm_fini(&v);
	loop_fini(&l);
	rmdir(dir);
}

/* stop() while qemu is still starting must kill and reap it. */
static void test_qemu_stop(void)
{
	char dir[] = "/tmp/vb-run-unit.XXXXXX";
	struct vmm_config c;
	struct loop l;
	struct vmm v;

	start_doomed_qemu(&v, &c, &l, dir);
	if (t_cur_failed || t_cur_skipped)
		return;
	vmm_fini(&v);
	T_CHECK(v.end != VMM_RUNNING, "still running after stop");
	T_CHECK(rmdir(dir) == 0, "run dir not empty after stop");
	loop_fini(&l);
}

int main(void)
{
	/* the seccomp lists are for the musl binary; this is a glibc ASan build */
	setenv("VOIDBOX_SECCOMP", "off", 1);
	T_RUN(test_pick);
	T_RUN(test_tsc);
	T_RUN(test_qemu_dies);
	T_RUN(test_qemu_stop);
	T_EXIT();
}
