/* The virtio back-end interface. A back end (vsock, net) is written once
 * against this: it sees the guest-memory map, its queues (struct vq, each
 * with kick and call fds), the negotiated features and its config space,
 * and never knows which front end drives it. Two front ends do:
 * the KVM monitor's virtio-mmio transport (kvm/) and the vhost-user server
 * (vhost/), which lets qemu run the guest's CPUs.
 *
 * Life cycle, driven by the front end:
 *   features() -> driver acks -> [queues configured, vq_start()] -> start()
 *   queue_kick(q) whenever the driver notifies queue q
 *   reset() on device reset or driver going away; then start() again later.
 * A back end that finds the driver breaking the rules calls vdev_fail(): the
 * front end marks the device NEEDS_RESET (mmio) or ends the session. */
#ifndef VOIDBOX_VDEV_H
#define VOIDBOX_VDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "guest/mem.h"
#include "virtio/queue.h"

/* The UAPI headers define these feature names as BIT NUMBERS (32, 28, 29);
 * here they are MASKS. Pull the UAPI headers in first and replace their
 * definitions, so that whatever a file includes later (the headers are
 * guarded) every file that sees device.h gets the masks: a bit number
 * OR-ed into a feature word would silently offer the wrong features. */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#undef VIRTIO_F_VERSION_1
#undef VIRTIO_RING_F_INDIRECT_DESC
#undef VIRTIO_RING_F_EVENT_IDX

#define VDEV_MAX_QUEUES 4
#define VIRTIO_F_VERSION_1_BIT 32
#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define VIRTIO_RING_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_RING_F_EVENT_IDX (1ULL << 29)
_Static_assert(VIRTIO_F_VERSION_1 == 0x100000000ULL, "feature names are masks here");

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_VSOCK 19
#define VIRTIO_ID_FS 26

struct vdev;

struct vdev_ops {
	uint32_t device_id;
	unsigned num_queues;       /* queues the driver sees */
	uint16_t max_queue_size;
	uint32_t config_size;      /* bytes of device config space */
	/* Device features offered (must include VIRTIO_F_VERSION_1). */
	uint64_t (*features)(struct vdev *d);
	/* Config space access; off+len is within config_size (checked by the
	 * front end). */
	void (*read_config)(struct vdev *d, uint32_t off, void *buf, uint32_t len);
	void (*write_config)(struct vdev *d, uint32_t off, const void *buf, uint32_t len);
	/* The driver is ready: features acked, queues started. Returns 0 or
	 * -errno (the front end then fails the device). */
	int (*start)(struct vdev *d);
	/* The driver notified queue qi. */
	void (*queue_kick)(struct vdev *d, unsigned qi);
	/* Stop using the queues and forget per-session state. */
	void (*reset)(struct vdev *d);
};

struct vdev {
	const struct vdev_ops *ops;
	const char *name;          /* for messages: "vsock", "net" */
	const struct gmem *mem;    /* set by the front end before start() */
	struct loop *loop;         /* the I/O loop the device's own fds join */
	struct vq vq[VDEV_MAX_QUEUES];
	uint64_t acked;            /* features the driver accepted */
	bool started;
	bool failed;               /* driver broke the rules: needs reset */
	/* Front end hook: called once by vdev_fail(). May be NULL. */
	void (*on_fail)(struct vdev *d, const char *why);
	/* Front end hook: tells the driver the config space changed (a
	 * configuration-change interrupt). NULL when the front end cannot, or
	 * owns the config space itself (qemu's virtio-net over vhost-user). */
	void (*config_changed)(struct vdev *d);
	void *frontend;            /* the front end's own state */
	void *priv;                /* the back end's own state */
};

/* Marks the device failed (once) and tells the front end. */
void vdev_fail(struct vdev *d, const char *why);

#endif
