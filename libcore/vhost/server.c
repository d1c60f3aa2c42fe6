/* vhost-user server: message framing, fd passing, memory regions and queue
 * hand-over; see vhost/server.h. Messages are a 12-byte header (request,
 * flags, size) and a body of `size` bytes; fds ride along as SCM_RIGHTS
 * with the header. Reads are non-blocking and resumable, so a VMM that
 * sends half a message never blocks the loop; so are replies: one that the
 * socket does not take at once waits in s->out, and no further request is
 * read until it is out (EPOLLOUT), so a VMM that stops reading stalls only
 * its own session. Requests are served from a table (handlers[]: name,
 * body size, fds, queue, reply, handler); every request's body size and
 * fd count are checked exactly, and anything else ends the session.
 * Memory fds must be sealed against shrinking (F_SEAL_SHRINK, what qemu's
 * memory-backend-memfd does by default): a region that could shrink under
 * our mapping would turn the next guest access into SIGBUS. */
#include "vhost/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/usock.h"
#include "base/util.h"

enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_MAX_MEM_SLOTS = 36,
};

#define VU_VERSION 0x1
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD (1ull << 8)

struct vu_hdr {
	uint32_t request, flags, size;
} __attribute__((packed));

struct vu_state {
	uint32_t index, num;
} __attribute__((packed));

struct vu_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
} __attribute__((packed));

struct vu_region {
	uint64_t gpa, size, uaddr, mmap_offset;
} __attribute__((packed));

struct vu_config {
	uint32_t offset, size, flags;
	uint8_t data[VHOST_MAX_CONFIG];
} __attribute__((packed));

