/* Byte order and bounds-checked reading: the one set of helpers every
 * parser and builder of wire formats uses (SLIRP's headers, pcap's decoders
 * and files, virtio's headers, the agent protocol, kernel images, the boot
 * structures and ACPI tables the KVM monitor writes).
 *
 * ld_le16() ... st_be64() load and store 16-, 32- and 64-bit fields in
 * little- or big-endian order at any byte address (no alignment needed),
 * whatever the host's own order.
 *
 * struct cursor is a view of len bytes with a read position off: a parser
 * takes N bytes or gets NULL, so one that reads only through the cursor
 * cannot read past what it was given (passt's packet_get() discipline).
 * Nothing is copied and nothing allocates; a cursor is passed by value as a
 * cheap "these bytes, from here". */
#ifndef VOIDBOX_BASE_BYTES_H
#define VOIDBOX_BASE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BYTES_LE_HOST 1
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTES_LE_HOST 0
#else
#error "unknown host byte order"
#endif
/* A bits-wide host value as little- (big-) endian, or back. */
#define BYTES_LE(bits, v) (BYTES_LE_HOST ? (v) : __builtin_bswap##bits(v))
#define BYTES_BE(bits, v) (BYTES_LE_HOST ? __builtin_bswap##bits(v) : (v))

/* Loads: the field at p, in the named byte order, as a host value. */
static inline uint16_t ld_le16(const void *p) { uint16_t v; memcpy(&v, p, 2); return BYTES_LE(16, v); }
static inline uint32_t ld_le32(const void *p) { uint32_t v; memcpy(&v, p, 4); return BYTES_LE(32, v); }
static inline uint64_t ld_le64(const void *p) { uint64_t v; memcpy(&v, p, 8); return BYTES_LE(64, v); }
static inline uint16_t ld_be16(const void *p) { uint16_t v; memcpy(&v, p, 2); return BYTES_BE(16, v); }
static inline uint32_t ld_be32(const void *p) { uint32_t v; memcpy(&v, p, 4); return BYTES_BE(32, v); }
static inline uint64_t ld_be64(const void *p) { uint64_t v; memcpy(&v, p, 8); return BYTES_BE(64, v); }

/* Stores: host value v into the field at p, in the named byte order. */
static inline void st_le16(void *p, uint16_t v) { v = BYTES_LE(16, v); memcpy(p, &v, 2); }
static inline void st_le32(void *p, uint32_t v) { v = BYTES_LE(32, v); memcpy(p, &v, 4); }
static inline void st_le64(void *p, uint64_t v) { v = BYTES_LE(64, v); memcpy(p, &v, 8); }
static inline void st_be16(void *p, uint16_t v) { v = BYTES_BE(16, v); memcpy(p, &v, 2); }
static inline void st_be32(void *p, uint32_t v) { v = BYTES_BE(32, v); memcpy(p, &v, 4); }
static inline void st_be64(void *p, uint64_t v) { v = BYTES_BE(64, v); memcpy(p, &v, 8); }

/* A bounds-checked view of bytes p[0..len), read from p[off] on. */
struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off;  /* bytes already taken: never more than len */
};

/* A cursor over the len bytes at p, positioned at the first. */
static inline struct cursor cur_init(const void *p, size_t len)
{
	return (struct cursor){ .p = p, .len = len, .off = 0 };
}

/* How many bytes are left to take. */
static inline size_t cur_left(const struct cursor *c)
{
	return c->off <= c->len ? c->len - c->off : 0;
}

/* The n bytes that start `at` bytes past the position, without taking
 * them; NULL unless all n are there. */
static inline const uint8_t *cur_peek(const struct cursor *c, size_t at, size_t n)
{
	if (c->off > c->len || at > c->len - c->off || n > c->len - c->off - at)
		return NULL;
	return c->p + c->off + at;
}

/* Takes the next n bytes: returns them and moves past them, or returns
 * NULL and leaves the cursor as it was when fewer are left. */
static inline const uint8_t *cur_take(struct cursor *c, size_t n)
{
	const uint8_t *q = cur_peek(c, 0, n);

	if (q)
		c->off += n;
	return q;
}

/* Moves past n bytes. Returns false (cursor unchanged) when fewer are
 * left. */
static inline bool cur_skip(struct cursor *c, size_t n)
{
	return cur_take(c, n) != NULL;
}

/* A new cursor over the (at most) n bytes that start `at` bytes past the
 * position: cut short where c ends, empty when `at` lies beyond it. */
static inline struct cursor cur_sub(const struct cursor *c, size_t at, size_t n)
{
	const uint8_t *q = cur_peek(c, at, 0);
	size_t rest = q ? cur_left(c) - at : 0;

	return cur_init(q ? q : c->p + c->len, n < rest ? n : rest);
}

#endif
