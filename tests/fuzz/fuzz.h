/* Shared pieces of the in-tree fuzz targets (one .c file each in tests/fuzz, docs in
 * docs/security.md). Each target is one program defining
 * LLVMFuzzerTestOneInput(): built with clang's libFuzzer by `make fuzz`,
 * and with gcc's ASan+UBSan around replay.c's main() for `make check`,
 * which replays every file of tests/fuzz/corpus/<target>/. A target must
 * be deterministic enough to replay, and leave no fd or allocation behind
 * from one input to the next (libFuzzer checks leaks). Header-only. */
#ifndef VOIDBOX_FUZZ_H
#define VOIDBOX_FUZZ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/mem.h"
#include "virtio/device.h"
#include "virtio/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A peer that hung up must be an EPIPE, not the end of the fuzzer: as in
 * `voidbox run`, whose signals are all blocked (signalfd). */
static inline void fz_no_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

/* The input read front to back as control values; 0 once it runs out. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	return (uint16_t)(fz_u8(f) | fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	return (uint32_t)fz_u16(f) | (uint32_t)fz_u16(f) << 16;
}

/* Up to max bytes of the input as one piece (*out points into it). */
static inline size_t fz_take(struct fz *f, size_t max, const uint8_t **out)
{
	size_t n = max < f->n ? max : f->n;

	*out = f->p;
	f->p += n;
	f->n -= n;
	return n;
}

/* Guest memory for device targets: FZ_MEM bytes at guest-physical FZ_GPA,
 * its content the input's (rings, descriptors and buffers alike). Queue
 * qi's rings sit packed at its start, so that small inputs reach them:
 * queue qi at qi * (32 * num + 32), descriptors, then the available ring,
 * then the used ring (4-aligned). */
#define FZ_GPA 0x100000ull
#define FZ_MEM (64u << 10)

struct fz_guest {
	struct gmem map;
	uint8_t *mem;
};

static inline int fz_guest_init(struct fz_guest *g, const uint8_t *data, size_t n)
{
	struct gmem_region r = { .gpa = FZ_GPA, .size = FZ_MEM };

	memset(&g->map, 0, sizeof(g->map));
	g->mem = calloc(1, FZ_MEM); /* exactly: ASan sees any overrun */
	if (!g->mem)
		return -1;
	memcpy(g->mem, data, n < FZ_MEM ? n : FZ_MEM);
	r.hva = g->mem;
	return gmem_add(&g->map, &r);
}

static inline void fz_guest_fini(struct fz_guest *g)
{
	free(g->mem);
	g->mem = NULL;
}

/* Sets up and starts queue qi of d with 2^(lg % 9) entries (1..256).
 * Returns vq_start()'s result. */
static inline int fz_queue(struct vdev *d, struct fz_guest *g, unsigned qi, uint8_t lg)
{
	struct vq *q = &d->vq[qi];
	uint16_t num = (uint16_t)(1u << (lg % 9));
	uint64_t base = FZ_GPA + (uint64_t)qi * (32u * num + 32u);

	q->num = num;
	q->desc_gpa = base;
	q->avail_gpa = base + 16u * num;
	q->used_gpa = (q->avail_gpa + 6u + 2u * num + 3u) & ~3ull;
	q->kick_fd = q->call_fd = -1;
	return vq_start(q, &g->map);
}

#endif
