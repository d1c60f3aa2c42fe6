/* Unit tests of the virtio-fs device glue (fs/dev.c) with a fake virtiofs
 * driver (fs_fake.h): identity, features and config space as a driver
 * reads them, a legacy driver refused, requests answered on both queues,
 * and the hostile side of the transport: chains shorter than a header,
 * headers that lie about their length, requests too large, no room for
 * a reply (nothing executed), a WRITE whose payload disagrees with its
 * size, a READ into 40 scattered buffers, descriptor chains that leave
 * guest memory (the device fails, nothing crashes), the per-pass budget
 * with its re-kick, one notification per pass, and 70,000 requests so the
 * ring indexes wrap. And the same device behind the KVM monitor's
 * virtio-mmio transport, driven through its registers as Linux does, and
 * behind the vhost-user server as qemu's vhost-user-fs-device sees it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kvm/mmio.h"
#include "t.h"
#include "vhost/server.h"
#include "fs_fake.h"

static const uint8_t getattr_in[16];

static void test_fs_dev_identity_config(void)
{
	struct vdev *d = fx_dev();
	uint8_t cfg[40];
	uint32_t nrq;

	T_REQUIRE(fx_boot(false) == 0, "boot");
	T_CHECK(d->ops->device_id == 26 && d->ops->num_queues == 2, "id %u queues %u", d->ops->device_id,
		d->ops->num_queues);
	T_CHECK(d->ops->features(d) & VIRTIO_F_VERSION_1, "VERSION_1 not offered");
	T_REQUIRE(d->ops->config_size == 40, "config size %u", d->ops->config_size);
	memset(cfg, 0xee, sizeof(cfg));
	d->ops->read_config(d, 0, cfg, 40);
	T_CHECK(!memcmp(cfg, "t0\0\0\0\0\0\0", 8), "tag");
	for (int i = 2; i < 36; i++)
		T_CHECK(cfg[i] == 0, "tag byte %d not NUL", i);
	memcpy(&nrq, cfg + 36, 4);
	T_CHECK(nrq == 1, "num_request_queues %u", nrq);
	d->ops->read_config(d, 36, cfg, 4);
	T_CHECK(cfg[0] == 1 && cfg[1] == 0, "partial read");
	d->ops->read_config(d, 38, cfg, 4);
	T_CHECK(cfg[0] == 0 && cfg[3] == 0, "read past the end not zeroed");
	{
		struct fs_share_cfg c = { .path = X.share };
		T_CHECK(fx_boot_cfg(&c, 0) == -EINVAL, "legacy driver accepted");
		c.path = "/nonexistent/folder";
		T_CHECK(fx_boot_cfg(&c, FX_ACKED) == -100, "missing folder opened");
	}
	{
		struct fs_dev f2;
		struct fs_share_cfg c = { .path = X.share };
		char why[200];
		T_CHECK(fs_dev_init(&f2, "", &c, why, sizeof(why)) == -EINVAL, "empty tag");
		T_CHECK(fs_dev_init(&f2, "0123456789012345678901234567890123456", &c, why, sizeof(why)) ==
			-EINVAL, "37-byte tag");
	}
}

static void test_fs_dev_short_and_lying(void)
{
	struct fx_shape sh = { 0 };
	uint8_t buf[64];
	struct fuse_create_in ci = { .flags = O_WRONLY, .mode = S_IFREG | 0644 };
	uint64_t bad0;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	bad0 = X.f.share.st.bad_requests;
	/* fewer bytes than a header: consumed, nothing written back */
	sh.hdr_only = 20;
	T_CHECK(fx_send(FUSE_GETATTR, FUSE_ROOT_ID, getattr_in, 16, NULL, 0, &sh) == 1 && X.used_len == 0,
		"20-byte request answered (%u)", X.used_len);
	/* a header whose len disagrees with the chain */
	sh = (struct fx_shape){ .len_delta = 8 };
	T_CHECK(fx_send(FUSE_GETATTR, FUSE_ROOT_ID, getattr_in, 16, NULL, 0, &sh) == -EINVAL,
		"len + 8 accepted");
	sh.len_delta = -8;
	T_CHECK(fx_send(FUSE_GETATTR, FUSE_ROOT_ID, getattr_in, 16, NULL, 0, &sh) == -EINVAL,
		"len - 8 accepted");
	T_CHECK(X.oh.unique == X.unique, "error reply not matched to its request");
	/* arguments shorter than the operation needs */
	T_CHECK(fx(FUSE_GETATTR, FUSE_ROOT_ID, getattr_in, 8) == -EINVAL, "short GETATTR");
	T_CHECK(fx(FUSE_SETATTR, FUSE_ROOT_ID, getattr_in, 16) == -EINVAL, "short SETATTR");
	/* a reply room too small for the reply: refused before acting */
	sh = (struct fx_shape){ .reply_cap = FS_OUT_HDR + 20 };
	T_CHECK(fx_send(FUSE_CREATE, FUSE_ROOT_ID, buf, fx_args(buf, &ci, sizeof(ci), "c1", NULL), NULL, 0,
			&sh) == -EINVAL, "CREATE without room for its reply");
	T_CHECK(access(fx_host("c1"), F_OK) != 0, "CREATE acted without room to answer");
	/* no room at all for a reply header: not executed, nothing answered */
	sh = (struct fx_shape){ .no_reply_room = true };
	T_CHECK(fx_send(FUSE_CREATE, FUSE_ROOT_ID, buf, fx_args(buf, &ci, sizeof(ci), "c2", NULL), NULL, 0,
			&sh) == 1 && X.used_len == 0, "answered into nothing");
	T_CHECK(access(fx_host("c2"), F_OK) != 0, "CREATE acted with no reply room");
	sh = (struct fx_shape){ .reply_cap = 10 };
	T_CHECK(fx_send(FUSE_MKDIR, FUSE_ROOT_ID, "\0\0\0\0\0\0\0\0dd", 11, NULL, 0, &sh) == 1 &&
		access(fx_host("dd"), F_OK) != 0, "MKDIR with a 10-byte reply room");
	/* a non-WRITE request larger than FS_REQ_MAX */
	{
		static uint8_t big[FS_REQ_MAX];
		memset(big, 'a', sizeof(big));
		big[sizeof(big) - 1] = 0;
		T_CHECK(fx(FUSE_LOOKUP, FUSE_ROOT_ID, big, sizeof(big)) == -EINVAL, "8 KiB LOOKUP");
	}
	/* a WRITE whose size field disagrees with its payload */
	{
		struct fuse_entry_out e;
		struct fuse_write_in wi;
		uint64_t fh;
		T_REQUIRE(fx_create(FUSE_ROOT_ID, "w", O_WRONLY, 0644, &e, &fh) == 0, "CREATE w");
		wi = (struct fuse_write_in){ .fh = fh, .size = 100 };
		T_CHECK(fx_send(FUSE_WRITE, e.nodeid, &wi, sizeof(wi), "0123456789", 10, NULL) == -EINVAL,
			"WRITE size 100 with 10 bytes");
		wi.size = 10;
		wi.offset = 1ULL << 63;
		T_CHECK(fx_send(FUSE_WRITE, e.nodeid, &wi, sizeof(wi), "0123456789", 10, NULL) == -EFBIG,
			"WRITE at 2^63");
		wi.offset = 0;
		wi.fh = fh + (1ULL << 32);
		T_CHECK(fx_send(FUSE_WRITE, e.nodeid, &wi, sizeof(wi), "0123456789", 10, NULL) == -EBADF,
			"WRITE through a forged handle");
		/* more than max_write */
		static uint8_t huge[FS_MAX_IO + 4096];
		wi = (struct fuse_write_in){ .fh = fh, .size = sizeof(huge) };
		T_CHECK(fx_send(FUSE_WRITE, e.nodeid, &wi, sizeof(wi), huge, sizeof(huge), NULL) == -EINVAL,
			"WRITE over max_write");
	}
	T_CHECK(X.f.share.st.bad_requests >= bad0 + 7, "bad requests not counted (%llu)",
		(unsigned long long)(X.f.share.st.bad_requests - bad0));
	T_CHECK(X.fails == 0, "a bad request failed the device: %s", X.why);
}

