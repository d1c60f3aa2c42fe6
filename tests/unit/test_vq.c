/* Hostile-ring tests of the split virtqueue (virtio/queue.c): a fake driver
 * writes rings into fake guest memory, honestly and then breaking every
 * rule we know of (loops, addresses outside the map, huge lengths, bad
 * sizes, indirect abuse, avail index jumps), and the queue must refuse each
 * without crashing (ASan/UBSan build). The wrap test pushes >70,000 chains
 * through a 4-entry queue and checks every one. */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"
#include "t.h"
#include "test_vq_driver.h"
#include "virtio/queue.h"

#define MEM_GPA 0x100000
#define MEM_SIZE (1 << 20)

static uint8_t mem_buf[MEM_SIZE] __attribute__((aligned(4096)));
static struct fake_mem fm;
static struct vq q;
static struct fake_drv drv;
static struct vq_chain ch;

/* Fresh memory and a started queue of num entries. */
static int setup(uint16_t num, bool indirect, bool event_idx)
{
	fmem_init(&fm, mem_buf, MEM_GPA, MEM_SIZE);
	memset(&q, 0, sizeof(q));
	q.kick_fd = q.call_fd = -1;
	q.indirect = indirect;
	q.event_idx = event_idx;
	fdrv_init(&drv, &fm, &q, num);
	return vq_start(&q, &fm.map);
}

static void test_start_validation(void)
{
	static const uint16_t bad_sizes[] = { 0, 3, 6, 100, 1000 };

	for (unsigned i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		setup(8, false, false);
		q.num = bad_sizes[i];
		T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "size %u accepted", bad_sizes[i]);
		T_CHECK(!q.ready, "not ready after refusal");
	}
	setup(8, false, false);
	q.num = 65535;
	T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "size 65535 accepted");
	T_CHECK(setup(8, false, false) == 0, "good queue refused");
	q.desc_gpa += 8;
	T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "misaligned desc");
	setup(8, false, false);
	q.used_gpa += 2;
	T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "misaligned used");
	setup(8, false, false);
	q.avail_gpa = 0x1000; /* below the map */
	T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "avail outside the map");
	setup(8, false, false);
	q.desc_gpa = MEM_GPA + MEM_SIZE - 64; /* table runs past the end */
	T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "desc crossing the end");
	setup(8, false, false);
	q.used_gpa = UINT64_MAX - 15;
	T_CHECK(vq_start(&q, &fm.map) == -EINVAL, "used at address wrap");
	/* a queue never started yields nothing and survives push/signal */
	memset(&q, 0, sizeof(q));
	q.kick_fd = q.call_fd = -1;
	T_CHECK(vq_pop(&q, &ch) == 0, "pop on a zero-sized, unstarted queue");
	vq_push(&q, 0, 0);
	T_CHECK(vq_signal(&q) == 0, "signal on an unstarted queue");
	T_CHECK(!vq_has_avail(&q), "has_avail on an unstarted queue");
}

static void test_good_chain(void)
{
	uint64_t a = fmem_alloc(&fm, 0, 1);
	struct fseg s[3];
	char out[32];

	T_REQUIRE(setup(8, false, false) == 0, "setup");
	a = fmem_alloc(&fm, 300, 16);
	memcpy(fmem_ptr(&fm, a), "hello, device", 13);
	s[0] = (struct fseg){ a, 13, 0 };
	s[1] = (struct fseg){ a + 100, 100, 1 };
	s[2] = (struct fseg){ a + 200, 50, 1 };
	fdrv_add(&drv, s, 3);
	T_CHECK(vq_has_avail(&q), "avail");
	T_REQUIRE(vq_pop(&q, &ch) == 1, "pop");
	T_CHECK(ch.n_out == 1 && ch.n_in == 2 && ch.out_len == 13 && ch.in_len == 150, "shape");
	T_CHECK(vq_chain_read(&ch, 0, out, sizeof(out)) == 13 && !memcmp(out, "hello, device", 13),
		"read");
	T_CHECK(vq_chain_read(&ch, 7, out, 3) == 3 && !memcmp(out, "dev", 3), "read at offset");
	memset(out, 'x', sizeof(out));
	T_CHECK(vq_chain_write(&ch, 90, out, 20) == 20, "write across two segments");
	T_CHECK(!memcmp(fmem_ptr(&fm, a + 190), "xxxxxxxxxx", 10) &&
		!memcmp(fmem_ptr(&fm, a + 200), "xxxxxxxxxx", 10), "bytes landed in both");
	T_CHECK(vq_chain_write(&ch, 140, out, 20) == 10, "write past the end is cut short");
	vq_push(&q, ch.head, 150);
	{
		uint32_t id, len;
		T_CHECK(fdrv_used(&drv, &id, &len) == 1 && id == ch.head && len == 150, "used entry");
	}
	T_CHECK(vq_pop(&q, &ch) == 0, "nothing more");
}