static void session_end(struct vhost_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static uint64_t offered_protocol(const struct vhost_server *s)
{
	uint64_t p = 1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK;

	/* qemu's virtio-net and vhost-user-fs front ends serve their config
	 * space themselves and warn about a back end that offers CONFIG; the
	 * others (vsock) need it */
	if (s->dev->ops->config_size && s->dev->ops->device_id != VIRTIO_ID_NET &&
	    s->dev->ops->device_id != VIRTIO_ID_FS)
		p |= 1ULL << VHOST_USER_PROTOCOL_F_CONFIG;
	return p;
}

static uint64_t offered_features(const struct vhost_server *s)
{
	return s->dev->ops->features(s->dev) | VHOST_USER_F_PROTOCOL_FEATURES;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void drop_fds(struct vhost_server *s)
{
	for (unsigned i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	s->nfds = 0;
}

/* Takes the single fd a message brought (or -1 for none). */
static int take_fd(struct vhost_server *s)
{
	int fd = s->nfds ? s->fds[0] : -1;

	s->nfds = 0;
	return fd;
}

/* Stops the device if it runs (the back end forgets its session state). */
static void dev_stop(struct vhost_server *s)
{
	struct vdev *d = s->dev;

	if (d->started)
		d->ops->reset(d);
	d->started = false;
}

static void kick_unwatch(struct vhost_queue *hq, struct vq *vq)
{
	if (hq->kick_watched)
		loop_del(hq->s->loop, &hq->kick_w);
	hq->kick_watched = false;
	close_fd(&vq->kick_fd);
}

/* Forgets queue qi entirely: rings, indexes, fds. */
static void queue_clear(struct vhost_server *s, unsigned qi)
{
	struct vhost_queue *hq = &s->q[qi];
	struct vq *vq = &s->dev->vq[qi];

	kick_unwatch(hq, vq);
	close_fd(&vq->call_fd);
	close_fd(&hq->err_fd);
	vq_reset(vq);
	hq->have_num = hq->have_addr = hq->enabled = false;
	hq->desc_va = hq->avail_va = hq->used_va = 0;
}

/* Ends the session: device reset, queues and memory dropped, socket
 * closed; tells the owner fmt (unless fmt is NULL), or logs it on stderr
 * when there is no owner callback (the owner decides what to report: for
 * run, a plain hang-up at power-off is no news). */
static void session_end(struct vhost_server *s, const char *fmt, ...)
{
	va_list ap;

	if (s->conn_fd < 0)
		return;
	dev_stop(s);
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		queue_clear(s, i);
	gmem_clear(&s->mem);
	s->dev->mem = NULL;
	s->dev->failed = false;
	s->dev->acked = 0;
	s->features = s->protocol_features = 0;
	drop_fds(s);
	s->have = 0;
	loop_del(s->loop, &s->conn_w);
	close_fd(&s->conn_fd);
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	if (s->on_end)
		s->on_end(s, s->last_error);
	else
		vb_err("vhost-user", 0, "%s: %s", s->dev->name, s->last_error);
}

/* Sends what s->out holds, as far as the socket takes it, and watches for
 * EPOLLOUT (instead of EPOLLIN) while some is left. Returns 0 (all out or
 * waiting) or -1 (session ended). */
static int out_flush(struct vhost_server *s)
{
	while (s->out_len) {
		ssize_t n = send(s->conn_fd, s->out + s->out_off, s->out_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			session_end(s, "cannot reply: %s", n < 0 ? strerror(errno) : "closed");
			return -1;
		}
		s->out_off += (uint32_t)n;
		s->out_len -= (uint32_t)n;
	}
	if (!s->out_len)
		s->out_off = 0;
	if (s->out_waiting != (s->out_len != 0)) {
		s->out_waiting = s->out_len != 0;
		loop_mod(s->loop, &s->conn_w, s->out_waiting ? EPOLLOUT : EPOLLIN);
	}
	return 0;
}

/* Queues a reply to request req with body len bytes and sends what the
 * socket takes. Returns 0 or -1 (session ended). */
static int reply(struct vhost_server *s, uint32_t req, const void *body, uint32_t len)
{
	struct vu_hdr h = { req, VU_VERSION | VU_FLAG_REPLY, len };

	/* one reply per request and no request is read while one waits */
	if (s->out_len || sizeof(h) + len > sizeof(s->out)) {
		session_end(s, "request %u: reply does not fit", req);
		return -1;
	}
	memcpy(s->out, &h, sizeof(h));
	memcpy(s->out + sizeof(h), body, len);
	s->out_off = 0;
	s->out_len = (uint32_t)(sizeof(h) + len);
	return out_flush(s);
}

static int reply_u64(struct vhost_server *s, uint32_t req, uint64_t v)
{
	return reply(s, req, &v, sizeof(v));
}

/* Translates a VMM virtual address to guest-physical. Returns 0 or -1. */
static int va_to_gpa(const struct gmem *m, uint64_t va, uint64_t *gpa)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];
		if (va >= r->vmm_addr && va - r->vmm_addr < r->size) {
			*gpa = r->gpa + (va - r->vmm_addr);
			return 0;
		}
	}
	return -1;
}

/* The kick eventfd of a queue fired. */
static void kick_io(struct loop_watch *w, uint32_t events)
{
	struct vhost_queue *hq = w->ctx;
	struct vhost_server *s = hq->s;
	struct vdev *d = s->dev;
	uint64_t n;

	if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN && errno != EINTR) {
		session_end(s, "queue %u: kick fd: %s", hq->index, strerror(errno));
		return;
	}
	if (d->started && !d->failed && d->vq[hq->index].ready)
		d->ops->queue_kick(d, hq->index);
}

/* Starts queue qi if it has all it needs, then the device if all handed
 * queues run. Returns 0 or -1 (session ended). */
