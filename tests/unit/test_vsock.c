/* Unit tests of the virtio-vsock back end (virtio/vsock.c) with a fake
 * driver: fake guest memory, RX buffers laid out like Linux 6.1's (header
 * descriptor, then 4 KiB), TX packets as header + payload descriptors, and
 * real AF_UNIX sockets on the host side in a temporary folder. Covers the
 * CONNECT protocol, guest-initiated connections, data both ways byte-exact
 * under credit limits, RX backpressure without loss, shutdown and reset,
 * many connections at once, and a hostile driver. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/util.h"
#include "t.h"
#include "test_vq_driver.h"
#include "virtio/vsock.h"

/* after device.h: its VIRTIO_F_VERSION_1 is a mask, the UAPI's a bit number */
#include <linux/virtio_vsock.h>

#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define QN 64               /* queue size */
#define SLOTS (QN / 2)      /* two descriptors per chain */
#define SLOT_DATA 4096
#define SLOT_SIZE (HDR + SLOT_DATA)
#define MEM_GPA 0x200000
#define MEM_SIZE (4 << 20)
#define GUEST_BUF_ALLOC 65536

static uint8_t mem_buf[MEM_SIZE] __attribute__((aligned(4096)));

static struct {
	struct loop l;
	struct vsock_dev v;
	struct vdev *d;
	struct fake_mem fm;
	struct fake_drv rx, tx;
	uint64_t rx_pool, tx_pool;
	unsigned rx_out;       /* RX chains posted, not yet used */
	char dir[64], path[108];
	int fails;
	char why[128];
} E;

static void on_fail(struct vdev *d, const char *why)
{
	E.fails++;
	snprintf(E.why, sizeof(E.why), "%s", why);
}

/* Posts n RX buffers (header + 4 KiB, both device-writable) and kicks. */
static void rx_post(unsigned n)
{
	for (unsigned i = 0; i < n && E.rx_out < SLOTS; i++) {
		uint64_t b = E.rx_pool + (uint64_t)(E.rx.next_desc / 2) * SLOT_SIZE;
		struct fseg s[2] = { { b, HDR, 1 }, { b + HDR, SLOT_DATA, 1 } };
		fdrv_add(&E.rx, s, 2);
		E.rx_out++;
	}
	E.d->ops->queue_kick(E.d, VSOCK_RXQ);
}

/* Runs the loop until nothing fires (bounded). */
static void pump(void)
{
	for (int i = 0; i < 10000 && loop_once(&E.l, 0) > 0; i++)
		;
}

/* Takes the next packet the device sent; refills its buffer when refill.
 * Returns 1 with *h and up to SLOT_DATA bytes in data, else 0. */
static int rx_next_opt(struct virtio_vsock_hdr *h, uint8_t *data, bool refill)
{
	uint32_t id, len;
	uint8_t *p;

	pump();
	if (!fdrv_used(&E.rx, &id, &len))
		return 0;
	E.rx_out--;
	p = fmem_ptr(&E.fm, E.rx_pool + (uint64_t)(id / 2) * SLOT_SIZE);
	memcpy(h, p, HDR);
	if (len < HDR || len - HDR != h->len || h->len > SLOT_DATA)
		h->op = 0xffff; /* let the caller's checks fail */
	else if (data)
		memcpy(data, p + HDR, h->len);
	if (refill)
		rx_post(1);
	return 1;
}

static int rx_next(struct virtio_vsock_hdr *h, uint8_t *data)
{
	return rx_next_opt(h, data, true);
}

/* Sends one packet: header h (taken as is), then len bytes of data. */
static void tx_send_raw(const struct virtio_vsock_hdr *h, const void *data, uint32_t len)
{
	uint64_t b = E.tx_pool + (uint64_t)(E.tx.next_desc / 2) * SLOT_SIZE;
	struct fseg s[2] = { { b, HDR, 0 }, { b + HDR, len, 0 } };
	uint32_t id, ulen;

	if (len > SLOT_DATA)
		abort();
	memcpy(fmem_ptr(&E.fm, b), h, HDR);
	if (len)
		memcpy(fmem_ptr(&E.fm, b + HDR), data, len);
	/* keep descriptors paired: a 1-descriptor chain still uses two slots */
	fdrv_add(&E.tx, s, len ? 2 : 1);
	if (!len)
		E.tx.next_desc = (uint16_t)((E.tx.next_desc + 1) % QN);
	E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	while (fdrv_used(&E.tx, &id, &ulen))
		;
}

/* Sends one packet from guest port gport to host port hport. */
static void tx_send(uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
		    uint32_t fwd_cnt, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = 3, .dst_cid = 2, .src_port = gport, .dst_port = hport,
		.len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.buf_alloc = GUEST_BUF_ALLOC, .fwd_cnt = fwd_cnt,
	};

	tx_send_raw(&h, data, len);
}