/* Publishes one raw head, leaving descriptor contents to the caller. */
static void publish(uint16_t head)
{
	drv.avail[2 + drv.avail_idx % drv.num] = head;
	drv.avail_idx++;
	drv.avail[1] = drv.avail_idx;
}

/* Expects the next pop to break the queue, and the queue to stay broken. */
static void expect_broken(const char *what)
{
	T_CHECK(vq_pop(&q, &ch) == -EINVAL, "%s: accepted", what);
	T_CHECK(q.broken, "%s: queue not marked broken", what);
	T_CHECK(vq_pop(&q, &ch) == -EINVAL, "%s: usable after breaking", what);
	T_CHECK(!vq_has_avail(&q), "%s: has_avail on a broken queue", what);
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	drv.desc[i] = (struct vring_desc_le){ addr, len, flags, next };
}

static void test_loops(void)
{
	uint64_t buf;

	setup(8, false, false);
	buf = fmem_alloc(&fm, 64, 16);
	set_desc(0, buf, 16, FD_DESC_F_NEXT, 0); /* self loop */
	publish(0);
	expect_broken("self loop");

	setup(8, false, false);
	buf = fmem_alloc(&fm, 64, 16);
	for (uint16_t i = 0; i < 8; i++) /* ring-wide cycle */
		set_desc(i, buf, 16, FD_DESC_F_NEXT, (uint16_t)((i + 1) % 8));
	publish(3);
	expect_broken("8-descriptor cycle");

	/* 64 segments is the limit: accepted; 65 is not */
	setup(128, false, false);
	buf = fmem_alloc(&fm, 64, 16);
	for (uint16_t i = 0; i < 64; i++)
		set_desc(i, buf, 1, i < 63 ? FD_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(0);
	T_CHECK(vq_pop(&q, &ch) == 1 && ch.n_out == 64, "64-segment chain refused");
	for (uint16_t i = 0; i < 65; i++)
		set_desc(i, buf, 1, i < 64 ? FD_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(0);
	expect_broken("65-segment chain");
}

static void test_bad_addresses(void)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
		const char *what;
	} cases[] = {
		{ 0, 16, "address below the map" },
		{ MEM_GPA + MEM_SIZE, 1, "address just past the map" },
		{ MEM_GPA + MEM_SIZE - 8, 16, "buffer crossing the end" },
		{ MEM_GPA, 0xffffffff, "huge length" },
		{ UINT64_MAX - 4, 16, "address wrapping 2^64" },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		setup(8, false, false);
		set_desc(0, cases[i].addr, cases[i].len, 0, 0);
		publish(0);
		expect_broken(cases[i].what);
	}
	setup(8, false, false);
	set_desc(0, MEM_GPA, 16, FD_DESC_F_NEXT, 8); /* next out of the table */
	publish(0);
	expect_broken("next index >= num");

	setup(8, false, false);
	publish(8); /* head out of the table */
	expect_broken("head index >= num");

	setup(8, false, false);
	set_desc(0, MEM_GPA, 16, FD_DESC_F_WRITE | FD_DESC_F_NEXT, 1);
	set_desc(1, MEM_GPA, 16, 0, 0);
	publish(0);
	expect_broken("readable after writable");

	/* zero-length descriptors are legal (and harmless) */
	setup(8, false, false);
	set_desc(0, MEM_GPA, 0, 0, 0);
	publish(0);
	T_CHECK(vq_pop(&q, &ch) == 1 && ch.out_len == 0, "zero-length descriptor refused");
}

static void test_avail_jump(void)
{
	setup(8, false, false);
	set_desc(0, MEM_GPA, 16, 0, 0);
	drv.avail[1] = 9; /* 9 new entries in an 8-entry ring */
	expect_broken("avail idx jumping by num+1");

	setup(8, false, false);
	set_desc(0, MEM_GPA, 16, 0, 0);
	drv.avail[1] = 0x8000;
	expect_broken("avail idx jumping far");

	/* exactly num outstanding is legal */
	setup(8, false, false);
	for (uint16_t i = 0; i < 8; i++) {
		set_desc(i, MEM_GPA, 16, 0, 0);
		publish(i);
	}
	for (int i = 0; i < 8; i++)
		T_CHECK(vq_pop(&q, &ch) == 1, "chain %d of a full ring refused", i);
	T_CHECK(vq_pop(&q, &ch) == 0, "more than published");
}