static void test_fs_dev_scattered_read(void)
{
	struct fuse_entry_out e;
	uint64_t fh;
	uint32_t n;
	static uint8_t data[60000];

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	T_REQUIRE(fx_create(FUSE_ROOT_ID, "r", O_RDWR, 0644, &e, &fh) == 0, "CREATE");
	T_REQUIRE(fx_write(e.nodeid, fh, 0, data, sizeof(data), &n) == 0 && n == sizeof(data), "WRITE");
	T_REQUIRE(fx_read(e.nodeid, fh, 0, sizeof(data), 40, &n) == 0, "READ into 40 buffers");
	T_CHECK(n == sizeof(data) && !memcmp(X.body, data, sizeof(data)), "scattered read differs (%u)", n);
	T_REQUIRE(fx_read(e.nodeid, fh, 100, 1000, 3, &n) == 0 && n == 1000 && !memcmp(X.body, data + 100, 1000),
		  "READ at 100");
	/* a READ larger than its room gets what fits */
	{
		struct fuse_read_in in = { .fh = fh, .size = 50000 };
		struct fx_shape sh = { .reply_cap = FS_OUT_HDR + 777 };
		T_CHECK(fx_send(FUSE_READ, e.nodeid, &in, sizeof(in), NULL, 0, &sh) == 0 &&
			X.used_len == FS_OUT_HDR + 777 && !memcmp(X.body, data, 777), "READ bounded by room");
	}
}

