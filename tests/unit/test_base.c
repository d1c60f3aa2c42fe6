/* Unit tests for base/ (parsers, loop) and guest/mem (bounds checks). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/loop.h"
#include "base/siphash.h"
#include "base/termsafe.h"
#include "base/util.h"
#include "guest/mem.h"
#include "t.h"

static void test_parse_size(void)
{
	uint64_t v;

	T_CHECK(parse_size("512", &v) == 0 && v == 512, "plain");
	T_CHECK(parse_size("64K", &v) == 0 && v == 65536, "K");
	T_CHECK(parse_size("512M", &v) == 0 && v == 512ULL << 20, "M");
	T_CHECK(parse_size("2GiB", &v) == 0 && v == 2ULL << 30, "GiB");
	T_CHECK(parse_size("", &v) == -EINVAL, "empty");
	T_CHECK(parse_size("12X", &v) == -EINVAL, "bad unit");
	T_CHECK(parse_size("-1M", &v) == -EINVAL, "negative");
	T_CHECK(parse_size("99999999999999999999", &v) == -EINVAL, "overflow");
	T_CHECK(parse_size("17179869184G", &v) == -ERANGE, "shift overflow");
	T_CHECK(parse_uint("7", 1, 8, &v) == 0 && v == 7, "uint");
	T_CHECK(parse_uint("9", 1, 8, &v) == -ERANGE, "uint range");
	T_CHECK(parse_uint("1x", 1, 8, &v) == -EINVAL, "uint junk");
}

/* map_file: maps what read_file would read, refuses empty, directories,
 * missing files and what is over max. */
static void test_map_file(void)
{
	char path[] = "/tmp/vb-mapfile-XXXXXX";
	int fd = mkstemp(path);
	void *p = NULL;
	size_t len = 0;

	T_REQUIRE(fd >= 0, "mkstemp");
	T_CHECK(map_file(path, 100, &p, &len) == -EINVAL, "empty file refused");
	T_REQUIRE(write_full(fd, "kernel!", 7) == 0, "write");
	close(fd);
	T_CHECK(map_file(path, 6, &p, &len) == -EFBIG, "over max");
	T_REQUIRE(map_file(path, 7, &p, &len) == 0, "map");
	T_CHECK(len == 7 && !memcmp(p, "kernel!", 7), "content");
	munmap(p, len);
	T_CHECK(map_file("/tmp", 100, &p, &len) == -EISDIR, "directory");
	unlink(path);
	T_CHECK(map_file(path, 100, &p, &len) == -ENOENT, "missing");
}

static void test_gmem_bounds(void)
{
	static uint8_t a[4096], b[4096];
	struct gmem m = { 0 };
	struct gmem_region ra = { .gpa = 0, .size = sizeof(a), .hva = a, .vmm_addr = 0x10000 };
	struct gmem_region rb = { .gpa = 0x100000, .size = sizeof(b), .hva = b };
	struct gmem_region bad = { .gpa = 0x100800, .size = 16, .hva = a };
	struct gmem_region wrap = { .gpa = UINT64_MAX - 10, .size = 100, .hva = a };

	T_REQUIRE(gmem_add(&m, &ra) == 0 && gmem_add(&m, &rb) == 0, "add");
	T_CHECK(gmem_add(&m, &bad) == -EINVAL, "overlap accepted");
	T_CHECK(gmem_add(&m, &wrap) == -EINVAL, "wrapping region accepted");
	T_CHECK(gmem_get(&m, 0, 4096) == a, "whole region");
	T_CHECK(gmem_get(&m, 4095, 1) == a + 4095, "last byte");
	T_CHECK(gmem_get(&m, 4095, 2) == NULL, "crosses end");
	T_CHECK(gmem_get(&m, 4096, 0) == a + 4096, "empty at end");
	T_CHECK(gmem_get(&m, 0x100000 + 100, 200) == b + 100, "second region");
	T_CHECK(gmem_get(&m, 0x80000, 1) == NULL, "hole");
	T_CHECK(gmem_get(&m, 16, UINT64_MAX) == NULL, "huge length");
	T_CHECK(gmem_get(&m, UINT64_MAX, 2) == NULL, "address wrap");
	T_CHECK(gmem_vmm_get(&m, 0x10010, 16) == a + 16, "vmm address");
	T_CHECK(gmem_vmm_get(&m, 0x100000, 16) == NULL, "vmm address of region without one");
}

static int fired;
static void on_event(struct loop_watch *w, uint32_t ev)
{
	uint64_t v;
	if (read(w->fd, &v, sizeof(v)) == 8)
		fired += (int)v;
}

