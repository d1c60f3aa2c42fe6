/* The virtio-fs device; see fs/dev.h. The device offers VIRTIO_F_VERSION_1
 * (and refuses a driver without it) and the ring features queue.c
 * implements, INDIRECT_DESC (a 128 KiB READ is ~36 descriptors) and
 * EVENT_IDX; no notification queue and no DAX window. */
#include "fs/dev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

_Static_assert(VQ_MAX_SEGS <= FS_IOV_MAX, "a chain's segments fit the iovec arrays");

struct fs_config {
	uint8_t tag[FS_TAG_MAX];
	uint32_t num_request_queues;
} __attribute__((packed));

static struct fs_dev *to_fs(struct vdev *d)
{
	return d->priv;
}

static uint64_t fs_features(struct vdev *d)
{
	return VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX;
}

static void fs_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	struct fs_dev *f = to_fs(d);
	struct fs_config c = { .num_request_queues = FS_NUM_QUEUES - 1 };

	memcpy(c.tag, f->tag, strlen(f->tag));
	if (off > sizeof(c) || len > sizeof(c) - off) {
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, (uint8_t *)&c + off, len);
}

/* The config space is read-only: writes are ignored. */
static void fs_write_config(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
}

/* The segments [first, first+count) of c from byte skip on, as iovecs in
 * v. Returns how many. */
static unsigned chain_iov(const struct vq_chain *c, unsigned first, unsigned count,
			  uint32_t skip, struct iovec *v)
{
	unsigned n = 0;

	for (unsigned i = first; i < first + count; i++) {
		const struct vq_seg *s = &c->seg[i];
		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		v[n].iov_base = s->p + skip;
		v[n].iov_len = s->len - skip;
		skip = 0;
		n++;
	}
	return n;
}

/* Answers one chain: the request in its readable part, the reply into its
 * writable part. */
static void fs_one(void *ctx, struct vq *q, const struct vq_chain *c)
{
	struct fs_dev *f = ctx;
	struct iovec wv[FS_IOV_MAX], rv[FS_IOV_MAX];
	struct fuse_out_header oh;
	struct fs_req r;
	uint32_t copy;
	int ret;

	f->st.chains++;
	memset(&r, 0, sizeof(r));
	if (c->out_len < sizeof(r.h)) {
		/* not even a header: nothing to answer to */
		f->share.st.bad_requests++;
		f->st.dropped++;
		vq_push(q, c->head, 0);
		return;
	}
	vq_chain_read(c, 0, &r.h, sizeof(r.h));
	/* WRITE's data stays in guest memory: copy only its fixed part */
	copy = r.h.opcode == FUSE_WRITE ? (uint32_t)FS_WRITE_HDR : FS_REQ_MAX;
	copy = MIN(copy, c->out_len);
	vq_chain_read(c, 0, f->req, copy);
	r.arg = f->req + sizeof(r.h);
	r.arg_len = copy - (uint32_t)sizeof(r.h);
	r.total_len = c->out_len;
	r.n_wdata = chain_iov(c, 0, c->n_out, FS_WRITE_HDR, wv);
	r.wdata = wv;
	r.n_rdata = chain_iov(c, c->n_out, c->n_in, FS_OUT_HDR, rv);
	r.rdata = rv;
	r.rdata_len = c->in_len > FS_OUT_HDR ? c->in_len - FS_OUT_HDR : 0;
	r.can_reply = c->in_len >= FS_OUT_HDR;
	r.out = f->reply;
	if (r.h.len != c->out_len) {
		/* the header disagrees with what the guest sent */
		f->share.st.requests++;
		f->share.st.bad_requests++;
		ret = -EINVAL;
		r.noreply = !r.can_reply;
	} else {
		ret = fs_fuse_request(&f->fuse, &r);
	}
	f->pending[q == &f->dev.vq[0] ? 0 : 1] = true;
	if (r.noreply || !r.can_reply) {
		if (!r.noreply)
			f->st.dropped++;
		vq_push(q, c->head, 0);
		return;
	}
	if (ret < 0)
		f->share.st.errors++;
	oh.len = FS_OUT_HDR + (ret > 0 ? (uint32_t)ret : 0);
	oh.error = ret < 0 ? ret : 0;
	oh.unique = r.h.unique;
	vq_chain_write(c, 0, &oh, sizeof(oh));
	if (ret > 0 && !r.direct)
		vq_chain_write(c, FS_OUT_HDR, f->reply, (uint32_t)ret);
	vq_push(q, c->head, oh.len);
}

