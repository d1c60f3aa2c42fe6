/* Fuzz target: the virtio-net back end (virtio/net.c) under a hostile
 * driver. Control bytes: the features the driver acks (VERSION_1 always,
 * then MRG_RXBUF, CSUM, GUEST_CSUM, EVENT_IDX, INDIRECT_DESC by bit), the
 * two queue sizes, the MTU, the sizes of frames SLIRP hands the device;
 * then guest memory (both rings and every buffer). TX kicks hand guest
 * frames to an output that checks their bounds; RX places frames in the
 * guest's chains, with -ENOBUFS and the refill kick. */
#include "fuzz.h"
#include "virtio/net.h"

static size_t out_bytes;

static int out(void *ctx, const uint8_t *frame, size_t len)
{
	for (size_t i = 0; i < len; i++) /* every byte readable (ASan) */
		out_bytes += frame[i] & 1;
	return (int)(len & 1);
}

static void rx_ready(void *ctx)
{
}

static void tx_batch(void *ctx, bool begin)
{
}

static const struct vnet_ops ops = { .output = out, .rx_ready = rx_ready, .tx_batch = tx_batch };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vnet n;
	static uint8_t frame[65536];
	struct fz f = { data, size };
	struct vnet_cfg cfg = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
	uint8_t feat = fz_u8(&f), lg_rx = fz_u8(&f), lg_tx = fz_u8(&f);
	uint16_t mtu = fz_u16(&f), sizes[4];
	struct fz_guest g;
	struct vdev *d;

	for (int i = 0; i < 4; i++)
		sizes[i] = fz_u16(&f);
	cfg.mtu = mtu & 1 ? (uint16_t)(68 + mtu % 65000) : 0;
	if (vnet_init(&n, &cfg, &ops, NULL))
		return 0;
	d = vnet_vdev(&n);
	if (fz_guest_init(&g, f.p, f.n))
		return 0;
	d->mem = &g.map;
	d->acked = VIRTIO_F_VERSION_1 | (d->ops->features(d) &
					 ((feat & 1 ? VIRTIO_NET_F_MRG_RXBUF : 0) |
					  (feat & 2 ? VIRTIO_NET_F_CSUM : 0) |
					  (feat & 4 ? VIRTIO_NET_F_GUEST_CSUM : 0) |
					  (feat & 8 ? VIRTIO_RING_F_EVENT_IDX : 0) |
					  (feat & 16 ? VIRTIO_RING_F_INDIRECT_DESC : 0)));
	for (int q = 0; q < 2; q++) {
		d->vq[q].event_idx = feat & 8;
		d->vq[q].indirect = feat & 16;
	}
	if (fz_queue(d, &g, 0, lg_rx) == 0 && fz_queue(d, &g, 1, lg_tx) == 0 && d->ops->start(d) == 0) {
		d->started = true;
		for (int k = 0; k < 3 && !d->failed; k++)
			d->ops->queue_kick(d, 1);
		for (int i = 0; i < 4 && !d->failed; i++) {
			size_t len = sizes[i] % sizeof(frame);

			memset(frame, i, len);
			if (len >= 14)
				frame[12] = 8, frame[13] = 0, frame[14] = 0x45;
			vnet_rx(&n, frame, len);
		}
		vnet_rx_flush(&n);
		if (!d->failed)
			d->ops->queue_kick(d, 0);
		d->ops->reset(d);
	}
	fz_guest_fini(&g);
	return 0;
}