static int setup(void)
{
	memset(&E, 0, sizeof(E));
	snprintf(E.dir, sizeof(E.dir), "/tmp/vb-vsock-unit.XXXXXX");
	if (!mkdtemp(E.dir) || loop_init(&E.l) < 0)
		return -1;
	snprintf(E.path, sizeof(E.path), "%s/v.sock", E.dir);
	if (vsock_dev_init(&E.v, &E.l, 3, E.path) < 0)
		return -1;
	E.d = vsock_dev_vdev(&E.v);
	E.d->on_fail = on_fail;
	fmem_init(&E.fm, mem_buf, MEM_GPA, MEM_SIZE);
	E.d->mem = &E.fm.map;
	fdrv_init(&E.rx, &E.fm, &E.d->vq[VSOCK_RXQ], QN);
	fdrv_init(&E.tx, &E.fm, &E.d->vq[VSOCK_TXQ], QN);
	E.rx_pool = fmem_alloc(&E.fm, (uint64_t)SLOTS * SLOT_SIZE, 16);
	E.tx_pool = fmem_alloc(&E.fm, (uint64_t)SLOTS * SLOT_SIZE, 16);
	if (vq_start(&E.d->vq[VSOCK_RXQ], &E.fm.map) < 0 ||
	    vq_start(&E.d->vq[VSOCK_TXQ], &E.fm.map) < 0)
		return -1;
	return E.d->ops->start(E.d);
}

static void teardown(void)
{
	char p[200];

	vsock_dev_fini(&E.v);
	loop_fini(&E.l);
	T_CHECK(access(E.path, F_OK) < 0, "socket file left behind");
	for (int port = 5000; port < 5010; port++) {
		snprintf(p, sizeof(p), "%s_%d", E.path, port);
		unlink(p);
	}
	rmdir(E.dir);
}

/* Connects a host client to the device socket. */
static int host_dial(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, E.path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return fd;
}

/* Listens on <path>_port for guest-initiated connections. */
static int host_listen(int port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%.80s_%d", E.path, port) >=
	    sizeof(a.sun_path))
		return -1;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0)
		return -1;
	return fd;
}

/* Reads up to len bytes available on fd now (non-blocking). */
static ssize_t host_read_now(int fd, void *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

	return n < 0 && errno == EAGAIN ? -EAGAIN : n;
}

/* Host-initiated connection to guest port gport, accepted by the fake
 * guest. Returns the host fd (with "OK" read) and *local, or -1. */
static int host_connect(uint32_t gport, uint32_t *local)
{
	struct virtio_vsock_hdr h;
	char line[64], want[64];
	int fd = host_dial();
	ssize_t n;

	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	if (write(fd, line, (size_t)n) != n || !rx_next(&h, NULL) ||
	    h.op != VIRTIO_VSOCK_OP_REQUEST || h.dst_port != gport || h.src_cid != 2 ||
	    h.dst_cid != 3)
		return -1;
	*local = h.src_port;
	tx_send(gport, *local, VIRTIO_VSOCK_OP_RESPONSE, 0, 0, NULL, 0);
	pump();
	n = snprintf(want, sizeof(want), "OK %u\n", *local);
	if (host_read_now(fd, line, (size_t)n) != n || memcmp(line, want, (size_t)n))
		return -1;
	return fd;
}

/* Guest-initiated connection from guest port gport to host port hport
 * (listener *lfd on <path>_hport). Returns the accepted host fd or -1; *h
 * is the device's RESPONSE. */