static void test_indirect(void)
{
	struct vring_desc_le *t;
	uint64_t tab, buf;

	/* not negotiated */
	setup(8, false, false);
	tab = fmem_alloc(&fm, 64, 16);
	buf = fmem_alloc(&fm, 64, 16);
	t = fmem_ptr(&fm, tab);
	t[0] = (struct vring_desc_le){ buf, 8, 0, 0 };
	set_desc(0, tab, 16, FD_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("indirect without the feature");

	/* negotiated and honest: accepted */
	setup(8, true, false);
	tab = fmem_alloc(&fm, 64, 16);
	buf = fmem_alloc(&fm, 64, 16);
	t = fmem_ptr(&fm, tab);
	t[0] = (struct vring_desc_le){ buf, 8, FD_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc_le){ buf + 8, 24, FD_DESC_F_WRITE, 0 };
	set_desc(0, tab, 32, FD_DESC_F_INDIRECT, 0);
	publish(0);
	T_CHECK(vq_pop(&q, &ch) == 1 && ch.n_out == 1 && ch.n_in == 1 && ch.in_len == 24,
		"honest indirect refused");

	static const struct {
		uint32_t len;
		uint16_t flags;
		int nested, loop, next_oob, out_of_map;
		const char *what;
	} cases[] = {
		{ 0, 0, 0, 0, 0, 0, "zero-length table" },
		{ 24, 0, 0, 0, 0, 0, "table length not a multiple of 16" },
		{ 32, FD_DESC_F_NEXT, 0, 0, 0, 0, "indirect with NEXT" },
		{ 32, 0, 1, 0, 0, 0, "nested indirect" },
		{ 32, 0, 0, 1, 0, 0, "loop inside the table" },
		{ 32, 0, 0, 0, 1, 0, "next beyond the table" },
		{ 32, 0, 0, 0, 0, 1, "table outside the map" },
		{ 0x100000, 0, 0, 0, 0, 0, "table larger than the map" },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		setup(8, true, false);
		tab = fmem_alloc(&fm, 64, 16);
		buf = fmem_alloc(&fm, 64, 16);
		t = fmem_ptr(&fm, tab);
		t[0] = (struct vring_desc_le){ buf, 8, FD_DESC_F_NEXT, 1 };
		t[1] = (struct vring_desc_le){ buf, 8, 0, 0 };
		if (cases[i].nested)
			t[1] = (struct vring_desc_le){ tab, 32, FD_DESC_F_INDIRECT, 0 };
		if (cases[i].loop)
			t[1] = (struct vring_desc_le){ buf, 8, FD_DESC_F_NEXT, 0 };
		if (cases[i].next_oob)
			t[1] = (struct vring_desc_le){ buf, 8, FD_DESC_F_NEXT, 2 };
		set_desc(0, cases[i].out_of_map ? 0x2000 : tab, cases[i].len,
			 (uint16_t)(FD_DESC_F_INDIRECT | cases[i].flags), 1);
		set_desc(1, buf, 8, 0, 0);
		publish(0);
		expect_broken(cases[i].what);
	}
}

/* >70,000 chains through a 4-entry queue: the 16-bit indexes wrap past
 * 65535 and every chain must come out with its own bytes, every used entry
 * with its own head and length, and interrupts as event_idx asks. */
static void test_wrap(void)
{
	uint64_t bufs[4];
	unsigned bad = 0, used_bad = 0;
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t ev = 0;

	T_REQUIRE(efd >= 0, "eventfd");
	T_REQUIRE(setup(4, false, true) == 0, "setup");
	q.call_fd = efd;
	for (int i = 0; i < 4; i++)
		bufs[i] = fmem_alloc(&fm, 8, 16);
	for (uint32_t n = 0; n < 70000 + 17; n++) {
		uint32_t v = n * 2654435761u, got = 0, id, len;
		uint64_t b = bufs[n % 4];
		struct fseg s[2] = { { b, 4, 0 }, { b + 4, 4, 1 } };
		uint16_t head;

		memcpy(fmem_ptr(&fm, b), &v, 4);
		head = fdrv_add(&drv, s, 2);
		/* the driver asks for an interrupt on every used entry */
		drv.avail[2 + 4] = (uint16_t)(drv.used_seen);
		if (vq_pop(&q, &ch) != 1 || ch.head != head || ch.n_out != 1 || ch.n_in != 1) {
			bad++;
			break;
		}
		vq_chain_read(&ch, 0, &got, 4);
		if (got != v)
			bad++;
		got = ~v;
		vq_chain_write(&ch, 0, &got, 4);
		vq_push(&q, ch.head, 4 + (n & 0xff));
		if (vq_signal(&q) != 1)
			bad++;
		if (fdrv_used(&drv, &id, &len) != 1 || id != head || len != 4 + (n & 0xff))
			used_bad++;
		memcpy(&got, fmem_ptr(&fm, b + 4), 4);
		if (got != ~v)
			bad++;
	}
	T_CHECK(!bad && !used_bad, "%u chains wrong, %u used entries wrong", bad, used_bad);
	T_CHECK(q.n_pop == 70017 && q.n_push == 70017, "counted %llu/%llu",
		(unsigned long long)q.n_pop, (unsigned long long)q.n_push);
	T_CHECK(q.last_avail == (uint16_t)70017 && drv.used[1] == (uint16_t)70017, "indexes wrapped");
	T_CHECK(read(efd, &ev, 8) == 8 && ev == 70017, "signals: %llu", (unsigned long long)ev);
	close(efd);
}

static void test_signal_suppression(void)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t b, ev = 0;
	struct fseg s = { 0, 8, 1 };

	T_REQUIRE(efd >= 0, "eventfd");
	setup(8, false, false);
	q.call_fd = efd;
	b = fmem_alloc(&fm, 8, 8);
	s.gpa = b;
	fdrv_add(&drv, &s, 1);
	drv.avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	T_REQUIRE(vq_pop(&q, &ch) == 1, "pop");
	vq_push(&q, ch.head, 0);
	T_CHECK(vq_signal(&q) == 0, "signalled despite NO_INTERRUPT");
	drv.avail[0] = 0;
	T_CHECK(vq_signal(&q) == 1, "not signalled");
	T_CHECK(vq_signal(&q) == 0, "signalled twice for one entry");
	T_CHECK(read(efd, &ev, 8) == 8 && ev == 1, "eventfd count %llu", (unsigned long long)ev);

	/* event_idx: the driver wants to hear only after entry 3 */
	setup(8, false, true);
	q.call_fd = efd;
	drv.avail[2 + 8] = 2; /* used_event */
	for (int i = 0; i < 4; i++) {
		int sig;
		fdrv_add(&drv, &s, 1);
		T_REQUIRE(vq_pop(&q, &ch) == 1, "pop %d", i);
		vq_push(&q, ch.head, 0);
		sig = vq_signal(&q);
		T_CHECK(sig == (i == 2), "entry %d: signal %d", i, sig);
	}
	T_CHECK(drv.used[2 + 4 * 8] == 4, "avail_event not published");
	close(efd);
}

