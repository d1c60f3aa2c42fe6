/* Unit tests for the virtio-net back end (virtio/net.c). The test plays the
 * guest driver on fake guest memory: it lays out split rings, posts TX and
 * RX chains, kicks the device as a front end would, and reads the used
 * rings and the call eventfds. Covered: features (VERSION_1 offered and
 * required), config space, header strip/prepend with num_buffers = 1, one
 * notification per batch, RX back-pressure (-ENOBUFS, then rx_ready on the
 * RX kick), more than 70,000 frames each way through small rings so the
 * 16-bit indexes wrap (plain and EVENT_IDX), and hostile chains. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/bytes.h"
#include "t.h"
#include "vnet_fake.h"

struct fake {
	struct vnet n;
	/* what the device gave us */
	unsigned n_out, n_ready;
	uint8_t last[VNET_MAX_FRAME];
	size_t last_len;
	uint32_t seq_expect;
	unsigned seq_bad;
	int output_ret;
	/* a guest that re-posts each TX chain as soon as it is used */
	unsigned refill_left;
	uint32_t refill_seq;
};

static struct fake F;

static int fake_output(void *ctx, const uint8_t *frame, size_t len)
{
	struct fake *f = ctx;
	uint32_t seq;

	f->n_out++;
	f->last_len = len;
	memcpy(f->last, frame, len);
	if (len >= 18) { /* sequence number after the Ethernet header */
		memcpy(&seq, frame + 14, 4);
		if (seq != f->seq_expect)
			f->seq_bad++;
		f->seq_expect++;
	}
	if (f->refill_left) {
		uint32_t id, ulen;
		while (f->refill_left && fq_used(VNET_TXQ, &id, &ulen)) {
			tx_post(f->refill_seq++, 60, 0);
			f->refill_left--;
		}
	}
	return f->output_ret;
}

static void fake_rx_ready(void *ctx)
{
	((struct fake *)ctx)->n_ready++;
}

static const struct vnet_ops fops = { .output = fake_output, .rx_ready = fake_rx_ready };

/* Boots the device as a front end would. Returns start()'s result. */
static int fake_boot(uint64_t acked, unsigned num)
{
	struct vnet_cfg cfg = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, .mtu = 1500 };

	F.n_out = F.n_ready = 0;
	F.seq_expect = F.seq_bad = 0;
	F.output_ret = 0;
	F.refill_left = 0;
	if (vnet_init(&F.n, &cfg, &fops, &F) != 0)
		return -1;
	return fd_boot(vnet_vdev(&F.n), acked, num);
}

static void kick(unsigned qi)
{
	struct vdev *d = vnet_vdev(&F.n);
	d->ops->queue_kick(d, qi);
}