static void test_fs_dev_bad_chain_fails(void)
{
	struct fseg s[2];
	struct vdev *d = fx_dev();

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	/* a descriptor pointing outside guest memory */
	s[0] = (struct fseg){ FX_GPA + FX_MEM - 8, 64, 0 };
	s[1] = (struct fseg){ FX_GPA + FX_REPLY_AREA, 128, 1 };
	fdrv_add(&X.q[FS_REQUEST_Q], s, 2);
	d->ops->queue_kick(d, FS_REQUEST_Q);
	T_CHECK(X.fails == 1 && d->failed, "device not failed (%d)", X.fails);
	T_CHECK(X.f.st.bad_chains == 1, "bad chain not counted");
	/* later kicks do nothing, and nothing crashes */
	fdrv_add(&X.q[FS_REQUEST_Q], s + 1, 1);
	d->ops->queue_kick(d, FS_REQUEST_Q);
	d->ops->queue_kick(d, 7);
	T_CHECK(X.fails == 1, "failed twice");
	/* reset and a new driver: served again from INIT */
	d->ops->reset(d);
	T_REQUIRE(fx_boot(false) == 0, "reboot");
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "x", NULL) == -EIO, "no INIT needed after reset");
	T_CHECK(fx_init() == 0 && fx_lookup(FUSE_ROOT_ID, "x", NULL) == -ENOENT, "served after reset");
	/* a readable descriptor after a writable one */
	s[0] = (struct fseg){ FX_GPA + FX_REPLY_AREA, 128, 1 };
	s[1] = (struct fseg){ FX_GPA + FX_REQ_AREA, 64, 0 };
	fdrv_add(&X.q[FS_HIPRIO_Q], s, 2);
	d->ops->queue_kick(d, FS_HIPRIO_Q);
	T_CHECK(X.fails == 1 && d->failed, "write-then-read chain accepted");
}

