/* The KVM monitor behind vmm/vmm.h (--vmm kvm): maps the kernel and initrd
 * files (read-only, unmapped again once copied into guest RAM, so they cost
 * no resident memory), composes the command line (console=ttyS0 for the
 * UART, then the guest's own), attaches a virtio-mmio window to each device and runs
 * the VM (kvm/vm.h). The VM's end is reported through vmm_finish(): guest
 * poweroff or reboot as VMM_POWEROFF, anything else as VMM_FAILED with one
 * line. It registers itself as the "kvm" back end (VMM_BACKEND), --vmm
 * auto's first choice, with --dump-boot's writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "kvm/vm.h"
#include "vmm/vmm.h"

#define KVM_CMDLINE_PREFIX "console=ttyS0"

struct kvm_files {
	void *kernel, *initrd;
	size_t kernel_len, initrd_len;
};

struct kvm_vmm {
	struct vmm *v;
	struct kvm_vm vm;
	struct kvm_files f;
	char cmdline[4096];
	struct vdev *devs[VMM_MAX_DEVS];
	bool created;
};

/* Maps a whole input file read-only. Returns 0 or -errno with why filled. */
static int map_input(const char *what, const char *path, void **p, size_t *len, char *why, size_t wl)
{
	int r = map_file(path, SIZE_MAX, p, len);

	if (r == -EINVAL)
		snprintf(why, wl, "%s %s: not a regular, non-empty file", what, path);
	else if (r)
		snprintf(why, wl, "%s %s: %s", what, path, strerror(-r));
	return r;
}

static void unmap_files(struct kvm_files *f)
{
	if (f->kernel)
		munmap(f->kernel, f->kernel_len);
	if (f->initrd)
		munmap(f->initrd, f->initrd_len);
	memset(f, 0, sizeof(*f));
}

/* Translates run's config into the monitor's; maps the files into f.
 * Returns 0 or -errno with why filled. */
static int cfg_from_vmm(const struct vmm_config *c, struct kvm_vm_cfg *k, struct kvm_files *f, char *cmdline,
			size_t cl, struct vdev **devs, char *why, size_t wl)
{
	int r;

	memset(k, 0, sizeof(*k));
	why[0] = 0;
	if (c->ndevs > VMM_MAX_DEVS) {
		snprintf(why, wl, "more than %d devices", VMM_MAX_DEVS);
		return -EINVAL;
	}
	if ((r = map_input("kernel", c->kernel, &f->kernel, &f->kernel_len, why, wl)))
		return r;
	if (c->initrd && (r = map_input("initrd", c->initrd, &f->initrd, &f->initrd_len, why, wl)))
		return r;
	if ((size_t)snprintf(cmdline, cl, "%s%s%s", KVM_CMDLINE_PREFIX, c->cmdline && c->cmdline[0] ? " " : "",
			     c->cmdline ? c->cmdline : "") >= cl) {
		snprintf(why, wl, "command line too long");
		return -E2BIG;
	}
	for (unsigned i = 0; i < c->ndevs; i++)
		devs[i] = c->devs[i].dev;
	*k = (struct kvm_vm_cfg){
		.kernel = f->kernel, .kernel_size = f->kernel_len,
		.initrd = f->initrd, .initrd_size = f->initrd_len,
		.cmdline = cmdline, .cpus = c->cpus, .mem_size = c->mem_bytes,
		.console_fd = c->console_fd, .devs = devs, .n_devs = c->ndevs, .loop = c->loop,
		.release_source = true, /* map_input()'s mappings */
	};
	return 0;
}

