/* virtio-mmio transport; see kvm/mmio.h. The register state is guarded by
 * the per-window lock; status and InterruptStatus are also touched by the
 * I/O thread (vq_signal, vdev_fail) and so are accessed atomically. */
#include "kvm/mmio.h"

#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- the hand-off of back-end calls to the I/O thread ---------------- */

typedef void (*mmio_fn)(struct mmio_dev *, void *);

/* I/O thread: runs the waiting call and wakes its caller. */
static void bus_req_cb(struct loop_watch *w, uint32_t events)
{
	struct mmio_bus *b = w->ctx;
	uint64_t v;

	if (read(b->req_fd, &v, sizeof(v)) < 0) {
		/* nothing to read: a spurious wake-up */
	}
	pthread_mutex_lock(&b->mu);
	if (b->req_pending) {
		b->req_fn(b->req_dev, b->req_arg);
		b->req_pending = false;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
}

/* Runs fn(m, arg) on the I/O thread (inline when there is none) and returns
 * when it has run. */
static void bus_call(struct mmio_bus *b, mmio_fn fn, struct mmio_dev *m, void *arg)
{
	pthread_mutex_lock(&b->call_lock);
	pthread_mutex_lock(&b->mu);
	if (!b->threaded) {
		pthread_mutex_unlock(&b->mu);
		fn(m, arg);
		pthread_mutex_unlock(&b->call_lock);
		return;
	}
	b->req_fn = fn;
	b->req_dev = m;
	b->req_arg = arg;
	b->req_pending = true;
	pthread_mutex_unlock(&b->mu);
	eventfd_poke(b->req_fd); /* one caller at a time: never saturated */
	pthread_mutex_lock(&b->mu);
	while (b->req_pending)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	pthread_mutex_unlock(&b->call_lock);
}

void mmio_bus_set_threaded(struct mmio_bus *b, bool on)
{
	pthread_mutex_lock(&b->mu);
	b->threaded = on;
	if (!on && b->req_pending) { /* the I/O thread left with a call waiting */
		b->req_fn(b->req_dev, b->req_arg);
		b->req_pending = false;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
}

int mmio_bus_init(struct mmio_bus *b, struct loop *loop)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->req_fd < 0)
		return -errno;
	pthread_mutex_init(&b->call_lock, NULL);
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->req_w = (struct loop_watch){ .fd = b->req_fd, .cb = bus_req_cb, .ctx = b };
	if ((r = loop_add(loop, &b->req_w, EPOLLIN))) {
		mmio_bus_fini(b);
		return r;
	}
	return 0;
}

void mmio_bus_fini(struct mmio_bus *b)
{
	if (b->req_fd < 0)
		return;
	loop_del(b->loop, &b->req_w);
	close(b->req_fd);
	b->req_fd = -1;
	pthread_mutex_destroy(&b->call_lock);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
}

/* ---- back-end calls (run on the I/O thread) ------------------------- */

/* Tells the driver that the device needs a reset: status bit and a
 * configuration-change interrupt. */
static void raise_needs_reset(struct mmio_dev *m)
{
	__atomic_or_fetch(&m->status, VIRTIO_S_NEEDS_RESET, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&m->isr, MMIO_INT_CONFIG, __ATOMIC_SEQ_CST);
	eventfd_poke(m->irq_fd); /* saturated: an interrupt is pending anyway */
}

/* vdev->config_changed hook: a new config generation and a
 * configuration-change interrupt. */
static void on_config_changed(struct vdev *d)
{
	struct mmio_dev *m = d->frontend;

	__atomic_add_fetch(&m->config_gen, 1, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&m->isr, MMIO_INT_CONFIG, __ATOMIC_SEQ_CST);
	eventfd_poke(m->irq_fd); /* saturated: an interrupt is pending anyway */
}