static void test_vnet_features_config(void)
{
	struct vdev *d = vnet_vdev(&F.n);
	uint8_t cfg[12];
	uint64_t f;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	f = d->ops->features(d);
	T_CHECK(f & VIRTIO_F_VERSION_1, "VERSION_1 not offered");
	T_CHECK(f & VIRTIO_NET_F_MAC, "MAC not offered");
	T_CHECK(f & VIRTIO_NET_F_STATUS, "STATUS not offered");
	T_CHECK(f & VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF not offered");
	T_CHECK(d->ops->device_id == VIRTIO_ID_NET && d->ops->num_queues == 2, "id/queues");
	T_REQUIRE(d->ops->config_size <= sizeof(cfg), "config size %u", d->ops->config_size);
	d->ops->read_config(d, 0, cfg, d->ops->config_size);
	T_CHECK(memcmp(cfg, "\x52\x54\x00\x12\x34\x56", 6) == 0, "mac");
	T_CHECK(cfg[6] == 1 && cfg[7] == 0, "status link up");
	T_CHECK(cfg[10] == (1500 & 0xff) && cfg[11] == 1500 >> 8, "mtu");
	d->ops->read_config(d, 4, cfg, 2);
	T_CHECK(cfg[0] == 0x34 && cfg[1] == 0x56, "partial read");
	/* A legacy driver (no VERSION_1) is refused. */
	T_CHECK(fake_boot(0, QSZ) == -EINVAL, "start without VERSION_1 accepted");
}

static int n_config_changed;
static void count_config_changed(struct vdev *d) { n_config_changed++; }

/* With a front end that can announce config changes (mmio), the link is
 * down until the driver posts RX buffers, then up with one announcement;
 * a reset takes it down again. */
static void test_vnet_link_up_on_rx_buffers(void)
{
	struct vnet_cfg cfg = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, .mtu = 1500 };
	struct vdev *d = vnet_vdev(&F.n);
	uint8_t st[2];

	T_REQUIRE(vnet_init(&F.n, &cfg, &fops, &F) == 0, "init");
	d->config_changed = count_config_changed;
	n_config_changed = 0;
	T_REQUIRE(fd_boot(d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX, QSZ) == 0, "boot");
	d->ops->read_config(d, 6, st, 2);
	T_CHECK(st[0] == 0 && n_config_changed == 0, "link up before any RX buffer (%u, %d)", st[0],
		n_config_changed);
	kick(VNET_RXQ); /* a kick with nothing posted changes nothing */
	T_CHECK(n_config_changed == 0, "announced without buffers");
	rx_post(0, 1526, 0);
	kick(VNET_RXQ);
	d->ops->read_config(d, 6, st, 2);
	T_CHECK(st[0] == 1 && n_config_changed == 1, "after the first RX buffers: status %u, %d announcements",
		st[0], n_config_changed);
	rx_post(1, 1526, 0);
	kick(VNET_RXQ);
	T_CHECK(n_config_changed == 1, "announced twice");
	d->ops->reset(d);
	d->ops->read_config(d, 6, st, 2);
	T_CHECK(st[0] == 0, "link still up after reset");
	d->config_changed = NULL;
}

static void test_vnet_tx_strip_and_batch(void)
{
	uint32_t id, len;
	unsigned used = 0;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	for (uint32_t i = 0; i < 40; i++)
		tx_post(i, 60 + i * 30, i & 1);
	kick(VNET_TXQ);
	T_CHECK(F.n_out == 40, "output %u frames", F.n_out);
	T_CHECK(F.seq_bad == 0, "%u frames out of order or damaged", F.seq_bad);
	T_CHECK(F.last_len == 60 + 39 * 30, "last frame length %zu", F.last_len);
	{
		uint8_t want[VNET_MAX_FRAME];
		make_frame(want, F.last_len, 39);
		T_CHECK(memcmp(want, F.last, F.last_len) == 0, "frame bytes differ");
	}
	while (fq_used(VNET_TXQ, &id, &len))
		used++;
	T_CHECK(used == 40, "used %u", used);
	T_CHECK(calls(VNET_TXQ) == 1, "not exactly one TX notification for the batch");
	T_CHECK(F.n.st.tx_frames == 40 && F.n.st.tx_bytes > 0, "stats");
}

static void test_vnet_rx_prepend(void)
{
	uint8_t frame[1514], *p;
	uint32_t id, len;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	rx_post(0, 1526, 0);
	rx_post(1, 1526, 1);
	make_frame(frame, 1514, 5);
	T_CHECK(vnet_rx(&F.n, frame, 1514) == 0, "rx 1");
	T_CHECK(vnet_rx(&F.n, frame, 60) == 0, "rx 2");
	T_CHECK(calls(VNET_RXQ) == 0, "signalled before flush");
	vnet_rx_flush(&F.n);
	T_CHECK(calls(VNET_RXQ) == 1, "not one notification for the batch");
	T_REQUIRE(fq_used(VNET_RXQ, &id, &len) == 1, "no used entry");
	T_CHECK(len == VNET_HDR_LEN + 1514, "used len %u", len);
	p = rx_slot(0);
	T_CHECK(p[0] == 0 && p[1] == 0, "flags/gso not zero");
	T_CHECK(p[10] == 1 && p[11] == 0, "num_buffers != 1");
	T_CHECK(memcmp(p + VNET_HDR_LEN, frame, 1514) == 0, "frame bytes");
	T_REQUIRE(fq_used(VNET_RXQ, &id, &len) == 1, "no second used entry");
	T_CHECK(len == VNET_HDR_LEN + 60, "used len 2 %u", len);
	p = rx_slot(1);
	T_CHECK(p[10] == 1, "split: num_buffers");
	T_CHECK(memcmp(p + 64, frame, 60) == 0, "split: frame bytes");
	/* A frame larger than the chain is dropped and counted; the chain
	 * stays for the next frame. */
	rx_post(2, 200, 0);
	T_CHECK(vnet_rx(&F.n, frame, 1000) == 0 && F.n.st.rx_drop_big == 1, "too big not counted");
	T_CHECK(vnet_rx(&F.n, frame, 100) == 0 && F.n.st.rx_frames == 3, "chain not kept");
}

