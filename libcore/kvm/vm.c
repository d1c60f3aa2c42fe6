/* The KVM monitor's VM: creation, threads, stop and teardown; see kvm/vm.h.
 * Stopping: the first kvm_vm_stop() records why, sets `stopping`, and
 * kicks every vCPU out of KVM_RUN (immediate_exit + a signal whose handler
 * does nothing, so a kick that lands before KVM_RUN is not lost). The waiter
 * joins the vCPUs first (one may be waiting for the I/O thread), then stops
 * and joins the I/O thread. */
#include "kvm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/seccomp.h"
#include "base/util.h"
#include "kvm/layout.h"

#define CPUID_MAX_ENTRIES 256

/* The signal that kicks a vCPU thread out of KVM_RUN. */
static int kick_signal(void) { return SIGRTMIN + 2; }

/* Does nothing: the signal only makes KVM_RUN return EINTR. */
static void kick_handler(int sig) { (void)sig; }

const char *kvm_exit_name(enum kvm_exit e)
{
	static const char *const n[] = { "running", "poweroff", "reboot", "triple fault", "killed", "error" };

	return (unsigned)e < ARRAY_SIZE(n) ? n[e] : "?";
}

/* Sets vm->why once: "WHAT: strerror(-err)". Returns err. */
static int fail(struct kvm_vm *vm, int err, const char *what)
{
	if (!vm->why[0])
		snprintf(vm->why, sizeof(vm->why), "%s: %s", what, strerror(-err));
	return err;
}

void kvm_vm_stop(struct kvm_vm *vm, enum kvm_exit e, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->exit == KVM_VM_RUNNING) {
		vm->exit = e;
		if (fmt && !vm->why[0]) {
			va_start(ap, fmt);
			vsnprintf(vm->why, sizeof(vm->why), fmt, ap);
			va_end(ap);
		}
		if (vm->cfg.on_exit)
			vm->cfg.on_exit(vm->cfg.on_exit_ctx, e, vm->why);
	}
	__atomic_store_n(&vm->stopping, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->n_vcpu; i++) {
		struct kvm_vcpu *c = &vm->vcpu[i];
		if (!c->started)
			continue;
		c->run->immediate_exit = 1;
		if (!pthread_equal(c->thread, pthread_self()))
			pthread_kill(c->thread, kick_signal());
	}
	pthread_mutex_unlock(&vm->lock);
}

void kvm_vm_kill(struct kvm_vm *vm)
{
	kvm_vm_stop(vm, KVM_VM_KILLED, NULL);
}

/* ---- guest description (shared with --dump-boot) --------------------- */

/* Checks what can be checked without KVM: CPU and device counts, the
 * bzImage's header. Returns 0 or -errno with vm->why filled. */
static int validate(struct kvm_vm *vm)
{
	const struct kvm_vm_cfg *cfg = &vm->cfg;
	const char *why = NULL;
	int r;

	if (cfg->cpus < 1 || cfg->cpus > KVM_MAX_CPUS) {
		snprintf(vm->why, sizeof(vm->why), "--cpus must be 1..%d", KVM_MAX_CPUS);
		return -EINVAL;
	}
	if (cfg->n_devs > KVM_MMIO_MAX) {
		snprintf(vm->why, sizeof(vm->why), "more than %d devices", KVM_MMIO_MAX);
		return -EINVAL;
	}
	if ((r = bzimage_parse(cfg->kernel, cfg->kernel_size, &vm->bz, &why))) {
		snprintf(vm->why, sizeof(vm->why), "kernel: %s", why);
		return r;
	}
	return 0;
}

