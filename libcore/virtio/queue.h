/* The split virtqueue, device side. A queue is configured by a front end
 * (ring addresses, size, kick/call fds), validated against the guest-memory
 * map by vq_start(), and then consumed by a back end: vq_pop() takes the
 * next available descriptor chain as host segments, vq_push() returns it
 * with the number of bytes written, vq_signal() interrupts the driver when
 * it asked to be told. Every ring index is taken modulo the queue size and
 * every descriptor address and length is checked against the map; a chain
 * that loops, leaves the map, or exceeds VQ_MAX_SEGS marks the queue broken
 * (the device then asks for a reset), never a crash. */
#ifndef VOIDBOX_VQ_H
#define VOIDBOX_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/mem.h"

#define VQ_MAX_SIZE 32768 /* the spec's limit for a split ring */
#define VQ_MAX_SEGS 64    /* longest chain we accept (incl. indirect) */

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_seg {
	uint8_t *p;
	uint32_t len;
};

/* One descriptor chain: the driver-written (readable) segments come first,
 * seg[0 .. n_out), then the device-writable ones, seg[n_out .. n_out+n_in). */
struct vq_chain {
	uint16_t head;
	uint16_t n_out, n_in;
	uint32_t out_len, in_len; /* total bytes of each kind */
	struct vq_seg seg[VQ_MAX_SEGS];
};

struct vq {
	/* set by the front end */
	uint16_t num;                          /* queue size */
	uint64_t desc_gpa, avail_gpa, used_gpa; /* guest-physical ring addresses */
	int kick_fd;                           /* eventfd the driver kicks, or -1 */
	int call_fd;                           /* eventfd/irqfd to interrupt, or -1 */
	uint32_t *isr;                         /* mmio InterruptStatus to OR 1 into, or NULL */
	bool event_idx;                        /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;                         /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	/* owned by the queue code */
	bool ready;                            /* vq_start() succeeded */
	bool broken;                           /* the driver broke the rules */
	const struct gmem *mem;
	struct vring_desc_le *desc;
	volatile uint16_t *avail;              /* flags, idx, ring[num], used_event */
	volatile uint16_t *used;               /* flags, idx, then {u32 id, u32 len}[num], avail_event */
	uint16_t last_avail;                   /* free-running; ring slot = value % num */
	uint16_t used_idx;                     /* free-running */
	uint16_t signalled_used;               /* used_idx at the last signal (event_idx) */
	uint64_t n_pop, n_push, n_signal;      /* counters */
};

/* Validates size (a power of two up to VQ_MAX_SIZE) and ring placement against mem and maps the rings.
 * last_avail/used_idx keep their current values (vhost-user SET_VRING_BASE).
 * Returns 0 or -EINVAL. */
int vq_start(struct vq *q, const struct gmem *mem);
/* Forgets the rings and indexes (device reset); kick/call fds untouched. */
void vq_reset(struct vq *q);
/* Takes the next available chain. Returns 1 with *c filled, 0 when none is
 * available, -EINVAL when the driver broke the rules (q->broken is set). */
int vq_pop(struct vq *q, struct vq_chain *c);
/* Puts back the last popped chain without consuming it (no room downstream). */
void vq_unpop(struct vq *q);
/* Returns chain head to the driver with len bytes written to it. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);
/* Writes the used element off places past the published ones without
 * publishing it; vq_publish(q, n) then makes the next n elements visible at
 * once (a frame spread over several chains, MRG_RXBUF, must appear whole). */
void vq_fill(struct vq *q, uint16_t off, uint16_t head, uint32_t len);
void vq_publish(struct vq *q, uint16_t n);
/* Interrupts the driver if it wants to hear about new used entries.
 * Returns 1 if signalled, 0 if suppressed. */
int vq_signal(struct vq *q);
/* True when the driver has made chains available that we have not taken. */
bool vq_has_avail(const struct vq *q);
/* Asks (or stops asking) the driver to kick us on new buffers. */
void vq_set_notify(struct vq *q, bool enable);
/* Kicks q again through its kick fd (if any), so a back end that stopped
 * a pass with chains left is called back after the loop served others. */
void vq_kick_again(struct vq *q);
/* One round of a back end's service of q: with the driver's kicks off, pops
 * up to max chains into *c and hands each to one(ctx, q, c). When the ring
 * ran dry first, kicks are turned back on. Either way *more then says whether
 * chains are waiting (one added while kicks were off brings no kick, so the
 * caller serves another round, or defers with vq_kick_again). Returns the
 * number of chains served, or -EINVAL when the driver broke the ring
 * (q->broken is set). Inline so that one() is inlined into the loop. */
static inline int vq_serve_round(struct vq *q, struct vq_chain *c, unsigned max,
				 void (*one)(void *ctx, struct vq *q, const struct vq_chain *c),
				 void *ctx, bool *more)
{
	unsigned n = 0;
	int r = 0;

	vq_set_notify(q, false);
	while (n < max && (r = vq_pop(q, c)) == 1) {
		one(ctx, q, c);
		n++;
	}
	if (r < 0)
		return r;
	if (n < max)
		vq_set_notify(q, true);
	*more = vq_has_avail(q);
	return (int)n;
}
/* Copies len bytes from the chain's readable segments at offset off into
 * dst. Returns bytes copied. */
uint32_t vq_chain_read(const struct vq_chain *c, uint32_t off, void *dst, uint32_t len);
/* Copies len bytes into the chain's writable segments at offset off.
 * Returns bytes copied (less when the chain is too short). */
uint32_t vq_chain_write(const struct vq_chain *c, uint32_t off, const void *src, uint32_t len);

#endif
