/* What `voidbox run` asks of a virtual machine monitor. A VMM boots a bzImage
 * with an initramfs and a command line, gives the guest a serial console and
 * a list of virtio devices, and says when the VM has ended. Two implement
 * it: qemu (vmm/qemu.c: starts and supervises qemu-system-x86_64, serving
 * the devices to it over vhost-user) and the KVM monitor (kvm/, exports
 * vmm_kvm_ops). The devices are back ends (struct vdev, virtio/device.h)
 * that the caller created on config.loop; the VMM connects its front end to
 * each and runs that loop on its own device thread from start() to stop()
 * (device callbacks therefore run on that thread, never the caller's).
 *
 * Life cycle: probe() -> vmm_init() -> start() -> [the caller waits on
 * v->done_fd] -> vmm_fini() (which calls stop()). stop() is safe after any start() outcome and idempotent; after it
 * the VM, its threads and processes are gone and every fd the VMM opened is
 * closed. The caller keeps ownership of the config, the loop and the devices. */
#ifndef VOIDBOX_VMM_H
#define VOIDBOX_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"
#include "virtio/device.h"

#define VMM_MAX_DEVS 8          /* qemu's microvm has 8 virtio-mmio slots */

/* One virtio device of the VM. Under qemu the caller serves dev over
 * vhost-user on vhost_path (listening before start(); the vhost server's
 * loop is config.loop); the KVM monitor attaches its virtio-mmio transport
 * to dev directly and ignores vhost_path. */
struct vmm_dev {
	struct vdev *dev;
	const char *vhost_path;
	const char *qemu_opts;  /* appended to qemu's -device (e.g. ",mac=..."), or NULL */
};

struct vmm_config {
	const char *kernel;     /* bzImage path */
	const char *initrd;     /* initramfs path (may be /dev/fd/N, inherited) or NULL */
	/* The guest's own command line (agent parameters, quiet, --append).
	 * The VMM adds what its machine needs (console=, tsc_early_khz=...). */
	const char *cmdline;
	unsigned cpus;
	uint64_t mem_bytes;
	int console_fd;         /* the guest's serial output is written here; -1 drops it */
	const char *run_dir;    /* private folder for the VMM's sockets and files */
	struct loop *loop;      /* the device I/O loop the devices' own fds are on */
	unsigned ndevs;
	struct vmm_dev devs[VMM_MAX_DEVS];
	bool verbose;           /* say on stderr what is started and why it ended */
};

/* How a VM ended, valid once done_fd is readable. */
enum vmm_end {
	VMM_RUNNING = 0,
	VMM_POWEROFF,           /* the guest powered off or rebooted */
	VMM_FAILED,             /* the VMM or a device back end died: see why */
};

struct vmm {
	const struct vmm_ops *ops;
	int done_fd;            /* eventfd, readable once the VM has ended (vmm_init) */
	enum vmm_end end;
	char why[256];          /* one line when end == VMM_FAILED or start() failed */
	int pid;                /* the VMM's own process once started (qemu), 0 for none */
	void *priv;             /* the implementation's own state */
};

struct vmm_ops {
	const char *name;       /* "kvm", "qemu" */
	/* Whether this VMM can run here. Returns 0, or -errno with why filled
	 * (e.g. "qemu-system-x86_64 not found on PATH"). */
	int (*probe)(char *why, size_t len);
	/* Boots the VM per c (which must outlive the VM). Returns 0, or -errno
	 * with v->why filled; stop() must still be called. */
	int (*start)(struct vmm *v, const struct vmm_config *c);
	/* Ends the VM (if running), stops the device thread, releases all. */
	void (*stop)(struct vmm *v);
};

extern const struct vmm_ops vmm_qemu_ops;
extern const struct vmm_ops vmm_kvm_ops;  /* kvm/vmm.c */

/* Picks the VMM named name ("kvm", "qemu" or "auto": KVM where /dev/kvm opens
 * and the CPU has vmx/svm, else qemu if found). Returns 0 and *out, or
 * -errno with why filled. */
int vmm_pick(const char *name, const struct vmm_ops **out, char *why, size_t len);
/* Prepares v for ops: end RUNNING, a fresh done_fd. Returns 0 or -errno. */
int vmm_init(struct vmm *v, const struct vmm_ops *ops);
/* Calls ops->stop() and closes done_fd. Safe to call twice. */
void vmm_fini(struct vmm *v);
/* For implementations, from any thread: records how the VM ended (the first
 * call wins; why may be NULL) and makes done_fd readable. */
void vmm_finish(struct vmm *v, enum vmm_end end, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Whether the CPU advertises hardware virtualisation (vmx or svm). */
bool vmm_host_hw_virt(void);
/* The host TSC rate in kHz (kernel log "tsc: Detected", else cpuinfo's
 * "cpu MHz"), or 0 when unknown. */
unsigned long vmm_host_tsc_khz(void);

#endif