/* vdev_fail() hook. */
static void on_fail(struct vdev *d, const char *why)
{
	struct mmio_dev *m = d->frontend;

	if (!m->fail_why)
		m->fail_why = why;
	raise_needs_reset(m);
}

/* Stops the back end and forgets every queue (status 0). */
static void call_reset(struct mmio_dev *m, void *arg)
{
	struct vdev *d = m->vdev;

	if (d->started && d->ops->reset)
		d->ops->reset(d);
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		vq_reset(&d->vq[i]);
	d->started = false;
	d->failed = false;
	d->acked = 0;
}

/* DRIVER_OK: maps the ready queues and starts the back end. */
static void call_start(struct mmio_dev *m, void *arg)
{
	struct vdev *d = m->vdev;

	for (unsigned i = 0; i < d->ops->num_queues; i++) {
		if (m->q_ready[i] && vq_start(&d->vq[i], d->mem)) {
			vdev_fail(d, "queue rings outside guest memory or misaligned");
			return;
		}
	}
	if (d->ops->start && d->ops->start(d)) {
		vdev_fail(d, "back end refused to start");
		return;
	}
	d->started = true;
}

/* A queue made ready after DRIVER_OK. */
static void call_start_queue(struct mmio_dev *m, void *arg)
{
	struct vdev *d = m->vdev;
	unsigned qi = *(unsigned *)arg;

	if (vq_start(&d->vq[qi], d->mem))
		vdev_fail(d, "queue rings outside guest memory or misaligned");
}

struct cfg_access {
	uint32_t off, len;
	void *buf;
	bool write;
};

static void call_config(struct mmio_dev *m, void *arg)
{
	struct cfg_access *a = arg;
	struct vdev *d = m->vdev;

	if (a->write) {
		if (d->ops->write_config)
			d->ops->write_config(d, a->off, a->buf, a->len);
	} else if (d->ops->read_config) {
		d->ops->read_config(d, a->off, a->buf, a->len);
	}
}

/* I/O thread: the driver notified a queue (ioeventfd or a notify exit). */
static void kick_cb(struct loop_watch *w, uint32_t events)
{
	struct mmio_kick *k = w->ctx;
	struct vdev *d = k->m->vdev;
	uint64_t v;

	if (read(w->fd, &v, sizeof(v)) < 0)
		return;
	if (d->started && !d->failed && d->vq[k->qi].ready && d->ops->queue_kick)
		d->ops->queue_kick(d, k->qi);
}

/* ---- set-up --------------------------------------------------------- */

int mmio_dev_init(struct mmio_dev *m, struct mmio_bus *b, struct vdev *d, const struct gmem *mem,
		  uint64_t base, uint32_t size, uint32_t gsi)
{
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->irq_fd = -1;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		m->kick[i].w.fd = -1;
	if (b->n >= KVM_MMIO_MAX)
		return -ENOSPC;
	if (d->ops->num_queues > VDEV_MAX_QUEUES || size < MMIO_R_CONFIG + d->ops->config_size)
		return -EINVAL;
	m->bus = b;
	m->vdev = d;
	m->base = base;
	m->size = size;
	m->gsi = gsi;
	pthread_mutex_init(&m->lock, NULL);
	m->dev_features = d->ops->features ? d->ops->features(d) : VIRTIO_F_VERSION_1;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0)
		r = -errno;
	d->mem = mem;
	d->loop = b->loop;
	d->frontend = m;
	d->on_fail = on_fail;
	d->config_changed = on_config_changed;
	for (unsigned i = 0; !r && i < d->ops->num_queues; i++) {
		struct mmio_kick *k = &m->kick[i];
		k->m = m;
		k->qi = i;
		k->w = (struct loop_watch){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), .cb = kick_cb, .ctx = k };
		if (k->w.fd < 0) {
			r = -errno;
			break;
		}
		if ((r = loop_add(b->loop, &k->w, EPOLLIN))) {
			close(k->w.fd);
			k->w.fd = -1;
			break;
		}
		d->vq[i].kick_fd = k->w.fd;
		d->vq[i].call_fd = m->irq_fd;
		d->vq[i].isr = &m->isr;
	}
	if (r) {
		mmio_dev_fini(m);
		return r;
	}
	b->dev[b->n++] = m;
	return 0;
}