/* Posts n GETATTRs on the request queue without kicking. */
static void post_getattrs(unsigned n)
{
	struct fuse_in_header h = { .len = sizeof(h) + 16, .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID };
	uint8_t *req = fmem_ptr(&X.fm, FX_GPA + FX_REQ_AREA);

	memcpy(req, &h, sizeof(h));
	memset(req + sizeof(h), 0, 16);
	for (unsigned i = 0; i < n; i++) {
		struct fseg s[2] = { { FX_GPA + FX_REQ_AREA, sizeof(h) + 16, 0 },
				     { FX_GPA + FX_REPLY_AREA + (uint64_t)(i % FX_QN) * 256, 256, 1 } };
		fdrv_add(&X.q[FS_REQUEST_Q], s, 2);
	}
}

/* Takes every used entry; returns how many were good GETATTR replies. */
static unsigned take_used(void)
{
	uint32_t id, len;
	unsigned good = 0;

	while (fdrv_used(&X.q[FS_REQUEST_Q], &id, &len))
		good += len == FS_OUT_HDR + sizeof(struct fuse_attr_out);
	return good;
}

static uint64_t read_counter(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void test_fs_dev_budget_and_signals(void)
{
	struct vdev *d = fx_dev();
	int kick = eventfd(0, EFD_NONBLOCK);
	unsigned good;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	read_counter(X.call[FS_REQUEST_Q]);
	d->vq[FS_REQUEST_Q].kick_fd = kick;
	post_getattrs(100);
	d->ops->queue_kick(d, FS_REQUEST_Q);
	good = take_used();
	T_CHECK(good == FS_KICK_BUDGET, "first pass answered %u", good);
	T_CHECK(read_counter(kick) == 1, "no re-kick after the budget");
	T_CHECK(read_counter(X.call[FS_REQUEST_Q]) == 1, "not one notification for the pass");
	d->ops->queue_kick(d, FS_REQUEST_Q);
	good = take_used();
	T_CHECK(good == 100 - FS_KICK_BUDGET, "second pass answered %u", good);
	T_CHECK(read_counter(kick) == 0, "re-kicked with nothing left");
	d->vq[FS_REQUEST_Q].kick_fd = -1;
	close(kick);
}

static void test_fs_dev_index_wrap(void)
{
	struct vdev *d = fx_dev();
	unsigned good = 0;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	for (unsigned round = 0; round < 70000 / 50; round++) {
		post_getattrs(50);
		d->ops->queue_kick(d, FS_REQUEST_Q);
		good += take_used();
	}
	T_CHECK(good == 70000, "%u of 70000 answered", good);
	T_CHECK(X.fails == 0, "device failed: %s", X.why);
	T_CHECK(d->vq[FS_REQUEST_Q].used_idx == (uint16_t)(70000 + 1), "used index %u",
		d->vq[FS_REQUEST_Q].used_idx);
}

static uint32_t mrd(struct mmio_dev *m, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	mmio_dev_read(m, off, &v, 4);
	return v;
}

static void mwr(struct mmio_dev *m, uint64_t off, uint32_t v)
{
	mmio_dev_write(m, off, &v, 4);
}

/* The front end the KVM monitor uses: registers, QueueNotify as an
 * eventfd on the device loop, the interrupt as an eventfd. */
static void test_fs_dev_through_mmio(void)
{
	struct fs_share_cfg cfg = { .guest_uid = 1000, .guest_gid = 1000 };
	struct fuse_init_in in = { .major = 7, .minor = 37, .flags = FUSE_MAX_PAGES };
	struct fuse_in_header h = { .len = sizeof(h) + sizeof(in), .opcode = FUSE_INIT, .unique = 9 };
	struct fuse_out_header oh;
	struct fuse_init_out io;
	struct loop l;
	struct mmio_bus bus;
	static struct mmio_dev m;
	char why[200], tag[8] = { 0 };
	uint64_t base = FX_GPA + 0x10000, buf = FX_GPA + FX_REQ_AREA;
	struct vring_desc_le *d;
	uint16_t *avail, *used;

	fx_dirs();
	if (X.on)
		fs_dev_fini(&X.f);
	X.on = false;
	cfg.path = X.share;
	fmem_init(&X.fm, fx_mem, FX_GPA, FX_MEM);
	T_REQUIRE(fs_dev_init(&X.f, "mmio0", &cfg, why, sizeof(why)) == 0, "fs_dev_init: %s", why);
	X.on = true;
	T_REQUIRE(loop_init(&l) == 0 && mmio_bus_init(&bus, &l) == 0, "loop, bus");
	T_REQUIRE(mmio_dev_init(&m, &bus, fx_dev(), &X.fm.map, 0xfeb00000, 0x200, 5) == 0, "mmio_dev_init");
	T_CHECK(mrd(&m, MMIO_R_MAGIC) == MMIO_MAGIC && mrd(&m, MMIO_R_VERSION) == 2 &&
		mrd(&m, MMIO_R_DEVICE_ID) == 26, "identity: device %u", mrd(&m, MMIO_R_DEVICE_ID));
	for (unsigned i = 0; i < 8; i++)
		mmio_dev_read(&m, MMIO_R_CONFIG + i, &tag[i], 1);
	T_CHECK(!strcmp(tag, "mmio0") && mrd(&m, MMIO_R_CONFIG + 36) == 1, "config: tag '%s', %u queues",
		tag, mrd(&m, MMIO_R_CONFIG + 36));
	mwr(&m, MMIO_R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mwr(&m, MMIO_R_DRV_FEATURES_SEL, 1);
	mwr(&m, MMIO_R_DRV_FEATURES, 1); /* VERSION_1 */
	mwr(&m, MMIO_R_DRV_FEATURES_SEL, 0);
	mwr(&m, MMIO_R_DRV_FEATURES, 0);
	mwr(&m, MMIO_R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	T_REQUIRE(mrd(&m, MMIO_R_STATUS) & VIRTIO_S_FEATURES_OK, "FEATURES_OK refused");
	for (unsigned q = 0; q < 2; q++) {
		mwr(&m, MMIO_R_QUEUE_SEL, q);
		T_CHECK(mrd(&m, MMIO_R_QUEUE_NUM_MAX) == FS_QUEUE_SIZE, "queue %u max %u", q,
			mrd(&m, MMIO_R_QUEUE_NUM_MAX));
		mwr(&m, MMIO_R_QUEUE_NUM, 8);
		mwr(&m, MMIO_R_QUEUE_DESC_LO, (uint32_t)(base + q * 0x1000));
		mwr(&m, MMIO_R_QUEUE_AVAIL_LO, (uint32_t)(base + q * 0x1000 + 0x400));
		mwr(&m, MMIO_R_QUEUE_USED_LO, (uint32_t)(base + q * 0x1000 + 0x800));
		mwr(&m, MMIO_R_QUEUE_READY, 1);
	}
	mwr(&m, MMIO_R_STATUS, 0xf);
	T_REQUIRE(fx_dev()->started, "not started: status %x", mrd(&m, MMIO_R_STATUS));
	/* INIT on the request queue, then QueueNotify */
	memcpy(fmem_ptr(&X.fm, buf), &h, sizeof(h));
	memcpy(fmem_ptr(&X.fm, buf + sizeof(h)), &in, sizeof(in));
	d = fmem_ptr(&X.fm, base + 0x1000);
	avail = fmem_ptr(&X.fm, base + 0x1400);
	used = fmem_ptr(&X.fm, base + 0x1800);
	d[0] = (struct vring_desc_le){ buf, sizeof(h) + sizeof(in), FD_DESC_F_NEXT, 1 };
	d[1] = (struct vring_desc_le){ buf + 0x1000, sizeof(oh) + sizeof(io), FD_DESC_F_WRITE, 0 };
	avail[2] = 0;
	__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE);
	mwr(&m, MMIO_R_QUEUE_NOTIFY, FS_REQUEST_Q);
	for (int i = 0; i < 100 && __atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == 0; i++)
		loop_once(&l, 10);
	T_REQUIRE(used[1] == 1, "no answer through mmio");
	memcpy(&oh, fmem_ptr(&X.fm, buf + 0x1000), sizeof(oh));
	memcpy(&io, fmem_ptr(&X.fm, buf + 0x1000 + sizeof(oh)), sizeof(io));
	T_CHECK(oh.error == 0 && oh.unique == 9 && io.major == 7 && io.max_pages == FS_MAX_PAGES,
		"INIT through mmio: error %d major %u", oh.error, io.major);
	T_CHECK(mrd(&m, MMIO_R_INTERRUPT_STATUS) & MMIO_INT_VRING, "no interrupt");
	/* the driver goes away: the session is forgotten */
	mwr(&m, MMIO_R_STATUS, 0);
	T_CHECK(!fx_dev()->started && !X.f.fuse.inited, "reset did not reach the back end");
	mmio_dev_fini(&m);
	mmio_bus_fini(&bus);
	loop_fini(&l);
}

/* One vhost-user request with no body; returns its u64 reply or ~0. */
static uint64_t vu_ask(struct loop *l, int fd, uint32_t req)
{
	uint32_t h[3] = { req, 1, 0 };
	struct pollfd p = { fd, POLLIN, 0 };
	uint64_t v = ~0ULL;

	if (write(fd, h, 12) != 12)
		return v;
	for (int i = 0; i < 100 && poll(&p, 1, 0) == 0; i++)
		loop_once(l, 10);
	if (read(fd, h, 12) != 12 || h[0] != req || h[2] != 8 || read(fd, &v, 8) != 8)
		return ~0ULL;
	return v;
}

static void vu_quiet(struct vhost_server *s, const char *why)
{
}

/* qemu's vhost-user-fs-device serves the config space itself and warns
 * about a back end offering CONFIG; it hands over both queues. */
static void test_fs_dev_vhost_user(void)
{
	struct vhost_server s;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct loop l;
	uint64_t f, p;
	int fd;

	T_REQUIRE(fx_boot(false) == 0, "boot");
	fx_dev()->ops->reset(fx_dev());
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vu.sock", X.dir);
	T_REQUIRE(loop_init(&l) == 0, "loop");
	T_REQUIRE(vhost_server_init(&s, &l, fx_dev(), a.sun_path) == 0, "vhost_server_init");
	s.on_end = vu_quiet;
	T_CHECK(s.nq == 2, "hands over %u queues", s.nq);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	loop_once(&l, 100);
	f = vu_ask(&l, fd, 1 /* GET_FEATURES */);
	p = vu_ask(&l, fd, 15 /* GET_PROTOCOL_FEATURES */);
	T_CHECK(f != ~0ULL && (f & VIRTIO_F_VERSION_1) && (f & VHOST_USER_F_PROTOCOL_FEATURES),
		"features %#llx", (unsigned long long)f);
	T_CHECK(p != ~0ULL && !(p & (1ULL << VHOST_USER_PROTOCOL_F_CONFIG)) &&
		(p & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK)), "protocol features %#llx",
		(unsigned long long)p);
	close(fd);
	loop_once(&l, 10);
	vhost_server_fini(&s);
	loop_fini(&l);
}

int main(void)
{
	T_RUN(test_fs_dev_identity_config);
	T_RUN(test_fs_dev_short_and_lying);
	T_RUN(test_fs_dev_scattered_read);
	T_RUN(test_fs_dev_bad_chain_fails);
	T_RUN(test_fs_dev_budget_and_signals);
	T_RUN(test_fs_dev_index_wrap);
	T_RUN(test_fs_dev_through_mmio);
	T_RUN(test_fs_dev_vhost_user);
	fx_done();
	T_EXIT();
}