static void test_loop(void)
{
	struct loop l;
	struct loop_watch w = { .cb = on_event };
	uint64_t three = 3;

	T_REQUIRE(loop_init(&l) == 0, "loop_init");
	w.fd = eventfd(0, EFD_NONBLOCK);
	T_REQUIRE(w.fd >= 0 && loop_add(&l, &w, EPOLLIN) == 0, "add");
	T_CHECK(loop_once(&l, 0) == 0, "nothing pending");
	T_CHECK(write(w.fd, &three, 8) == 8, "write");
	T_CHECK(loop_once(&l, 1000) == 1 && fired == 3, "dispatched");
	loop_del(&l, &w);
	close(w.fd);
	loop_fini(&l);
}

/* A callback that deletes and frees another watch whose event is pending
 * in the same batch: the freed watch must not be called (ASan would catch
 * the use after free; the count catches it without ASan). */
static int defer_runs;

static void on_defer(struct loop_defer *d)
{
	defer_runs++;
}

/* Deferrals: a loop_once() with nothing to do waits only until the nearest
 * deadline (not its full timeout), runs what is due once, keeps what is
 * not; a cancelled one never runs; arming twice keeps the first deadline. */
static void test_loop_defer(void)
{
	struct loop l;
	struct loop_defer a = { .cb = on_defer }, b = { .cb = on_defer }, c = { .cb = on_defer };
	uint64_t t0;

	T_REQUIRE(loop_init(&l) == 0, "loop_init");
	defer_runs = 0;
	loop_defer(&l, &a, 2 * 1000000ULL);
	loop_defer(&l, &a, 10 * 1000000000ULL); /* armed: stays at 2 ms */
	loop_defer(&l, &b, 10 * 1000000000ULL);
	loop_defer(&l, &c, 1000000ULL);
	loop_defer_cancel(&l, &c);
	t0 = now_ns();
	T_CHECK(loop_once(&l, 5000) == 1 && defer_runs == 1 && !a.armed && b.armed,
		"the due one ran (%d)", defer_runs);
	T_CHECK(now_ns() - t0 < 1000000000ULL, "waited for the deadline, not the timeout");
	T_CHECK(loop_once(&l, 0) == 0 && defer_runs == 1, "not again; cancelled never");
	loop_defer_cancel(&l, &b);
	T_CHECK(!l.defer && !b.armed, "list empty");
	loop_fini(&l);
}

static struct loop *del_loop;
static int del_calls;

static void on_del_other(struct loop_watch *w, uint32_t ev)
{
	struct loop_watch *other = w->ctx;

	del_calls++;
	if (other) {
		loop_del(del_loop, other);
		close(other->fd);
		free(other);
		w->ctx = NULL;
	}
}

static void test_loop_del_pending(void)
{
	struct loop l;
	struct loop_watch *w[2];
	uint64_t one = 1;

	T_REQUIRE(loop_init(&l) == 0, "loop_init");
	del_loop = &l;
	for (int i = 0; i < 2; i++) {
		w[i] = calloc(1, sizeof(*w[i]));
		T_REQUIRE(w[i], "calloc");
		w[i]->fd = eventfd(0, EFD_NONBLOCK);
		w[i]->cb = on_del_other;
		T_REQUIRE(loop_add(&l, w[i], EPOLLIN) == 0, "add");
		T_REQUIRE(write(w[i]->fd, &one, 8) == 8, "write");
	}
	w[0]->ctx = w[1];
	w[1]->ctx = w[0];
	T_CHECK(loop_once(&l, 1000) == 2, "two events");
	T_CHECK(del_calls == 1, "%d callbacks: a deleted watch was called", del_calls);
	for (int i = 0; i < 2; i++)
		if (w[i]->ctx == NULL) { /* the survivor */
			loop_del(&l, w[i]);
			close(w[i]->fd);
			free(w[i]);
			break;
		}
	loop_fini(&l);
}

/* SipHash-2-4 against the paper's vectors (key 00..0f, message 00..len-1),
 * which checks the code SipHash-1-3 shares; 1-3 differs from 2-4 and from
 * itself under another key. */
