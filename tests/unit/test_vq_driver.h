/* A fake virtio driver for unit tests: fake guest memory (one region of
 * host memory at a chosen guest-physical address) and the driver side of a
 * split virtqueue in it. Tests use it to offer descriptor chains, read the
 * used ring back, and write hostile rings by hand (desc/avail pointers are
 * exposed). Header-only: every test file is its own program. */
#ifndef VOIDBOX_TEST_VQ_DRIVER_H
#define VOIDBOX_TEST_VQ_DRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/mem.h"
#include "virtio/queue.h"

#define FD_DESC_F_NEXT 1
#define FD_DESC_F_WRITE 2
#define FD_DESC_F_INDIRECT 4

/* Fake guest memory: size bytes at guest-physical gpa (and, for vhost-user
 * style tests, at "VMM address" vmm). */
struct fake_mem {
	struct gmem map;
	uint8_t *base;
	uint64_t gpa, size;
	uint64_t brk; /* bump allocator, offset from base */
};

static inline void fmem_init(struct fake_mem *fm, uint8_t *buf, uint64_t gpa, uint64_t size)
{
	struct gmem_region r = { .gpa = gpa, .size = size, .hva = buf };

	memset(fm, 0, sizeof(*fm));
	memset(buf, 0, size);
	fm->base = buf;
	fm->gpa = gpa;
	fm->size = size;
	gmem_add(&fm->map, &r);
}

/* Allocates len bytes of guest memory aligned to align; returns its gpa. */
static inline uint64_t fmem_alloc(struct fake_mem *fm, uint64_t len, uint64_t align)
{
	uint64_t off = (fm->brk + align - 1) & ~(align - 1);

	fm->brk = off + len;
	if (fm->brk > fm->size)
		abort();
	return fm->gpa + off;
}

static inline void *fmem_ptr(struct fake_mem *fm, uint64_t gpa)
{
	return fm->base + (gpa - fm->gpa);
}

/* The driver side of one queue. */
struct fake_drv {
	struct fake_mem *fm;
	struct vq *q;
	uint16_t num;
	struct vring_desc_le *desc;
	volatile uint16_t *avail, *used;
	uint16_t avail_idx;  /* next avail index to publish */
	uint16_t used_seen;  /* used entries consumed */
	uint16_t next_desc;  /* round-robin descriptor allocator */
};

/* Lays out rings for a queue of num entries and fills q for vq_start()
 * (q's kick and call fds are left alone). */
static inline void fdrv_init(struct fake_drv *d, struct fake_mem *fm, struct vq *q, uint16_t num)
{
	memset(d, 0, sizeof(*d));
	d->fm = fm;
	d->q = q;
	d->num = num;
	q->num = num;
	q->desc_gpa = fmem_alloc(fm, 16u * num, 16);
	q->avail_gpa = fmem_alloc(fm, 6u + 2u * num, 2);
	q->used_gpa = fmem_alloc(fm, 6u + 8u * num, 4);
	d->desc = fmem_ptr(fm, q->desc_gpa);
	d->avail = fmem_ptr(fm, q->avail_gpa);
	d->used = fmem_ptr(fm, q->used_gpa);
}

struct fseg {
	uint64_t gpa;
	uint32_t len;
	int write;
};

/* Writes a chain of n descriptors (taken round-robin) and publishes its
 * head. Returns the head index. */
static inline uint16_t fdrv_add(struct fake_drv *d, const struct fseg *s, unsigned n)
{
	uint16_t head = d->next_desc % d->num;

	for (unsigned i = 0; i < n; i++) {
		uint16_t id = (uint16_t)((head + i) % d->num);
		d->desc[id].addr = s[i].gpa;
		d->desc[id].len = s[i].len;
		d->desc[id].flags = (uint16_t)((s[i].write ? FD_DESC_F_WRITE : 0) |
					       (i + 1 < n ? FD_DESC_F_NEXT : 0));
		d->desc[id].next = (uint16_t)((id + 1) % d->num);
	}
	d->next_desc = (uint16_t)((head + n) % d->num);
	d->avail[2 + d->avail_idx % d->num] = head;
	d->avail_idx++;
	__atomic_store_n(&d->avail[1], d->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* Takes the next used entry. Returns 1 with *id and *len set, or 0 when none. */
static inline int fdrv_used(struct fake_drv *d, uint32_t *id, uint32_t *len)
{
	const volatile uint32_t *e;

	if (__atomic_load_n(&d->used[1], __ATOMIC_ACQUIRE) == d->used_seen)
		return 0;
	e = (const volatile uint32_t *)(d->used + 2) + 2 * (d->used_seen % d->num);
	*id = e[0];
	*len = e[1];
	d->used_seen++;
	return 1;
}

#endif