static void test_vnet_rx_backpressure(void)
{
	uint8_t frame[100] = { 0 };

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	T_CHECK(vnet_rx(&F.n, frame, sizeof(frame)) == -ENOBUFS, "no buffer: not -ENOBUFS");
	T_CHECK(F.n.st.rx_nobufs == 1, "nobufs not counted");
	/* The device must have asked to be kicked. */
	T_CHECK((FD.q[VNET_RXQ].used[0] & 1) == 0, "RX notifications left off");
	kick(VNET_RXQ); /* spurious: nothing added */
	T_CHECK(F.n_ready == 0, "rx_ready without buffers");
	rx_post(0, 1526, 0);
	kick(VNET_RXQ);
	T_CHECK(F.n_ready == 1, "rx_ready not called after the guest added buffers");
	kick(VNET_RXQ);
	T_CHECK(F.n_ready == 1, "rx_ready called twice");
	T_CHECK(vnet_rx(&F.n, frame, sizeof(frame)) == 0, "rx after refill");
	/* Before the driver starts, frames wait (-ENOBUFS) and rx_ready comes
	 * with start(). */
	{
		struct vdev *d = vnet_vdev(&F.n);
		d->ops->reset(d);
		T_CHECK(vnet_rx(&F.n, frame, sizeof(frame)) == -ENOBUFS, "not running");
		rx_post(1, 1526, 0);
		F.n_ready = 0;
		T_CHECK(d->ops->start(d) == 0, "restart");
		T_CHECK(F.n_ready == 1, "no rx_ready at start");
	}
}

/* Pushes more than 70,000 frames each way through QSZ-entry rings and
 * checks every one, so avail/used indexes wrap past 65535. */
