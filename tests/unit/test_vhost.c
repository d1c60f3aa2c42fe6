/* Unit tests of the vhost-user server (vhost/server.c): the test plays
 * qemu over the Unix socket (memfd guest memory split in two regions with
 * an mmap_offset, eventfds for kick/call/err, qemu 7.2's message order from
 * shared/vhost-user.md) and a guest driver in that memory, drives the real
 * vsock back end through it end to end, stops and restarts the rings, and
 * sends malformed messages, each of which must end the session with a
 * reason (never a crash, never a hang); and a hostile VMM (issue 13,
 * finding 5) that stops reading replies, or hands over memory it could
 * shrink under our mapping. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/util.h"
#include "t.h"
#include "test_vq_driver.h"
#include "vhost/server.h"
#include "virtio/vsock.h"

#include <linux/virtio_vsock.h>

#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define MEM_SIZE (4u << 20)
#define SPLIT 0x100000u /* region 0: [0, SPLIT), region 1: the rest */
#define QN 64

enum {
	GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5,
	SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10, GET_VRING_BASE = 11,
	SET_VRING_KICK = 12, SET_VRING_CALL = 13, SET_VRING_ERR = 14,
	GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16, SET_VRING_ENABLE = 18,
	GET_CONFIG = 24,
};
#define NEED_REPLY (1u << 3)

static struct {
	struct loop l;
	struct vsock_dev v;
	struct vhost_server s;
	char dir[64], vpath[108], spath[108];
	int memfd;
	uint8_t *mem;           /* the "qemu" mapping of guest memory */
	struct fake_mem fm;
	struct vq shadow[2];    /* ring placement only */
	struct fake_drv drv[2];
	int kick[2], call[2], err[2];
	int ends;
	char why[200];
} E;

static void on_end(struct vhost_server *s, const char *why)
{
	E.ends++;
	snprintf(E.why, sizeof(E.why), "%s", why);
}

static void pump(void)
{
	for (int i = 0; i < 10000 && loop_once(&E.l, 0) > 0; i++)
		;
}