int kvm_vm_load(struct kvm_vm *vm)
{
	const struct kvm_vm_cfg *cfg = &vm->cfg;
	struct acpi_window win[KVM_MMIO_MAX];
	struct boot_cfg bc;
	const char *why = NULL;
	int r;

	if ((r = validate(vm)))
		return r;
	for (unsigned i = 0; i < cfg->n_devs; i++)
		win[i] = (struct acpi_window){ KVM_MMIO_ADDR(i), KVM_MMIO_SIZE,
					       KVM_MMIO_GSI_BASE + i };
	bc = (struct boot_cfg){
		.bz = &vm->bz, .initrd = cfg->initrd, .initrd_size = cfg->initrd_size,
		.cmdline = vm->cmdline, .mem_size = cfg->mem_size, .release_source = cfg->release_source,
		.acpi = { .cpus = cfg->cpus, .win = win, .n_win = cfg->n_devs },
	};
	if (boot_cmdline(vm->cmdline, sizeof(vm->cmdline), cfg->cmdline, &bc.acpi) < 0) {
		snprintf(vm->why, sizeof(vm->why), "command line too long");
		return -E2BIG;
	}
	if ((r = boot_load(&vm->mem, &bc, &vm->boot, &why))) {
		snprintf(vm->why, sizeof(vm->why), "%s", why);
		return r;
	}
	return 0;
}

/* ---- creation ------------------------------------------------------- */

/* Maps mem_size bytes of one memfd as the guest's RAM ranges and tells KVM
 * (vm_fd < 0: only map, for --dump-boot). */