void mmio_dev_fini(struct mmio_dev *m)
{
	struct mmio_bus *b = m->bus;

	if (!b)
		return;
	if (m->vdev->started)
		bus_call(b, call_reset, m, NULL);
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
		if (m->kick[i].w.fd < 0)
			continue;
		loop_del(b->loop, &m->kick[i].w);
		close(m->kick[i].w.fd);
		m->kick[i].w.fd = -1;
		m->vdev->vq[i].kick_fd = m->vdev->vq[i].call_fd = -1;
		m->vdev->vq[i].isr = NULL;
	}
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	m->irq_fd = -1;
	for (unsigned i = 0; i < b->n; i++) {
		if (b->dev[i] == m) {
			b->dev[i] = b->dev[--b->n];
			break;
		}
	}
	pthread_mutex_destroy(&m->lock);
	m->bus = NULL;
}

/* ---- registers ------------------------------------------------------ */

/* The queue QueueSel names, or NULL when it does not exist. */
static struct vq *sel_queue(struct mmio_dev *m)
{
	return m->queue_sel < m->vdev->ops->num_queues ? &m->vdev->vq[m->queue_sel] : NULL;
}

/* Reads a 32-bit register. Returns its value (0 for unknown ones). */
static uint32_t reg_read(struct mmio_dev *m, uint64_t off)
{
	const struct vdev_ops *ops = m->vdev->ops;
	struct vq *q = sel_queue(m);

	switch (off) {
	case MMIO_R_MAGIC:
		return MMIO_MAGIC;
	case MMIO_R_VERSION:
		return MMIO_VERSION;
	case MMIO_R_DEVICE_ID:
		return ops->device_id;
	case MMIO_R_VENDOR_ID:
		return MMIO_VENDOR;
	case MMIO_R_DEV_FEATURES:
		return m->dev_feat_sel < 2 ? (uint32_t)(m->dev_features >> (32 * m->dev_feat_sel)) : 0;
	case MMIO_R_QUEUE_NUM_MAX:
		return q ? ops->max_queue_size : 0;
	case MMIO_R_QUEUE_READY:
		return q ? m->q_ready[m->queue_sel] : 0;
	case MMIO_R_INTERRUPT_STATUS:
		return __atomic_load_n(&m->isr, __ATOMIC_SEQ_CST);
	case MMIO_R_STATUS:
		return __atomic_load_n(&m->status, __ATOMIC_SEQ_CST);
	case MMIO_R_SHM_LEN_LO:
	case MMIO_R_SHM_LEN_HI:
	case MMIO_R_SHM_BASE_LO:
	case MMIO_R_SHM_BASE_HI:
		return 0xffffffff; /* no shared memory regions */
	case MMIO_R_CONFIG_GEN:
		return __atomic_load_n(&m->config_gen, __ATOMIC_SEQ_CST);
	}
	m->n_bad++;
	return 0;
}

/* Sets the low or high half of a 64-bit queue address, only while the
 * queue is not ready. */