static int guest_connect(uint32_t gport, int hport, int *lfd, struct virtio_vsock_hdr *h)
{
	*lfd = host_listen(hport);
	if (*lfd < 0)
		return -1;
	tx_send(gport, (uint32_t)hport, VIRTIO_VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	if (!rx_next(h, NULL) || h->op != VIRTIO_VSOCK_OP_RESPONSE ||
	    h->src_port != (uint32_t)hport || h->dst_port != gport)
		return -1;
	return accept(*lfd, NULL, NULL);
}

static void test_config(void)
{
	uint64_t cid = 0;
	uint32_t hi = 7;

	T_REQUIRE(setup() == 0, "setup");
	T_CHECK(E.d->ops->device_id == 19 && E.d->ops->num_queues == 3, "id/queues");
	T_CHECK(E.d->ops->features(E.d) == 1ULL << 32, "features %#llx, want VERSION_1 (bit 32) only",
		(unsigned long long)E.d->ops->features(E.d));
	E.d->ops->read_config(E.d, 0, &cid, 8);
	E.d->ops->read_config(E.d, 4, &hi, 4);
	T_CHECK(cid == 3 && hi == 0, "cid %llu", (unsigned long long)cid);
	teardown();
	{
		struct vsock_dev v;
		struct loop l;
		loop_init(&l);
		T_CHECK(vsock_dev_init(&v, &l, 2, "/tmp/vb-vsock-x") == -EINVAL, "cid 2 accepted");
		T_CHECK(vsock_dev_init(&v, &l, 3, "/tmp/vb-vsock-long-path-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") ==
			-ENAMETOOLONG, "path with no room for _PORT accepted");
		T_CHECK(vsock_dev_init(&v, &l, 3, "/etc/passwd") == -EEXIST, "regular file replaced");
		loop_fini(&l);
	}
}

static void test_host_initiated(void)
{
	struct virtio_vsock_hdr h;
	uint8_t data[SLOT_DATA];
	char buf[64];
	uint32_t local = 0;
	int fd, bad;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	fd = host_dial();
	T_REQUIRE(fd >= 0, "dial");
	/* the line comes in pieces, data right behind it must not be eaten */
	T_REQUIRE(write(fd, "CONN", 4) == 4, "write");
	pump();
	T_CHECK(!rx_next(&h, NULL), "REQUEST before the line ended");
	T_REQUIRE(write(fd, "ECT 1234\nearly", 14) == 14, "write");
	T_REQUIRE(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_REQUEST, "no REQUEST");
	T_CHECK(h.src_port == VSOCK_FIRST_LOCAL_PORT && h.dst_port == 1234 &&
		h.type == VIRTIO_VSOCK_TYPE_STREAM && h.buf_alloc == VSOCK_BUF_ALLOC,
		"REQUEST fields %u->%u", h.src_port, h.dst_port);
	local = h.src_port;
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == -EAGAIN, "OK before RESPONSE");
	tx_send(1234, local, VIRTIO_VSOCK_OP_RESPONSE, 0, 0, NULL, 0);
	T_REQUIRE(rx_next(&h, data), "early data not forwarded");
	T_CHECK(h.op == VIRTIO_VSOCK_OP_RW && h.len == 5 && !memcmp(data, "early", 5), "early data");
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 14 && !memcmp(buf, "OK 1073741824\n", 14),
		"OK line");
	tx_send(1234, local, VIRTIO_VSOCK_OP_RW, 0, 5, "pong!", 5);
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "pong!", 5), "guest data");
	/* host half-close: the guest hears SHUTDOWN(SEND), can still send */
	shutdown(fd, SHUT_WR);
	T_REQUIRE(rx_next(&h, NULL), "no SHUTDOWN");
	T_CHECK(h.op == VIRTIO_VSOCK_OP_SHUTDOWN && h.flags == VIRTIO_VSOCK_SHUTDOWN_SEND,
		"SHUTDOWN op %u flags %u", h.op, h.flags);
	tx_send(1234, local, VIRTIO_VSOCK_OP_RW, 0, 5, "after", 5);
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "after", 5),
		"data after half-close");
	/* guest closes: RST back, host sees EOF */
	tx_send(1234, local, VIRTIO_VSOCK_OP_SHUTDOWN, 3, 5, NULL, 0);
	T_REQUIRE(rx_next(&h, NULL), "no RST");
	T_CHECK(h.op == VIRTIO_VSOCK_OP_RST, "op %u instead of RST", h.op);
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 0, "host did not see EOF");
	T_CHECK(E.v.n_conns == 0, "%u conns left", E.v.n_conns);
	close(fd);

	/* bad CONNECT lines: the client is dropped, the guest hears nothing */
	static const char *bad_lines[] = { "CONNECT\n", "CONNECT x\n", "CONNECT 99999999999\n",
					   "connect 5\n", "CONNECT 5 \n",
					   "CONNECT 0000000000000000000000000000005" };
	bad = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(bad_lines); i++) {
		fd = host_dial();
		T_REQUIRE(fd >= 0, "dial");
		T_REQUIRE(write(fd, bad_lines[i], strlen(bad_lines[i])) > 0, "write");
		pump();
		/* closed: EOF, or ECONNRESET when the rest was left unread */
		ssize_t n = host_read_now(fd, buf, sizeof(buf));
		if ((n != 0 && !(n < 0 && errno == ECONNRESET)) || rx_next(&h, NULL))
			bad++;
		close(fd);
	}
	T_CHECK(!bad, "%d bad CONNECT lines not refused", bad);
	/* guest refuses (RST): the host client is closed */
	fd = host_dial();
	T_REQUIRE(fd >= 0 && write(fd, "CONNECT 9\n", 10) == 10, "dial");
	T_REQUIRE(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_REQUEST, "REQUEST");
	tx_send(9, h.src_port, VIRTIO_VSOCK_OP_RST, 0, 0, NULL, 0);
	pump();
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 0, "client not closed after RST");
	T_CHECK(!rx_next(&h, NULL), "RST answered");
	close(fd);
	T_CHECK(E.fails == 0, "device failed: %s", E.why);
	teardown();
}

static void test_guest_initiated(void)
{
	struct virtio_vsock_hdr h;
	uint8_t data[SLOT_DATA];
	char buf[64];
	int lfd, fd;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	fd = guest_connect(40000, 5000, &lfd, &h);
	T_REQUIRE(fd >= 0, "no RESPONSE or accept: op %u %u->%u", h.op, h.src_port, h.dst_port);
	tx_send(40000, 5000, VIRTIO_VSOCK_OP_RW, 0, 0, "ping", 4);
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 4 && !memcmp(buf, "ping", 4), "ping");
	T_REQUIRE(write(fd, "pong", 4) == 4, "write");
	T_REQUIRE(rx_next(&h, data), "no data");
	T_CHECK(h.op == VIRTIO_VSOCK_OP_RW && h.len == 4 && !memcmp(data, "pong", 4), "pong");
	/* guest half-close: host reads EOF, still writes */
	tx_send(40000, 5000, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 4, NULL, 0);
	pump();
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 0, "no EOF after guest SHUTDOWN(SEND)");
	T_REQUIRE(write(fd, "late", 4) == 4, "write");
	T_REQUIRE(rx_next(&h, data), "no data after half-close");
	T_CHECK(h.op == VIRTIO_VSOCK_OP_RW && !memcmp(data, "late", 4), "late data");
	/* host closes too: both directions done -> SHUTDOWN then RST */
	close(fd);
	T_REQUIRE(rx_next(&h, NULL), "nothing after host close");
	T_CHECK(h.op == VIRTIO_VSOCK_OP_SHUTDOWN || h.op == VIRTIO_VSOCK_OP_RST, "op %u", h.op);
	if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN)
		T_CHECK(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_RST, "no RST");
	T_CHECK(E.v.n_conns == 0, "%u conns left", E.v.n_conns);

	/* nobody listening: RST; RW to an unknown connection: RST; RST: silence */
	tx_send(40001, 5001, VIRTIO_VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	T_CHECK(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_RST && h.dst_port == 40001,
		"no RST for a port without listener");
	tx_send(40002, 5000, VIRTIO_VSOCK_OP_RW, 0, 0, "x", 1);
	T_CHECK(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_RST, "no RST for unknown RW");
	tx_send(40002, 5000, VIRTIO_VSOCK_OP_RST, 0, 0, NULL, 0);
	T_CHECK(!rx_next(&h, NULL), "RST answered");
	/* guest RST on a live connection closes the host side */
	tx_send(40003, 5000, VIRTIO_VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	T_REQUIRE(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_RESPONSE, "RESPONSE");
	fd = accept(lfd, NULL, NULL);
	tx_send(40003, 5000, VIRTIO_VSOCK_OP_RST, 0, 0, NULL, 0);
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 0, "host not closed by guest RST");
	close(fd);
	close(lfd);
	T_CHECK(E.fails == 0, "device failed: %s", E.why);
	teardown();
}

