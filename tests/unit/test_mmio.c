/* The virtio-mmio transport's register state machine, driven the way
 * Linux's virtio_mmio driver drives it (probe, reset, feature negotiation,
 * queue set-up, DRIVER_OK, notify, interrupt ack, config reads, reset),
 * over fake guest memory and the echo back end of kvm_guest.h; once inline
 * (no I/O thread) and once with the device loop on its own thread, as in
 * the VM. Also the hostile cases: bad widths, unaligned and unknown
 * registers, features never offered, a broken ring (NEEDS_RESET). And the
 * real vsock back end reached through the transport: a host CONNECT
 * arrives in the guest's RX queue as an OP_REQUEST, with an interrupt. */
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm/mmio.h"
#include "virtio/vsock.h"
#include "kvm_guest.h"
#include "t.h"

#define MEM_SIZE (1u << 20)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF_OUT 0x4000
#define BUF_IN 0x5000

struct ctx {
	uint8_t *ram;
	struct gmem mem;
	struct loop loop;
	struct mmio_bus bus;
	struct mmio_dev m;
	struct tg_echo echo;
	pthread_t io;
	bool threaded;
};

static uint32_t rd(struct ctx *c, uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	mmio_dev_read(&c->m, off, &v, 4);
	return v;
}

static void wr(struct ctx *c, uint64_t off, uint32_t v)
{
	mmio_dev_write(&c->m, off, &v, 4);
}

static void *io_thread(void *arg)
{
	struct ctx *c = arg;
	loop_run(&c->loop);
	return NULL;
}

static int ctx_init(struct ctx *c, bool threaded)
{
	struct gmem_region r = { .gpa = 0, .size = MEM_SIZE };

	memset(c, 0, sizeof(*c));
	c->ram = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->ram == MAP_FAILED)
		return -errno;
	r.hva = c->ram;
	if (gmem_add(&c->mem, &r) || loop_init(&c->loop) || mmio_bus_init(&c->bus, &c->loop))
		return -EINVAL;
	tg_echo_init(&c->echo);
	if (mmio_dev_init(&c->m, &c->bus, &c->echo.dev, &c->mem, 0xfeb00000, 0x200, 5))
		return -EINVAL;
	if (threaded) {
		mmio_bus_set_threaded(&c->bus, true);
		c->threaded = true;
		pthread_create(&c->io, NULL, io_thread, c);
	}
	return 0;
}

/* Stops the I/O thread (from inside the loop, as the VM does). */
static void stop_cb(struct loop_watch *w, uint32_t ev)
{
	loop_stop(w->ctx, 0);
}

static void ctx_fini(struct ctx *c)
{
	if (c->threaded) {
		int fd = eventfd(0, EFD_CLOEXEC);
		struct loop_watch w = { .fd = fd, .cb = stop_cb, .ctx = &c->loop };
		uint64_t one = 1;
		loop_add(&c->loop, &w, EPOLLIN);
		if (write(fd, &one, 8) != 8)
			abort();
		pthread_join(c->io, NULL);
		mmio_bus_set_threaded(&c->bus, false);
		loop_del(&c->loop, &w);
		close(fd);
	}
	mmio_dev_fini(&c->m);
	mmio_bus_fini(&c->bus);
	loop_fini(&c->loop);
	munmap(c->ram, MEM_SIZE);
}

/* Waits (at most 2 s) for the device to interrupt: dispatches the loop
 * inline, or polls the irqfd the I/O thread writes. Returns true once the
 * irq eventfd is readable (its count is left for irq_count()). */
static bool wait_irq(struct ctx *c)
{
	struct pollfd p = { .fd = c->m.irq_fd, .events = POLLIN };

	for (int i = 0; i < 200; i++) {
		if (!c->threaded)
			loop_once(&c->loop, 10);
		if (poll(&p, 1, c->threaded ? 2000 : 0) == 1)
			return true;
		if (c->threaded)
			return false;
	}
	return false;
}

/* The probe and negotiation of Linux's virtio_mmio_probe() and
 * virtio_dev_probe(). Returns the status after FEATURES_OK. */
