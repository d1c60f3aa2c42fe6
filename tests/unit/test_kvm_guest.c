/* The KVM monitor on the real /dev/kvm with a tiny test guest (see
 * kvm_guest.h): boot protocol entry, zero page, PIO exits (UART, ACPI
 * poweroff), MMIO exits (virtio-mmio registers), ioeventfd (the notify),
 * irqfd (the interrupt through the in-kernel IOAPIC and LAPIC), the I/O
 * thread, and a clean stop with every thread joined and fd closed. Runs
 * wherever /dev/kvm opens, even without vmx/svm (PVM): the guest is a few
 * hundred instructions. What the host's KVM lacks is a SKIP naming the
 * ioctl and errno. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "kvm/layout.h"
#include "kvm/vm.h"
#include "vmm/vmm.h"
#include "kvm_guest.h"
#include "t.h"

#define GUEST_TIMEOUT_S 20

struct watchdog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, fired;
	struct kvm_vm *vm;
};

/* Kills the VM if it has not stopped within GUEST_TIMEOUT_S. */
static void *watchdog(void *arg)
{
	struct watchdog *w = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += GUEST_TIMEOUT_S;
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	if (!w->done) {
		w->fired = true;
		kvm_vm_kill(w->vm);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* kvm_vm_wait() with a watchdog that kills the VM after GUEST_TIMEOUT_S.
 * Returns how the VM ended; *fired says whether the watchdog did it. */
static enum kvm_exit wait_guarded(struct kvm_vm *vm, bool *fired)
{
	struct watchdog w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .vm = vm };
	enum kvm_exit ex;
	pthread_t wt;

	pthread_create(&wt, NULL, watchdog, &w);
	ex = kvm_vm_wait(vm);
	pthread_mutex_lock(&w.mu);
	w.done = true;
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(wt, NULL);
	*fired = w.fired;
	return ex;
}

/* Number of open fds of this process. */
static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* The host's KVM failed an ioctl this test needs: SKIP with it. */
static bool host_lacks(const char *why)
{
	return !strncmp(why, "KVM_", 4) || !strncmp(why, "open /dev/kvm", 13);
}

static void test_tiny_guest(void)
{
	static struct kvm_vm vm;
	struct tg_echo echo;
	struct vdev *devs[1] = { &echo.dev };
	struct loop loop;
	bool fired;
	size_t klen;
	uint8_t *k = tg_bzimage(&klen);
	char out[UART_RING + 1];
	int pipefd[2], fds_before, r;
	enum kvm_exit ex;
	uint64_t t0;
	ssize_t n;

	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		free(k);
		T_SKIP("open /dev/kvm: %s", strerror(errno));
	}
	close(fd);
	fds_before = count_fds();
	T_REQUIRE(loop_init(&loop) == 0, "loop_init");
	tg_echo_init(&echo);
	struct kvm_vm_cfg cfg = {
		.kernel = k, .kernel_size = klen, .cmdline = "console=ttyS0 vb-test=1",
		.cpus = 2, .mem_size = 64ULL << 20, .devs = devs, .n_devs = 1, .loop = &loop, .console_fd = -1,
	};
	r = kvm_vm_create(&vm, &cfg);
	if (r && host_lacks(vm.why)) {
		char why[300];
		snprintf(why, sizeof(why), "%s", vm.why);
		kvm_vm_destroy(&vm);
		loop_fini(&loop);
		free(k);
		T_SKIP("host KVM lacks it: %s", why);
	}
	T_REQUIRE(r == 0, "kvm_vm_create: %s", vm.why);
	t0 = now_ns();
	T_REQUIRE(kvm_vm_start(&vm) == 0, "kvm_vm_start: %s", vm.why);
	ex = wait_guarded(&vm, &fired);

	/* what the guest wrote to COM1 */
	T_REQUIRE(pipe(pipefd) == 0, "pipe");
	kvm_vm_dump_console(&vm, pipefd[1]);
	close(pipefd[1]);
	n = read_full(pipefd[0], out, sizeof(out) - 1);
	close(pipefd[0]);
	out[n > 0 ? n : 0] = 0;

	if (ex == KVM_VM_ERROR && strstr(vm.why, "emulation")) {
		/* PVM's instruction emulator may lack one the guest uses */
		char why[300];
		snprintf(why, sizeof(why), "%s", vm.why);
		kvm_vm_destroy(&vm);
		loop_fini(&loop);
		free(k);
		T_SKIP("host KVM cannot run the test guest: %s; console: %.60s", why, out);
	}
	T_CHECK(!fired, "guest did not power off in %d s; console: %.200s", GUEST_TIMEOUT_S, out);
	T_CHECK(ex == KVM_VM_POWEROFF, "exit %s (%.100s); console: %.200s", kvm_exit_name(ex), vm.why, out);
	T_CHECK(strstr(out, "console=ttyS0 vb-test=1 virtio_mmio.device=512@0xfeb00000:5\n"),
		"command line not echoed from the zero page: %.200s", out);
	T_CHECK(strstr(out, "\n4\n"), "e820 count not 4: %.200s", out);
	T_CHECK(!strstr(out, "FAIL"), "guest check failed: %.200s", out);
	T_CHECK(strstr(out, "1:PING\n"), "no interrupt/reply seen by the guest: %.200s", out);
	T_CHECK(echo.started == 1 && echo.chains == 1 && echo.kicks >= 1,
		"back end: started %lu chains %lu kicks %lu", (unsigned long)echo.started,
		(unsigned long)echo.chains, (unsigned long)echo.kicks);
	T_CHECK(vm.mmio[0].n_bad == 0, "%lu bad register accesses", (unsigned long)vm.mmio[0].n_bad);
	if (!vm.ioeventfd_err)
		T_CHECK(vm.mmio[0].n_notify_exits == 0, "notify exited %lu times despite the ioeventfd",
			(unsigned long)vm.mmio[0].n_notify_exits);
	T_CHECK(vm.vcpu[0].n_pio > 0 && vm.vcpu[0].n_mmio > 0, "pio %lu mmio %lu exits",
		(unsigned long)vm.vcpu[0].n_pio, (unsigned long)vm.vcpu[0].n_mmio);
	printf("# tiny guest: %s in %.1f ms, %lu exits (%lu pio, %lu mmio), ioeventfd %s\n",
	       kvm_exit_name(ex), (double)(now_ns() - t0) / 1e6, (unsigned long)vm.vcpu[0].n_exits,
	       (unsigned long)vm.vcpu[0].n_pio, (unsigned long)vm.vcpu[0].n_mmio,
	       vm.ioeventfd_err ? strerror(-vm.ioeventfd_err) : "used");
	kvm_vm_destroy(&vm);
	T_CHECK(echo.resets == 1, "back end reset %lu times at teardown", (unsigned long)echo.resets);
	loop_fini(&loop);
	T_CHECK(count_fds() == fds_before, "fds: %d before, %d after", fds_before, count_fds());
	free(k);
}