/* Pattern byte i of stream seed. */
static uint8_t pat(uint32_t seed, uint64_t i)
{
	return (uint8_t)((i * 131 + seed + (i >> 12)) & 0xff);
}

/* 1 MiB each way at once on a guest-initiated connection. The fake guest
 * gives 64 KiB of credit and returns it in CREDIT_UPDATEs; it respects the
 * device's credit. Every byte is checked, and the device must never send
 * beyond the credit. */
static void test_bulk_credit(void)
{
	enum { TOTAL = 1 << 20 };
	static uint8_t hbuf[65536];
	struct virtio_vsock_hdr h;
	uint8_t data[SLOT_DATA];
	uint64_t h_sent = 0, h_got = 0, g_sent = 0, g_got = 0;
	uint32_t g_fwd = 0, g_fwd_told = 0, dev_alloc = 0, dev_fwd = 0;
	unsigned bad = 0, over = 0, iter = 0;
	int lfd, fd;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	fd = guest_connect(41000, 5002, &lfd, &h);
	T_REQUIRE(fd >= 0, "guest connect");
	dev_alloc = h.buf_alloc;
	dev_fwd = h.fwd_cnt;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while ((h_got < TOTAL || g_got < TOTAL) && iter++ < 200000) {
		ssize_t n;
		/* host writes its stream */
		if (h_sent < TOTAL) {
			size_t k = MIN(sizeof(hbuf), TOTAL - h_sent);
			for (size_t i = 0; i < k; i++)
				hbuf[i] = pat(1, h_sent + i);
			n = write(fd, hbuf, k);
			if (n > 0)
				h_sent += (uint64_t)n;
		}
		/* guest sends within the device's credit */
		while (g_sent < TOTAL) {
			uint32_t credit = dev_alloc - (uint32_t)(g_sent - dev_fwd);
			uint32_t k = (uint32_t)MIN(MIN((uint64_t)SLOT_DATA, TOTAL - g_sent), credit);
			if (!k)
				break;
			for (uint32_t i = 0; i < k; i++)
				data[i] = pat(2, g_sent + i);
			tx_send(41000, 5002, VIRTIO_VSOCK_OP_RW, 0, g_fwd, data, k);
			g_sent += k;
			g_fwd_told = g_fwd;
		}
		/* guest reads what the device sent */
		while (rx_next(&h, data)) {
			if (h.op == VIRTIO_VSOCK_OP_RW) {
				for (uint32_t i = 0; i < h.len; i++)
					bad += data[i] != pat(1, g_got + i);
				g_got += h.len;
				g_fwd += h.len;
				if (g_got - g_fwd > GUEST_BUF_ALLOC)
					over++;
			} else if (h.op != VIRTIO_VSOCK_OP_CREDIT_UPDATE) {
				bad++;
			}
			if ((uint32_t)(g_got - g_fwd_told) > GUEST_BUF_ALLOC)
				over++;
			dev_alloc = h.buf_alloc;
			dev_fwd = h.fwd_cnt;
		}
		if (g_fwd - g_fwd_told >= GUEST_BUF_ALLOC / 2) {
			tx_send(41000, 5002, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, g_fwd, NULL, 0);
			g_fwd_told = g_fwd;
		}
		/* host reads the guest's stream */
		while ((n = read(fd, hbuf, sizeof(hbuf))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				bad += hbuf[i] != pat(2, h_got + (uint64_t)i);
			h_got += (uint64_t)n;
		}
		pump();
	}
	T_CHECK(h_got == TOTAL && g_got == TOTAL, "moved host->guest %llu, guest->host %llu",
		(unsigned long long)g_got, (unsigned long long)h_got);
	T_CHECK(!bad, "%u bytes or packets wrong", bad);
	T_CHECK(!over, "device sent beyond the guest's credit %u times", over);
	T_CHECK(E.v.st.credit_violations == 0, "credit violations counted");
	close(fd);
	close(lfd);
	T_CHECK(E.fails == 0, "device failed: %s", E.why);
	teardown();
}

/* With no RX buffers the device stops reading the host socket; once the
 * guest adds buffers everything arrives, nothing lost. */
static void test_backpressure(void)
{
	enum { TOTAL = 100000 };
	static uint8_t src[TOTAL];
	struct virtio_vsock_hdr h;
	uint8_t data[SLOT_DATA];
	uint32_t local, got = 0;
	unsigned bad = 0;
	int fd;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(1);
	fd = host_connect(77, &local);
	T_REQUIRE(fd >= 0, "connect");
	for (uint32_t i = 0; i < TOTAL; i++)
		src[i] = pat(3, i);
	/* one buffer posted by host_connect's refill: drain it, post none */
	T_REQUIRE(write_full(fd, src, TOTAL) == 0, "host write");
	while (rx_next_opt(&h, data, false)) {
		bad += h.op != VIRTIO_VSOCK_OP_RW || memcmp(data, src + got, h.len);
		got += h.len;
	}
	pump();
	T_CHECK(got < TOTAL && E.rx_out == 0, "got %u", got);
	T_CHECK(E.v.st.rx_stalls > 0, "no stall counted");
	T_CHECK(E.d->vq[VSOCK_RXQ].n_pop == E.d->vq[VSOCK_RXQ].n_push, "chains held");
	/* guest adds buffers one batch at a time, credit from the guest too */
	for (int round = 0; round < 100 && got < TOTAL; round++) {
		rx_post(8);
		while (rx_next_opt(&h, data, false)) {
			bad += h.op != VIRTIO_VSOCK_OP_RW || got + h.len > TOTAL ||
			       memcmp(data, src + got, h.len);
			got += h.len;
		}
		tx_send(77, local, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, got, NULL, 0);
	}
	T_CHECK(got == TOTAL && !bad, "got %u of %u, %u bad", got, TOTAL, bad);
	close(fd);
	T_CHECK(E.fails == 0, "device failed: %s", E.why);
	teardown();
}

/* Host does not read; the guest ignores credit: the connection is reset
 * (counted), what the host gets is an exact prefix, memory stays bounded. */
static void test_credit_violation(void)
{
	static uint8_t rbuf[65536];
	struct virtio_vsock_hdr h;
	uint8_t data[SLOT_DATA];
	uint64_t sent = 0, got = 0;
	unsigned bad = 0;
	int lfd, fd, rst = 0, updates = 0;
	ssize_t n;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	fd = guest_connect(42000, 5003, &lfd, &h);
	T_REQUIRE(fd >= 0, "guest connect");
	while (!rst && sent < (16u << 20)) {
		for (uint32_t i = 0; i < SLOT_DATA; i++)
			data[i] = pat(4, sent + i);
		tx_send(42000, 5003, VIRTIO_VSOCK_OP_RW, 0, 0, data, SLOT_DATA);
		sent += SLOT_DATA;
		while (rx_next(&h, NULL)) {
			rst += h.op == VIRTIO_VSOCK_OP_RST;
			updates += h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		}
	}
	T_CHECK(rst == 1 && E.v.st.credit_violations == 1, "rst %d violations %llu", rst,
		(unsigned long long)E.v.st.credit_violations);
	T_CHECK(sent > VSOCK_BUF_ALLOC, "reset after only %llu bytes", (unsigned long long)sent);
	while ((n = read(fd, rbuf, sizeof(rbuf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			bad += rbuf[i] != pat(4, got + (uint64_t)i);
		got += (uint64_t)n;
	}
	T_CHECK(!bad && got >= sent - VSOCK_BUF_ALLOC - SLOT_DATA, "host got %llu of %llu, %u bad",
		(unsigned long long)got, (unsigned long long)sent, bad);
	close(fd);
	close(lfd);
	teardown();
}

/* 100 host-initiated connections open at once, each echoed by the guest. */
static void test_many(void)
{
	enum { N = 100 };
	int fds[N];
	uint32_t local[N];
	unsigned bad = 0;
	struct virtio_vsock_hdr h;
	uint8_t data[SLOT_DATA];

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	for (int i = 0; i < N; i++) {
		fds[i] = host_connect(2000 + (uint32_t)i, &local[i]);
		T_REQUIRE(fds[i] >= 0, "connection %d", i);
	}
	T_CHECK(E.v.n_conns == N, "%u conns", E.v.n_conns);
	for (int i = 0; i < N; i++) {
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "hello %d", i);
		T_REQUIRE(write(fds[i], msg, (size_t)len) == len, "write");
	}
	for (int k = 0; k < N * 2; k++) {
		if (!rx_next(&h, data))
			break;
		if (h.op != VIRTIO_VSOCK_OP_RW) {
			bad++;
			continue;
		}
		tx_send(h.dst_port, h.src_port, VIRTIO_VSOCK_OP_RW, 0, h.len, data, h.len);
	}
	for (int i = 0; i < N; i++) {
		char want[32], got[32];
		int len = snprintf(want, sizeof(want), "hello %d", i);
		if (host_read_now(fds[i], got, sizeof(got)) != len || memcmp(got, want, (size_t)len))
			bad++;
		close(fds[i]);
	}
	T_CHECK(!bad, "%u connections wrong", bad);
	pump();
	for (int k = 0; k < N * 2 && rx_next(&h, NULL); k++)
		if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN)
			tx_send(h.dst_port, h.src_port, VIRTIO_VSOCK_OP_SHUTDOWN, 3, 0, NULL, 0);
	while (rx_next(&h, NULL))
		;
	T_CHECK(E.v.n_conns == 0, "%u conns left after close", E.v.n_conns);
	teardown();
}

/* A driver breaking the rules: bad packets are dropped and counted, a
 * broken ring fails the device (reported once), never a crash. */
static void test_hostile(void)
{
	struct virtio_vsock_hdr h = { 0 };
	uint64_t b;
	char buf[16];
	int fd;
	uint32_t local;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	/* header shorter than 44 bytes */
	b = E.tx_pool;
	{
		struct fseg s = { b, 10, 0 };
		fdrv_add(&E.tx, &s, 1);
		E.tx.next_desc++;
		E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	}
	T_CHECK(E.v.st.bad_pkts == 1, "short header not counted");
	/* len beyond the payload given */
	fd = host_connect(88, &local);
	T_REQUIRE(fd >= 0, "connect");
	{
		struct virtio_vsock_hdr x = { .src_cid = 3, .dst_cid = 2, .src_port = 88,
					      .dst_port = local, .len = 100, .type = 1,
					      .op = VIRTIO_VSOCK_OP_RW };
		uint64_t p = E.tx_pool + (uint64_t)(E.tx.next_desc / 2) * SLOT_SIZE;
		struct fseg s[2] = { { p, HDR, 0 }, { p + HDR, 10, 0 } };
		memcpy(fmem_ptr(&E.fm, p), &x, HDR);
		fdrv_add(&E.tx, s, 2);
		E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	}
	T_CHECK(E.v.st.bad_pkts == 2, "len beyond payload not counted");
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == -EAGAIN, "bogus payload forwarded");
	/* wrong source CID, wrong type, unknown op */
	{
		uint64_t before = E.v.st.bad_pkts;
		uint64_t p = E.tx_pool + (uint64_t)(E.tx.next_desc / 2) * SLOT_SIZE;
		struct virtio_vsock_hdr x = { .src_cid = 4, .dst_cid = 2, .src_port = 88,
					      .dst_port = local, .type = 1, .op = 5 };
		struct fseg s = { p, HDR, 0 };
		memcpy(fmem_ptr(&E.fm, p), &x, HDR);
		fdrv_add(&E.tx, &s, 1);
		E.tx.next_desc++;
		E.d->ops->queue_kick(E.d, VSOCK_TXQ);
		T_CHECK(E.v.st.bad_pkts == before + 1, "wrong CID not counted");
		tx_send(88, local, 99, 0, 0, NULL, 0);
		T_CHECK(E.v.st.bad_pkts == before + 2, "unknown op not counted");
		T_CHECK(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_RST, "unknown op: no RST");
	}
	close(fd);
	T_CHECK(E.fails == 0, "device failed on dropped packets: %s", E.why);
	/* a descriptor loop on TX fails the device, once */
	{
		uint16_t i = E.tx.next_desc;
		E.tx.desc[i] = (struct vring_desc_le){ E.tx_pool, HDR, FD_DESC_F_NEXT, i };
		E.tx.avail[2 + E.tx.avail_idx % QN] = i;
		E.tx.avail[1] = ++E.tx.avail_idx;
		E.d->ops->queue_kick(E.d, VSOCK_TXQ);
		E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	}
	T_CHECK(E.fails == 1 && E.d->failed, "loop: fails %d", E.fails);
	/* a failed device ignores everything until reset */
	tx_send(43000, 5004, VIRTIO_VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	T_CHECK(!rx_next(&h, NULL), "failed device still answers");
	teardown();

	/* RX buffer with no room past the header fails the device */
	T_REQUIRE(setup() == 0, "setup");
	{
		struct fseg s = { E.rx_pool, HDR, 1 };
		fdrv_add(&E.rx, &s, 1);
	}
	fd = host_dial();
	T_REQUIRE(fd >= 0 && write(fd, "CONNECT 1\n", 10) == 10, "dial");
	pump();
	T_CHECK(E.fails == 1, "header-only RX buffer accepted");
	close(fd);
	teardown();
}

/* Device reset closes what the guest knew, keeps half-open host clients. */
static void test_reset(void)
{
	struct virtio_vsock_hdr h;
	uint32_t local;
	char buf[16];
	int fd, fd2;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	fd = host_connect(99, &local);
	T_REQUIRE(fd >= 0, "connect");
	fd2 = host_dial();
	T_REQUIRE(fd2 >= 0 && write(fd2, "CONN", 4) == 4, "dial");
	pump();
	E.d->ops->reset(E.d);
	T_CHECK(host_read_now(fd, buf, sizeof(buf)) == 0, "established conn survived reset");
	T_CHECK(E.v.n_conns == 1, "%u conns after reset", E.v.n_conns);
	/* driver comes back: fresh rings */
	E.rx.avail_idx = E.rx.used_seen = E.rx.next_desc = 0;
	E.tx.avail_idx = E.tx.used_seen = E.tx.next_desc = 0;
	E.rx_out = 0;
	memset((void *)E.rx.avail, 0, 6 + 2 * QN);
	memset((void *)E.rx.used, 0, 6 + 8 * QN);
	memset((void *)E.tx.avail, 0, 6 + 2 * QN);
	memset((void *)E.tx.used, 0, 6 + 8 * QN);
	E.d->vq[0].last_avail = E.d->vq[0].used_idx = 0;
	E.d->vq[1].last_avail = E.d->vq[1].used_idx = 0;
	T_REQUIRE(E.d->ops->start(E.d) == 0, "restart");
	rx_post(SLOTS);
	T_REQUIRE(write(fd2, "ECT 7\n", 6) == 6, "write");
	T_CHECK(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_REQUEST && h.dst_port == 7,
		"pending client lost by reset");
	close(fd);
	close(fd2);
	teardown();
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

/* A random guest and random host programs for 30,000 steps: packets with
 * any op, flags, credit, length, ports and (sometimes) CID or type, host
 * clients connecting, writing, reading and closing at random. The device
 * must never fail (the rings are honest), never crash (ASan), keep its
 * counters sane, and after a reset hold no connection and leak no fd. */
static void test_fuzz(void)
{
	enum { MAXH = 128 };
	static uint8_t junk[SLOT_DATA];
	int hfd[MAXH], nh = 0, lfd[4], base_fds;
	struct virtio_vsock_hdr h;
	uint64_t x = 0x9e3779b97f4a7c15ull;

#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	base_fds = count_fds();
	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	for (int i = 0; i < 4; i++) {
		lfd[i] = host_listen(5000 + i);
		T_REQUIRE(lfd[i] >= 0, "listen");
		fcntl(lfd[i], F_SETFL, O_NONBLOCK);
	}
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)RND();
	for (int step = 0; step < 30000; step++) {
		uint64_t r = RND();
		switch (r % 8) {
		case 0: case 1: case 2: case 3: { /* a guest packet */
			static const uint32_t hports[] = { 5000, 5001, 5002, 5003, 1u << 30,
							   (1u << 30) + 1, (1u << 30) + 2, 7 };
			struct virtio_vsock_hdr p = {
				.src_cid = (r >> 8) % 50 ? 3 : (r >> 16) % 5,
				.dst_cid = (r >> 20) % 50 ? 2 : 3,
				.src_port = 40000 + (uint32_t)((r >> 24) % 6),
				.dst_port = hports[(r >> 28) % 8],
				.type = (r >> 32) % 40 ? 1 : (uint16_t)((r >> 36) % 4),
				.op = (uint16_t)((r >> 40) % 9),
				.flags = (uint32_t)((r >> 44) % 4),
				.buf_alloc = (r >> 46) % 8 ? 65536 : (uint32_t)RND(),
				.fwd_cnt = (uint32_t)RND(),
			};
			uint32_t len = p.op == VIRTIO_VSOCK_OP_RW ? (uint32_t)(RND() % SLOT_DATA) : 0;
			p.len = (r >> 50) % 30 ? len : (uint32_t)RND();
			tx_send_raw(&p, junk, len);
			break;
		}
		case 4: /* the guest drains RX (and refills) */
			while (rx_next(&h, NULL))
				;
			break;
		case 5: /* a host client connects */
			if (nh < MAXH) {
				int fd = host_dial();
				char line[32];
				int n = snprintf(line, sizeof(line), (r >> 8) % 10 ? "CONNECT %u\n" : "CONNECT %ux\n",
						 (unsigned)((r >> 12) % 4));
				if (fd >= 0 && write(fd, line, (size_t)n) == n) {
					fcntl(fd, F_SETFL, O_NONBLOCK);
					hfd[nh++] = fd;
				} else if (fd >= 0) {
					close(fd);
				}
			}
			break;
		case 6: /* the host accepts guest connections */
			for (int i = 0; i < 4 && nh < MAXH; i++) {
				int fd = accept4(lfd[i], NULL, NULL, SOCK_NONBLOCK);
				if (fd >= 0)
					hfd[nh++] = fd;
			}
			break;
		case 7: /* a host fd writes, reads, half-closes or closes */
			if (nh) {
				int i = (int)((r >> 8) % (uint64_t)nh);
				char buf[4096];
				switch ((r >> 16) % 4) {
				case 0:
					if (write(hfd[i], junk, (r >> 20) % sizeof(buf)) < 0) {
						/* full or reset: fine */
					}
					break;
				case 1:
					while (read(hfd[i], buf, sizeof(buf)) > 0)
						;
					break;
				case 2:
					shutdown(hfd[i], SHUT_WR);
					break;
				case 3:
					close(hfd[i]);
					hfd[i] = hfd[--nh];
					break;
				}
			}
			break;
		}
		pump();
		if (E.fails || E.v.n_conns > VSOCK_MAX_CONNS)
			break;
	}
#undef RND
	T_CHECK(E.fails == 0, "device failed: %s", E.why);
	T_CHECK(E.v.st.conns_opened >= E.v.st.conns_closed &&
		E.v.st.conns_opened - E.v.st.conns_closed == E.v.n_conns, "conn counters");
	T_CHECK(E.v.st.bad_pkts > 0 && E.v.st.conns_opened > 10, "fuzz did not reach much: "
		"%llu bad, %llu conns", (unsigned long long)E.v.st.bad_pkts,
		(unsigned long long)E.v.st.conns_opened);
	fprintf(stderr, "# fuzz: %llu conns, %llu bad, %llu rx pkts, %llu refused, %llu violations, %u open\n",
		(unsigned long long)E.v.st.conns_opened, (unsigned long long)E.v.st.bad_pkts,
		(unsigned long long)E.v.st.rx_pkts, (unsigned long long)E.v.st.refused,
		(unsigned long long)E.v.st.credit_violations, E.v.n_conns);
	for (int i = 0; i < nh; i++)
		close(hfd[i]);
	pump();
	E.d->ops->reset(E.d);
	T_CHECK(E.v.n_conns == 0, "%u conns after reset and host close", E.v.n_conns);
	for (int i = 0; i < 4; i++)
		close(lfd[i]);
	teardown();
	T_CHECK(count_fds() == base_fds, "fds leaked: %d -> %d", base_fds, count_fds());
}

/* Out of fds: a host client is dropped (counted), the listener does not
 * spin the loop, and connections work again once fds are free. */
static void test_fd_exhaustion(void)
{
	struct rlimit old, low;
	int fills[64], nf = 0, fd;
	struct virtio_vsock_hdr h;
	char c;

	T_REQUIRE(setup() == 0, "setup");
	rx_post(SLOTS);
	T_REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
	low = old;
	low.rlim_cur = (rlim_t)count_fds() + 40;
	T_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");
	while (nf < 64 && (fills[nf] = open("/dev/null", O_RDONLY)) >= 0)
		nf++;
	T_REQUIRE(nf > 0 && nf < 64, "could not fill the fd table (%d)", nf);
	close(fills[--nf]); /* room for the client's own socket only */
	fd = host_dial();
	T_REQUIRE(fd >= 0, "dial");
	T_CHECK(loop_once(&E.l, 0) == 1, "listener event not handled");
	T_CHECK(E.v.st.refused == 1, "dropped client not counted");
	T_CHECK(loop_once(&E.l, 0) == 0, "listener still readable: the loop would spin");
	T_CHECK(recv(fd, &c, 1, MSG_DONTWAIT) == 0 ||
		(errno == ECONNRESET), "dropped client not closed");
	close(fd);
	while (nf)
		close(fills[--nf]);
	setrlimit(RLIMIT_NOFILE, &old);
	fd = host_dial();
	T_REQUIRE(fd >= 0 && write(fd, "CONNECT 3\n", 10) == 10, "dial after");
	T_CHECK(rx_next(&h, NULL) && h.op == VIRTIO_VSOCK_OP_REQUEST, "listener dead after");
	close(fd);
	teardown();
}

/* A guest that keeps the TX queue full (here: 1000 packets queued at once,
 * as a vCPU re-posting each used chain at once would) must not hold the
 * device loop in one kick: a kick handles a bounded batch, then kicks the
 * queue again so the loop comes back for the rest after serving others. */
static void test_tx_flood_yields(void)
{
	struct virtio_vsock_hdr x = { .src_cid = 4, .dst_cid = 2, .type = 1,
				      .op = VIRTIO_VSOCK_OP_RST }; /* dropped, no reply */
	struct fake_drv big;
	struct fseg seg = { 0, HDR, 0 };
	const unsigned n = 1000;
	unsigned rounds = 0;
	uint64_t v, first;
	int kfd;

	T_REQUIRE(setup() == 0, "setup");
	fdrv_init(&big, &E.fm, &E.d->vq[VSOCK_TXQ], 1024);
	T_REQUIRE(vq_start(&E.d->vq[VSOCK_TXQ], &E.fm.map) == 0, "1024-entry TX queue");
	kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	T_REQUIRE(kfd >= 0, "eventfd");
	E.d->vq[VSOCK_TXQ].kick_fd = kfd;
	seg.gpa = E.tx_pool;
	memcpy(fmem_ptr(&E.fm, seg.gpa), &x, HDR);
	for (unsigned i = 0; i < n; i++)
		fdrv_add(&big, &seg, 1);
	E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	first = E.v.st.tx_pkts;
	T_CHECK(first < n, "one kick took all %llu packets", (unsigned long long)first);
	T_CHECK(read(kfd, &v, sizeof(v)) == sizeof(v) && v >= 1,
		"kick ended with packets left but no self-kick");
	E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	while (read(kfd, &v, sizeof(v)) == sizeof(v) && rounds++ < 1000)
		E.d->ops->queue_kick(E.d, VSOCK_TXQ);
	T_CHECK(E.v.st.tx_pkts == n && E.v.st.bad_pkts == n, "handled %llu of %u",
		(unsigned long long)E.v.st.tx_pkts, n);
	T_CHECK(E.fails == 0, "device failed: %s", E.why);
	E.d->vq[VSOCK_TXQ].kick_fd = -1;
	close(kfd);
	teardown();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* host writes to closed peers in test_fuzz */
	T_RUN(test_config);
	T_RUN(test_host_initiated);
	T_RUN(test_guest_initiated);
	T_RUN(test_bulk_credit);
	T_RUN(test_backpressure);
	T_RUN(test_credit_violation);
	T_RUN(test_many);
	T_RUN(test_hostile);
	T_RUN(test_reset);
	T_RUN(test_fuzz);
	T_RUN(test_fd_exhaustion);
	T_RUN(test_tx_flood_yields);
	T_EXIT();
}
