/* Split virtqueue, device side; see virtio/queue.h and the virtio 1.2 spec,
 * section 2.7. Ring fields are read once into locals (the guest may change
 * them under us) and indexes are free-running 16-bit counters reduced
 * modulo num at every use, so they wrap past 65535 correctly. */
#include "virtio/queue.h"

#include "base/util.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_USED_F_NO_NOTIFY 1
#define VRING_AVAIL_F_NO_INTERRUPT 1

#define MIN_U32(a, b) ((a) < (b) ? (a) : (b))
#define AVAIL_FLAGS(q) ((q)->avail[0])
#define AVAIL_IDX(q) ((q)->avail[1])
#define AVAIL_RING(q, i) ((q)->avail[2 + (i)])
#define USED_EVENT(q) ((q)->avail[2 + (q)->num])
#define USED_FLAGS(q) ((q)->used[0])
#define USED_IDX(q) ((q)->used[1])
#define AVAIL_EVENT(q) ((q)->used[2 + 4 * (q)->num])

int vq_start(struct vq *q, const struct gmem *mem)
{
	uint64_t n = q->num;

	q->ready = false;
	q->broken = false;
	/* a power of two, so free-running 16-bit indexes reduce consistently
	 * modulo num across their wrap at 65536 */
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gmem_get(mem, q->desc_gpa, 16 * n);
	q->avail = gmem_get(mem, q->avail_gpa, 6 + 2 * n);
	q->used = gmem_get(mem, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used)
		return -EINVAL;
	q->mem = mem;
	q->signalled_used = q->used_idx;
	q->ready = true;
	return 0;
}

void vq_reset(struct vq *q)
{
	q->ready = false;
	q->broken = false;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->mem = NULL;
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->num = 0;
	q->desc_gpa = q->avail_gpa = q->used_gpa = 0;
}

/* Marks the queue broken. Returns -EINVAL for the caller to pass on. */
static int vq_break(struct vq *q)
{
	q->broken = true;
	return -EINVAL;
}

bool vq_has_avail(const struct vq *q)
{
	if (!q->ready || q->broken)
		return false;
	return __atomic_load_n(&AVAIL_IDX(q), __ATOMIC_ACQUIRE) != q->last_avail;
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	const struct vring_desc_le *table;
	uint32_t max, i, nseg = 0;
	uint16_t avail_idx, head;
	bool in_indirect = false;

	if (!q->ready)
		return 0;
	if (q->broken)
		return -EINVAL;
	avail_idx = __atomic_load_n(&AVAIL_IDX(q), __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return vq_break(q);
	head = AVAIL_RING(q, q->last_avail % q->num);
	if (head >= q->num)
		return vq_break(q);

	memset(c, 0, offsetof(struct vq_chain, seg));
	c->head = head;
	table = q->desc;
	max = q->num;
	i = head;
	for (;;) {
		struct vring_desc_le d;
		void *p;

		memcpy(&d, (const void *)&table[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!q->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT) ||
			    d.len == 0 || d.len % 16 || d.len / 16 > VQ_MAX_SIZE)
				return vq_break(q);
			table = gmem_get(q->mem, d.addr, d.len);
			if (!table || ((uintptr_t)table & 7))
				return vq_break(q);
			max = d.len / 16;
			i = 0;
			in_indirect = true;
			continue;
		}
		if (nseg >= VQ_MAX_SEGS)
			return vq_break(q);
		p = gmem_get(q->mem, d.addr, d.len);
		if (!p)
			return vq_break(q);
		if (d.flags & VRING_DESC_F_WRITE) {
			c->n_in++;
			c->in_len += d.len;
			if (c->in_len < d.len)
				return vq_break(q); /* total wrapped past 4 GiB */
		} else {
			if (c->n_in) /* readable after writable */
				return vq_break(q);
			c->n_out++;
			c->out_len += d.len;
			if (c->out_len < d.len)
				return vq_break(q);
		}
		c->seg[nseg].p = p;
		c->seg[nseg].len = d.len;
		nseg++;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= max)
			return vq_break(q);
	}
	q->last_avail++;
	q->n_pop++;
	if (q->event_idx)
		__atomic_store_n(&AVAIL_EVENT(q), q->last_avail, __ATOMIC_RELAXED);
	return 1;
}

void vq_unpop(struct vq *q)
{
	q->last_avail--;
	q->n_pop--;
	if (q->event_idx)
		__atomic_store_n(&AVAIL_EVENT(q), q->last_avail, __ATOMIC_RELAXED);
}

void vq_fill(struct vq *q, uint16_t off, uint16_t head, uint32_t len)
{
	volatile uint32_t *elem;

	if (!q->ready)
		return;
	elem = (volatile uint32_t *)(q->used + 2) + 2 * ((uint16_t)(q->used_idx + off) % q->num);
	elem[0] = head;
	elem[1] = len;
}

void vq_publish(struct vq *q, uint16_t n)
{
	if (!q->ready)
		return;
	q->used_idx += n;
	__atomic_store_n(&USED_IDX(q), q->used_idx, __ATOMIC_RELEASE);
	q->n_push += n;
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	vq_fill(q, 0, head, len);
	vq_publish(q, 1);
}

int vq_signal(struct vq *q)
{
	uint16_t old = q->signalled_used;

	if (!q->ready || q->used_idx == old)
		return 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		uint16_t ev = USED_EVENT(q);
		/* vring_need_event(): did used_idx pass used_event since old? */
		if ((uint16_t)(q->used_idx - ev - 1) >= (uint16_t)(q->used_idx - old)) {
			q->signalled_used = q->used_idx;
			return 0;
		}
	} else if (AVAIL_FLAGS(q) & VRING_AVAIL_F_NO_INTERRUPT) {
		return 0;
	}
	q->signalled_used = q->used_idx;
	if (q->isr)
		__atomic_or_fetch(q->isr, 1, __ATOMIC_SEQ_CST);
	eventfd_poke(q->call_fd); /* saturated: an interrupt is pending anyway */
	q->n_signal++;
	return 1;
}

void vq_set_notify(struct vq *q, bool enable)
{
	if (!q->ready)
		return;
	if (q->event_idx)
		__atomic_store_n(&AVAIL_EVENT(q), q->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&USED_FLAGS(q), enable ? 0 : VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vq_kick_again(struct vq *q)
{
	eventfd_poke(q->kick_fd); /* saturated: a kick is pending anyway */
}

/* Copies up to len bytes between buf and segments [first, first+count) of
 * c, starting off bytes into them; to_chain says which way. Returns bytes
 * copied. */
static uint32_t chain_copy(const struct vq_chain *c, unsigned first, unsigned count,
			   uint32_t off, uint8_t *buf, uint32_t len, bool to_chain)
{
	uint32_t done = 0;

	for (unsigned i = first; i < first + count && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		uint32_t n;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = MIN_U32(s->len - off, len - done);
		if (to_chain)
			memcpy(s->p + off, buf + done, n);
		else
			memcpy(buf + done, s->p + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint32_t vq_chain_read(const struct vq_chain *c, uint32_t off, void *dst, uint32_t len)
{
	return chain_copy(c, 0, c->n_out, off, dst, len, false);
}

uint32_t vq_chain_write(const struct vq_chain *c, uint32_t off, const void *src, uint32_t len)
{
	return chain_copy(c, c->n_out, c->n_in, off, (uint8_t *)src, len, true);
}