static uint32_t negotiate(struct ctx *c, uint32_t feat_lo, uint32_t feat_hi)
{
	wr(c, MMIO_R_STATUS, 0);
	wr(c, MMIO_R_STATUS, VIRTIO_S_ACKNOWLEDGE);
	wr(c, MMIO_R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(c, MMIO_R_DRV_FEATURES_SEL, 1);
	wr(c, MMIO_R_DRV_FEATURES, feat_hi);
	wr(c, MMIO_R_DRV_FEATURES_SEL, 0);
	wr(c, MMIO_R_DRV_FEATURES, feat_lo);
	wr(c, MMIO_R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	return rd(c, MMIO_R_STATUS);
}

static void setup_queue(struct ctx *c, uint16_t num)
{
	wr(c, MMIO_R_QUEUE_SEL, 0);
	wr(c, MMIO_R_QUEUE_NUM, num);
	wr(c, MMIO_R_QUEUE_DESC_LO, DESC);
	wr(c, MMIO_R_QUEUE_DESC_HI, 0);
	wr(c, MMIO_R_QUEUE_AVAIL_LO, AVAIL);
	wr(c, MMIO_R_QUEUE_AVAIL_HI, 0);
	wr(c, MMIO_R_QUEUE_USED_LO, USED);
	wr(c, MMIO_R_QUEUE_USED_HI, 0);
	wr(c, MMIO_R_QUEUE_READY, 1);
}

/* Posts one "out" + 16-byte "in" chain as avail entry idx; desc_addr is
 * the out buffer's guest address (hostile tests give a bad one). */
static void post(struct ctx *c, uint16_t idx, uint64_t desc_addr, const char *msg)
{
	struct vring_desc_le *d = (void *)(c->ram + DESC);
	uint16_t *avail = (void *)(c->ram + AVAIL);
	uint16_t slot = (uint16_t)(idx * 2 % 8);

	memcpy(c->ram + BUF_OUT, msg, strlen(msg));
	d[slot] = (struct vring_desc_le){ desc_addr, (uint32_t)strlen(msg), 1, (uint16_t)(slot + 1) };
	d[slot + 1] = (struct vring_desc_le){ BUF_IN, 16, 2, 0 };
	avail[2 + idx % 8] = slot;
	__atomic_store_n(&avail[1], (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static uint64_t irq_count(struct ctx *c)
{
	uint64_t v = 0;
	if (read(c->m.irq_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void linux_sequence(bool threaded)
{
	struct ctx c;
	uint16_t *used;
	uint8_t cfg[8];

	T_REQUIRE(ctx_init(&c, threaded) == 0, "set-up");
	used = (void *)(c.ram + USED);
	/* probe */
	T_CHECK(rd(&c, MMIO_R_MAGIC) == MMIO_MAGIC, "magic");
	T_CHECK(rd(&c, MMIO_R_VERSION) == 2, "version");
	T_CHECK(rd(&c, MMIO_R_DEVICE_ID) == TG_DEVID, "device id");
	T_CHECK(rd(&c, MMIO_R_VENDOR_ID) == MMIO_VENDOR, "vendor");
	/* features: both windows */
	wr(&c, MMIO_R_DEV_FEATURES_SEL, 0);
	T_CHECK(rd(&c, MMIO_R_DEV_FEATURES) == (uint32_t)VIRTIO_RING_F_EVENT_IDX, "features lo %x",
		rd(&c, MMIO_R_DEV_FEATURES));
	wr(&c, MMIO_R_DEV_FEATURES_SEL, 1);
	T_CHECK(rd(&c, MMIO_R_DEV_FEATURES) == 1, "features hi (VERSION_1)");
	wr(&c, MMIO_R_DEV_FEATURES_SEL, 2);
	T_CHECK(rd(&c, MMIO_R_DEV_FEATURES) == 0, "features window 2");
	/* refused feature sets */
	T_CHECK(!(negotiate(&c, 0, 0) & VIRTIO_S_FEATURES_OK), "FEATURES_OK without VERSION_1");
	T_CHECK(!(negotiate(&c, 1u << 5, 1) & VIRTIO_S_FEATURES_OK), "FEATURES_OK with a feature never offered");
	/* accepted, with EVENT_IDX */
	T_CHECK(negotiate(&c, (uint32_t)VIRTIO_RING_F_EVENT_IDX, 1) & VIRTIO_S_FEATURES_OK, "FEATURES_OK refused");
	T_CHECK(c.echo.dev.acked == (VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX), "acked %llx",
		(unsigned long long)c.echo.dev.acked);
	/* queues */
	wr(&c, MMIO_R_QUEUE_SEL, 1);
	T_CHECK(rd(&c, MMIO_R_QUEUE_NUM_MAX) == 0, "queue 1 does not exist");
	wr(&c, MMIO_R_QUEUE_SEL, 0);
	T_CHECK(rd(&c, MMIO_R_QUEUE_NUM_MAX) == 256, "queue 0 max");
	T_CHECK(rd(&c, MMIO_R_QUEUE_READY) == 0, "queue 0 ready before set-up");
	setup_queue(&c, 8);
	T_CHECK(rd(&c, MMIO_R_QUEUE_READY) == 1, "queue 0 not ready");
	wr(&c, MMIO_R_QUEUE_DESC_LO, 0x9000); /* ignored once ready */
	T_CHECK(c.echo.dev.vq[0].desc_gpa == DESC, "desc changed while ready");
	wr(&c, MMIO_R_STATUS, 0xf);
	T_CHECK(rd(&c, MMIO_R_STATUS) == 0xf, "status %x", rd(&c, MMIO_R_STATUS));
	T_CHECK(c.echo.started == 1 && c.echo.dev.started, "back end not started");
	T_CHECK(c.echo.dev.vq[0].event_idx, "event_idx not on the queue");
	/* config space: 1, 2, 4 and 8 byte reads; past the end is dropped */
	memset(cfg, 0, sizeof(cfg));
	mmio_dev_read(&c.m, MMIO_R_CONFIG + 2, cfg, 2);
	T_CHECK(cfg[0] == 0xc2 && cfg[1] == 0xc3, "config bytes %x %x", cfg[0], cfg[1]);
	mmio_dev_read(&c.m, MMIO_R_CONFIG, cfg, 8);
	T_CHECK(cfg[7] == 0xc7, "config 8-byte read");
	uint64_t bad = c.m.n_bad;
	mmio_dev_read(&c.m, MMIO_R_CONFIG + 6, cfg, 4);
	T_CHECK(c.m.n_bad == bad + 1 && cfg[0] == 0, "config read past the end not dropped");
	/* notify -> back end -> used ring -> interrupt */
	used[2 + 8 * 2 + 0] = 0; /* avail_event unused by us */
	post(&c, 0, BUF_OUT, "hello");
	wr(&c, MMIO_R_QUEUE_NOTIFY, 0);
	T_REQUIRE(wait_irq(&c), "no interrupt after the notify");
	T_CHECK(c.echo.chains == 1, "chains %lu", (unsigned long)c.echo.chains);
	T_CHECK(!memcmp(c.ram + BUF_IN, "HELLO", 5), "reply %.5s", (char *)c.ram + BUF_IN);
	T_CHECK(used[1] == 1, "used idx %u", used[1]);
	T_CHECK(rd(&c, MMIO_R_INTERRUPT_STATUS) == MMIO_INT_VRING, "isr %x", rd(&c, MMIO_R_INTERRUPT_STATUS));
	T_CHECK(irq_count(&c) == 1, "irqfd not written");
	wr(&c, MMIO_R_INTERRUPT_ACK, MMIO_INT_VRING);
	T_CHECK(rd(&c, MMIO_R_INTERRUPT_STATUS) == 0, "isr not acked");
	/* notify for a queue that does not exist: counted, no crash */
	bad = c.m.n_bad;
	wr(&c, MMIO_R_QUEUE_NOTIFY, 3);
	T_CHECK(c.m.n_bad == bad + 1, "bad notify not counted");
	/* wrong widths, unaligned and unknown registers */
	uint16_t w16 = 7;
	bad = c.m.n_bad;
	mmio_dev_write(&c.m, MMIO_R_STATUS, &w16, 2);
	mmio_dev_read(&c.m, MMIO_R_STATUS + 1, &w16, 2);
	T_CHECK(rd(&c, 0x0e8) == 0, "unknown register");
	T_CHECK(c.m.n_bad == bad + 3 && rd(&c, MMIO_R_STATUS) == 0xf, "bad accesses: %lu",
		(unsigned long)(c.m.n_bad - bad));
	/* a driver may not clear status bits */
	wr(&c, MMIO_R_STATUS, 0x3);
	T_CHECK(rd(&c, MMIO_R_STATUS) == 0xf, "status bits cleared");
	/* hostile ring: a descriptor outside guest memory -> NEEDS_RESET */
	post(&c, 1, 0x7fff0000, "bad");
	wr(&c, MMIO_R_QUEUE_NOTIFY, 0);
	T_CHECK(wait_irq(&c), "no interrupt after a bad chain");
	T_CHECK(rd(&c, MMIO_R_STATUS) & VIRTIO_S_NEEDS_RESET, "no NEEDS_RESET after a bad chain");
	T_CHECK(rd(&c, MMIO_R_INTERRUPT_STATUS) & MMIO_INT_CONFIG, "no config interrupt with NEEDS_RESET");
	/* reset */
	wr(&c, MMIO_R_STATUS, 0);
	T_CHECK(rd(&c, MMIO_R_STATUS) == 0 && rd(&c, MMIO_R_INTERRUPT_STATUS) == 0, "reset: status/isr");
	T_CHECK(c.echo.resets == 1 && !c.echo.dev.started && !c.echo.dev.failed, "reset: back end");
	T_CHECK(rd(&c, MMIO_R_QUEUE_READY) == 0 && c.echo.dev.vq[0].num == 0, "reset: queue");
	/* and the device works again after the reset */
	memset(c.ram + DESC, 0, 0x5000);
	irq_count(&c);
	T_CHECK(negotiate(&c, 0, 1) & VIRTIO_S_FEATURES_OK, "FEATURES_OK after reset");
	setup_queue(&c, 4);
	wr(&c, MMIO_R_STATUS, 0xf);
	post(&c, 0, BUF_OUT, "again");
	wr(&c, MMIO_R_QUEUE_NOTIFY, 0);
	T_CHECK(wait_irq(&c) && c.echo.chains == 2, "no chain after reset");
	T_CHECK(!memcmp(c.ram + BUF_IN, "AGAIN", 5), "reply after reset");
	T_CHECK(!c.echo.dev.vq[0].event_idx, "event_idx left on");
	ctx_fini(&c);
	T_CHECK(c.echo.resets == 2, "teardown did not reset the started back end");
}

static void test_linux_sequence_inline(void) { linux_sequence(false); }
static void test_linux_sequence_io_thread(void) { linux_sequence(true); }

static void test_bad_setup(void)
{
	struct ctx c;
	struct ctx *cp = &c;

	T_REQUIRE(ctx_init(cp, false) == 0, "set-up");
	T_CHECK(negotiate(cp, 0, 1) & VIRTIO_S_FEATURES_OK, "features");
	/* queue size not a power of two, and too large */
	wr(cp, MMIO_R_QUEUE_SEL, 0);
	wr(cp, MMIO_R_QUEUE_NUM, 6);
	wr(cp, MMIO_R_QUEUE_READY, 1);
	T_CHECK(rd(cp, MMIO_R_QUEUE_READY) == 0, "size 6 accepted");
	wr(cp, MMIO_R_QUEUE_NUM, 512);
	wr(cp, MMIO_R_QUEUE_READY, 1);
	T_CHECK(rd(cp, MMIO_R_QUEUE_READY) == 0, "size 512 > max accepted");
	/* rings outside memory: DRIVER_OK leads to NEEDS_RESET, not a start */
	setup_queue(cp, 8);
	wr(cp, MMIO_R_QUEUE_READY, 0);
	wr(cp, MMIO_R_QUEUE_USED_LO, 0xfffff000);
	wr(cp, MMIO_R_QUEUE_READY, 1);
	wr(cp, MMIO_R_STATUS, 0xf);
	T_CHECK(rd(cp, MMIO_R_STATUS) & VIRTIO_S_NEEDS_RESET, "rings outside memory started");
	T_CHECK(!c.echo.dev.started, "back end started on bad rings");
	/* DRIVER_OK without FEATURES_OK is refused */
	wr(cp, MMIO_R_STATUS, 0);
	wr(cp, MMIO_R_STATUS, 3);
	wr(cp, MMIO_R_STATUS, 7);
	T_CHECK(!(rd(cp, MMIO_R_STATUS) & VIRTIO_S_DRIVER_OK) && !c.echo.dev.started, "DRIVER_OK before FEATURES_OK");
	ctx_fini(cp);
}

/* Sets up queue qi of c's window with rings at base (desc), base+0x400
 * (avail), base+0x800 (used). */
static void setup_queue_at(struct ctx *c, unsigned qi, uint16_t num, uint32_t base)
{
	wr(c, MMIO_R_QUEUE_SEL, qi);
	wr(c, MMIO_R_QUEUE_NUM, num);
	wr(c, MMIO_R_QUEUE_DESC_LO, base);
	wr(c, MMIO_R_QUEUE_AVAIL_LO, base + 0x400);
	wr(c, MMIO_R_QUEUE_USED_LO, base + 0x800);
	wr(c, MMIO_R_QUEUE_READY, 1);
}

static void test_vsock_through_mmio(void)
{
	struct ctx c;
	struct vsock_dev vs;
	struct gmem_region r = { .gpa = 0, .size = MEM_SIZE };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t cid = 0;
	uint16_t *avail, *used;
	struct vring_desc_le *d;
	int fd;

	memset(&c, 0, sizeof(c));
	c.ram = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_REQUIRE(c.ram != MAP_FAILED, "mmap");
	r.hva = c.ram;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/vb-kvm-mmio-%d.sock", (int)getpid());
	T_REQUIRE(!gmem_add(&c.mem, &r) && !loop_init(&c.loop) && !mmio_bus_init(&c.bus, &c.loop), "set-up");
	T_REQUIRE(vsock_dev_init(&vs, &c.loop, 5, sa.sun_path) == 0, "vsock_dev_init");
	T_REQUIRE(mmio_dev_init(&c.m, &c.bus, vsock_dev_vdev(&vs), &c.mem, 0xfeb00000, 0x200, 5) == 0, "mmio_dev_init");
	T_CHECK(rd(&c, MMIO_R_DEVICE_ID) == VIRTIO_ID_VSOCK, "device id %u", rd(&c, MMIO_R_DEVICE_ID));
	wr(&c, MMIO_R_DEV_FEATURES_SEL, 1);
	T_CHECK(rd(&c, MMIO_R_DEV_FEATURES) & 1, "VERSION_1 not offered");
	T_CHECK(negotiate(&c, 0, 1) & VIRTIO_S_FEATURES_OK, "FEATURES_OK");
	mmio_dev_read(&c.m, MMIO_R_CONFIG, &cid, 8);
	T_CHECK(cid == 5, "guest_cid %llu", (unsigned long long)cid);
	for (unsigned q = 0; q < 3; q++)
		setup_queue_at(&c, q, 8, 0x10000 + q * 0x1000);
	wr(&c, MMIO_R_STATUS, 0xf);
	T_CHECK(rd(&c, MMIO_R_STATUS) == 0xf && vs.vdev.started, "vsock not started: status %x", rd(&c, MMIO_R_STATUS));
	/* four RX buffers of 4 KiB, then the RX notify */
	d = (void *)(c.ram + 0x10000);
	avail = (void *)(c.ram + 0x10400);
	used = (void *)(c.ram + 0x10800);
	for (uint16_t i = 0; i < 4; i++) {
		d[i] = (struct vring_desc_le){ 0x20000 + i * 0x1000, 0x1000, 2, 0 };
		avail[2 + i] = i;
	}
	__atomic_store_n(&avail[1], 4, __ATOMIC_RELEASE);
	wr(&c, MMIO_R_QUEUE_NOTIFY, VSOCK_RXQ);
	/* a host program connects to guest port 1024 */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s", sa.sun_path);
	T_REQUIRE(write(fd, "CONNECT 1024\n", 13) == 13, "write CONNECT");
	T_REQUIRE(wait_irq(&c), "no interrupt for the connection request");
	T_CHECK(used[1] >= 1, "used idx %u", used[1]);
	const uint8_t *h = c.ram + 0x20000 + 0x1000 * (((uint32_t *)(used + 2))[0]);
	uint64_t src_cid, dst_cid;
	uint32_t dst_port;
	uint16_t type, op;
	memcpy(&src_cid, h, 8);
	memcpy(&dst_cid, h + 8, 8);
	memcpy(&dst_port, h + 20, 4);
	memcpy(&type, h + 28, 2);
	memcpy(&op, h + 30, 2);
	T_CHECK(src_cid == 2 && dst_cid == 5 && dst_port == 1024 && type == 1 && op == 1,
		"packet: %llu -> %llu port %u type %u op %u", (unsigned long long)src_cid,
		(unsigned long long)dst_cid, dst_port, type, op);
	T_CHECK(rd(&c, MMIO_R_INTERRUPT_STATUS) == MMIO_INT_VRING, "isr");
	wr(&c, MMIO_R_INTERRUPT_ACK, MMIO_INT_VRING);
	/* the driver goes away: reset reaches the back end */
	wr(&c, MMIO_R_STATUS, 0);
	T_CHECK(!vs.vdev.started && rd(&c, MMIO_R_STATUS) == 0, "reset");
	close(fd);
	mmio_dev_fini(&c.m);
	vsock_dev_fini(&vs);
	mmio_bus_fini(&c.bus);
	loop_fini(&c.loop);
	munmap(c.ram, MEM_SIZE);
}

int main(void)
{
	T_RUN(test_linux_sequence_inline);
	T_RUN(test_linux_sequence_io_thread);
	T_RUN(test_bad_setup);
	T_RUN(test_vsock_through_mmio);
	T_EXIT();
}