static void wrap_both_ways(uint64_t acked)
{
	const uint32_t total = 70000 + 123;
	uint32_t sent = 0, got = 0, id, len, rx_done = 0, rx_bad = 0;
	uint64_t sigs = 0;
	uint8_t frame[256];

	T_REQUIRE(fake_boot(acked, QSZ) == 0, "boot");
	while (sent < total) {
		unsigned batch = 0;
		while (batch < QSZ / 2 && sent < total) {
			tx_post(sent, 64 + sent % 150, sent & 1);
			sent++;
			batch++;
		}
		kick(VNET_TXQ);
		while (fq_used(VNET_TXQ, &id, &len))
			got++;
		sigs += calls(VNET_TXQ);
	}
	T_CHECK(F.n_out == total && got == total, "TX: output %u used %u of %u", F.n_out, got, total);
	T_CHECK(F.seq_bad == 0, "TX: %u frames damaged", F.seq_bad);
	T_CHECK(sigs > 0 && sigs <= total / (QSZ / 2) + 1, "TX notifications %llu",
		(unsigned long long)sigs);
	T_CHECK(F.n.dev.vq[VNET_TXQ].used_idx == (uint16_t)total, "TX used idx did not wrap");

	sent = 0;
	sigs = 0;
	while (sent < total) {
		int16_t slot_of[QSZ];
		memset(slot_of, -1, sizeof(slot_of));
		for (unsigned i = 0; i < QSZ / 2; i++)
			slot_of[rx_post(i, 512, i & 1)] = (int16_t)i;
		for (unsigned i = 0; i < QSZ / 2 && sent < total; i++, sent++) {
			make_frame(frame, 100, sent);
			if (vnet_rx(&F.n, frame, 100) != 0)
				rx_bad++;
		}
		vnet_rx_flush(&F.n);
		sigs += calls(VNET_RXQ);
		while (fq_used(VNET_RXQ, &id, &len)) {
			uint8_t *b, *fp, want[100];
			if (id >= QSZ || slot_of[id] < 0 || len != VNET_HDR_LEN + 100) {
				rx_bad++;
				continue;
			}
			b = rx_slot((unsigned)slot_of[id]);
			fp = (slot_of[id] & 1) ? b + 64 : b + VNET_HDR_LEN;
			make_frame(want, 100, rx_done);
			if (b[10] != 1 || memcmp(fp, want, 100) != 0)
				rx_bad++;
			rx_done++;
		}
		/* The driver drains the rest of its posted buffers (none left
		 * over here: every posted buffer was used). */
	}
	T_CHECK(sigs == (total + QSZ / 2 - 1) / (QSZ / 2), "RX notifications %llu, want one per batch",
		(unsigned long long)sigs);
	T_CHECK(rx_done == total && rx_bad == 0, "RX: %u of %u, %u bad", rx_done, total, rx_bad);
	T_CHECK(F.n.dev.vq[VNET_RXQ].used_idx == (uint16_t)total, "RX used idx did not wrap");
	T_CHECK(F.n.st.rx_frames == total && F.n.st.tx_frames == total, "stats");
}

static void test_vnet_wrap_70k(void)
{
	wrap_both_ways(VIRTIO_F_VERSION_1);
}

static void test_vnet_wrap_70k_event_idx(void)
{
	wrap_both_ways(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX);
}

/* MRG_RXBUF: a frame spreads over several small chains, num_buffers says
 * how many, all appear at once; too few chains -> -ENOBUFS and the chains
 * are kept; 35,000 two-chain frames wrap the used index. */
static void test_vnet_mrg_rxbuf(void)
{
	uint8_t frame[1500], got[1500];
	uint32_t id, len, lens[4];
	uint16_t heads[4];
	unsigned n = 0, bad = 0;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF, QSZ) == 0, "boot");
	T_CHECK(F.n.mrg, "MRG_RXBUF not taken");
	make_frame(frame, sizeof(frame), 9);
	heads[0] = rx_post(0, 512, 0);
	heads[1] = rx_post(1, 512, 1);
	T_CHECK(vnet_rx(&F.n, frame, sizeof(frame)) == -ENOBUFS, "two 512-byte chains took 1512 bytes");
	T_CHECK(FD.q[VNET_RXQ].used[1] == 0 && F.n.dev.vq[VNET_RXQ].last_avail == 0, "chains not given back");
	heads[2] = rx_post(2, 512, 0);
	heads[3] = rx_post(3, 512, 0);
	T_REQUIRE(vnet_rx(&F.n, frame, sizeof(frame)) == 0, "frame not placed");
	T_CHECK(FD.q[VNET_RXQ].used[1] == 3, "used idx %u, want 3", FD.q[VNET_RXQ].used[1]);
	vnet_rx_flush(&F.n);
	T_CHECK(calls(VNET_RXQ) == 1, "one notification");
	while (n < 3 && fq_used(VNET_RXQ, &id, &len)) {
		uint8_t *b = rx_slot(n);
		uint32_t hdr = n == 0 ? VNET_HDR_LEN : 0;
		if (id != heads[n])
			bad++;
		lens[n] = len;
		if (n == 0 && (b[10] != 3 || b[11] != 0))
			bad++;
		if (n == 1) /* split chain: header part then 64 bytes on */
			memcpy(got + 500, b, VNET_HDR_LEN), memcpy(got + 512, b + 64, 500);
		else if (n == 0)
			memcpy(got, b + hdr, 500);
		else
			memcpy(got + 1012, b, 488);
		n++;
	}
	T_CHECK(n == 3 && !bad, "%u used entries, %u wrong", n, bad);
	T_CHECK(lens[0] == 512 && lens[1] == 512 && lens[2] == 1512 - 1024, "lengths %u %u %u",
		lens[0], lens[1], lens[2]);
	T_CHECK(memcmp(got, frame, sizeof(frame)) == 0, "frame bytes across chains");
	/* More chains than one frame may take: dropped, counted, kept. */
	for (unsigned i = 0; i < VNET_RX_MAX_BUFS + 2; i++) {
		uint64_t g[1] = { BUF_AREA + 0x200000 + (uint64_t)i * 16 };
		uint32_t l[1] = { 16 };
		int w[1] = { 1 };
		fq_post(VNET_RXQ, 1, g, l, w);
	}
	T_CHECK(vnet_rx(&F.n, frame, sizeof(frame)) == 0 && F.n.st.rx_drop_big == 1, "oversized not dropped");
	T_CHECK(vnet_rx(&F.n, frame, 60) == 0 && F.n.st.rx_frames == 2, "chains not kept after drop");
}