/* The same guest through the "kvm" back end (vmm.h), as `voidbox run --vmm kvm` drives
 * it: files by path, console on an fd, the end on done_fd. Then the bad
 * inputs run refuses with one line. */
static void test_vmm_ops(void)
{
	char kpath[64], why[256];
	struct tg_echo echo;
	struct loop loop;
	struct vmm v;
	struct pollfd p;
	char out[4096];
	int pipefd[2], fd;
	size_t klen;
	uint8_t *k = tg_bzimage(&klen);
	ssize_t n;

	if ((fd = kvm_open_checked(why, sizeof(why))) < 0) {
		free(k);
		T_SKIP("%s", why);
	}
	close(fd);
	snprintf(kpath, sizeof(kpath), "/tmp/vb-kvm-guest-%d.bz", (int)getpid());
	fd = open(kpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_REQUIRE(fd >= 0 && write_full(fd, k, klen) == 0, "write %s", kpath);
	close(fd);
	free(k);
	T_REQUIRE(loop_init(&loop) == 0 && pipe2(pipefd, O_CLOEXEC) == 0, "set-up");
	tg_echo_init(&echo);
	struct vmm_config c = {
		.kernel = kpath, .cmdline = "vb-vmm=1", .cpus = 1, .mem_bytes = 64ULL << 20,
		.console_fd = pipefd[1], .loop = &loop, .ndevs = 1, .devs = { { .dev = &echo.dev } },
	};
	T_REQUIRE(vmm_init(&v, vmm_find("kvm")) == 0, "vmm_init");
	if (vmm_find("kvm")->start(&v, &c)) {
		snprintf(why, sizeof(why), "%s", v.why);
		vmm_fini(&v);
		unlink(kpath);
		if (host_lacks(why))
			T_SKIP("host KVM lacks it: %s", why);
		T_REQUIRE(0, "start: %s", why);
	}
	p = (struct pollfd){ .fd = v.done_fd, .events = POLLIN };
	T_CHECK(poll(&p, 1, GUEST_TIMEOUT_S * 1000) == 1, "done_fd never readable");
	T_CHECK(v.end == VMM_POWEROFF, "end %d: %s", v.end, v.why);
	vmm_fini(&v);
	close(pipefd[1]);
	n = read_full(pipefd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	T_CHECK(strstr(out, "console=ttyS0 vb-vmm=1 virtio_mmio.device=512@0xfeb00000:5\n"), "console: %.200s", out);
	T_CHECK(strstr(out, "1:PING\n"), "console: %.200s", out);
	/* bad inputs: one line each, before any guest runs */
	static const struct { const char *kernel; uint64_t mem; unsigned cpus; const char *want; } bad[] = {
		{ "/nonexistent/vmlinuz", 64 << 20, 1, "kernel /nonexistent/vmlinuz: No such file" },
		{ "/proc/self/exe", 64 << 20, 1, "kernel: " },
		{ NULL, 16 << 20, 1, "kernel too large for --memory" },
		{ NULL, 64 << 20, 0, "--cpus" },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		c.kernel = bad[i].kernel ? bad[i].kernel : kpath;
		c.mem_bytes = bad[i].mem;
		c.cpus = bad[i].cpus;
		T_REQUIRE(vmm_init(&v, vmm_find("kvm")) == 0, "vmm_init");
		int r = vmm_find("kvm")->start(&v, &c);
		T_CHECK(r < 0 && strstr(v.why, bad[i].want) && !strchr(v.why, '\n'), "bad input %u: %d %s", i, r, v.why);
		vmm_fini(&v);
	}
	unlink(kpath);
	loop_fini(&loop);
}

/* The other ends of a guest: triple fault, 8042 reset, ACPI reset, a vCPU
 * fault (code in MMIO); each stops the VM cleanly (threads joined, fds
 * closed) with the right reason, in one line. */
static void test_ends(void)
{
	static const struct { enum tg_mode mode; enum kvm_exit want; } ends[] = {
		{ TG_TRIPLE_FAULT, KVM_VM_TRIPLE_FAULT },
		{ TG_RESET_8042, KVM_VM_REBOOT },
		{ TG_RESET_ACPI, KVM_VM_REBOOT },
		{ TG_EXEC_MMIO, KVM_VM_ERROR },
	};
	static struct kvm_vm vm;
	struct loop loop;
	char why[256];
	int fd = kvm_open_checked(why, sizeof(why)), fds;

	if (fd < 0)
		T_SKIP("%s", why);
	close(fd);
	fds = count_fds();
	for (unsigned i = 0; i < ARRAY_SIZE(ends); i++) {
		size_t klen;
		uint8_t *k = tg_bzimage_mode(&klen, ends[i].mode);
		struct kvm_vm_cfg cfg = { .kernel = k, .kernel_size = klen, .cpus = 2, .mem_size = 32ULL << 20,
					  .loop = &loop, .console_fd = -1 };
		bool fired;
		enum kvm_exit ex;

		T_REQUIRE(loop_init(&loop) == 0, "loop");
		if (kvm_vm_create(&vm, &cfg) || kvm_vm_start(&vm)) {
			snprintf(why, sizeof(why), "%s", vm.why);
			kvm_vm_destroy(&vm);
			loop_fini(&loop);
			free(k);
			if (host_lacks(why))
				T_SKIP("host KVM lacks it: %s", why);
			T_REQUIRE(0, "create/start: %s", why);
		}
		ex = wait_guarded(&vm, &fired);
		T_CHECK(!fired, "mode %d: the guest did not stop", ends[i].mode);
		T_CHECK(ex == ends[i].want, "mode %d: %s (%s), want %s", ends[i].mode, kvm_exit_name(ex), vm.why,
			kvm_exit_name(ends[i].want));
		/* Intel keeps the registers; AMD's KVM resets the vCPU, and the
		 * monitor says where is unknown rather than print the reset RIP */
		if (ends[i].mode == TG_TRIPLE_FAULT)
			T_CHECK(strstr(vm.why, "triple fault at RIP 0x10") ||
				strstr(vm.why, "triple fault (this KVM resets the vCPU"), "why: '%s'", vm.why);
		if (ends[i].mode == TG_EXEC_MMIO)
			T_CHECK(!strncmp(vm.why, "KVM_RUN: vCPU 0: ", 17) && !strchr(vm.why, '\n'), "why: '%s'", vm.why);
		kvm_vm_destroy(&vm);
		loop_fini(&loop);
		free(k);
	}
	T_CHECK(count_fds() == fds, "fds: %d before, %d after", fds, count_fds());
}

int main(void)
{
	/* the seccomp lists are for the musl binary; this is a glibc ASan build */
	setenv("VOIDBOX_SECCOMP", "off", 1);
	T_RUN(test_tiny_guest);
	T_RUN(test_vmm_ops);
	T_RUN(test_ends);
	T_EXIT();
}