static void set_half(struct mmio_dev *m, uint64_t *field, bool hi, uint32_t v)
{
	if (m->q_ready[m->queue_sel]) {
		m->n_bad++;
		return;
	}
	if (hi)
		*field = (*field & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

/* The driver asked for FEATURES_OK: accept only a subset of what was
 * offered that includes VERSION_1. Returns true when accepted. */
static bool accept_features(struct mmio_dev *m)
{
	struct vdev *d = m->vdev;
	uint64_t f = m->drv_features;

	if ((f & ~m->dev_features) || !(f & VIRTIO_F_VERSION_1))
		return false;
	d->acked = f;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
		d->vq[i].event_idx = f & VIRTIO_RING_F_EVENT_IDX;
		d->vq[i].indirect = f & VIRTIO_RING_F_INDIRECT_DESC;
	}
	return true;
}

/* The status state machine: 0 resets; bits are only added; FEATURES_OK
 * sticks only for acceptable features; DRIVER_OK starts the back end. */
static void write_status(struct mmio_dev *m, uint32_t v)
{
	uint32_t old = __atomic_load_n(&m->status, __ATOMIC_SEQ_CST);
	uint32_t added = v & ~old;

	if (v == 0) {
		bus_call(m->bus, call_reset, m, NULL);
		m->dev_feat_sel = m->drv_feat_sel = m->queue_sel = 0;
		m->drv_features = 0;
		memset(m->q_ready, 0, sizeof(m->q_ready));
		__atomic_store_n(&m->isr, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&m->status, 0, __ATOMIC_SEQ_CST);
		m->fail_why = NULL;
		return;
	}
	if (old & ~v & ~(uint32_t)VIRTIO_S_NEEDS_RESET) { /* a driver may not clear bits */
		m->n_bad++;
		return;
	}
	v &= ~(uint32_t)VIRTIO_S_NEEDS_RESET; /* only the device sets it */
	if ((added & VIRTIO_S_FEATURES_OK) && !accept_features(m))
		v &= ~(uint32_t)VIRTIO_S_FEATURES_OK;
	if ((added & VIRTIO_S_DRIVER_OK) && !(v & VIRTIO_S_FEATURES_OK)) {
		m->n_bad++;
		v &= ~(uint32_t)VIRTIO_S_DRIVER_OK;
	}
	__atomic_or_fetch(&m->status, v, __ATOMIC_SEQ_CST);
	if ((added & VIRTIO_S_DRIVER_OK) && (v & VIRTIO_S_DRIVER_OK) && !m->vdev->failed)
		bus_call(m->bus, call_start, m, NULL);
}

/* QueueReady: 1 checks the size and (after DRIVER_OK) maps the queue at
 * once; 0 is only allowed before the back end started. */
static void write_queue_ready(struct mmio_dev *m, struct vq *q, uint32_t v)
{
	unsigned qi = m->queue_sel;

	if (!v) {
		if (m->vdev->started) /* queues go away with a reset, not one by one */
			m->n_bad++;
		else
			m->q_ready[qi] = false;
		return;
	}
	if (m->q_ready[qi])
		return;
	if (q->num == 0 || q->num > m->vdev->ops->max_queue_size || (q->num & (q->num - 1))) {
		m->n_bad++;
		return;
	}
	m->q_ready[qi] = true;
	if (m->vdev->started)
		bus_call(m->bus, call_start_queue, m, &qi);
}

/* Writes a 32-bit register. */
static void reg_write(struct mmio_dev *m, uint64_t off, uint32_t v)
{
	struct vq *q = sel_queue(m);

	switch (off) {
	case MMIO_R_DEV_FEATURES_SEL:
		m->dev_feat_sel = v;
		return;
	case MMIO_R_DRV_FEATURES:
		if (m->drv_feat_sel < 2 && !(m->status & VIRTIO_S_FEATURES_OK)) {
			unsigned sh = 32 * m->drv_feat_sel;
			m->drv_features = (m->drv_features & ~(0xffffffffULL << sh)) | (uint64_t)v << sh;
		} else {
			m->n_bad++;
		}
		return;
	case MMIO_R_DRV_FEATURES_SEL:
		m->drv_feat_sel = v;
		return;
	case MMIO_R_QUEUE_SEL:
		m->queue_sel = v;
		return;
	case MMIO_R_QUEUE_NOTIFY:
		m->n_notify_exits++;
		if ((v & 0xffff) < m->vdev->ops->num_queues &&
		    eventfd_poke(m->kick[v & 0xffff].w.fd) == 0)
			return;
		m->n_bad++;
		return;
	case MMIO_R_INTERRUPT_ACK:
		__atomic_and_fetch(&m->isr, ~v, __ATOMIC_SEQ_CST);
		return;
	case MMIO_R_STATUS:
		write_status(m, v);
		return;
	case MMIO_R_SHM_SEL:
		return;
	}
	if (!q) {
		m->n_bad++;
		return;
	}
	switch (off) {
	case MMIO_R_QUEUE_NUM:
		if (m->q_ready[m->queue_sel] || v > 0xffff)
			m->n_bad++;
		else
			q->num = (uint16_t)v;
		return;
	case MMIO_R_QUEUE_READY:
		write_queue_ready(m, q, v);
		return;
	case MMIO_R_QUEUE_DESC_LO:
	case MMIO_R_QUEUE_DESC_HI:
		set_half(m, &q->desc_gpa, off == MMIO_R_QUEUE_DESC_HI, v);
		return;
	case MMIO_R_QUEUE_AVAIL_LO:
	case MMIO_R_QUEUE_AVAIL_HI:
		set_half(m, &q->avail_gpa, off == MMIO_R_QUEUE_AVAIL_HI, v);
		return;
	case MMIO_R_QUEUE_USED_LO:
	case MMIO_R_QUEUE_USED_HI:
		set_half(m, &q->used_gpa, off == MMIO_R_QUEUE_USED_HI, v);
		return;
	}
	m->n_bad++;
}

/* Config space: any width up to 8 within config_size. Returns false for a
 * bad access. */
static bool config_access(struct mmio_dev *m, uint64_t off, void *data, unsigned len, bool write)
{
	struct cfg_access a = { .off = (uint32_t)(off - MMIO_R_CONFIG), .len = len, .buf = data, .write = write };

	if (off - MMIO_R_CONFIG > m->vdev->ops->config_size ||
	    len > m->vdev->ops->config_size - (off - MMIO_R_CONFIG))
		return false;
	bus_call(m->bus, call_config, m, &a);
	if (write)
		__atomic_add_fetch(&m->config_gen, 1, __ATOMIC_SEQ_CST);
	return true;
}

void mmio_dev_read(struct mmio_dev *m, uint64_t off, void *data, unsigned len)
{
	uint32_t v;

	pthread_mutex_lock(&m->lock);
	if (off >= MMIO_R_CONFIG) {
		if (len > 8 || !config_access(m, off, data, len, false)) {
			memset(data, 0, MIN(len, 8u));
			m->n_bad++;
		}
	} else if (len != 4 || (off & 3)) {
		memset(data, 0, MIN(len, 8u));
		m->n_bad++;
	} else {
		v = reg_read(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&m->lock);
}

void mmio_dev_write(struct mmio_dev *m, uint64_t off, const void *data, unsigned len)
{
	uint8_t tmp[8];
	uint32_t v;

	pthread_mutex_lock(&m->lock);
	if (off >= MMIO_R_CONFIG) {
		if (len <= 8) {
			memcpy(tmp, data, len);
			if (!config_access(m, off, tmp, len, true))
				m->n_bad++;
		} else {
			m->n_bad++;
		}
	} else if (len != 4 || (off & 3)) {
		m->n_bad++;
	} else {
		memcpy(&v, data, 4);
		reg_write(m, off, v);
	}
	pthread_mutex_unlock(&m->lock);
}

bool mmio_bus_access(struct mmio_bus *b, uint64_t gpa, void *data, unsigned len, bool is_write)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct mmio_dev *m = b->dev[i];
		if (gpa - m->base >= m->size)
			continue;
		if (is_write)
			mmio_dev_write(m, gpa - m->base, data, len);
		else
			mmio_dev_read(m, gpa - m->base, data, len);
		return true;
	}
	return false;
}