static void test_vnet_mrg_wrap(void)
{
	const uint32_t total = 35000;
	uint32_t id, len, placed = 0, used = 0, bad = 0;
	uint8_t frame[900];

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_RING_F_EVENT_IDX, QSZ) == 0,
		  "boot");
	while (placed < total) {
		for (unsigned i = 0; i < QSZ / 2; i++)
			rx_post(i, 512, 0);
		for (unsigned i = 0; i < QSZ / 4 && placed < total; i++, placed++) {
			make_frame(frame, sizeof(frame), placed);
			if (vnet_rx(&F.n, frame, sizeof(frame)) != 0)
				bad++;
		}
		vnet_rx_flush(&F.n);
		while (fq_used(VNET_RXQ, &id, &len)) {
			uint8_t *b = rx_slot(used % (QSZ / 2));
			uint32_t seq;
			if ((used & 1) == 0) {
				memcpy(&seq, b + VNET_HDR_LEN + 14, 4);
				if (b[10] != 2 || seq != used / 2 || len != 512)
					bad++;
			} else if (len != VNET_HDR_LEN + 900 - 512) {
				bad++;
			}
			used++;
		}
	}
	T_CHECK(used == 2 * total && !bad, "%u used entries of %u, %u bad", used, 2 * total, bad);
	T_CHECK(F.n.dev.vq[VNET_RXQ].used_idx == (uint16_t)(2 * total), "used idx did not wrap");
}

/* Folds a 32-bit ones'-complement sum of big-endian 16-bit words. */
static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* Checksum offload both ways: a UDP frame the guest leaves NEEDS_CSUM
 * (pseudo-header sum in the field, as Linux does) leaves the device with a
 * checksum that verifies; bad offsets are a counted drop; RX frames are
 * marked DATA_VALID when GUEST_CSUM was taken. */
