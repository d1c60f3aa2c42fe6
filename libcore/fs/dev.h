/* The virtio-fs device back end (device ID 26): one shared folder served
 * to the guest's virtiofs driver as FUSE requests over virtqueues, written
 * once against struct vdev like vsock and net, so both front ends drive it
 * (virtio-mmio under the KVM monitor; vhost-user for qemu's
 * vhost-user-fs-device). Queue 0 is the high-priority queue (FORGET), queue
 * 1 the one request queue; both carry the same requests and are served
 * alike. Config space: the mount tag (36 bytes, NUL-padded) and
 * num_request_queues (1). Each chain is one request: the header and
 * arguments are copied out of guest memory (fs/fuse.h), WRITE data and
 * READ replies stay in the guest's own buffers. Requests are answered in
 * order on the device loop, at most FS_KICK_BUDGET per pass before the
 * loop serves others; the guest is notified once per pass. A malformed
 * chain fails the device (vdev_fail); a malformed request gets an error
 * reply and is counted. */
#ifndef VOIDBOX_FS_DEV_H
#define VOIDBOX_FS_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/fuse.h"
#include "fs/share.h"
#include "virtio/device.h"

#define FS_TAG_MAX 36
#define FS_HIPRIO_Q 0
#define FS_REQUEST_Q 1
#define FS_NUM_QUEUES 2
#define FS_QUEUE_SIZE 1024      /* largest queue accepted: in-flight requests */
#define FS_KICK_BUDGET 64       /* requests per pass before yielding to the loop */

struct fs_dev_stats {
	uint64_t chains;            /* requests taken off the queues */
	uint64_t bad_chains;        /* malformed descriptor chains (device failed) */
	uint64_t dropped;           /* requests with no room for a reply header */
	uint64_t signals;           /* notifications sent to the guest */
};

struct fs_dev {
	struct vdev dev;
	struct fs_share share;
	struct fs_fuse fuse;
	char tag[FS_TAG_MAX + 1];
	bool pending[FS_NUM_QUEUES];    /* used entries not yet signalled */
	struct fs_dev_stats st;
	struct vq_chain chain;          /* the chain in hand */
	uint8_t req[FS_REQ_MAX] __attribute__((aligned(8)));
	uint8_t reply[FS_REPLY_MAX] __attribute__((aligned(8)));
};

/* Opens the share (fs/share.h) and prepares the device with mount tag tag
 * (1 to 36 bytes). Returns 0 or -errno with one line in why. */
int fs_dev_init(struct fs_dev *f, const char *tag, const struct fs_share_cfg *cfg, char *why,
		size_t len);
/* The struct vdev a front end drives. */
static inline struct vdev *fs_dev_vdev(struct fs_dev *f) { return &f->dev; }
/* Closes the share. */
void fs_dev_fini(struct fs_dev *f);

#endif