/* The VM stopped (vCPU thread, or stop()). */
static void kvm_vmm_exit(void *ctx, int e, const char *why)
{
	struct kvm_vmm *m = ctx;

	switch (e) {
	case KVM_VM_POWEROFF:
	case KVM_VM_REBOOT:
		vmm_finish(m->v, VMM_POWEROFF, NULL);
		break;
	case KVM_VM_KILLED:
		vmm_finish(m->v, VMM_FAILED, "the VM was stopped by voidbox");
		break;
	case KVM_VM_TRIPLE_FAULT:
		vmm_finish(m->v, VMM_FAILED, "the guest triple-faulted (%s)", why);
		break;
	default:
		vmm_finish(m->v, VMM_FAILED, "%s", why && why[0] ? why : "the VM failed");
		break;
	}
}

/* Whether KVM can run a stock kernel here: /dev/kvm opens, the CPU has
 * vmx/svm (PVM hosts have /dev/kvm without them, and cannot), and the API
 * has what the monitor needs. */
static int kvm_vmm_probe(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		snprintf(why, len, "/dev/kvm: %s", strerror(e));
		return -e;
	}
	close(fd);
	if (!vmm_host_hw_virt()) {
		snprintf(why, len, "/dev/kvm opens but the CPU has no vmx/svm (nested or PVM KVM cannot run a stock kernel)");
		return -ENODEV;
	}
	fd = kvm_open_checked(why, len);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int kvm_vmm_start(struct vmm *v, const struct vmm_config *c)
{
	struct kvm_vmm *m = calloc(1, sizeof(*m));
	struct kvm_vm_cfg k;
	int r;

	if (!m) {
		snprintf(v->why, sizeof(v->why), "out of memory");
		return -ENOMEM;
	}
	v->priv = m;
	m->v = v;
	r = cfg_from_vmm(c, &k, &m->f, m->cmdline, sizeof(m->cmdline), m->devs, v->why, sizeof(v->why));
	if (r) {
		unmap_files(&m->f);
		return r;
	}
	k.on_exit = kvm_vmm_exit;
	k.on_exit_ctx = m;
	r = kvm_vm_create(&m->vm, &k);
	m->created = true;
	unmap_files(&m->f); /* copied into guest RAM (or failed) */
	if (!r)
		r = kvm_vm_start(&m->vm);
	if (r) {
		snprintf(v->why, sizeof(v->why), "%s", m->vm.why);
		return r;
	}
	if (c->verbose)
		fprintf(stderr, "voidbox: kvm: %u vCPUs, %llu MiB, %u virtio-mmio devices, kernel %s at 0x%llx%s\n",
			c->cpus, (unsigned long long)(c->mem_bytes >> 20), c->ndevs, m->vm.bz.version,
			(unsigned long long)m->vm.boot.kernel_addr,
			m->vm.ioeventfd_err ? " (no ioeventfd: notifies exit)" : "");
	return 0;
}

static void kvm_vmm_stop(struct vmm *v)
{
	struct kvm_vmm *m = v->priv;

	if (!m)
		return;
	if (m->created)
		kvm_vm_destroy(&m->vm);
	unmap_files(&m->f);
	free(m);
	v->priv = NULL;
}

static int kvm_vmm_dump_boot(const struct vmm_config *c, const char *dir, char *why, size_t why_len);

VMM_BACKEND(kvm, .name = "kvm", .priority = 10, .probe = kvm_vmm_probe, .start = kvm_vmm_start,
	    .stop = kvm_vmm_stop, .dump_boot = kvm_vmm_dump_boot);

/* --dump-boot: what kvm_vm_create() would give the guest that c describes,
 * written to dir (kvm_dump_boot()). */
static int kvm_vmm_dump_boot(const struct vmm_config *c, const char *dir, char *why, size_t why_len)
{
	struct kvm_files f = { 0 };
	struct vdev *devs[VMM_MAX_DEVS];
	struct kvm_vm_cfg k;
	char cmdline[4096];
	int r = cfg_from_vmm(c, &k, &f, cmdline, sizeof(cmdline), devs, why, why_len);

	if (!r)
		r = kvm_dump_boot(&k, dir, why, why_len);
	unmap_files(&f);
	return r;
}