static void test_vnet_csum_offload(void)
{
	uint8_t f[14 + 20 + 8 + 11] = { 0 }, *p;
	uint8_t *udp = f + 34;
	uint32_t ps, id, len;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM, QSZ) == 0,
		  "boot");
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 17;                        /* UDP */
	memcpy(f + 26, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0, udp[3] = 53;
	udp[5] = 8 + 11;
	memcpy(udp + 8, "hello world", 11);
	/* pseudo header: addresses, protocol, UDP length */
	ps = fold(sum16(f + 26, 8, 17 + 19));
	udp[6] = (uint8_t)(ps >> 8), udp[7] = (uint8_t)ps;
	p = G(BUF_AREA);
	memset(p, 0, VNET_HDR_LEN);
	p[0] = 1;                          /* NEEDS_CSUM */
	p[6] = 34, p[7] = 0;               /* csum_start */
	p[8] = 6, p[9] = 0;                /* csum_offset */
	memcpy(p + VNET_HDR_LEN, f, sizeof(f));
	{
		uint64_t g[1] = { BUF_AREA };
		uint32_t l[1] = { VNET_HDR_LEN + sizeof(f) };
		int w[1] = { 0 };
		fq_post(VNET_TXQ, 1, g, l, w);
	}
	kick(VNET_TXQ);
	T_REQUIRE(F.n_out == 1 && F.last_len == sizeof(f), "frame not delivered");
	T_CHECK(fold(sum16(F.last + 34, 19, sum16(f + 26, 8, 17 + 19))) == 0xffff,
		"checksum %02x%02x does not verify", F.last[40], F.last[41]);
	T_CHECK(memcmp(F.last + 42, "hello world", 11) == 0, "payload changed");
	/* csum_offset past the end of the frame */
	p[8] = 200;
	{
		uint64_t g[1] = { BUF_AREA };
		uint32_t l[1] = { VNET_HDR_LEN + sizeof(f) };
		int w[1] = { 0 };
		fq_post(VNET_TXQ, 1, g, l, w);
	}
	kick(VNET_TXQ);
	T_CHECK(F.n_out == 1 && F.n.st.tx_drop_bad_hdr == 1, "bad offsets not dropped");
	rx_post(0, 1526, 0);
	T_REQUIRE(vnet_rx(&F.n, f, sizeof(f)) == 0, "rx");
	T_CHECK(rx_slot(0)[0] == 2, "DATA_VALID not set: flags %u", rx_slot(0)[0]);
	T_REQUIRE(fq_used(VNET_RXQ, &id, &len) == 1, "used");
	/* Without GUEST_CSUM the flags stay 0, and NEEDS_CSUM is refused. */
	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot 2");
	rx_post(0, 1526, 0);
	T_REQUIRE(vnet_rx(&F.n, f, sizeof(f)) == 0, "rx 2");
	T_CHECK(rx_slot(0)[0] == 0, "flags %u without GUEST_CSUM", rx_slot(0)[0]);
}

/* HOST_TSO4: a TCP/IPv4 frame larger than the MTU, left unsegmented with
 * its checksum to complete, is delivered whole (counted tx_tso); without
 * the feature, with a segment size of 0, without NEEDS_CSUM, or as another
 * GSO type it is dropped and counted. */
static void test_vnet_tso4(void)
{
	static uint8_t f[14 + 20 + 20 + 3000];
	uint8_t *p = G(BUF_AREA), *tcp = f + 34;
	uint64_t g[1] = { BUF_AREA };
	uint32_t l[1] = { VNET_HDR_LEN + sizeof(f) }, ps;
	int w[1] = { 0 };
	/* each case: features, gso_type, gso_size, flags; delivered or not */
	static const struct { uint64_t feat; uint8_t type; uint16_t size; uint8_t flags; bool ok; } cases[] = {
		{ VIRTIO_NET_F_HOST_TSO4, 1, 1448, 1, true },
		{ 0, 1, 1448, 1, false },                     /* not negotiated */
		{ VIRTIO_NET_F_HOST_TSO4, 1, 0, 1, false },   /* no segment size */
		{ VIRTIO_NET_F_HOST_TSO4, 1, 1448, 0, false }, /* checksum not left to us */
		{ VIRTIO_NET_F_HOST_TSO4, 3, 1448, 1, false }, /* UDP (UFO) */
		{ VIRTIO_NET_F_HOST_TSO4, 4, 1448, 1, false }, /* TCPv6 */
	};

	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)((sizeof(f) - 14) >> 8), f[17] = (uint8_t)(sizeof(f) - 14);
	f[23] = 6; /* TCP */
	memcpy(f + 26, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	tcp[12] = 5 << 4;
	memset(tcp + 20, 't', 3000);
	ps = fold(sum16(f + 26, 8, 6 + 20 + 3000));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_CSUM | cases[i].feat, QSZ) == 0, "boot");
		tcp[16] = (uint8_t)(ps >> 8), tcp[17] = (uint8_t)ps;
		memset(p, 0, VNET_HDR_LEN);
		p[0] = cases[i].flags;
		p[1] = cases[i].type;
		p[2] = 54;                                  /* hdr_len */
		p[4] = (uint8_t)cases[i].size, p[5] = (uint8_t)(cases[i].size >> 8);
		p[6] = 34, p[8] = 16;                       /* csum_start, csum_offset */
		memcpy(p + VNET_HDR_LEN, f, sizeof(f));
		fq_post(VNET_TXQ, 1, g, l, w);
		kick(VNET_TXQ);
		if (cases[i].ok) {
			T_CHECK(F.n_out == 1 && F.last_len == sizeof(f) && F.n.st.tx_tso == 1,
				"case %zu: 64 KiB-style frame delivered whole (%u out)", i, F.n_out);
			T_CHECK(fold(sum16(F.last + 34, 20 + 3000, sum16(f + 26, 8, 6 + 20 + 3000))) == 0xffff,
				"case %zu: checksum completed", i);
		} else {
			T_CHECK(F.n_out == 0 && F.n.st.tx_drop_bad_hdr == 1 && F.n.st.tx_tso == 0,
				"case %zu: dropped and counted (%u out)", i, F.n_out);
		}
	}
}

