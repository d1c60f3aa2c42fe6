/* What `voidbox run` asks of a virtual machine monitor, and how back ends
 * offer themselves. A VMM boots a kernel (bzImage or ELF vmlinux) with an
 * initramfs and a command line, gives the guest a serial console and a list
 * of virtio devices, and says when the VM has ended. Each back end
 * registers itself with VMM_BACKEND() in its own file, as applets do: the
 * linker gathers the records and vmm.c walks them, so `--vmm NAME` and
 * `--vmm auto` (every probe in priority order) know every back end and the
 * caller never names one. Two exist: kvm (kvm/vmm.c, our own monitor:
 * virtio-mmio front ends on the devices directly) and qemu (vmm/qemu.c:
 * qemu-system-x86_64 on a microvm machine, the devices served to it over
 * vhost-user, which the back end sets up itself). The devices are back ends
 * (struct vdev, virtio/device.h) that the caller created on config.loop;
 * the VMM connects its front end to each and runs that loop on its own
 * device thread from start() to stop() (device callbacks therefore run on
 * that thread, never the caller's).
 *
 * Life cycle: vmm_pick() (probes) -> vmm_init() -> start() -> [the caller
 * waits on v->done_fd] -> vmm_fini() (which calls stop()). stop() is safe
 * after any start() outcome and idempotent; after it the VM, its threads and
 * processes are gone and every fd the VMM opened is closed. The caller keeps
 * ownership of the config, the loop and the devices. */
#ifndef VOIDBOX_VMM_H
#define VOIDBOX_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"
#include "virtio/device.h"

#define VMM_MAX_DEVS 8          /* qemu's microvm has 8 virtio-mmio slots */

/* One virtio device of the VM, named for messages and for whatever the back
 * end creates for it ("vsock", "net", "fs0": qemu's vhost-user socket
 * run_dir/NAME.vhost). What a VMM needs beyond the device itself it reads
 * from the device (its id, its config space: a NIC's MAC, a share's tag). */
struct vmm_dev {
	struct vdev *dev;
	const char *name;
};

struct vmm_config {
	const char *kernel;     /* bzImage or ELF vmlinux path */
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

struct bzimage;

struct vmm_ops {
	const char *name;       /* "kvm", "qemu": what --vmm takes */
	int priority;           /* --vmm auto probes lower numbers first */
	/* Whether this VMM can run here. Returns 0, or -errno with why filled
	 * (e.g. "qemu-system-x86_64 not found on PATH"). */
	int (*probe)(char *why, size_t len);
	/* Whether this VMM can boot that kernel (e.g. qemu needs an ELF
	 * vmlinux's PVH note). Returns 0 or -EINVAL with why filled. NULL:
	 * any kernel the parser accepts. */
	int (*check_kernel)(const struct bzimage *bz, char *why, size_t len);
	/* Boots the VM per c (which must outlive the VM). Returns 0, or -errno
	 * with v->why filled; stop() must still be called. */
	int (*start)(struct vmm *v, const struct vmm_config *c);
	/* Ends the VM (if running), stops the device thread, releases all. */
	void (*stop)(struct vmm *v);
	/* --dump-boot: writes into dir what the guest would be given for c,
	 * without starting anything. Returns 0 or -errno with why filled.
	 * NULL: this VMM has nothing to show. */
	int (*dump_boot)(const struct vmm_config *c, const char *dir, char *why, size_t len);
};

/* Registers a back end: VMM_BACKEND(kvm, .name = "kvm", ...) in its own
 * file; nothing else needs editing (see vmm.c). */
#define VMM_BACKEND(id, ...)                                                 \
	static const struct vmm_ops vmm_backend_##id                          \
		__attribute__((used, section("voidbox_vmms"), aligned(8))) = { __VA_ARGS__ }

/* The registered back end called name, or NULL. */
const struct vmm_ops *vmm_find(const char *name);
/* Writes the back ends' names, in priority order, as "kvm, qemu" into buf. */
void vmm_names(char *buf, size_t len);
/* Picks the VMM named name, or with "auto" the first (by priority) whose
 * probe passes. Returns 0 and *out, or -errno with why filled (for auto:
 * every back end's reason). */
int vmm_pick(const char *name, const struct vmm_ops **out, char *why, size_t len);
/* --dump-boot through the VMM named name, or with "auto" the first that
 * has one (no probe: dumping needs no hardware). Returns 0 or -errno with
 * why filled. */
int vmm_dump_boot(const char *name, const struct vmm_config *c, const char *dir, char *why,
		  size_t len);
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