static int try_start(struct vhost_server *s, unsigned qi)
{
	struct vhost_queue *hq = &s->q[qi];
	struct vdev *d = s->dev;
	struct vq *vq = &d->vq[qi];
	bool need_enable = s->features & VHOST_USER_F_PROTOCOL_FEATURES;
	int r;

	if (!vq->ready) {
		if (!s->mem.n || !hq->have_num || !hq->have_addr || vq->kick_fd < 0 ||
		    (need_enable && !hq->enabled))
			return 0;
		if (va_to_gpa(&s->mem, hq->desc_va, &vq->desc_gpa) < 0 ||
		    va_to_gpa(&s->mem, hq->avail_va, &vq->avail_gpa) < 0 ||
		    va_to_gpa(&s->mem, hq->used_va, &vq->used_gpa) < 0 ||
		    vq_start(vq, &s->mem) < 0) {
			session_end(s, "queue %u: rings outside guest memory or misaligned", qi);
			return -1;
		}
	}
	if (d->started)
		return 0;
	for (unsigned i = 0; i < s->nq; i++)
		if (!d->vq[i].ready)
			return 0;
	d->mem = &s->mem;
	d->started = true;
	r = d->ops->start(d);
	if (r < 0) {
		d->started = false;
		session_end(s, "device start failed: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* SET_MEM_TABLE: maps every region (fd i for region i) at mmap_offset.
 * Returns 0 or -1 (session ended). */
static int set_mem_table(struct vhost_server *s, const uint8_t *body, uint32_t size)
{
	struct gmem m = { 0 };
	uint32_t n;

	memcpy(&n, body, 4);
	if (n == 0 || n > GMEM_MAX_REGIONS || size != 8 + n * sizeof(struct vu_region) ||
	    s->nfds != n) {
		session_end(s, "SET_MEM_TABLE: %u regions, %u bytes, %u fds", n, size, s->nfds);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct vu_region rg;
		struct gmem_region r = { 0 };
		struct stat sb;
		int seals;
		void *p;

		memcpy(&rg, body + 8 + i * sizeof(rg), sizeof(rg));
		if (!rg.size || !rg.uaddr || rg.mmap_offset + rg.size < rg.size ||
		    rg.uaddr + rg.size < rg.uaddr || rg.mmap_offset + rg.size > SIZE_MAX / 2) {
			gmem_clear(&m);
			session_end(s, "SET_MEM_TABLE: region %u overflows", i);
			return -1;
		}
		/* a file shorter than the map would be SIGBUS on first access,
		 * and so would one the VMM shrinks later: it must be sealed */
		seals = fcntl(s->fds[i], F_GET_SEALS);
		if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
			gmem_clear(&m);
			session_end(s, "SET_MEM_TABLE: region %u: memory fd not sealed against "
				    "shrinking (F_SEAL_SHRINK; qemu: memory-backend-memfd seal=on)", i);
			return -1;
		}
		if (fstat(s->fds[i], &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (uint64_t)sb.st_size < rg.mmap_offset + rg.size) {
			gmem_clear(&m);
			session_end(s, "SET_MEM_TABLE: region %u: fd holds %lld bytes, %llu needed", i,
				    (long long)sb.st_size,
				    (unsigned long long)(rg.mmap_offset + rg.size));
			return -1;
		}
		p = mmap(NULL, rg.mmap_offset + rg.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 s->fds[i], 0);
		if (p == MAP_FAILED) {
			gmem_clear(&m);
			session_end(s, "SET_MEM_TABLE: mmap of region %u: %s", i, strerror(errno));
			return -1;
		}
		r.gpa = rg.gpa;
		r.size = rg.size;
		r.hva = (uint8_t *)p + rg.mmap_offset;
		r.vmm_addr = rg.uaddr;
		r.map_base = p;
		r.map_len = rg.mmap_offset + rg.size;
		if (gmem_add(&m, &r) < 0) {
			munmap(p, r.map_len);
			gmem_clear(&m);
			session_end(s, "SET_MEM_TABLE: region %u overlaps or wraps", i);
			return -1;
		}
	}
	drop_fds(s);
	/* rings point into the old map: stop, swap, restart what was set up */
	dev_stop(s);
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		s->dev->vq[i].ready = false;
	gmem_clear(&s->mem);
	s->mem = m;
	for (unsigned i = 0; i < s->dev->ops->num_queues && i < VDEV_MAX_QUEUES; i++)
		if (try_start(s, i) < 0)
			return -1;
	return 0;
}

/* One request as dispatch() has checked it, for its handler. */
struct vu_msg {
	const struct vu_handler *h;  /* its table entry */
	uint32_t request, flags, size;
	const uint8_t *body;         /* size bytes */
	uint64_t u;                  /* an 8-byte body as one u64 (else 0) */
	struct vu_state st;          /* u as {index, num}; for a vring request
				      * index is the queue's, checked */
	struct vhost_queue *hq;      /* that queue (vring requests only) */
	struct vq *vq;
	union {                      /* the reply's body (h->reply) */
		uint64_t u64;
		struct vu_state st;
		struct vu_config c;
	} out;
	uint32_t out_len;
};

/* The fds a request must bring. */
enum vu_fds {
	VU_FDS_NONE,    /* none */
	VU_FDS_VRING,   /* one, unless the vring word's no-fd bit is set */
	VU_FDS_REGIONS, /* one per memory region (set_mem_table() checks) */
};

/* What dispatch() checks before it calls a request's handler, and what it
 * does after. */
struct vu_handler {
	const char *name;
	int size;      /* the exact body size; -1: variable, the handler checks it */
	uint8_t fds;   /* enum vu_fds */
	bool queue;    /* names a queue: its index is checked, m->hq and m->vq set */
	bool reply;    /* answers with m->out (m->out_len bytes); else, when asked
			* and REPLY_ACK was negotiated, with a zero u64 */
	/* Returns 0, or -1 when it ended the session. */
	int (*fn)(struct vhost_server *s, struct vu_msg *m);
};

/* Sets a u64 reply. Returns 0. */
static int out_u64(struct vu_msg *m, uint64_t v)
{
	m->out.u64 = v;
	m->out_len = sizeof(v);
	return 0;
}

static int vu_get_features(struct vhost_server *s, struct vu_msg *m)
{
	return out_u64(m, offered_features(s));
}

static int vu_set_features(struct vhost_server *s, struct vu_msg *m)
{
	struct vdev *d = s->dev;

	if (m->u & ~offered_features(s)) {
		session_end(s, "%s %#llx: not offered", m->h->name, (unsigned long long)m->u);
		return -1;
	}
	s->features = m->u;
	d->acked = m->u & ~VHOST_USER_F_PROTOCOL_FEATURES;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
		d->vq[i].event_idx = d->acked & VIRTIO_RING_F_EVENT_IDX;
		d->vq[i].indirect = d->acked & VIRTIO_RING_F_INDIRECT_DESC;
	}
	return 0;
}

static int vu_get_protocol_features(struct vhost_server *s, struct vu_msg *m)
{
	return out_u64(m, offered_protocol(s));
}

static int vu_set_protocol_features(struct vhost_server *s, struct vu_msg *m)
{
	if (m->u & ~offered_protocol(s)) {
		session_end(s, "%s %#llx: not offered", m->h->name, (unsigned long long)m->u);
		return -1;
	}
	s->protocol_features = m->u;
	return 0;
}

static int vu_set_owner(struct vhost_server *s, struct vu_msg *m)
{
	return 0;
}

static int vu_reset_owner(struct vhost_server *s, struct vu_msg *m)
{
	dev_stop(s);
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		queue_clear(s, i);
	s->dev->failed = false;
	return 0;
}

static int vu_get_queue_num(struct vhost_server *s, struct vu_msg *m)
{
	return out_u64(m, s->dev->ops->num_queues);
}

static int vu_get_max_mem_slots(struct vhost_server *s, struct vu_msg *m)
{
	return out_u64(m, GMEM_MAX_REGIONS);
}

static int vu_set_mem_table(struct vhost_server *s, struct vu_msg *m)
{
	if (m->size < 8) {
		session_end(s, "%s: body of %u bytes", m->h->name, m->size);
		return -1;
	}
	return set_mem_table(s, m->body, m->size);
}

static int vu_set_vring_num(struct vhost_server *s, struct vu_msg *m)
{
	uint32_t num = m->st.num;

	if (!num || num > s->dev->ops->max_queue_size || (num & (num - 1)) || m->vq->ready) {
		session_end(s, "queue %u: size %u refused%s", m->st.index, num,
			    m->vq->ready ? " (queue running)" : "");
		return -1;
	}
	m->vq->num = (uint16_t)num;
	m->hq->have_num = true;
	return 0;
}

static int vu_set_vring_addr(struct vhost_server *s, struct vu_msg *m)
{
	struct vu_addr a;

	memcpy(&a, m->body, sizeof(a));
	if (m->vq->ready) {
		session_end(s, "queue %u: %s while running", m->st.index, m->h->name);
		return -1;
	}
	m->hq->desc_va = a.desc;
	m->hq->avail_va = a.avail;
	m->hq->used_va = a.used;
	m->hq->have_addr = true;
	return try_start(s, m->st.index);
}

static int vu_set_vring_base(struct vhost_server *s, struct vu_msg *m)
{
	if (m->st.num > 0xffff || m->vq->ready) {
		session_end(s, "queue %u: %s %u refused", m->st.index, m->h->name, m->st.num);
		return -1;
	}
	m->vq->last_avail = m->vq->used_idx = (uint16_t)m->st.num;
	return 0;
}

/* The VMM stops the ring: so does the device. Answers where it stopped. */
static int vu_get_vring_base(struct vhost_server *s, struct vu_msg *m)
{
	dev_stop(s);
	m->vq->ready = false;
	kick_unwatch(m->hq, m->vq);
	m->out.st = (struct vu_state){ .index = m->st.index, .num = m->vq->last_avail };
	m->out_len = sizeof(m->out.st);
	return 0;
}

static int vu_set_vring_kick(struct vhost_server *s, struct vu_msg *m)
{
	struct vhost_queue *hq = m->hq;

	if (!s->nfds) {
		session_end(s, "queue %u: polling mode (no kick fd) unsupported", m->st.index);
		return -1;
	}
	kick_unwatch(hq, m->vq);
	m->vq->kick_fd = take_fd(s);
	hq->kick_w = (struct loop_watch){ .fd = m->vq->kick_fd, .cb = kick_io, .ctx = hq };
	if (loop_add(s->loop, &hq->kick_w, EPOLLIN) < 0) {
		session_end(s, "queue %u: cannot watch kick fd", m->st.index);
		return -1;
	}
	hq->kick_watched = true;
	return try_start(s, m->st.index);
}

/* The newest call fd wins; the old one is closed. */
static int vu_set_vring_call(struct vhost_server *s, struct vu_msg *m)
{
	close_fd(&m->vq->call_fd);
	m->vq->call_fd = take_fd(s);
	return 0;
}

static int vu_set_vring_err(struct vhost_server *s, struct vu_msg *m)
{
	close_fd(&m->hq->err_fd);
	m->hq->err_fd = take_fd(s);
	return 0;
}

static int vu_set_vring_enable(struct vhost_server *s, struct vu_msg *m)
{
	if (m->st.num > 1) {
		session_end(s, "queue %u: %s %u", m->st.index, m->h->name, m->st.num);
		return -1;
	}
	m->hq->enabled = m->st.num;
	if (!m->st.num)
		dev_stop(s);
	else if (try_start(s, m->st.index) < 0)
		return -1;
	return 0;
}

/* Copies a GET/SET_CONFIG body into c (zeroed by the caller) and checks
 * the access against the device's config space. Returns 0 or -1 (session
 * ended). */
static int config_access(struct vhost_server *s, const struct vu_msg *m, struct vu_config *c)
{
	uint32_t cfg = s->dev->ops->config_size;

	if (m->size < 12 || m->size > sizeof(*c)) {
		session_end(s, "config request: body of %u bytes", m->size);
		return -1;
	}
	memcpy(c, m->body, m->size);
	if (c->size > VHOST_MAX_CONFIG || m->size != 12 + c->size || c->offset > cfg ||
	    c->size > cfg - c->offset) {
		session_end(s, "config access %u+%u outside %u bytes", c->offset, c->size, cfg);
		return -1;
	}
	return 0;
}

/* Answers with the request's own body, its data read from the device. */
static int vu_get_config(struct vhost_server *s, struct vu_msg *m)
{
	struct vu_config *c = &m->out.c;

	if (config_access(s, m, c) < 0)
		return -1;
	s->dev->ops->read_config(s->dev, c->offset, c->data, c->size);
	m->out_len = m->size;
	return 0;
}

static int vu_set_config(struct vhost_server *s, struct vu_msg *m)
{
	struct vu_config c = { 0 };

	if (config_access(s, m, &c) < 0)
		return -1;
	s->dev->ops->write_config(s->dev, c.offset, c.data, c.size);
	return 0;
}

/* The requests we serve, by number: name, body size, fds, whether it names
 * a queue, whether it replies, handler. Any other number ends the session. */
#define VU(req, size, fds, queue, reply, fn) [VU_##req] = { #req, size, fds, queue, reply, fn }
static const struct vu_handler handlers[] = {
	VU(GET_FEATURES, 0, VU_FDS_NONE, false, true, vu_get_features),
	VU(SET_FEATURES, 8, VU_FDS_NONE, false, false, vu_set_features),
	VU(SET_OWNER, 0, VU_FDS_NONE, false, false, vu_set_owner),
	VU(RESET_OWNER, 0, VU_FDS_NONE, false, false, vu_reset_owner),
	VU(SET_MEM_TABLE, -1, VU_FDS_REGIONS, false, false, vu_set_mem_table),
	VU(SET_VRING_NUM, 8, VU_FDS_NONE, true, false, vu_set_vring_num),
	VU(SET_VRING_ADDR, (int)sizeof(struct vu_addr), VU_FDS_NONE, true, false, vu_set_vring_addr),
	VU(SET_VRING_BASE, 8, VU_FDS_NONE, true, false, vu_set_vring_base),
	VU(GET_VRING_BASE, 8, VU_FDS_NONE, true, true, vu_get_vring_base),
	VU(SET_VRING_KICK, 8, VU_FDS_VRING, true, false, vu_set_vring_kick),
	VU(SET_VRING_CALL, 8, VU_FDS_VRING, true, false, vu_set_vring_call),
	VU(SET_VRING_ERR, 8, VU_FDS_VRING, true, false, vu_set_vring_err),
	VU(GET_PROTOCOL_FEATURES, 0, VU_FDS_NONE, false, true, vu_get_protocol_features),
	VU(SET_PROTOCOL_FEATURES, 8, VU_FDS_NONE, false, false, vu_set_protocol_features),
	VU(GET_QUEUE_NUM, 0, VU_FDS_NONE, false, true, vu_get_queue_num),
	VU(SET_VRING_ENABLE, 8, VU_FDS_NONE, true, false, vu_set_vring_enable),
	VU(GET_CONFIG, -1, VU_FDS_NONE, false, true, vu_get_config),
	VU(SET_CONFIG, -1, VU_FDS_NONE, false, false, vu_set_config),
	VU(GET_MAX_MEM_SLOTS, 0, VU_FDS_NONE, false, true, vu_get_max_mem_slots),
};
#undef VU

/* Handles one complete message: the checks its table entry asks for (a
 * known request, protocol version, body size, fds, vring word, queue
 * index), its handler, then its reply. Returns 0, or -1 when the session
 * ended. */
static int dispatch(struct vhost_server *s)
{
	struct vu_hdr h;
	struct vu_msg m = { 0 };
	const struct vu_handler *e;

	memcpy(&h, s->msg, sizeof(h));
	s->n_msgs++;
	e = h.request < ARRAY_SIZE(handlers) ? &handlers[h.request] : NULL;
	if (!e || !e->fn) {
		session_end(s, "unknown request %u", h.request);
		return -1;
	}
	if ((h.flags & 3) != VU_VERSION) {
		session_end(s, "request %u: protocol version %u", h.request, h.flags & 3);
		return -1;
	}
	if (e->size >= 0 && h.size != (uint32_t)e->size) {
		session_end(s, "request %u: body of %u bytes, expected %d", h.request, h.size, e->size);
		return -1;
	}
	m.h = e;
	m.request = h.request;
	m.flags = h.flags;
	m.size = h.size;
	m.body = s->msg + sizeof(h);
	if (e->size == 8)
		memcpy(&m.u, m.body, 8);
	memcpy(&m.st, &m.u, sizeof(m.st));
	if (e->fds == VU_FDS_VRING) {
		unsigned need = (m.u & VU_VRING_NOFD) ? 0 : 1;
		if (s->nfds != need) {
			session_end(s, "request %u: %u fds, expected %u", h.request, s->nfds, need);
			return -1;
		}
		m.st.index = (uint32_t)(m.u & VU_VRING_IDX_MASK);
		if (m.u & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
			session_end(s, "request %u: bad vring word %#llx", h.request,
				    (unsigned long long)m.u);
			return -1;
		}
	} else if (e->fds == VU_FDS_NONE && s->nfds) {
		session_end(s, "request %u: %u unexpected fds", h.request, s->nfds);
		return -1;
	}
	if (e->queue) {
		/* struct vu_state and struct vu_addr start with the index; a
		 * vring word carries it in its low byte (taken above) */
		if (e->fds != VU_FDS_VRING)
			memcpy(&m.st.index, m.body, 4);
		if (m.st.index >= s->dev->ops->num_queues || m.st.index >= VDEV_MAX_QUEUES) {
			session_end(s, "request %u: queue %u does not exist", h.request, m.st.index);
			return -1;
		}
		m.hq = &s->q[m.st.index];
		m.vq = &s->dev->vq[m.st.index];
	}
	if (e->fn(s, &m) < 0)
		return -1;
	if (e->reply)
		return reply(s, h.request, &m.out, m.out_len);
	if ((h.flags & VU_FLAG_NEED_REPLY) &&
	    (s->protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK)))
		return reply_u64(s, h.request, 0);
	return 0;
}

/* Reads what the VMM sent; dispatches each complete message. */
static void conn_io(struct loop_watch *w, uint32_t events)
{
	struct vhost_server *s = w->ctx;

	if (s->out_len && out_flush(s) < 0)
		return;
	while (s->conn_fd >= 0 && !s->out_len) {
		union {
			char buf[CMSG_SPACE(VHOST_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} cm;
		struct vu_hdr h;
		uint32_t want = sizeof(h);
		struct iovec iov;
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
				    .msg_controllen = sizeof(cm.buf) };
		ssize_t n;

		if (s->have >= sizeof(h)) {
			memcpy(&h, s->msg, sizeof(h));
			if (h.size > VHOST_MAX_PAYLOAD) {
				session_end(s, "request %u: body of %u bytes is too large", h.request,
					    h.size);
				return;
			}
			want = (uint32_t)sizeof(h) + h.size;
		}
		if (s->have == want) {
			if (dispatch(s) < 0)
				return;
			drop_fds(s);
			s->have = 0;
			continue;
		}
		iov.iov_base = s->msg + s->have;
		iov.iov_len = want - s->have;
		n = recvmsg(s->conn_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			s->peer_closed = n == 0; /* the owner's on_end tells hang-up from error */
			session_end(s, n == 0 ? "the VMM closed the vhost-user connection"
					      : "vhost-user connection: %s", strerror(errno));
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (s->nfds < VHOST_MAX_FDS)
					s->fds[s->nfds++] = fd;
				else
					close(fd);
			}
		}
		if (m.msg_flags & MSG_CTRUNC) {
			session_end(s, "more than %d fds with one message", VHOST_MAX_FDS);
			return;
		}
		s->have += (uint32_t)n;
	}
}

/* A VMM connected; a second one while a session runs is turned away. */
static void listen_io(struct loop_watch *w, uint32_t events)
{
	struct vhost_server *s = w->ctx;
	int fd = usock_accept(s->listen_fd, &s->spare_fd);

	if (fd < 0) {
		if (fd == -EMFILE)
			vb_err("vhost-user", 0, "%s: out of fds: connection dropped", s->dev->name);
		return;
	}
	if (s->conn_fd >= 0) {
		vb_err("vhost-user", 0, "%s: second connection refused", s->dev->name);
		close(fd);
		return;
	}
	/* non-blocking both ways: see out_flush() */
	s->conn_fd = fd;
	s->out_len = s->out_off = 0;
	s->out_waiting = false;
	s->conn_w = (struct loop_watch){ .fd = fd, .cb = conn_io, .ctx = s };
	if (loop_add(s->loop, &s->conn_w, EPOLLIN) < 0) {
		close_fd(&s->conn_fd);
		return;
	}
	s->have = 0;
	s->n_sessions++;
	s->peer_closed = false;
}

/* The back end found the driver breaking the rules: tell the VMM through
 * the queues' error fds, stop the device, tell the owner. */
static void on_dev_fail(struct vdev *d, const char *why)
{
	struct vhost_server *s = d->frontend;

	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		eventfd_poke(s->q[i].err_fd); /* saturated: the VMM was told already */
	snprintf(s->last_error, sizeof(s->last_error), "%s", why);
	vb_err("vhost-user", 0, "%s: device failed: %s", d->name, why);
	if (s->on_end)
		s->on_end(s, why);
}

int vhost_server_init(struct vhost_server *s, struct loop *l, struct vdev *d,
		      const char *sock_path)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->conn_fd = s->spare_fd = -1;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
		s->q[i].s = s;
		s->q[i].index = i;
		s->q[i].err_fd = -1;
		d->vq[i].kick_fd = d->vq[i].call_fd = -1;
	}
	if (d->ops->num_queues > VDEV_MAX_QUEUES)
		return -EINVAL;
	s->spare_fd = usock_spare();
	if (s->spare_fd < 0)
		return s->spare_fd;
	s->listen_fd = usock_listen(sock_path, 4);
	if (s->listen_fd < 0) {
		r = s->listen_fd;
		close_fd(&s->spare_fd);
		return r;
	}
	strcpy(s->path, sock_path); /* fits: usock_listen checked */
	s->loop = l;
	s->dev = d;
	s->nq = d->ops->device_id == VIRTIO_ID_VSOCK ? 2 : d->ops->num_queues;
	d->frontend = s;
	d->on_fail = on_dev_fail;
	d->loop = l;
	s->listen_w = (struct loop_watch){ .fd = s->listen_fd, .cb = listen_io, .ctx = s };
	r = loop_add(l, &s->listen_w, EPOLLIN);
	if (r < 0) {
		close_fd(&s->listen_fd);
		close_fd(&s->spare_fd);
		unlink(sock_path);
		return r;
	}
	return 0;
}

void vhost_server_fini(struct vhost_server *s)
{
	session_end(s, NULL);
	if (s->listen_fd >= 0) {
		loop_del(s->loop, &s->listen_w);
		close_fd(&s->listen_fd);
		unlink(s->path);
	}
	close_fd(&s->spare_fd);
}

bool vhost_server_connected(const struct vhost_server *s)
{
	return s->conn_fd >= 0;
}