static void test_unpop_reset(void)
{
	struct fseg s = { MEM_GPA, 8, 0 };

	setup(8, false, false);
	fdrv_add(&drv, &s, 1);
	T_REQUIRE(vq_pop(&q, &ch) == 1, "pop");
	vq_unpop(&q);
	T_CHECK(vq_pop(&q, &ch) == 1 && ch.head == 0, "unpopped chain not seen again");
	vq_reset(&q);
	T_CHECK(!q.ready && vq_pop(&q, &ch) == 0, "reset queue still pops");
}

/* vq_fill + vq_publish (several used entries appear at once), across the
 * 16-bit wrap and the ring's end, from a base set like SET_VRING_BASE. */
static void test_fill_publish(void)
{
	struct fseg s = { MEM_GPA, 8, 1 };
	uint16_t heads[3];
	uint32_t id, len;

	fmem_init(&fm, mem_buf, MEM_GPA, MEM_SIZE);
	memset(&q, 0, sizeof(q));
	q.kick_fd = q.call_fd = -1;
	fdrv_init(&drv, &fm, &q, 4);
	q.last_avail = q.used_idx = 65534; /* the VMM's base */
	drv.avail_idx = drv.used_seen = 65534;
	drv.used[1] = 65534;
	T_REQUIRE(vq_start(&q, &fm.map) == 0, "start");
	for (int i = 0; i < 3; i++) {
		fdrv_add(&drv, &s, 1);
		T_REQUIRE(vq_pop(&q, &ch) == 1, "pop %d", i);
		heads[i] = ch.head;
	}
	for (int i = 2; i >= 0; i--) /* filled out of order */
		vq_fill(&q, (uint16_t)i, heads[i], 100u + (uint32_t)i);
	T_CHECK(!fdrv_used(&drv, &id, &len), "entry visible before publish");
	vq_publish(&q, 3);
	for (int i = 0; i < 3; i++)
		T_CHECK(fdrv_used(&drv, &id, &len) == 1 && id == heads[i] && len == 100u + (uint32_t)i,
			"entry %d: id %u len %u", i, id, len);
	T_CHECK(drv.used[1] == 1 && q.used_idx == 1 && q.n_push == 3, "used idx %u", drv.used[1]);
}

int main(void)
{
	T_RUN(test_start_validation);
	T_RUN(test_good_chain);
	T_RUN(test_loops);
	T_RUN(test_bad_addresses);
	T_RUN(test_avail_jump);
	T_RUN(test_indirect);
	T_RUN(test_wrap);
	T_RUN(test_signal_suppression);
	T_RUN(test_unpop_reset);
	T_RUN(test_fill_publish);
	T_EXIT();
}
