/* A fake virtio driver for the virtio-net unit tests: fake guest memory,
 * split rings laid out in it, chains posted and used entries taken as the
 * Linux driver would, and the call eventfds read back. Included by
 * tests/unit/test_vnet*.c (one global FD per test program). */
#ifndef VOIDBOX_TEST_VNET_FAKE_H
#define VOIDBOX_TEST_VNET_FAKE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio/device.h"
#include "virtio/net.h"

#define MEM_SIZE (8u << 20)
#define QSZ 64
#define BUF_AREA 0x100000u /* frame buffers start here */
#define BUF_SIZE 2048u

struct fake_q {
	unsigned num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc_le *desc;
	uint16_t *avail, *used;
	uint16_t avail_idx, last_used;
	uint16_t free_head; /* descriptors are handed out round robin */
};

struct fake_drv {
	uint8_t *base;
	struct gmem mem;
	struct fake_q q[2];
	int callfd[2];
};

static struct fake_drv FD = { .callfd = { -1, -1 } };

/* Allocates and maps the fake guest memory. Returns 0 or -1. */
static inline int fd_mem_init(void)
{
	struct gmem_region r = { .gpa = 0, .size = MEM_SIZE };

	FD.base = aligned_alloc(4096, MEM_SIZE);
	if (!FD.base)
		return -1;
	r.hva = FD.base;
	return gmem_add(&FD.mem, &r) ? -1 : 0;
}

static inline void *G(uint64_t gpa)
{
	return FD.base + gpa;
}

/* Lays out queue qi's rings at a fixed place in fake memory. */
static inline void fq_layout(unsigned qi, unsigned num)
{
	struct fake_q *q = &FD.q[qi];
	uint64_t base = 0x10000 + qi * 0x10000;

	memset(q, 0, sizeof(*q));
	q->num = num;
	q->desc_gpa = base;
	q->avail_gpa = base + 16 * num;
	q->used_gpa = (q->avail_gpa + 6 + 2 * num + 3) & ~3ull;
	q->desc = G(q->desc_gpa);
	q->avail = G(q->avail_gpa);
	q->used = G(q->used_gpa);
}

/* Clears memory, lays out both rings, starts the queues and the device.
 * Returns start()'s result (or -2 if a queue would not start). */
static inline int fd_boot(struct vdev *d, uint64_t acked, unsigned num)
{
	memset(FD.base, 0, MEM_SIZE);
	for (int i = 0; i < 2; i++) {
		if (FD.callfd[i] >= 0)
			close(FD.callfd[i]);
		FD.callfd[i] = eventfd(0, EFD_NONBLOCK);
	}
	d->mem = &FD.mem;
	d->acked = acked;
	for (unsigned qi = 0; qi < 2; qi++) {
		struct vq *vq = &d->vq[qi];
		fq_layout(qi, num);
		vq->num = (uint16_t)num;
		vq->desc_gpa = FD.q[qi].desc_gpa;
		vq->avail_gpa = FD.q[qi].avail_gpa;
		vq->used_gpa = FD.q[qi].used_gpa;
		vq->call_fd = FD.callfd[qi];
		if (vq_start(vq, &FD.mem) != 0)
			return -2;
	}
	return d->ops->start(d);
}

/* Posts a chain of n descriptors (gpa, len, write) and publishes it.
 * Returns the chain's head. */
static inline uint16_t fq_post(unsigned qi, unsigned n, const uint64_t *gpa, const uint32_t *len,
		    const int *wr)
{
	struct fake_q *q = &FD.q[qi];
	uint16_t head = q->free_head;

	for (unsigned i = 0; i < n; i++) {
		uint16_t id = (uint16_t)((head + i) % q->num);
		q->desc[id].addr = gpa[i];
		q->desc[id].len = len[i];
		q->desc[id].flags = (uint16_t)((wr[i] ? 2 : 0) | (i + 1 < n ? 1 : 0));
		q->desc[id].next = (uint16_t)((id + 1) % q->num);
	}
	q->free_head = (uint16_t)((head + n) % q->num);
	q->avail[2 + q->avail_idx % q->num] = head;
	__atomic_store_n(&q->avail[1], (uint16_t)(q->avail_idx + 1), __ATOMIC_RELEASE);
	q->avail_idx++;
	return head;
}

/* Takes one used entry. Returns 1 with its id and length, or 0. */
static inline int fq_used(unsigned qi, uint32_t *id, uint32_t *len)
{
	struct fake_q *q = &FD.q[qi];
	uint32_t *e;

	if (__atomic_load_n(&q->used[1], __ATOMIC_ACQUIRE) == q->last_used)
		return 0;
	e = (uint32_t *)(q->used + 2) + 2 * (q->last_used % q->num);
	*id = e[0];
	*len = e[1];
	q->last_used++;
	/* EVENT_IDX: ask to hear about the next entry. */
	q->avail[2 + q->num] = q->last_used;
	return 1;
}

static inline uint64_t calls(unsigned qi)
{
	uint64_t v = 0;
	if (read(FD.callfd[qi], &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Writes a test frame of len bytes with sequence number seq at gpa. */
static inline void make_frame(uint8_t *p, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seq);
	if (len >= 18)
		memcpy(p + 14, &seq, 4);
}

/* Posts a TX frame: header descriptor + data descriptor, or one descriptor
 * holding both (the VERSION_1 layout Linux uses). */
static inline void tx_post(uint32_t seq, size_t len, int split)
{
	uint64_t gpa = BUF_AREA + (uint64_t)(seq % QSZ) * BUF_SIZE;
	uint8_t *p = G(gpa);

	memset(p, 0, VNET_HDR_LEN);
	make_frame(p + VNET_HDR_LEN, len, seq);
	if (split) {
		uint64_t g[2] = { gpa, gpa + VNET_HDR_LEN };
		uint32_t l[2] = { VNET_HDR_LEN, (uint32_t)len };
		int w[2] = { 0, 0 };
		fq_post(VNET_TXQ, 2, g, l, w);
	} else {
		uint64_t g[1] = { gpa };
		uint32_t l[1] = { VNET_HDR_LEN + (uint32_t)len };
		int w[1] = { 0 };
		fq_post(VNET_TXQ, 1, g, l, w);
	}
}

static inline uint8_t *rx_slot(unsigned slot)
{
	return G(BUF_AREA + 0x200000 + (uint64_t)(slot % QSZ) * BUF_SIZE);
}

/* Posts an RX buffer of size bytes in slot; split puts the frame 64 bytes
 * after the header. Returns the chain's head. */
static inline uint16_t rx_post(unsigned slot, uint32_t size, int split)
{
	uint64_t gpa = BUF_AREA + 0x200000 + (uint64_t)(slot % QSZ) * BUF_SIZE;

	if (split) {
		uint64_t g[2] = { gpa, gpa + 64 };
		uint32_t l[2] = { VNET_HDR_LEN, size - VNET_HDR_LEN };
		int w[2] = { 1, 1 };
		return fq_post(VNET_RXQ, 2, g, l, w);
	} else {
		uint64_t g[1] = { gpa };
		uint32_t l[1] = { size };
		int w[1] = { 1 };
		return fq_post(VNET_RXQ, 1, g, l, w);
	}
}

#endif