/* Notifies the guest of queue qi's answers since the last notification. */
static void fs_signal(struct fs_dev *f, unsigned qi)
{
	if (!f->pending[qi])
		return;
	f->pending[qi] = false;
	if (vq_signal(&f->dev.vq[qi]) > 0)
		f->st.signals++;
}

/* Serves queue qi: up to FS_KICK_BUDGET requests, then the loop gets its
 * turn back and the queue is kicked again. */
static void fs_run(struct fs_dev *f, unsigned qi)
{
	struct vq *q = &f->dev.vq[qi];
	unsigned budget = FS_KICK_BUDGET;

	if (!f->dev.started || f->dev.failed || !q->ready)
		return;
	for (;;) {
		bool more;
		int r = vq_serve_round(q, &f->chain, budget, fs_one, f, &more);

		if (r < 0) {
			f->st.bad_chains++;
			fs_signal(f, qi);
			vdev_fail(&f->dev, "fs: malformed descriptor chain");
			return;
		}
		budget -= (unsigned)r;
		fs_signal(f, qi);
		if (!budget) {
			vq_kick_again(q);
			return;
		}
		if (!more)
			return;
	}
}

static void fs_queue_kick(struct vdev *d, unsigned qi)
{
	if (qi < FS_NUM_QUEUES)
		fs_run(to_fs(d), qi);
}

static int fs_start(struct vdev *d)
{
	struct fs_dev *f = to_fs(d);

	if (!(d->acked & VIRTIO_F_VERSION_1))
		return -EINVAL; /* legacy drivers are not served */
	for (unsigned i = 0; i < FS_NUM_QUEUES; i++) {
		d->vq[i].event_idx = !!(d->acked & VIRTIO_RING_F_EVENT_IDX);
		d->vq[i].indirect = !!(d->acked & VIRTIO_RING_F_INDIRECT_DESC);
		f->pending[i] = false;
	}
	d->started = true;
	for (unsigned i = 0; i < FS_NUM_QUEUES; i++)
		fs_run(f, i);
	return 0;
}

/* The driver went away: a new one starts with INIT and no inodes. */
static void fs_reset(struct vdev *d)
{
	struct fs_dev *f = to_fs(d);

	d->started = false;
	fs_fuse_reset(&f->fuse);
}

static const struct vdev_ops fs_ops = {
	.device_id = VIRTIO_ID_FS,
	.num_queues = FS_NUM_QUEUES,
	.max_queue_size = FS_QUEUE_SIZE,
	.config_size = sizeof(struct fs_config),
	.features = fs_features,
	.read_config = fs_read_config,
	.write_config = fs_write_config,
	.start = fs_start,
	.queue_kick = fs_queue_kick,
	.reset = fs_reset,
};

int fs_dev_init(struct fs_dev *f, const char *tag, const struct fs_share_cfg *cfg, char *why,
		size_t len)
{
	size_t tl = strlen(tag);
	int r;

	memset(&f->dev, 0, sizeof(f->dev));
	memset(&f->st, 0, sizeof(f->st));
	if (tl == 0 || tl > FS_TAG_MAX) {
		snprintf(why, len, "mount tag '%s': 1 to %d bytes", tag, FS_TAG_MAX);
		return -EINVAL;
	}
	if ((r = fs_share_open(&f->share, cfg, why, len)))
		return r;
	memcpy(f->tag, tag, tl + 1);
	f->fuse = (struct fs_fuse){ .s = &f->share };
	f->dev.ops = &fs_ops;
	f->dev.name = "fs";
	f->dev.priv = f;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		f->dev.vq[i].kick_fd = f->dev.vq[i].call_fd = -1;
	return 0;
}

void fs_dev_fini(struct fs_dev *f)
{
	fs_share_close(&f->share);
}
