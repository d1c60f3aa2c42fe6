/* Unit tests for base/bytes.h: every load and store width in both byte
 * orders against hand-written byte patterns, at every alignment, without
 * touching a neighbouring byte; and the cursor: take, peek, skip and sub at
 * every length and offset of a buffer, underflow returning NULL and
 * leaving the cursor as it was. ASan (the buffers are exactly sized heap
 * blocks) catches any read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "t.h"

/* 0x0102030405060708 as stored little- and big-endian. */
static const uint8_t LE[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
static const uint8_t BE[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void test_loads(void)
{
	uint8_t buf[16];

	for (size_t a = 0; a < 8; a++) { /* every alignment */
		memset(buf, 0xee, sizeof(buf));
		memcpy(buf + a, LE, 8);
		T_CHECK(ld_le16(buf + a) == 0x0708, "le16 at %zu", a);
		T_CHECK(ld_le32(buf + a) == 0x05060708u, "le32 at %zu", a);
		T_CHECK(ld_le64(buf + a) == 0x0102030405060708ull, "le64 at %zu", a);
		memcpy(buf + a, BE, 8);
		T_CHECK(ld_be16(buf + a) == 0x0102, "be16 at %zu", a);
		T_CHECK(ld_be32(buf + a) == 0x01020304u, "be32 at %zu", a);
		T_CHECK(ld_be64(buf + a) == 0x0102030405060708ull, "be64 at %zu", a);
	}
	/* the top bit set: no sign extension anywhere */
	memset(buf, 0xff, 8);
	T_CHECK(ld_le16(buf) == 0xffff && ld_be16(buf) == 0xffff, "16 all ones");
	T_CHECK(ld_le32(buf) == 0xffffffffu && ld_be32(buf) == 0xffffffffu, "32 all ones");
	T_CHECK(ld_le64(buf) == ~0ull && ld_be64(buf) == ~0ull, "64 all ones");
	buf[0] = 0x80, buf[1] = 0;
	T_CHECK(ld_be16(buf) == 0x8000 && ld_le16(buf) == 0x0080, "16 top bit");
}

/* Whether buf holds 0xee everywhere but [a, a+n), which holds want. */
static int stored(const uint8_t *buf, size_t size, size_t a, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < size; i++)
		if (buf[i] != (i >= a && i < a + n ? want[i - a] : 0xee))
			return 0;
	return 1;
}

/* Stores 0x0102030405060708 cut to `bytes` (2, 4, 8) at p in the given
 * order: its low bytes little-endian, its high bytes big-endian, so that
 * either way the bytes are the start of LE or BE. */
static void store(uint8_t *p, int be, unsigned bytes)
{
	uint64_t x = 0x0102030405060708ull, v = be ? x >> (64 - 8 * bytes) : x;

	if (bytes == 2)
		(be ? st_be16 : st_le16)(p, (uint16_t)v);
	else if (bytes == 4)
		(be ? st_be32 : st_le32)(p, (uint32_t)v);
	else
		(be ? st_be64 : st_le64)(p, v);
}

static void test_stores(void)
{
	uint8_t buf[16];

	for (size_t a = 0; a < 8; a++) {
		for (int be = 0; be < 2; be++) {
			for (unsigned bytes = 2; bytes <= 8; bytes *= 2) {
				memset(buf, 0xee, sizeof(buf));
				store(buf + a, be, bytes);
				T_CHECK(stored(buf, sizeof(buf), a, be ? BE : LE, bytes), "%s%u at %zu",
					be ? "be" : "le", 8 * bytes, a);
			}
		}
	}
}

/* A store then a load of the same field gives the value back, for values
 * that exercise every byte. */
static void test_round_trip(void)
{
	uint8_t b[8];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 64; i++, x = x * 6364136223846793005ull + 1442695040888963407ull) {
		st_le16(b, (uint16_t)x);
		T_CHECK(ld_le16(b) == (uint16_t)x && ld_be16(b) == __builtin_bswap16((uint16_t)x), "16");
		st_be32(b, (uint32_t)x);
		T_CHECK(ld_be32(b) == (uint32_t)x && ld_le32(b) == __builtin_bswap32((uint32_t)x), "32");
		st_le64(b, x);
		T_CHECK(ld_le64(b) == x && ld_be64(b) == __builtin_bswap64(x), "64");
		st_be64(b, x);
		T_CHECK(ld_be64(b) == x, "be64");
		st_be16(b, (uint16_t)x);
		T_CHECK(ld_be16(b) == (uint16_t)x, "be16");
		st_le32(b, (uint32_t)x);
		T_CHECK(ld_le32(b) == (uint32_t)x, "le32");
	}
}

/* Taking n bytes from a cursor over len bytes succeeds exactly when
 * n <= len, returns the first byte, and moves by n; a failed take leaves
 * the cursor as it was. Every (len, n) up to 24, on exact heap blocks. */
static void test_cursor_take(void)
{
	for (size_t len = 0; len <= 24; len++) {
		uint8_t *p = malloc(len ? len : 1);

		T_REQUIRE(p, "malloc");
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)i;
		for (size_t n = 0; n <= len + 3; n++) {
			struct cursor c = cur_init(p, len);
			const uint8_t *q = cur_take(&c, n);

			if (n <= len) {
				T_CHECK(q == p && c.off == n && cur_left(&c) == len - n,
					"take %zu of %zu", n, len);
				/* then the rest, one more byte failing */
				q = cur_take(&c, len - n);
				T_CHECK(q == p + n && cur_left(&c) == 0, "rest of %zu after %zu", len, n);
				T_CHECK(!cur_take(&c, 1) && c.off == len, "one past %zu", len);
			} else {
				T_CHECK(!q && c.off == 0 && cur_left(&c) == len, "underflow %zu of %zu", n,
					len);
			}
		}
		/* byte by byte to the end, then nothing */
		struct cursor c = cur_init(p, len);
		for (size_t i = 0; i < len; i++) {
			const uint8_t *q = cur_take(&c, 1);
			T_CHECK(q && *q == (uint8_t)i, "byte %zu of %zu", i, len);
		}
		T_CHECK(!cur_take(&c, 1) && cur_left(&c) == 0, "end of %zu", len);
		T_CHECK(cur_take(&c, 0) == p + len, "empty take at the end of %zu", len);
		free(p);
	}
}