int kvm_vm_map_ram(struct kvm_vm *vm, int vm_fd)
{
	uint64_t gpa[2], size[2], off = 0;
	unsigned n = boot_ram_ranges(vm->cfg.mem_size, gpa, size);
	int r;

	vm->mem_fd = memfd_create("voidbox-guest-ram", MFD_CLOEXEC);
	if (vm->mem_fd < 0)
		return fail(vm, -errno, "memfd_create");
	if (ftruncate(vm->mem_fd, (off_t)vm->cfg.mem_size) < 0)
		return fail(vm, -errno, "ftruncate of guest RAM");
	for (unsigned i = 0; i < n; off += size[i], i++) {
		struct gmem_region g = { .gpa = gpa[i], .size = size[i] };
		void *p = mmap(NULL, size[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			       vm->mem_fd, (off_t)off);
		if (p == MAP_FAILED)
			return fail(vm, -errno, "mmap of guest RAM");
		g.hva = p;
		g.vmm_addr = (uint64_t)(uintptr_t)p;
		g.map_base = p;
		g.map_len = size[i];
		if ((r = gmem_add(&vm->mem, &g))) {
			munmap(p, size[i]);
			return fail(vm, r, "guest memory map");
		}
		if (vm_fd >= 0) {
			struct kvm_userspace_memory_region kr = {
				.slot = i, .guest_phys_addr = gpa[i], .memory_size = size[i],
				.userspace_addr = (uint64_t)(uintptr_t)p,
			};
			if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
				return fail(vm, -errno, "KVM_SET_USER_MEMORY_REGION");
		}
	}
	return 0;
}

/* Pulses COM1's interrupt line (edge). */
static void uart_irq(void *ctx)
{
	struct kvm_vm *vm = ctx;
	struct kvm_irq_level l = { .irq = KVM_COM1_IRQ, .level = 1 };

	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
	l.level = 0;
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

int kvm_open_checked(char *why, size_t why_len)
{
	static const struct { int cap; const char *name; } need[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" }, { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" }, { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" }, { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), v, e;

	if (fd < 0) {
		e = -errno;
		snprintf(why, why_len, "open /dev/kvm: %s", strerror(-e));
		return e;
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(why, why_len, "KVM_GET_API_VERSION: %d, need %d", v, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(need); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			snprintf(why, why_len, "KVM_CHECK_EXTENSION: %s missing", need[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	return fd;
}

/* kvm_open_checked() into vm->kvm_fd. Returns 0 or -errno (vm->why). */
static int open_kvm(struct kvm_vm *vm)
{
	int fd = kvm_open_checked(vm->why, sizeof(vm->why));

	if (fd < 0)
		return fd;
	vm->kvm_fd = fd;
	return 0;
}

/* The VM with its irqchip, PIT and CPUID template. */
static int create_vm(struct kvm_vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	int n;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return fail(vm, -errno, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return fail(vm, -errno, "KVM_SET_TSS_ADDR");
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return fail(vm, -errno, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail(vm, -errno, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return fail(vm, -errno, "KVM_CREATE_PIT2");
	n = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n < (int)sizeof(struct kvm_run))
		return fail(vm, n < 0 ? -errno : -EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = (size_t)n;
	vm->cpuid = calloc(1, sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!vm->cpuid)
		return fail(vm, -ENOMEM, "CPUID table");
	vm->cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) < 0)
		return fail(vm, -errno, "KVM_GET_SUPPORTED_CPUID");
	return 0;
}

/* One virtio-mmio window per back end, with its ioeventfds and irqfd. */
static int create_devices(struct kvm_vm *vm)
{
	int r;

	if ((r = mmio_bus_init(&vm->bus, vm->cfg.loop)))
		return fail(vm, r, "device loop");
	vm->bus_ready = true;
	for (unsigned i = 0; i < vm->cfg.n_devs; i++) {
		struct mmio_dev *m = &vm->mmio[i];
		struct vdev *d = vm->cfg.devs[i];
		struct kvm_irqfd irq;

		if ((r = mmio_dev_init(m, &vm->bus, d, &vm->mem, KVM_MMIO_ADDR(i),
				       KVM_MMIO_SIZE, KVM_MMIO_GSI_BASE + i))) {
			snprintf(vm->why, sizeof(vm->why), "virtio-mmio window for %s: %s", d->name, strerror(-r));
			return r;
		}
		vm->n_mmio++;
		irq = (struct kvm_irqfd){ .fd = (uint32_t)m->irq_fd, .gsi = m->gsi };
		if (ioctl(vm->vm_fd, KVM_IRQFD, &irq) < 0)
			return fail(vm, -errno, "KVM_IRQFD");
		for (unsigned q = 0; q < d->ops->num_queues && !vm->ioeventfd_err; q++) {
			struct kvm_ioeventfd io = {
				.datamatch = q, .addr = m->base + MMIO_R_QUEUE_NOTIFY, .len = 4,
				.fd = m->kick[q].w.fd, .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
			};
			if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
				vm->ioeventfd_err = -errno; /* notifies will exit instead */
		}
	}
	return 0;
}

int kvm_vm_create(struct kvm_vm *vm, const struct kvm_vm_cfg *cfg)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->stop_fd = -1;
	vm->t0_ns = now_ns();
	pthread_mutex_init(&vm->lock, NULL);
	if (!cfg->loop) {
		snprintf(vm->why, sizeof(vm->why), "no device loop");
		return -EINVAL;
	}
	if ((r = validate(vm)) || (r = open_kvm(vm)) || (r = create_vm(vm)) || (r = kvm_vm_map_ram(vm, vm->vm_fd)) ||
	    (r = kvm_vm_load(vm)))
		return r;
	uart_init(&vm->uart, cfg->console_fd, &vm->stopping, uart_irq, vm);
	vm->uart_ready = true;
	if ((r = create_devices(vm)))
		return r;
	for (unsigned i = 0; i < cfg->cpus; i++) {
		r = kvm_vcpu_create(&vm->vcpu[i], vm, i);
		vm->n_vcpu = i + 1;
		if (r)
			return r;
	}
	return 0;
}

/* ---- threads -------------------------------------------------------- */

/* I/O thread: kvm_vm_wait() asked the loop to stop. */
static void stop_cb(struct loop_watch *w, uint32_t events)
{
	struct kvm_vm *vm = w->ctx;
	uint64_t v;

	if (read(vm->stop_fd, &v, sizeof(v)) < 0) {
		/* spurious */
	}
	loop_stop(vm->cfg.loop, 0);
}

/* The I/O thread: runs the device loop until stop_cb. */
static void *io_thread(void *arg)
{
	struct kvm_vm *vm = arg;
	struct seccomp_params sp = { 0 };
	int r;

	for (unsigned i = 0; i < vm->cfg.n_devs; i++) /* host folders: fs/'s file calls */
		sp.fs |= vm->cfg.devs[i]->ops->device_id == VIRTIO_ID_FS;
	r = seccomp_install(SECCOMP_IO, &sp); /* base/seccomp.h */

	if (r < 0) {
		mmio_bus_set_threaded(&vm->bus, false);
		kvm_vm_stop(vm, KVM_VM_ERROR, "I/O thread: seccomp: %s", strerror(-r));
		return NULL;
	}
	r = loop_run(vm->cfg.loop);

	mmio_bus_set_threaded(&vm->bus, false);
	if (r < 0)
		kvm_vm_stop(vm, KVM_VM_ERROR, "device loop: %s", strerror(-r));
	return NULL;
}

int kvm_vm_start(struct kvm_vm *vm)
{
	struct sigaction sa;
	sigset_t set, old;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN returns EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signal(), &sa, NULL) < 0)
		return fail(vm, -errno, "sigaction");
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return fail(vm, -errno, "eventfd");
	vm->stop_w = (struct loop_watch){ .fd = vm->stop_fd, .cb = stop_cb, .ctx = vm };
	if ((r = loop_add(vm->cfg.loop, &vm->stop_w, EPOLLIN)))
		return fail(vm, r, "device loop");
	vm->cfg.loop->stop = false;
	mmio_bus_set_threaded(&vm->bus, true);
	if ((r = pthread_create(&vm->io_thread, NULL, io_thread, vm))) {
		mmio_bus_set_threaded(&vm->bus, false);
		return fail(vm, -r, "pthread_create (I/O thread)");
	}
	vm->io_started = true;
	/* vCPU threads start with the kick signal unblocked */
	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, &old);
	for (unsigned i = 0; i < vm->n_vcpu; i++) {
		pthread_mutex_lock(&vm->lock);
		r = pthread_create(&vm->vcpu[i].thread, NULL, kvm_vcpu_thread, &vm->vcpu[i]);
		if (!r)
			vm->vcpu[i].started = true;
		pthread_mutex_unlock(&vm->lock);
		if (r) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			kvm_vm_stop(vm, KVM_VM_ERROR, "pthread_create (vCPU %u): %s", i, strerror(r));
			return -r;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

enum kvm_exit kvm_vm_wait(struct kvm_vm *vm)
{
	for (unsigned i = 0; i < vm->n_vcpu; i++) {
		if (!vm->vcpu[i].started)
			continue;
		pthread_join(vm->vcpu[i].thread, NULL);
		pthread_mutex_lock(&vm->lock);
		vm->vcpu[i].started = false;
		pthread_mutex_unlock(&vm->lock);
	}
	if (vm->io_started) {
		eventfd_poke(vm->stop_fd);
		pthread_join(vm->io_thread, NULL);
		vm->io_started = false;
		mmio_bus_set_threaded(&vm->bus, false);
		vm->cfg.loop->stop = false;
	}
	uart_flush(&vm->uart);
	return vm->exit;
}

void kvm_vm_destroy(struct kvm_vm *vm)
{
	bool running = vm->io_started;

	for (unsigned i = 0; i < vm->n_vcpu; i++)
		running |= vm->vcpu[i].started;
	if (running) { /* a VM that never ran is not "stopped by voidbox" */
		kvm_vm_stop(vm, KVM_VM_KILLED, NULL);
		kvm_vm_wait(vm);
	}
	for (unsigned i = 0; i < vm->n_mmio; i++)
		mmio_dev_fini(&vm->mmio[i]);
	vm->n_mmio = 0;
	if (vm->bus_ready)
		mmio_bus_fini(&vm->bus);
	vm->bus_ready = false;
	if (vm->stop_fd >= 0) {
		loop_del(vm->cfg.loop, &vm->stop_w);
		close(vm->stop_fd);
	}
	for (unsigned i = 0; i < vm->n_vcpu; i++) {
		if (vm->vcpu[i].run)
			munmap(vm->vcpu[i].run, vm->run_size);
		if (vm->vcpu[i].fd >= 0)
			close(vm->vcpu[i].fd);
	}
	vm->n_vcpu = 0;
	if (vm->uart_ready)
		uart_fini(&vm->uart);
	vm->uart_ready = false;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	gmem_clear(&vm->mem);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	free(vm->cpuid);
	vm->cpuid = NULL;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->stop_fd = -1;
	pthread_mutex_destroy(&vm->lock);
}

void kvm_vm_dump_console(struct kvm_vm *vm, int fd)
{
	if (vm->uart_ready)
		uart_dump_ring(&vm->uart, fd);
}