/* Sends one message with nfds fds. Returns 0 or -1. */
static int vu_send(int fd, uint32_t req, uint32_t flags, const void *body, uint32_t len,
		   const int *fds, unsigned nfds)
{
	uint32_t h[3] = { req, 1 | flags, len };
	uint8_t buf[1024];
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct iovec iov = { buf, 12 + len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	memcpy(buf, h, 12);
	if (len)
		memcpy(buf + 12, body, len);
	if (nfds) {
		struct cmsghdr *c;
		m.msg_control = cm.b;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(fd, &m, MSG_NOSIGNAL) == (ssize_t)(12 + len) ? 0 : -1;
}

/* Runs the server, then reads one reply. Returns body size or -1. */
static int vu_recv(int fd, uint32_t req, void *body, uint32_t max)
{
	uint32_t h[3];
	struct pollfd p = { fd, POLLIN, 0 };

	pump();
	if (poll(&p, 1, 1000) != 1 || read_full(fd, h, 12) != 12 || h[0] != req ||
	    h[1] != (1 | 4) || h[2] > max || read_full(fd, body, h[2]) != (ssize_t)h[2])
		return -1;
	return (int)h[2];
}

static int send_u64(int fd, uint32_t req, uint64_t v)
{
	return vu_send(fd, req, 0, &v, 8, NULL, 0);
}

static int send_state(int fd, uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t st[2] = { index, num };
	return vu_send(fd, req, 0, st, 8, NULL, 0);
}

static int send_fd(int fd, uint32_t req, uint32_t index, int efd)
{
	uint64_t v = index;
	return vu_send(fd, req, 0, &v, 8, &efd, 1);
}

static int dial(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, E.spath);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	pump();
	return fd;
}

/* True once the server has closed our connection. */
static bool closed_by_server(int fd)
{
	char c;
	ssize_t n;

	pump();
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static int setup(void)
{
	memset(&E, 0, sizeof(E));
	snprintf(E.dir, sizeof(E.dir), "/tmp/vb-vsock-vhost.XXXXXX");
	if (!mkdtemp(E.dir) || loop_init(&E.l) < 0)
		return -1;
	snprintf(E.vpath, sizeof(E.vpath), "%s/v.sock", E.dir);
	snprintf(E.spath, sizeof(E.spath), "%s/vhost.sock", E.dir);
	if (vsock_dev_init(&E.v, &E.l, 3, E.vpath) < 0 ||
	    vhost_server_init(&E.s, &E.l, vsock_dev_vdev(&E.v), E.spath) < 0)
		return -1;
	E.s.on_end = on_end;
	/* sealed against shrinking, as qemu's memory-backend-memfd does */
	E.memfd = memfd_create("vb-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (E.memfd < 0 || ftruncate(E.memfd, MEM_SIZE) < 0 ||
	    fcntl(E.memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -1;
	E.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, E.memfd, 0);
	if (E.mem == MAP_FAILED)
		return -1;
	fmem_init(&E.fm, E.mem, 0, MEM_SIZE);
	E.fm.brk = SPLIT - 0x8000; /* rings straddle nothing, data in region 1 */
	for (int i = 0; i < 2; i++) {
		fdrv_init(&E.drv[i], &E.fm, &E.shadow[i], QN);
		E.kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		E.call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		E.err[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	E.fm.brk = SPLIT + 0x1000;
	return 0;
}

static void teardown(void)
{
	vhost_server_fini(&E.s);
	vsock_dev_fini(&E.v);
	loop_fini(&E.l);
	munmap(E.mem, MEM_SIZE);
	close(E.memfd);
	for (int i = 0; i < 2; i++) {
		close(E.kick[i]);
		close(E.call[i]);
		close(E.err[i]);
	}
	T_CHECK(access(E.spath, F_OK) < 0, "vhost socket left behind");
	rmdir(E.dir);
}

/* The memory table qemu sends: two regions, the second at mmap_offset. */
static int send_mem_table(int fd, uint32_t flags)
{
	uint64_t body[1 + 2 * 4] = { 2,
		0, SPLIT, (uint64_t)(uintptr_t)E.mem, 0,
		SPLIT, MEM_SIZE - SPLIT, (uint64_t)(uintptr_t)E.mem + SPLIT, SPLIT };
	int fds[2] = { E.memfd, E.memfd };

	return vu_send(fd, SET_MEM_TABLE, flags, body, sizeof(body), fds, 2);
}

static int send_ring(int fd, unsigned i, uint16_t base)
{
	uint64_t a[5];
	uint32_t hdr2[2] = { i, 0 };
	uint8_t body[40];

	a[0] = (uint64_t)(uintptr_t)E.mem + E.shadow[i].desc_gpa;
	a[1] = (uint64_t)(uintptr_t)E.mem + E.shadow[i].used_gpa;
	a[2] = (uint64_t)(uintptr_t)E.mem + E.shadow[i].avail_gpa;
	a[3] = 0;
	memcpy(body, hdr2, 8);
	memcpy(body + 8, a, 32);
	return send_state(fd, SET_VRING_NUM, i, QN) || send_state(fd, SET_VRING_BASE, i, base) ||
	       vu_send(fd, SET_VRING_ADDR, 0, body, 40, NULL, 0) ||
	       send_fd(fd, SET_VRING_KICK, i, E.kick[i]);
}

/* qemu 7.2's vsock start-up and stop, in shared/vhost-user.md's order. */
static void test_qemu_sequence(void)
{
	uint64_t u = 0, ev;
	uint8_t cfg[12 + 8] = { 0 };
	uint32_t st[2];
	int fd, old_calls[2];
	char line[64];
	struct virtio_vsock_hdr h;
	uint32_t id, len;

	T_REQUIRE(setup() == 0, "setup");
	fd = dial();
	T_REQUIRE(fd >= 0 && vhost_server_connected(&E.s), "connect");
	T_REQUIRE(vu_send(fd, GET_FEATURES, 0, NULL, 0, NULL, 0) == 0, "send");
	T_REQUIRE(vu_recv(fd, GET_FEATURES, &u, 8) == 8, "GET_FEATURES reply");
	T_CHECK(u & (1ULL << 32) && u & (1ULL << 30), "features %#llx lack VERSION_1 or bit 30",
		(unsigned long long)u);
	T_REQUIRE(vu_send(fd, GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0) == 0, "send");
	T_REQUIRE(vu_recv(fd, GET_PROTOCOL_FEATURES, &u, 8) == 8, "GET_PROTOCOL_FEATURES reply");
	T_CHECK((u & (1 << 9)) && (u & (1 << 3)), "protocol features %#llx lack CONFIG/REPLY_ACK",
		(unsigned long long)u);
	T_REQUIRE(send_u64(fd, SET_PROTOCOL_FEATURES, (1 << 9) | (1 << 3)) == 0, "send");
	T_REQUIRE(vu_send(fd, SET_OWNER, 0, NULL, 0, NULL, 0) == 0, "send");
	for (int i = 0; i < 2; i++) {
		old_calls[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		T_REQUIRE(send_fd(fd, SET_VRING_CALL, (uint32_t)i, old_calls[i]) == 0, "call");
		T_REQUIRE(send_fd(fd, SET_VRING_ERR, (uint32_t)i, E.err[i]) == 0, "err");
	}
	cfg[4] = 8;
	T_REQUIRE(vu_send(fd, GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0) == 0, "send");
	T_REQUIRE(vu_recv(fd, GET_CONFIG, cfg, sizeof(cfg)) == 20, "GET_CONFIG reply");
	memcpy(&u, cfg + 12, 8);
	T_CHECK(u == 3, "CID %llu", (unsigned long long)u);
	/* driver ready: new call fds, features, memory (with an ack), rings */
	for (int i = 0; i < 2; i++)
		T_REQUIRE(send_fd(fd, SET_VRING_CALL, (uint32_t)i, E.call[i]) == 0, "call");
	T_REQUIRE(send_u64(fd, SET_FEATURES, 0x140000000ULL) == 0, "send");
	T_REQUIRE(send_mem_table(fd, NEED_REPLY) == 0, "send");
	T_REQUIRE(vu_recv(fd, SET_MEM_TABLE, &u, 8) == 8 && u == 0, "SET_MEM_TABLE ack");
	T_CHECK(E.s.mem.n == 2, "%u regions mapped", E.s.mem.n);
	for (unsigned i = 0; i < 2; i++)
		T_REQUIRE(send_ring(fd, i, 0) == 0, "ring %u", i);
	pump();
	T_CHECK(!E.s.dev->started, "device started before SET_VRING_ENABLE");
	T_REQUIRE(send_state(fd, SET_VRING_ENABLE, 0, 1) == 0 &&
		  send_state(fd, SET_VRING_ENABLE, 1, 1) == 0, "enable");
	pump();
	T_REQUIRE(E.s.dev->started, "device not started: %s", E.why);
	T_CHECK(E.ends == 0, "session ended: %s", E.why);

	/* the guest posts RX buffers (data in region 1) and kicks */
	uint64_t rxb = fmem_alloc(&E.fm, 16 * (HDR + 4096), 16);
	for (int k = 0; k < 16; k++) {
		struct fseg s[2] = { { rxb + (uint64_t)k * (HDR + 4096), HDR, 1 },
				     { rxb + (uint64_t)k * (HDR + 4096) + HDR, 4096, 1 } };
		fdrv_add(&E.drv[0], s, 2);
	}
	ev = 1;
	T_REQUIRE(write(E.kick[0], &ev, 8) == 8, "kick");
	pump();
	/* a host program connects to guest port 5 */
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int hfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		strcpy(a.sun_path, E.vpath);
		T_REQUIRE(connect(hfd, (struct sockaddr *)&a, sizeof(a)) == 0, "host connect");
		T_REQUIRE(write(hfd, "CONNECT 5\n", 10) == 10, "write");
		pump();
		T_REQUIRE(fdrv_used(&E.drv[0], &id, &len) == 1 && len == HDR, "no REQUEST in RX");
		memcpy(&h, fmem_ptr(&E.fm, rxb), HDR);
		T_CHECK(h.op == VIRTIO_VSOCK_OP_REQUEST && h.dst_port == 5, "op %u", h.op);
		T_CHECK(read(E.call[0], &ev, 8) == 8 && ev >= 1, "newest call fd not signalled");
		T_CHECK(read(old_calls[0], &ev, 8) < 0, "old call fd signalled");
		/* the guest accepts over TX */
		uint64_t txb = fmem_alloc(&E.fm, HDR, 16);
		struct virtio_vsock_hdr r = { .src_cid = 3, .dst_cid = 2, .src_port = 5,
					      .dst_port = h.src_port, .type = 1,
					      .op = VIRTIO_VSOCK_OP_RESPONSE, .buf_alloc = 65536 };
		struct fseg s = { txb, HDR, 0 };
		memcpy(fmem_ptr(&E.fm, txb), &r, HDR);
		fdrv_add(&E.drv[1], &s, 1);
		ev = 1;
		T_REQUIRE(write(E.kick[1], &ev, 8) == 8, "kick");
		pump();
		T_CHECK(recv(hfd, line, sizeof(line), MSG_DONTWAIT) == 14 &&
			!memcmp(line, "OK 1073741824\n", 14), "no OK line");
		T_CHECK(fdrv_used(&E.drv[1], &id, &len) == 1, "TX not returned");
		T_CHECK(read(E.call[1], &ev, 8) == 8, "TX call fd not signalled");

		/* qemu stops the guest: rings stop, bases come back, conns close */
		T_REQUIRE(send_state(fd, SET_VRING_ENABLE, 0, 0) == 0 &&
			  send_state(fd, SET_VRING_ENABLE, 1, 0) == 0, "disable");
		T_REQUIRE(send_state(fd, GET_VRING_BASE, 0, 0) == 0, "send");
		T_REQUIRE(vu_recv(fd, GET_VRING_BASE, st, 8) == 8, "GET_VRING_BASE 0");
		T_CHECK(st[0] == 0 && st[1] == 1, "rx base %u/%u", st[0], st[1]);
		T_REQUIRE(send_state(fd, GET_VRING_BASE, 1, 0) == 0, "send");
		T_REQUIRE(vu_recv(fd, GET_VRING_BASE, st, 8) == 8, "GET_VRING_BASE 1");
		T_CHECK(st[0] == 1 && st[1] == 1, "tx base %u/%u", st[0], st[1]);
		T_CHECK(!E.s.dev->started, "device still running");
		T_CHECK(recv(hfd, line, sizeof(line), MSG_DONTWAIT) == 0, "host conn survived stop");
		close(hfd);
	}
	/* restart from the bases: the device runs again */
	T_REQUIRE(send_ring(fd, 0, 1) == 0 && send_ring(fd, 1, 1) == 0, "rings again");
	T_REQUIRE(send_state(fd, SET_VRING_ENABLE, 0, 1) == 0 &&
		  send_state(fd, SET_VRING_ENABLE, 1, 1) == 0, "enable");
	pump();
	T_CHECK(E.s.dev->started && E.s.dev->vq[0].last_avail == 1, "no restart from base");
	T_CHECK(E.ends == 0, "session ended: %s", E.why);

	/* a hostile ring under vhost-user: error fd written, owner told */
	{
		uint16_t i = E.drv[1].next_desc;
		E.drv[1].desc[i] = (struct vring_desc_le){ SPLIT + 0x2000, HDR, FD_DESC_F_NEXT, i };
		E.drv[1].avail[2 + E.drv[1].avail_idx % QN] = i;
		E.drv[1].avail[1] = ++E.drv[1].avail_idx;
		ev = 1;
		T_REQUIRE(write(E.kick[1], &ev, 8) == 8, "kick");
		pump();
		T_CHECK(E.ends == 1 && strstr(E.why, "tx queue"), "owner not told: %s", E.why);
		T_CHECK(read(E.err[1], &ev, 8) == 8, "error fd not written");
	}
	/* hang-up ends the session with a reason */
	close(fd);
	pump();
	T_CHECK(E.ends == 2 && strstr(E.why, "closed"), "hang-up: %s", E.why);
	T_CHECK(!vhost_server_connected(&E.s) && E.s.mem.n == 0, "session state kept");
	for (int i = 0; i < 2; i++)
		close(old_calls[i]);
	teardown();
}

/* Sends a partial message: the server waits for the rest (no hang). */
static void test_partial_and_second(void)
{
	uint64_t u;
	uint32_t h[3] = { GET_FEATURES, 1, 0 };
	int fd, fd2;

	T_REQUIRE(setup() == 0, "setup");
	fd = dial();
	T_REQUIRE(fd >= 0, "dial");
	T_REQUIRE(write(fd, h, 5) == 5, "write");
	pump();
	T_REQUIRE(write(fd, (char *)h + 5, 7) == 7, "write");
	T_CHECK(vu_recv(fd, GET_FEATURES, &u, 8) == 8, "no reply to a message sent in pieces");
	fd2 = dial();
	T_CHECK(fd2 >= 0 && closed_by_server(fd2), "second VMM accepted");
	T_CHECK(!closed_by_server(fd), "first session disturbed");
	close(fd2);
	close(fd);
	pump();
	teardown();
}

/* Each malformed message ends the session with a reason. */
static void test_malformed(void)
{
	static const char *names[] = {
		"unknown request", "short SET_FEATURES", "huge body", "KICK without fd",
		"fd count mismatch", "too many fds", "region overflow", "queue out of range",
		"size not a power of two", "config beyond space", "rings outside memory",
		"feature not offered", "fds on a plain request", "bad version", "vring word junk",
	};
	unsigned failures = 0;
	char which[256] = "";

	T_REQUIRE(setup() == 0, "setup");
	for (unsigned t = 0; t < ARRAY_SIZE(names); t++) {
		int fd = dial(), fds[12], ends = E.ends;
		uint64_t u = 0;
		uint32_t h[3];

		if (fd < 0) {
			failures++;
			continue;
		}
		for (int i = 0; i < 12; i++)
			fds[i] = E.memfd;
		switch (t) {
		case 0:
			vu_send(fd, 99, 0, NULL, 0, NULL, 0);
			break;
		case 1:
			vu_send(fd, SET_FEATURES, 0, &u, 4, NULL, 0);
			break;
		case 2:
			h[0] = SET_MEM_TABLE, h[1] = 1, h[2] = 100000;
			if (write(fd, h, 12) != 12)
				failures++;
			break;
		case 3:
			vu_send(fd, SET_VRING_KICK, 0, &u, 8, NULL, 0);
			break;
		case 4: {
			uint64_t body[5] = { 1, 0, SPLIT, (uint64_t)(uintptr_t)E.mem, 0 };
			vu_send(fd, SET_MEM_TABLE, 0, body, sizeof(body), fds, 2);
			break;
		}
		case 5: {
			uint64_t body[5] = { 1, 0, SPLIT, (uint64_t)(uintptr_t)E.mem, 0 };
			vu_send(fd, SET_MEM_TABLE, 0, body, sizeof(body), fds, 12);
			break;
		}
		case 6: {
			uint64_t body[5] = { 1, 0, SPLIT, (uint64_t)(uintptr_t)E.mem, UINT64_MAX - 10 };
			vu_send(fd, SET_MEM_TABLE, 0, body, sizeof(body), fds, 1);
			break;
		}
		case 7:
			send_state(fd, SET_VRING_NUM, 5, 64);
			break;
		case 8:
			send_state(fd, SET_VRING_NUM, 0, 3);
			break;
		case 9: {
			uint8_t cfg[12 + 8] = { 4, 0, 0, 0, 8 };
			vu_send(fd, GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0);
			break;
		}
		case 10: {
			uint8_t body[40] = { 0 };
			uint64_t bad = 0x10; /* no region has VMM address 0x10 */
			send_u64(fd, SET_FEATURES, 0x140000000ULL);
			send_mem_table(fd, 0);
			send_state(fd, SET_VRING_NUM, 0, QN);
			memcpy(body + 8, &bad, 8);
			memcpy(body + 16, &bad, 8);
			memcpy(body + 24, &bad, 8);
			vu_send(fd, SET_VRING_ADDR, 0, body, 40, NULL, 0);
			send_fd(fd, SET_VRING_KICK, 0, E.kick[0]);
			send_state(fd, SET_VRING_ENABLE, 0, 1);
			break;
		}
		case 11:
			send_u64(fd, SET_FEATURES, 1ULL << 29);
			break;
		case 12:
			vu_send(fd, SET_OWNER, 0, NULL, 0, fds, 1);
			break;
		case 13:
			h[0] = GET_FEATURES, h[1] = 2, h[2] = 0;
			if (write(fd, h, 12) != 12)
				failures++;
			break;
		case 14:
			u = 0x10000;
			vu_send(fd, SET_VRING_CALL, 0, &u, 8, fds, 1);
			break;
		}
		if (!closed_by_server(fd) || E.ends != ends + 1) {
			failures++;
			snprintf(which + strlen(which), sizeof(which) - strlen(which), "%s; ",
				 names[t]);
		}
		close(fd);
		pump();
	}
	T_CHECK(!failures, "%u malformed messages not refused: %s", failures, which);
	/* the server still serves a good session afterwards */
	{
		int fd = dial();
		uint64_t u = 0;
		T_CHECK(fd >= 0 && vu_send(fd, GET_FEATURES, 0, NULL, 0, NULL, 0) == 0 &&
			vu_recv(fd, GET_FEATURES, &u, 8) == 8 && u, "server dead after errors");
		close(fd);
		pump();
	}
	teardown();
}

/* A fake two-queue net-like back end, to check the generic path: qemu's
 * vhost-user-net order (ENABLE 1 before any ring set-up and never 0). */
static struct {
	int starts, resets, kicks[2];
} fk;

static uint64_t fk_features(struct vdev *d)
{
	return 1ULL << 32;
}
static void fk_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	memset(buf, 0x5a, len);
}
static void fk_wconfig(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
}
static int fk_start(struct vdev *d)
{
	fk.starts++;
	return d->vq[0].ready && d->vq[1].ready ? 0 : -EINVAL;
}
static void fk_kick(struct vdev *d, unsigned qi)
{
	fk.kicks[qi]++;
}
static void fk_reset(struct vdev *d)
{
	fk.resets++;
}

static void test_net_order(void)
{
	static const struct vdev_ops ops = {
		.device_id = 1, .num_queues = 2, .max_queue_size = 256, .config_size = 12,
		.features = fk_features, .read_config = fk_config, .write_config = fk_wconfig,
		.start = fk_start, .queue_kick = fk_kick, .reset = fk_reset,
	};
	struct vdev dev = { .ops = &ops, .name = "net" };
	struct vhost_server s2;
	uint64_t u = 0, ev = 1;
	uint32_t st[2];
	int fd;

	T_REQUIRE(setup() == 0, "setup");
	memset(&fk, 0, sizeof(fk));
	vhost_server_fini(&E.s);
	T_REQUIRE(vhost_server_init(&s2, &E.l, &dev, E.spath) == 0, "init");
	T_CHECK(s2.nq == 2, "net hands over %u queues", s2.nq);
	fd = dial();
	T_REQUIRE(fd >= 0, "dial");
	T_REQUIRE(vu_send(fd, GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0) == 0, "send");
	T_REQUIRE(vu_recv(fd, GET_PROTOCOL_FEATURES, &u, 8) == 8, "reply");
	T_CHECK(!(u & (1 << 9)), "CONFIG offered to qemu's virtio-net, which serves its own config");
	for (int k = 0; k < 4; k++)
		T_REQUIRE(send_state(fd, SET_VRING_ENABLE, (uint32_t)(k & 1), 1) == 0, "enable");
	T_REQUIRE(send_u64(fd, SET_FEATURES, 0x140000000ULL) == 0, "send");
	T_REQUIRE(send_mem_table(fd, 0) == 0, "send");
	T_REQUIRE(send_ring(fd, 0, 0) == 0 && send_fd(fd, SET_VRING_CALL, 0, E.call[0]) == 0,
		  "queue 0");
	pump();
	T_CHECK(fk.starts == 0, "device started with one queue");
	T_REQUIRE(send_ring(fd, 1, 0) == 0 && send_fd(fd, SET_VRING_CALL, 1, E.call[1]) == 0,
		  "queue 1");
	pump();
	T_CHECK(fk.starts == 1 && dev.started, "device not started: %d", fk.starts);
	T_REQUIRE(write(E.kick[1], &ev, 8) == 8, "kick");
	pump();
	T_CHECK(fk.kicks[1] == 1 && fk.kicks[0] == 0, "kicks %d/%d", fk.kicks[0], fk.kicks[1]);
	/* stop: GET_VRING_BASE with ENABLE still 1 */
	T_REQUIRE(send_state(fd, GET_VRING_BASE, 0, 0) == 0, "send");
	T_REQUIRE(vu_recv(fd, GET_VRING_BASE, st, 8) == 8, "GET_VRING_BASE");
	T_CHECK(fk.resets == 1 && !dev.started, "not stopped");
	T_REQUIRE(send_state(fd, GET_VRING_BASE, 1, 0) == 0, "send");
	T_REQUIRE(vu_recv(fd, GET_VRING_BASE, st, 8) == 8, "GET_VRING_BASE");
	T_REQUIRE(write(E.kick[1], &ev, 8) == 8, "kick");
	pump();
	T_CHECK(fk.kicks[1] == 1, "kick reached a stopped ring");
	/* and start again */
	T_REQUIRE(send_ring(fd, 0, st[1]) == 0 && send_ring(fd, 1, st[1]) == 0, "rings");
	pump();
	T_CHECK(fk.starts == 2 && dev.started, "no restart");
	close(fd);
	pump();
	T_CHECK(fk.resets == 2, "hang-up did not reset the device");
	vhost_server_fini(&s2);
	teardown();
}

/* A memory fd shorter than the region it is said to back: mapping it
 * "works", but the first ring access past its end would be SIGBUS. The
 * table must be refused with a reason, not mapped. */
static void test_short_memfd(void)
{
	int fd, small;
	uint64_t body[5] = { 1, 0, MEM_SIZE, 0, 0 };

	T_REQUIRE(setup() == 0, "setup");
	small = memfd_create("vb-short", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	T_REQUIRE(small >= 0 && ftruncate(small, 4096) == 0 &&
			  fcntl(small, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "memfd");
	body[3] = (uint64_t)(uintptr_t)E.mem;
	fd = dial();
	T_REQUIRE(fd >= 0, "dial");
	T_REQUIRE(vu_send(fd, SET_MEM_TABLE, 0, body, sizeof(body), &small, 1) == 0, "send");
	T_CHECK(closed_by_server(fd) && E.ends == 1, "short memory fd accepted (ends %d)", E.ends);
	T_CHECK(strstr(E.why, "region 0") != NULL, "reason: %s", E.why);
	close(fd);
	close(small);
	pump();
	teardown();
}

/* Finding 5: guest memory the VMM could still shrink (no F_SEAL_SHRINK)
 * would make our next access to it SIGBUS: refused with a reason. */
static void test_unsealed_memfd(void)
{
	int fd, mfd;
	uint64_t body[5] = { 1, 0, MEM_SIZE, 0, 0 };

	T_REQUIRE(setup() == 0, "setup");
	mfd = memfd_create("vb-unsealed", MFD_CLOEXEC);
	T_REQUIRE(mfd >= 0 && ftruncate(mfd, MEM_SIZE) == 0, "memfd");
	body[3] = (uint64_t)(uintptr_t)E.mem;
	fd = dial();
	T_REQUIRE(fd >= 0, "dial");
	T_REQUIRE(vu_send(fd, SET_MEM_TABLE, 0, body, sizeof(body), &mfd, 1) == 0, "send");
	T_CHECK(closed_by_server(fd) && E.ends == 1 && E.s.mem.n == 0,
		"unsealed memory fd accepted (ends %d, %u regions)", E.ends, E.s.mem.n);
	T_CHECK(strstr(E.why, "sealed") != NULL, "reason: %s", E.why);
	close(fd);
	close(mfd);
	pump();
	teardown();
}

/* The device loop of test_reply_stall's child: answers each byte on the
 * ping pipe with one on the pong pipe, so the parent sees it is alive. */
static int stall_pong = -1;
static void stall_ping(struct loop_watch *w, uint32_t ev)
{
	char c;

	if (read(w->fd, &c, 1) == 1 && write(stall_pong, &c, 1) == 1)
		return;
	_exit(0); /* the parent is done */
}

/* Finding 5: a VMM that sends requests but never reads the replies. The
 * server (in a child process, so that a blocked one cannot hang the test)
 * must keep its loop running; the replies must all arrive, in order, once
 * the VMM reads again. */
static void test_reply_stall(void)
{
	int ping[2], pong[2], fd, st = 0;
	struct loop_watch pw;
	struct pollfd p;
	unsigned sent = 0, got = 0;
	uint64_t t0;
	pid_t pid;
	char c = 'p';
	bool alive;

	T_REQUIRE(setup() == 0, "setup");
	T_REQUIRE(pipe(ping) == 0 && pipe(pong) == 0, "pipes");
	fflush(NULL);
	pid = fork();
	T_REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(ping[1]);
		close(pong[0]);
		stall_pong = pong[1];
		pw = (struct loop_watch){ .fd = ping[0], .cb = stall_ping };
		loop_add(&E.l, &pw, EPOLLIN);
		alarm(60); /* never outlive a lost parent */
		for (;;)
			loop_once(&E.l, -1);
	}
	close(ping[0]);
	close(pong[1]);
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		strcpy(a.sun_path, E.spath);
		T_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "dial");
	}
	/* requests until our side is full for half a second, never reading */
	t0 = now_ns();
	while (fd >= 0 && now_ns() - t0 < 500000000ull && sent < 2000000) {
		uint32_t h[3] = { GET_FEATURES, 1, 0 };

		if (send(fd, h, 12, MSG_NOSIGNAL | MSG_DONTWAIT) == 12) {
			sent++;
			t0 = now_ns();
		} else {
			p = (struct pollfd){ fd, POLLOUT, 0 };
			poll(&p, 1, 50);
		}
	}
	/* is the device loop alive? */
	alive = write(ping[1], &c, 1) == 1 &&
		poll(&(struct pollfd){ pong[0], POLLIN, 0 }, 1, 3000) == 1 && read(pong[0], &c, 1) == 1;
	T_CHECK(alive, "the device loop is stuck after %u unread requests", sent);
	/* read again: every reply arrives, in order */
	if (alive && fd >= 0) {
		fcntl(fd, F_SETFL, 0);
		while (got < sent) {
			uint32_t h[3];
			uint64_t u;

			p = (struct pollfd){ fd, POLLIN, 0 };
			if (poll(&p, 1, 3000) != 1 || read_full(fd, h, 12) != 12 || h[0] != GET_FEATURES ||
			    h[2] != 8 || read_full(fd, &u, 8) != 8)
				break;
			got++;
		}
		T_CHECK(got == sent, "%u of %u replies", got, sent);
	}
	if (fd >= 0)
		close(fd);
	close(ping[1]); /* the child leaves */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(pong[0]);
	teardown();
}

int main(void)
{
	T_RUN(test_qemu_sequence);
	T_RUN(test_partial_and_second);
	T_RUN(test_malformed);
	T_RUN(test_net_order);
	T_RUN(test_short_memfd);
	T_RUN(test_unsealed_memfd);
	T_RUN(test_reply_stall);
	T_EXIT();
}