/* peek at (at, n) succeeds exactly when at + n <= what is left, from any
 * position, and never moves the cursor; skip behaves as take. */
static void test_cursor_peek_skip(void)
{
	enum { LEN = 12 };
	uint8_t *p = malloc(LEN);

	T_REQUIRE(p, "malloc");
	for (size_t i = 0; i < LEN; i++)
		p[i] = (uint8_t)(0x40 + i);
	for (size_t pos = 0; pos <= LEN; pos++) {
		for (size_t at = 0; at <= LEN + 2; at++) {
			for (size_t n = 0; n <= LEN + 2; n++) {
				struct cursor c = cur_init(p, LEN);
				const uint8_t *q;

				T_REQUIRE(cur_skip(&c, pos), "skip %zu", pos);
				q = cur_peek(&c, at, n);
				if (at + n <= LEN - pos)
					T_CHECK(q == p + pos + at, "peek %zu+%zu from %zu", at, n, pos);
				else
					T_CHECK(!q, "peek %zu+%zu from %zu should fail", at, n, pos);
				T_CHECK(c.off == pos, "peek moved the cursor");
			}
			struct cursor c = cur_init(p, LEN);
			T_CHECK(cur_skip(&c, pos) && cur_skip(&c, at) == (at <= LEN - pos) &&
					c.off == (at <= LEN - pos ? pos + at : pos),
				"skip %zu from %zu", at, pos);
		}
	}
	/* a huge size cannot wrap the check around */
	struct cursor c = cur_init(p, LEN);
	T_CHECK(cur_skip(&c, 4), "skip 4");
	T_CHECK(!cur_peek(&c, 1, SIZE_MAX) && !cur_peek(&c, SIZE_MAX, 1) &&
			!cur_peek(&c, SIZE_MAX, SIZE_MAX) && !cur_take(&c, SIZE_MAX) &&
			!cur_skip(&c, SIZE_MAX - 3),
		"SIZE_MAX");
	T_CHECK(c.off == 4, "unchanged");
	/* a cursor whose position was set past its end has nothing left */
	c.off = LEN + 5;
	T_CHECK(cur_left(&c) == 0 && !cur_peek(&c, 0, 0) && !cur_take(&c, 0), "off past len");
	free(p);
}

/* cur_sub: the bytes [at, at + n) of what is left, cut at the end. */
static void test_cursor_sub(void)
{
	enum { LEN = 10 };
	uint8_t *p = malloc(LEN);

	T_REQUIRE(p, "malloc");
	for (size_t pos = 0; pos <= LEN; pos++) {
		for (size_t at = 0; at <= LEN + 2; at++) {
			for (size_t n = 0; n <= LEN + 2; n++) {
				struct cursor c = cur_init(p, LEN), s;
				size_t left = LEN - pos, want;

				cur_skip(&c, pos);
				s = cur_sub(&c, at, n);
				want = at > left ? 0 : (n < left - at ? n : left - at);
				T_CHECK(s.off == 0 && s.len == want && cur_left(&s) == want,
					"sub %zu+%zu from %zu: %zu bytes, want %zu", at, n, pos, s.len, want);
				T_CHECK(at > left || s.p == p + pos + at, "sub %zu+%zu from %zu: start", at,
					n, pos);
				T_CHECK(!cur_take(&s, want + 1) && cur_take(&s, want) == (want ? p + pos + at : s.p),
					"sub %zu+%zu from %zu: bounded", at, n, pos);
				T_CHECK(c.off == pos, "sub moved the parent");
			}
		}
	}
	free(p);
}

/* A parse the way a protocol decoder does it: a 4-byte header whose second
 * byte says how long the option area is, then a payload. Every truncation
 * of the frame is refused, never read past. */
static void test_cursor_parse(void)
{
	static const uint8_t frame[] = { 0x45, 3, 0x12, 0x34, 'a', 'b', 'c', 'x', 'y' };

	for (size_t len = 0; len <= sizeof(frame); len++) {
		uint8_t *p = malloc(len ? len : 1);
		struct cursor c;
		const uint8_t *h, *opt;
		int ok;

		T_REQUIRE(p, "malloc");
		memcpy(p, frame, len);
		c = cur_init(p, len);
		ok = (h = cur_take(&c, 4)) && (opt = cur_take(&c, h[1])) && ld_be16(h + 2) == 0x1234 &&
		     !memcmp(opt, "abc", 3) && cur_left(&c) == len - 7;
		T_CHECK(ok == (len >= 7), "frame cut at %zu: %s", len, ok ? "parsed" : "refused");
		free(p);
	}
}

int main(void)
{
	T_RUN(test_loads);
	T_RUN(test_stores);
	T_RUN(test_round_trip);
	T_RUN(test_cursor_take);
	T_RUN(test_cursor_peek_skip);
	T_RUN(test_cursor_sub);
	T_RUN(test_cursor_parse);
	T_EXIT();
}