/* GUEST_TSO4: a TCP/IPv4 frame over the MTU goes to the guest with
 * NEEDS_CSUM, the TCPV4 GSO type, its header length, segment size and
 * checksum offsets; without the feature, or not TCP/IPv4, it is dropped
 * and counted (never placed with a header the guest did not agree to). */
static void test_vnet_rx_tso4(void)
{
	static uint8_t f[14 + 20 + 20 + 3000];
	uint8_t *h;
	uint32_t id, len;

	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 6;
	f[34 + 12] = 5 << 4;
	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4, QSZ) == 0,
		  "boot");
	T_CHECK(vnet_rx_tso_ok(&F.n), "TSO taken");
	rx_post(0, 4096, 0);
	T_REQUIRE(vnet_rx_tso(&F.n, f, sizeof(f), 1448) == 0 && fq_used(VNET_RXQ, &id, &len) == 1, "rx");
	h = rx_slot(0);
	T_CHECK(h[0] == 1 && h[1] == 1 && ld_le16(h + 2) == 54 && ld_le16(h + 4) == 1448 &&
			ld_le16(h + 6) == 34 && ld_le16(h + 8) == 16 && len == VNET_HDR_LEN + sizeof(f) &&
			F.n.st.rx_tso == 1,
		"header: flags %u type %u hdr_len %u gso %u csum %u+%u", h[0], h[1], ld_le16(h + 2),
		ld_le16(h + 4), ld_le16(h + 6), ld_le16(h + 8));
	f[23] = 17; /* UDP */
	rx_post(1, 4096, 0);
	T_CHECK(vnet_rx_tso(&F.n, f, sizeof(f), 1448) == 0 && F.n.st.rx_drop_bad_tso == 1 &&
			fq_used(VNET_RXQ, &id, &len) == 0, "not TCP: dropped and counted");
	f[23] = 6;
	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_GUEST_CSUM, QSZ) == 0, "boot 2");
	rx_post(0, 4096, 0);
	T_CHECK(!vnet_rx_tso_ok(&F.n) && vnet_rx_tso(&F.n, f, sizeof(f), 1448) == 0 &&
			F.n.st.rx_drop_bad_tso == 1 && fq_used(VNET_RXQ, &id, &len) == 0,
		"not negotiated: dropped and counted");
}

static const char *fail_why;
static void on_fail(struct vdev *d, const char *why)
{
	fail_why = why;
}

