/* The virtio-net back end; see virtio/net.h. The device offers
 * VIRTIO_F_VERSION_1 (required: version-2 virtio-mmio drivers refuse a
 * device without it, and start() refuses a driver that did not accept it),
 * MAC, STATUS, MRG_RXBUF, CSUM, GUEST_CSUM, HOST_TSO4, optionally MTU,
 * and the ring features INDIRECT_DESC and EVENT_IDX that queue.c
 * implements. Offloads exist because under emulation every pass the guest
 * CPU makes over the data, and every packet its stack handles, is
 * expensive, and natively they are cheap: a TX frame marked NEEDS_CSUM gets
 * its checksum completed here, RX frames (built by SLIRP, checksums
 * correct) are marked DATA_VALID, and with HOST_TSO4 the guest hands over
 * TCP/IPv4 frames of up to 64 KiB whatever its MTU, which are never cut
 * into segments at all: SLIRP writes their payload to a host socket as it
 * would an MTU-sized one. GUEST_TSO4 the other way: SLIRP's TCP frames to
 * the guest carry up to 64 KiB, which the guest's stack takes whole. */
#include "virtio/net.h"

#include <errno.h>
#include <string.h>

#include "base/bytes.h"
#include "base/util.h"

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define ETH_MIN_HDR 14

/* struct virtio_net_hdr_v1 (VNET_HDR_LEN bytes, little-endian): u8 flags,
 * u8 gso_type, le16 hdr_len, gso_size, csum_start, csum_offset,
 * num_buffers. */
#define HDR_FLAGS 0
#define HDR_GSO_TYPE 1
#define HDR_HDR_LEN 2
#define HDR_GSO_SIZE 4
#define HDR_CSUM_START 6
#define HDR_CSUM_OFFSET 8
#define HDR_NUM_BUFFERS 10

/* struct virtio_net_config as far as we serve it (little-endian): mac[6],
 * le16 status, max_virtqueue_pairs, mtu. */
#define CFG_STATUS 6
#define CFG_MAX_PAIRS 8
#define CFG_MTU 10
#define CFG_LEN 12

static struct vnet *to_vnet(struct vdev *d)
{
	return d->priv;
}

static uint64_t vnet_features(struct vdev *d)
{
	struct vnet *n = to_vnet(d);
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1_BIT) | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
		     VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM |
		     VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_TSO4 |
		     VIRTIO_RING_F_INDIRECT_DESC |
		     VIRTIO_RING_F_EVENT_IDX;

	if (n->cfg.mtu)
		f |= VIRTIO_NET_F_MTU;
	return f;
}

static void vnet_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vnet *n = to_vnet(d);
	uint8_t c[CFG_LEN];

	memcpy(c, n->cfg.mac, 6);
	st_le16(c + CFG_STATUS, n->link_up && !n->cfg.link_down ? VIRTIO_NET_S_LINK_UP : 0);
	st_le16(c + CFG_MAX_PAIRS, 1);
	st_le16(c + CFG_MTU, n->cfg.mtu);
	if (off > sizeof(c) || len > sizeof(c) - off) {
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, c + off, len);
}

/* The config space is read-only for a modern driver without CTRL_MAC_ADDR:
 * writes are ignored (as the spec allows). */
static void vnet_write_config(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
}

/* Marks the device broken after a malformed chain. */
static void vnet_bad_chain(struct vnet *n, const char *why)
{
	n->st.bad_chains++;
	vdev_fail(&n->dev, why);
}

/* Signals queue qi if entries were pushed since the last signal. */
static void vnet_signal(struct vnet *n, unsigned qi, bool *pending)
{
	if (!*pending)
		return;
	*pending = false;
	if (vq_signal(&n->dev.vq[qi]) > 0) {
		if (qi == VNET_RXQ)
			n->st.rx_signals++;
		else
			n->st.tx_signals++;
	}
}

/* Completes a checksum the guest left to us (VIRTIO_NET_F_CSUM): the
 * ones'-complement sum of frame[start..len), which already covers the
 * pseudo-header sum the driver stored in the field, written at start+off.
 * Returns 0, or -EINVAL when the offsets lie outside the frame. */
