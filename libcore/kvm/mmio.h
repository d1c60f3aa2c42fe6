/* The virtio-mmio transport, version 2 (virtio 1.2 spec, 4.2), driving a
 * struct vdev back end. One struct mmio_dev per window: the registers
 * (magic, version, device id, feature windows, queue selection and setup,
 * queue ready, interrupt status/ack, status, config generation, config
 * space), the status state machine (reset on 0, FEATURES_OK only for an
 * acceptable feature set, DRIVER_OK starts the back end, NEEDS_RESET when
 * the back end calls vdev_fail()), one eventfd per queue for QueueNotify
 * (the monitor registers them as KVM ioeventfds, so notifies never leave
 * the kernel; a notify that does exit is written to the same eventfd) and
 * one eventfd for the interrupt (registered as a KVM irqfd).
 *
 * Threads: register accesses come from vCPU threads; the back end lives on
 * the I/O thread, which runs the device loop. Everything that calls into
 * the back end (start, reset, config access) is handed to the I/O thread
 * and waited for (mmio_bus), so a back end only ever runs on one thread.
 * With bus->threaded false (tests, teardown) those calls run inline. */
#ifndef VOIDBOX_KVM_MMIO_H
#define VOIDBOX_KVM_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "kvm/layout.h"
#include "virtio/device.h"

#define MMIO_MAGIC 0x74726976 /* "virt" */
#define MMIO_VERSION 2
#define MMIO_VENDOR 0x58424456 /* "VDBX" */

/* register offsets */
#define MMIO_R_MAGIC 0x000
#define MMIO_R_VERSION 0x004
#define MMIO_R_DEVICE_ID 0x008
#define MMIO_R_VENDOR_ID 0x00c
#define MMIO_R_DEV_FEATURES 0x010
#define MMIO_R_DEV_FEATURES_SEL 0x014
#define MMIO_R_DRV_FEATURES 0x020
#define MMIO_R_DRV_FEATURES_SEL 0x024
#define MMIO_R_QUEUE_SEL 0x030
#define MMIO_R_QUEUE_NUM_MAX 0x034
#define MMIO_R_QUEUE_NUM 0x038
#define MMIO_R_QUEUE_READY 0x044
#define MMIO_R_QUEUE_NOTIFY 0x050
#define MMIO_R_INTERRUPT_STATUS 0x060
#define MMIO_R_INTERRUPT_ACK 0x064
#define MMIO_R_STATUS 0x070
#define MMIO_R_QUEUE_DESC_LO 0x080
#define MMIO_R_QUEUE_DESC_HI 0x084
#define MMIO_R_QUEUE_AVAIL_LO 0x090
#define MMIO_R_QUEUE_AVAIL_HI 0x094
#define MMIO_R_QUEUE_USED_LO 0x0a0
#define MMIO_R_QUEUE_USED_HI 0x0a4
#define MMIO_R_SHM_SEL 0x0ac
#define MMIO_R_SHM_LEN_LO 0x0b0
#define MMIO_R_SHM_LEN_HI 0x0b4
#define MMIO_R_SHM_BASE_LO 0x0b8
#define MMIO_R_SHM_BASE_HI 0x0bc
#define MMIO_R_CONFIG_GEN 0x0fc
#define MMIO_R_CONFIG 0x100

/* device status bits */
#define VIRTIO_S_ACKNOWLEDGE 1
#define VIRTIO_S_DRIVER 2
#define VIRTIO_S_DRIVER_OK 4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 0x40
#define VIRTIO_S_FAILED 0x80

#define MMIO_INT_VRING 1
#define MMIO_INT_CONFIG 2

struct mmio_dev;

/* The windows of one VM and the hand-off of back-end calls to the I/O
 * thread. */
struct mmio_bus {
	struct loop *loop;
	bool threaded;              /* an I/O thread runs loop (under mu) */
	int req_fd;                 /* eventfd: a call is waiting */
	struct loop_watch req_w;
	pthread_mutex_t call_lock;  /* one caller at a time */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void (*req_fn)(struct mmio_dev *, void *);
	struct mmio_dev *req_dev;
	void *req_arg;
	bool req_pending;
	unsigned n;
	struct mmio_dev *dev[KVM_MMIO_MAX];
};

struct mmio_kick {
	struct loop_watch w;
	struct mmio_dev *m;
	unsigned qi;
};

struct mmio_dev {
	struct mmio_bus *bus;
	struct vdev *vdev;
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
	pthread_mutex_t lock;        /* register state, taken by vCPU threads */
	uint32_t status;             /* atomic: also set by on_fail */
	uint32_t isr;                /* InterruptStatus, atomic; vq.isr points here */
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t dev_features;        /* offered, read once at init */
	uint64_t drv_features;
	uint32_t config_gen;
	bool q_ready[VDEV_MAX_QUEUES];
	int irq_fd;                  /* eventfd, the irqfd; each vq's call_fd */
	struct mmio_kick kick[VDEV_MAX_QUEUES]; /* eventfd per queue: ioeventfd */
	uint64_t n_bad;              /* bad accesses dropped */
	uint64_t n_notify_exits;     /* QueueNotify writes that reached us */
	const char *fail_why;        /* first vdev_fail() reason */
};

/* Says whether an I/O thread runs the loop (calls are handed to it) or not
 * (they run inline). Turning it off runs a call still waiting; the I/O
 * thread does so as it leaves. */
void mmio_bus_set_threaded(struct mmio_bus *b, bool on);
/* Creates the hand-off eventfd and joins it to loop. Returns 0 or -errno. */
int mmio_bus_init(struct mmio_bus *b, struct loop *loop);
void mmio_bus_fini(struct mmio_bus *b);
/* Sets up window [base, base+size) for back end d with guest memory mem and
 * interrupt gsi; creates the eventfds and adds the kicks to the loop. The
 * bus keeps a pointer to m. Returns 0 or -errno (-ENOSPC: bus full). */
int mmio_dev_init(struct mmio_dev *m, struct mmio_bus *b, struct vdev *d, const struct gmem *mem,
		  uint64_t base, uint32_t size, uint32_t gsi);
/* Resets the back end if it was started, leaves the loop, closes the fds. */
void mmio_dev_fini(struct mmio_dev *m);
/* A guest access of len (1, 2, 4 or 8) bytes at offset off of the window.
 * Bad accesses are counted and dropped (reads give 0). */
void mmio_dev_read(struct mmio_dev *m, uint64_t off, void *data, unsigned len);
void mmio_dev_write(struct mmio_dev *m, uint64_t off, const void *data, unsigned len);
/* Dispatches a guest access at gpa to its window. Returns false when no
 * window holds gpa. */
bool mmio_bus_access(struct mmio_bus *b, uint64_t gpa, void *data, unsigned len, bool is_write);

#endif