static void test_vnet_hostile(void)
{
	struct vdev *d = vnet_vdev(&F.n);
	uint8_t *p;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	d->on_fail = on_fail;
	fail_why = NULL;
	/* Shorter than the header. */
	{
		uint64_t g[1] = { BUF_AREA };
		uint32_t l[1] = { 8 };
		int w[1] = { 0 };
		fq_post(VNET_TXQ, 1, g, l, w);
	}
	/* An offload that was never negotiated. */
	tx_post(0, 100, 0);
	p = G(BUF_AREA);
	p[1] = 4; /* GSO_TCPV6 */
	/* A good frame after them still goes through. */
	tx_post(1, 100, 1);
	kick(VNET_TXQ);
	T_CHECK(F.n.st.tx_drop_short == 1, "short not counted");
	T_CHECK(F.n.st.tx_drop_bad_hdr == 1, "bad header not counted");
	T_CHECK(F.n_out == 1, "good frame lost (%u out)", F.n_out);
	/* output() refusing is counted. */
	F.output_ret = -ENOBUFS;
	tx_post(2, 100, 0);
	kick(VNET_TXQ);
	T_CHECK(F.n.st.tx_drop_output == 1, "refused output not counted");
	/* A descriptor outside guest memory breaks the device, no crash. */
	{
		uint64_t g[1] = { MEM_SIZE - 4 };
		uint32_t l[1] = { 100 };
		int w[1] = { 0 };
		fq_post(VNET_TXQ, 1, g, l, w);
	}
	kick(VNET_TXQ);
	T_CHECK(fail_why != NULL, "out-of-map chain did not fail the device");
	T_CHECK(F.n.st.bad_chains == 1, "bad chain not counted");
	/* A failed device takes no more frames. */
	T_CHECK(vnet_rx(&F.n, p, 60) == -ENOBUFS, "rx on a failed device");
}

/* A guest whose vCPU re-posts every TX chain the moment it is used must not
 * hold the device loop in one kick forever (nothing else on the loop would
 * run, and a VM stop would wait on it): a pass ends after a bounded number
 * of frames, and a self-kick brings the device back for the rest. */
static void test_vnet_tx_flood_yields(void)
{
	struct vdev *d = vnet_vdev(&F.n);
	const unsigned total = 100000;
	unsigned first, rounds = 0;
	uint64_t v;
	int kfd;

	T_REQUIRE(fake_boot(VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	kfd = eventfd(0, EFD_NONBLOCK);
	T_REQUIRE(kfd >= 0, "eventfd");
	d->vq[VNET_TXQ].kick_fd = kfd;
	for (uint32_t i = 0; i < 32; i++)
		tx_post(i, 60, 0);
	F.refill_seq = 32;
	F.refill_left = total;
	kick(VNET_TXQ);
	first = F.n_out;
	T_CHECK(first < total / 2, "one kick ran %u frames of a guest flood", first);
	T_CHECK(read(kfd, &v, sizeof(v)) == sizeof(v) && v >= 1,
		"pass ended with chains left but no self-kick");
	/* the loop comes back: everything is sent, in order */
	F.refill_left = 0;
	kick(VNET_TXQ);
	while (read(kfd, &v, sizeof(v)) == sizeof(v) && rounds++ < 1000)
		kick(VNET_TXQ);
	T_CHECK(F.n_out == F.refill_seq, "sent %u of %u", F.n_out, F.refill_seq);
	T_CHECK(F.seq_bad == 0, "%u frames out of order", F.seq_bad);
	d->vq[VNET_TXQ].kick_fd = -1;
	close(kfd);
}

int main(void)
{
	if (fd_mem_init())
		return 1;
	T_RUN(test_vnet_features_config);
	T_RUN(test_vnet_link_up_on_rx_buffers);
	T_RUN(test_vnet_tx_strip_and_batch);
	T_RUN(test_vnet_rx_prepend);
	T_RUN(test_vnet_rx_backpressure);
	T_RUN(test_vnet_wrap_70k);
	T_RUN(test_vnet_wrap_70k_event_idx);
	T_RUN(test_vnet_mrg_rxbuf);
	T_RUN(test_vnet_mrg_wrap);
	T_RUN(test_vnet_csum_offload);
	T_RUN(test_vnet_tso4);
	T_RUN(test_vnet_rx_tso4);
	T_RUN(test_vnet_hostile);
	T_RUN(test_vnet_tx_flood_yields);
	free(FD.base);
	T_EXIT();
}