static int vnet_csum_complete(uint8_t *f, uint32_t len, uint32_t start, uint32_t off)
{
	uint64_t sum = 0;
	uint32_t i;
	uint16_t c;

	if (start >= len || off > len - start || len - start - off < 2)
		return -EINVAL;
	for (i = start; i + 1 < len; i += 2)
		sum += ld_be16(f + i);
	if (i < len)
		sum += (uint32_t)f[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	if (c == 0)
		c = 0xffff; /* as Linux does: 0 means "no checksum" to UDP */
	st_be16(f + start + off, c);
	return 0;
}

/* Whether the header h of a TX frame asks only for what was negotiated:
 * a checksum to complete (CSUM), and no segmentation or TCP/IPv4 left
 * unsegmented (HOST_TSO4, which needs the checksum left to us too, and a
 * segment size). Nothing is cut here: SLIRP takes the whole payload. */
static bool vnet_tx_hdr_ok(const struct vnet *n, const uint8_t *h)
{
	bool csum = h[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM;

	if (csum && !(n->dev.acked & VIRTIO_NET_F_CSUM))
		return false;
	if (h[HDR_GSO_TYPE] == VIRTIO_NET_HDR_GSO_NONE)
		return true;
	return h[HDR_GSO_TYPE] == VIRTIO_NET_HDR_GSO_TCPV4 &&
	       (n->dev.acked & VIRTIO_NET_F_HOST_TSO4) && csum && ld_le16(h + HDR_GSO_SIZE) != 0;
}

/* Handles one TX chain: copies the frame out, returns the chain, then
 * hands the frame on. */
static void vnet_tx_one(void *ctx, struct vq *q, const struct vq_chain *c)
{
	struct vnet *n = ctx;
	uint8_t h[VNET_HDR_LEN];
	uint32_t flen;

	n->tx_pending = true;
	if (c->out_len < VNET_HDR_LEN + ETH_MIN_HDR) {
		vq_push(q, c->head, 0);
		n->st.tx_drop_short++;
		return;
	}
	flen = c->out_len - VNET_HDR_LEN;
	vq_chain_read(c, 0, h, sizeof(h));
	if (!vnet_tx_hdr_ok(n, h)) {
		vq_push(q, c->head, 0);
		n->st.tx_drop_bad_hdr++;
		return;
	}
	if (flen > VNET_MAX_FRAME) {
		vq_push(q, c->head, 0);
		n->st.tx_drop_big++;
		return;
	}
	vq_chain_read(c, VNET_HDR_LEN, n->frame, flen);
	vq_push(q, c->head, 0);
	if ((h[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    vnet_csum_complete(n->frame, flen, ld_le16(h + HDR_CSUM_START), ld_le16(h + HDR_CSUM_OFFSET))) {
		n->st.tx_drop_bad_hdr++;
		return;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += flen;
	if (h[HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE)
		n->st.tx_tso++;
	if (n->ops->capture)
		n->ops->capture(n->ctx, VNET_DIR_TX, n->frame, flen);
	if (n->ops->output(n->ctx, n->frame, flen) != 0)
		n->st.tx_drop_output++;
}

void vnet_tx_process(struct vnet *n)
{
	struct vq *q = &n->dev.vq[VNET_TXQ];

	if (!n->dev.started || n->dev.failed || !q->ready)
		return;
	n->st.tx_passes++;
	if (n->ops->tx_batch)
		n->ops->tx_batch(n->ctx, true);
	for (unsigned pass = 0;; pass++) {
		bool more;
		int r = vq_serve_round(q, &n->txc, VNET_TX_BATCH, vnet_tx_one, n, &more);

		if (r < 0) {
			vnet_bad_chain(n, "net: malformed TX descriptor chain");
			break;
		}
		vnet_signal(n, VNET_TXQ, &n->tx_pending);
		vnet_signal(n, VNET_RXQ, &n->rx_pending);
		if (!more)
			break;
		if (pass + 1 == VNET_TX_PASSES) {
			/* a guest refilling as fast as we drain: let the loop
			 * serve the rest, and come back through the kick fd */
			vq_kick_again(q);
			break;
		}
	}
	if (n->ops->tx_batch)
		n->ops->tx_batch(n->ctx, false);
	vnet_signal(n, VNET_TXQ, &n->tx_pending);
	vnet_signal(n, VNET_RXQ, &n->rx_pending);
}

/* Takes the next RX chain into *c, enabling RX kicks and re-checking when
 * the ring looks empty. Returns 1, 0 (none), or -EINVAL (malformed). */
static int vnet_rx_pop(struct vnet *n, struct vq *q, struct vq_chain *c)
{
	int r = vq_pop(q, c);

	if (r != 0)
		return r;
	vq_set_notify(q, true);
	r = vq_pop(q, c);
	if (r == 1)
		vq_set_notify(q, false);
	return r;
}

/* Gives back the k chains taken for a frame that is not placed now. */
static void vnet_rx_unpop(struct vq *q, unsigned k)
{
	while (k--)
		vq_unpop(q);
}

bool vnet_rx_tso_ok(const struct vnet *n)
{
	return n->dev.started && (n->dev.acked & VIRTIO_NET_F_GUEST_TSO4);
}

/* Fills the header h for frame: checksum done (GUEST_CSUM), or, for a TSO
 * frame (mss != 0), its offsets and segment size. Returns 0 or -EINVAL. */
static int vnet_rx_hdr(const struct vnet *n, uint8_t *h, const uint8_t *frame, size_t len,
		       uint16_t mss)
{
	uint32_t l4, hl;

	memset(h, 0, VNET_HDR_LEN);
	if (!mss) {
		/* SLIRP builds every frame with correct checksums: let the
		 * guest skip verifying them (a pass over the data saved) */
		if (n->dev.acked & VIRTIO_NET_F_GUEST_CSUM)
			h[HDR_FLAGS] = VIRTIO_NET_HDR_F_DATA_VALID;
		return 0;
	}
	if (!vnet_rx_tso_ok(n) || len < ETH_MIN_HDR + 20 || ld_be16(frame + 12) != 0x0800 ||
	    (frame[ETH_MIN_HDR] >> 4) != 4 || frame[ETH_MIN_HDR + 9] != 6)
		return -EINVAL;
	l4 = ETH_MIN_HDR + (uint32_t)(frame[ETH_MIN_HDR] & 15) * 4;
	if (len < l4 + 20 || (hl = l4 + (uint32_t)(frame[l4 + 12] >> 4) * 4) > len)
		return -EINVAL;
	h[HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h[HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4;
	st_le16(h + HDR_HDR_LEN, (uint16_t)hl);
	st_le16(h + HDR_GSO_SIZE, mss);
	st_le16(h + HDR_CSUM_START, (uint16_t)l4);
	st_le16(h + HDR_CSUM_OFFSET, 16);
	return 0;
}

int vnet_rx(struct vnet *n, const uint8_t *frame, size_t len)
{
	return vnet_rx_tso(n, frame, len, 0);
}

int vnet_rx_tso(struct vnet *n, const uint8_t *frame, size_t len, uint16_t mss)
{
	uint8_t h[VNET_HDR_LEN];
	struct vq *q = &n->dev.vq[VNET_RXQ];
	uint64_t need = VNET_HDR_LEN + (uint64_t)len, cap = 0;
	unsigned k = 0, max = n->mrg ? VNET_RX_MAX_BUFS : 1;
	uint32_t off = 0;
	int r;

	if (!n->dev.started || n->dev.failed || !q->ready) {
		n->st.rx_not_running++;
		n->want_rx_ready = true;
		return -ENOBUFS;
	}
	if (vnet_rx_hdr(n, h, frame, len, mss) < 0) {
		n->st.rx_drop_bad_tso++;
		return 0;
	}
	/* Take chains until the header and the frame fit. */
	while (cap < need) {
		if (k == max || (k == 1 && n->rxc[0].in_len < VNET_HDR_LEN)) {
			vnet_rx_unpop(q, k); /* keep the chains for frames that fit */
			n->st.rx_drop_big++;
			return 0;
		}
		r = vnet_rx_pop(n, q, &n->rxc[k]);
		if (r < 0) {
			vnet_bad_chain(n, "net: malformed RX descriptor chain");
			n->want_rx_ready = true;
			return -ENOBUFS;
		}
		if (r == 0) {
			vnet_rx_unpop(q, k);
			n->st.rx_nobufs++;
			n->want_rx_ready = true;
			return -ENOBUFS;
		}
		cap += n->rxc[k++].in_len;
	}
	/* Header in the first chain, the frame across all of them; the used
	 * elements are published together. */
	st_le16(h + HDR_NUM_BUFFERS, (uint16_t)k);
	for (unsigned i = 0; i < k; i++) {
		const struct vq_chain *c = &n->rxc[i];
		uint32_t w = 0, take;

		if (i == 0)
			w = vq_chain_write(c, 0, h, sizeof(h));
		take = (uint32_t)MIN((uint64_t)c->in_len - w, len - off);
		vq_chain_write(c, w, frame + off, take);
		off += take;
		vq_fill(q, (uint16_t)i, c->head, w + take);
	}
	vq_publish(q, (uint16_t)k);
	n->rx_pending = true;
	n->st.rx_frames++;
	n->st.rx_bytes += len;
	if (mss)
		n->st.rx_tso++;
	if (n->ops->capture)
		n->ops->capture(n->ctx, VNET_DIR_RX, frame, len);
	return 0;
}

void vnet_rx_flush(struct vnet *n)
{
	vnet_signal(n, VNET_RXQ, &n->rx_pending);
}

/* The guest added RX buffers: the link comes up if it was waiting for
 * that (vnet_start), and a producer that was told -ENOBUFS resumes. */
static void vnet_rx_kick(struct vnet *n)
{
	struct vq *q = &n->dev.vq[VNET_RXQ];

	if (!n->link_up && vq_has_avail(q)) {
		n->link_up = true;
		vq_set_notify(q, n->want_rx_ready);
		if (n->dev.config_changed)
			n->dev.config_changed(&n->dev);
	}
	if (!n->want_rx_ready || !vq_has_avail(q))
		return;
	n->want_rx_ready = false;
	vq_set_notify(q, false);
	n->st.rx_ready_calls++;
	n->ops->rx_ready(n->ctx);
	vnet_rx_flush(n);
}

static void vnet_queue_kick(struct vdev *d, unsigned qi)
{
	struct vnet *n = to_vnet(d);

	if (qi == VNET_TXQ)
		vnet_tx_process(n);
	else if (qi == VNET_RXQ)
		vnet_rx_kick(n);
}

static int vnet_start(struct vdev *d)
{
	struct vnet *n = to_vnet(d);

	if (!(d->acked & (1ULL << VIRTIO_F_VERSION_1_BIT)))
		return -EINVAL; /* legacy drivers are not served */
	for (unsigned i = 0; i < 2; i++) {
		d->vq[i].event_idx = !!(d->acked & VIRTIO_RING_F_EVENT_IDX);
		d->vq[i].indirect = !!(d->acked & VIRTIO_RING_F_INDIRECT_DESC);
	}
	n->mrg = !!(d->acked & VIRTIO_NET_F_MRG_RXBUF);
	d->started = true;
	n->rx_pending = n->tx_pending = false;
	/* Where the front end can announce a config change, the link comes up
	 * when the driver first posts receive buffers, i.e. when the guest
	 * opens the interface, as a real NIC's link does once it is enabled.
	 * Linux then sees the carrier come on while the interface is up and
	 * handles that event at once; a carrier already on at probe time is
	 * only reported running by its link watch, up to a second later. */
	n->link_up = !d->config_changed;
	/* RX kicks matter while a producer waits for room or the link waits
	 * for buffers. */
	vq_set_notify(&d->vq[VNET_RXQ], n->want_rx_ready || !n->link_up);
	/* Frames queued before we started, and a producer waiting for room. */
	vnet_tx_process(n);
	vnet_rx_kick(n);
	return 0;
}

static void vnet_reset(struct vdev *d)
{
	struct vnet *n = to_vnet(d);

	d->started = false;
	n->rx_pending = n->tx_pending = false;
	n->link_up = false;
}

static const struct vdev_ops vnet_ops = {
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.max_queue_size = 1024,
	.config_size = CFG_LEN,
	.features = vnet_features,
	.read_config = vnet_read_config,
	.write_config = vnet_write_config,
	.start = vnet_start,
	.queue_kick = vnet_queue_kick,
	.reset = vnet_reset,
};

int vnet_init(struct vnet *n, const struct vnet_cfg *cfg, const struct vnet_ops *ops, void *ctx)
{
	if (!cfg || !ops || !ops->output || !ops->rx_ready)
		return -EINVAL;
	if (cfg->mtu && cfg->mtu < 68)
		return -EINVAL;
	memset(&n->dev, 0, sizeof(n->dev));
	memset(&n->st, 0, sizeof(n->st));
	n->cfg = *cfg;
	n->ops = ops;
	n->ctx = ctx;
	n->want_rx_ready = n->rx_pending = n->tx_pending = false;
	n->dev.ops = &vnet_ops;
	n->dev.name = "net";
	n->dev.priv = n;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		n->dev.vq[i].kick_fd = n->dev.vq[i].call_fd = -1;
	return 0;
}