static void test_siphash(void)
{
	struct siphash_key k;
	uint8_t key[16], msg[64];
	struct siphash_key k2 = { 1, 2 };

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	memcpy(&k.k0, key, 8);
	memcpy(&k.k1, key + 8, 8);
	T_CHECK(siphash24(&k, msg, 0) == 0x726fdb47dd0e0e31ULL, "empty: %016llx",
		(unsigned long long)siphash24(&k, msg, 0));
	T_CHECK(siphash24(&k, msg, 15) == 0xa129ca6149be45e5ULL, "15 bytes: %016llx",
		(unsigned long long)siphash24(&k, msg, 15));
	T_CHECK(siphash24(&k, msg, 8) == 0x93f5f5799a932462ULL, "8 bytes: %016llx",
		(unsigned long long)siphash24(&k, msg, 8));
	T_CHECK(siphash13(&k, msg, 15) != siphash24(&k, msg, 15), "1-3 equals 2-4");
	T_CHECK(siphash13(&k, msg, 15) != siphash13(&k2, msg, 15), "the key does not matter");
	T_CHECK(siphash_key_random(&k2) == 0 && (k2.k0 || k2.k1), "no random key");
}

/* The budget's numbers under ulimit -n 512 (what docs/security.md says),
 * its caps and counters. */
static void test_budget(void)
{
	struct budget b;
	unsigned n = 0;

	budget_init(&b, 512);
	b.quiet = true;
	T_CHECK(b.reserve == 160 && b.total == 352 && b.cap[BUDGET_TCP] == 264 &&
			b.cap[BUDGET_UDP] == 176 && b.cap[BUDGET_ICMP] == 22 &&
			b.cap[BUDGET_VSOCK] == 88,
		"512: reserve %u total %u tcp %u udp %u icmp %u vsock %u", b.reserve, b.total,
		b.cap[BUDGET_TCP], b.cap[BUDGET_UDP], b.cap[BUDGET_ICMP], b.cap[BUDGET_VSOCK]);
	while (budget_take(&b, BUDGET_UDP))
		n++;
	T_CHECK(n == 176 && b.hits[BUDGET_UDP] == 1 && budget_kind_full(&b, BUDGET_UDP),
		"udp took %u", n);
	n = 0;
	while (budget_take(&b, BUDGET_TCP))
		n++;
	T_CHECK(n == 352 - 176 && !budget_kind_full(&b, BUDGET_TCP), "tcp took %u of the rest", n);
	budget_put(&b, BUDGET_UDP);
	T_CHECK(budget_take(&b, BUDGET_TCP) && !budget_take(&b, BUDGET_ICMP), "total not shared");
	budget_init(&b, 100); /* tiny: half stays */
	T_CHECK(b.reserve == 50 && b.total == 50, "100: reserve %u total %u", b.reserve, b.total);
	T_CHECK(budget_raise_nofile() >= 64, "raise");
}

/* Guest text on a terminal: controls become \xNN, UTF-8 and CRLF pass,
 * split sequences and CRs across pieces are handled. */
static void test_termsafe(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain text\n\tok", "plain text\n\tok" },
		{ "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07" },
		{ "\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H" },
		{ "line\r\n", "line\r\n" },
		{ "over\rwrite", "over\\x0dwrite" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "\xc2\x9b" "31m", "\\xc2\\x9b31m" },  /* C1 CSI as UTF-8 */
		{ "\x9b" "31m", "\\x9b31m" },           /* 8-bit CSI */
		{ "\xe2\x82", "\\xe2\\x82" },           /* cut short at the end */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },  /* a surrogate */
		{ "\x7f\x01", "\\x7f\\x01" },
	};
	char out[256];
	struct term_safe st = { 0 };
	size_t n;

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		term_safe_str(cases[i].in, strlen(cases[i].in), out, sizeof(out));
		T_CHECK(!strcmp(out, cases[i].want), "case %u: '%s'", i, out);
	}
	/* byte by byte: the same as whole */
	n = 0;
	for (const char *p = "a\xe2\x82\xac\r\nb\r"; *p; p++)
		n += term_safe(&st, p, 1, out + n);
	n += term_safe_end(&st, out + n);
	out[n] = 0;
	T_CHECK(!strcmp(out, "a\xe2\x82\xac\r\nb\\x0d"), "pieces: '%s'", out);
	term_safe_str("\x1b\x1b\x1b\x1b", 4, out, 7);
	T_CHECK(strlen(out) == 6 && !strchr(out, 0x1b), "cut: '%s'", out);
}

int main(void)
{
	T_RUN(test_parse_size);
	T_RUN(test_map_file);
	T_RUN(test_gmem_bounds);
	T_RUN(test_loop);
	T_RUN(test_loop_del_pending);
	T_RUN(test_loop_defer);
	T_RUN(test_siphash);
	T_RUN(test_budget);
	T_RUN(test_termsafe);
	T_EXIT();
}
