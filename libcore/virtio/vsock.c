/* virtio-vsock back end: guest AF_VSOCK streams <-> host AF_UNIX sockets;
 * see virtio/vsock.h for the host-side protocol and the virtio 1.2 spec,
 * section 5.10, for the device.
 *
 * Theory of operation. Each connection is a struct vsock_conn keyed by
 * (local port, peer port): local is the host side (CID 2), peer the guest's.
 * Guest -> host (TX queue): every RW payload is written straight from guest
 * memory to the host socket; what the socket cannot take now goes into the
 * connection's ring buffer (VSOCK_BUF_ALLOC bytes, allocated on first use),
 * drained on EPOLLOUT. fwd_cnt counts bytes handed to the host socket; it
 * travels in every packet we send and, when it has grown by half a buffer
 * since the guest last heard it, in a CREDIT_UPDATE. A guest sending beyond
 * the credit we gave gets the connection reset (counted), never data loss
 * or unbounded memory.
 * Host -> guest (RX queue): a connection's host socket is in the loop for
 * EPOLLIN only while the guest has credit for it, has not shut down its
 * receive side, and the RX queue has buffers. Data is read with readv()
 * straight into the guest's buffer, after the header. When the RX queue is
 * empty the connection joins the stalled list and leaves the loop: the
 * bytes wait in the kernel socket until the driver adds buffers and kicks.
 * Control packets (REQUEST, RESPONSE, CREDIT_UPDATE, SHUTDOWN, RST) are
 * pending bits on the connection, sent in that order before its data; RSTs
 * for connections we do not know go through a small ring. A connection is
 * freed once its RST has gone out, or when the guest resets it. */
#include "virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "base/bytes.h"
#include "base/usock.h"
#include "base/util.h"

#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define LOCAL_PORT_LIMIT 0xfffffff0u /* wrap the host-initiated port counter */

enum conn_state {
	C_WAIT_CONNECT, /* host client accepted, "CONNECT <port>\n" not read yet */
	C_REQUESTED,    /* REQUEST (to be) sent to the guest, awaiting RESPONSE */
	C_ESTABLISHED,
	C_DEAD,         /* host socket closed, RST to the guest pending */
};

/* Control packets a connection owes the guest, sent in this order. */
enum {
	CTL_REQUEST = 1,
	CTL_RESPONSE = 2,
	CTL_CREDIT = 4,
	CTL_SHUTDOWN = 8,
	CTL_RST = 16,
};

struct vsock_conn {
	struct vsock_dev *v;
	struct loop_watch w;
	int fd;                       /* host socket, -1 once closed */
	uint32_t events;              /* what w is registered for (0: not) */
	enum conn_state state;
	uint32_t local_port, peer_port;
	bool hashed, in_ctl, stalled;
	bool guest_opened;            /* the guest's: holds a budget slot */
	struct vsock_conn *hnext;     /* hash chain */
	struct vsock_conn *prev, *next; /* v->all */
	struct vsock_conn *ctl_next;  /* v->ctl_head list */
	struct vsock_conn *stall_next; /* v->stalled list */
	unsigned ctl;                 /* CTL_* bits pending */
	uint32_t shut_flags;          /* flags of our pending SHUTDOWN */
	/* guest -> host */
	uint32_t fwd_cnt, fwd_sent;   /* bytes forwarded; last value told */
	uint8_t *buf;                 /* ring of VSOCK_BUF_ALLOC, or NULL */
	uint32_t buf_head, buf_len;
	bool guest_shut_send, guest_shut_rcv, host_wr_shut;
	/* host -> guest */
	uint32_t tx_cnt;              /* bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	bool host_eof;
	/* "CONNECT <port>\n" being read */
	char line[32];
	unsigned line_len;
};

static void conn_io(struct loop_watch *w, uint32_t events);
static void rx_run(struct vsock_dev *v);

static struct vsock_dev *dev_of(struct vdev *d)
{
	return (struct vsock_dev *)((char *)d - offsetof(struct vsock_dev, vdev));
}

/* True while the driver is running and has not broken the rules. */
static bool dev_live(const struct vsock_dev *v)
{
	return v->running && !v->vdev.failed;
}

/* Interrupts the driver for the queues that got used entries. */
static void dev_signal(struct vsock_dev *v)
{
	if (v->rx_dirty)
		vq_signal(&v->vdev.vq[VSOCK_RXQ]);
	if (v->tx_dirty)
		vq_signal(&v->vdev.vq[VSOCK_TXQ]);
	v->rx_dirty = v->tx_dirty = false;
}

static unsigned hash_of(uint32_t local, uint32_t peer)
{
	return (local * 2654435761u ^ peer * 40503u) % VSOCK_HASH_SIZE;
}

static struct vsock_conn *conn_find(struct vsock_dev *v, uint32_t local, uint32_t peer)
{
	for (struct vsock_conn *c = v->hash[hash_of(local, peer)]; c; c = c->hnext)
		if (c->local_port == local && c->peer_port == peer)
			return c;
	return NULL;
}

static void conn_hash_add(struct vsock_conn *c)
{
	struct vsock_conn **b = &c->v->hash[hash_of(c->local_port, c->peer_port)];

	c->hnext = *b;
	*b = c;
	c->hashed = true;
}

/* Removes c from the singly linked list at *head (next pointer at offset
 * link). Returns the new last element for lists that keep a tail. */
static struct vsock_conn *list_unlink(struct vsock_conn **head, struct vsock_conn *c, size_t link)
{
	struct vsock_conn **pp = head, *last = NULL;

#define NEXT(x) (*(struct vsock_conn **)((char *)(x) + link))
	while (*pp && *pp != c) {
		last = *pp;
		pp = &NEXT(*pp);
	}
	if (*pp)
		*pp = NEXT(c);
	while (*pp) {
		last = *pp;
		pp = &NEXT(*pp);
	}
#undef NEXT
	return last;
}

/* Registers the host socket for exactly `want` events (0: leaves the loop,
 * so a hung-up socket cannot spin it). */
static void conn_set_events(struct vsock_conn *c, uint32_t want)
{
	int r = 0;

	if (c->fd < 0 || want == c->events)
		return;
	if (!want)
		loop_del(c->v->loop, &c->w);
	else if (!c->events)
		r = loop_add(c->v->loop, &c->w, want);
	else
		r = loop_mod(c->v->loop, &c->w, want);
	c->events = r < 0 ? 0 : want;
}

/* Bytes the guest has room for on this connection. */
static uint32_t conn_credit(const struct vsock_conn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

/* Recomputes which host-socket events c waits for. */
static void conn_update_events(struct vsock_conn *c)
{
	uint32_t want = 0;

	if (c->state == C_WAIT_CONNECT) {
		want = EPOLLIN;
	} else if (c->state == C_ESTABLISHED) {
		if (!c->host_eof && !c->guest_shut_rcv && !c->in_ctl && !c->stalled &&
		    dev_live(c->v) && conn_credit(c) > 0)
			want |= EPOLLIN;
		if (c->buf_len)
			want |= EPOLLOUT;
	}
	conn_set_events(c, want);
}

static void conn_queue_ctl(struct vsock_conn *c, unsigned bit)
{
	struct vsock_dev *v = c->v;

	c->ctl |= bit;
	if (c->in_ctl)
		return;
	c->in_ctl = true;
	c->ctl_next = NULL;
	if (v->ctl_tail)
		v->ctl_tail->ctl_next = c;
	else
		v->ctl_head = c;
	v->ctl_tail = c;
	conn_update_events(c);
}

/* Creates a connection around host socket fd. Returns it or NULL. */
static struct vsock_conn *conn_new(struct vsock_dev *v, int fd, enum conn_state state)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->v = v;
	c->fd = fd;
	c->state = state;
	c->w.fd = fd;
	c->w.cb = conn_io;
	c->w.ctx = c;
	c->next = v->all;
	if (v->all)
		v->all->prev = c;
	v->all = c;
	v->n_conns++;
	v->st.conns_opened++;
	return c;
}

static void conn_close_host(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	conn_set_events(c, 0);
	close(c->fd);
	c->fd = -1;
	if (c->guest_opened) {
		c->guest_opened = false;
		c->v->n_guest_conns--;
		if (c->v->budget)
			budget_put(c->v->budget, BUDGET_VSOCK);
	}
}

/* Forgets c entirely: host socket, lists, memory. */
static void conn_free(struct vsock_conn *c)
{
	struct vsock_dev *v = c->v;

	conn_close_host(c);
	if (c->in_ctl)
		v->ctl_tail = list_unlink(&v->ctl_head, c, offsetof(struct vsock_conn, ctl_next));
	if (c->stalled)
		list_unlink(&v->stalled, c, offsetof(struct vsock_conn, stall_next));
	if (c->hashed)
		list_unlink(&v->hash[hash_of(c->local_port, c->peer_port)], c,
			    offsetof(struct vsock_conn, hnext));
	if (c->prev)
		c->prev->next = c->next;
	else
		v->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	v->n_conns--;
	v->st.conns_closed++;
	free(c->buf);
	free(c);
}

/* Ends c: closes the host socket and tells the guest with an RST (after
 * the control packets already owed). A connection the guest never heard of
 * is freed at once. Returns -1 so callers can "return conn_reset(c)". */
static int conn_reset(struct vsock_conn *c)
{
	if (c->state == C_WAIT_CONNECT || (c->state == C_REQUESTED && (c->ctl & CTL_REQUEST))) {
		conn_free(c);
		return -1;
	}
	conn_close_host(c);
	c->state = C_DEAD;
	c->ctl &= ~(unsigned)(CTL_CREDIT | CTL_SHUTDOWN);
	conn_queue_ctl(c, CTL_RST);
	return -1;
}

/* Queues an RST for a connection we do not know (no reply to an RST). */
static void rst_unknown(struct vsock_dev *v, uint32_t local, uint32_t peer)
{
	struct vsock_rst *r;

	if (v->rst_n == VSOCK_RST_RING) {
		v->st.rst_dropped++;
		return;
	}
	r = &v->rst[(v->rst_head + v->rst_n++) % VSOCK_RST_RING];
	r->src_port = local;
	r->dst_port = peer;
}

/* Fills iov with the chain's readable (writable=false) or writable
 * segments from byte offset off, len bytes at most. Returns the count. */
static int chain_iov(const struct vq_chain *ch, bool writable, uint32_t off, uint32_t len,
		     struct iovec *iov)
{
	unsigned first = writable ? ch->n_out : 0;
	unsigned end = writable ? (unsigned)ch->n_out + ch->n_in : ch->n_out;
	int n = 0;

	for (unsigned i = first; i < end && len; i++) {
		const struct vq_seg *s = &ch->seg[i];
		uint32_t take;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		take = MIN(s->len - off, len);
		iov[n].iov_base = s->p + off;
		iov[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return n;
}

/* Builds the header of a packet from the host side (local) to guest port
 * peer; c (may be NULL) supplies the credit fields. */
static void hdr_fill(const struct vsock_dev *v, struct virtio_vsock_hdr *h, uint32_t local,
		     uint32_t peer, uint16_t op, uint32_t flags, uint32_t len, struct vsock_conn *c)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->cid);
	h->src_port = htole32(local);
	h->dst_port = htole32(peer);
	h->len = htole32(len);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->flags = htole32(flags);
	if (c) {
		h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
		h->fwd_cnt = htole32(c->fwd_cnt);
		c->fwd_sent = c->fwd_cnt;
	}
}

/* Takes an RX buffer into v->rxc. Returns 1, 0 when the queue is empty,
 * -1 when the driver broke the rules (device failed). */
static int rx_pop(struct vsock_dev *v)
{
	int r = vq_pop(&v->vdev.vq[VSOCK_RXQ], &v->rxc);

	if (r < 0) {
		vdev_fail(&v->vdev, "vsock rx queue: malformed ring or descriptor chain");
		return -1;
	}
	if (r == 1 && v->rxc.in_len <= HDR) {
		vdev_fail(&v->vdev, "vsock rx queue: buffer without room past the packet header");
		return -1;
	}
	if (r == 0)
		v->st.rx_stalls++;
	return r;
}

/* Returns the popped RX buffer with a packet of HDR + len bytes. */
static void rx_push(struct vsock_dev *v, const struct virtio_vsock_hdr *h, uint32_t len)
{
	vq_chain_write(&v->rxc, 0, h, HDR);
	vq_push(&v->vdev.vq[VSOCK_RXQ], v->rxc.head, HDR + len);
	v->rx_dirty = true;
	v->st.rx_pkts++;
	v->st.rx_bytes += len;
}

/* Sends one header-only packet. Returns 1 sent, 0 no buffer, -1 failed. */
static int rx_send_ctl(struct vsock_dev *v, uint32_t local, uint32_t peer, uint16_t op,
		       uint32_t flags, struct vsock_conn *c)
{
	struct virtio_vsock_hdr h;
	int r = rx_pop(v);

	if (r <= 0)
		return r;
	hdr_fill(v, &h, local, peer, op, flags, 0, c);
	rx_push(v, &h, 0);
	return 1;
}

/* Sends the pending control packets. Returns 1 when all went out, 0 when
 * the RX queue ran dry, -1 when the device failed. */
static int rx_flush_ctl(struct vsock_dev *v)
{
	static const struct {
		unsigned bit;
		uint16_t op;
	} order[] = {
		{ CTL_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ CTL_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ CTL_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
		{ CTL_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
		{ CTL_RST, VIRTIO_VSOCK_OP_RST },
	};
	struct vsock_conn *c;
	int r;

	while (v->rst_n) {
		const struct vsock_rst *rs = &v->rst[v->rst_head];
		r = rx_send_ctl(v, rs->src_port, rs->dst_port, VIRTIO_VSOCK_OP_RST, 0, NULL);
		if (r <= 0)
			return r;
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_RING;
		v->rst_n--;
	}
	while ((c = v->ctl_head)) {
		unsigned i = 0;
		while (i < ARRAY_SIZE(order) && !(c->ctl & order[i].bit))
			i++;
		if (i < ARRAY_SIZE(order)) {
			uint32_t flags = order[i].bit == CTL_SHUTDOWN ? c->shut_flags : 0;
			r = rx_send_ctl(v, c->local_port, c->peer_port, order[i].op, flags, c);
			if (r <= 0)
				return r;
			c->ctl &= ~order[i].bit;
			if (order[i].bit == CTL_RST) {
				conn_free(c);
				continue;
			}
		}
		if (!c->ctl) {
			v->ctl_head = c->ctl_next;
			if (!v->ctl_head)
				v->ctl_tail = NULL;
			c->in_ctl = false;
			conn_update_events(c);
		}
	}
	return 1;
}

/* Services the RX queue: control packets first, then lets stalled
 * connections read again if the driver gave buffers. */
static void rx_run(struct vsock_dev *v)
{
	struct vsock_conn *c;

	if (!dev_live(v))
		return;
	if (rx_flush_ctl(v) < 0)
		return;
	if (!vq_has_avail(&v->vdev.vq[VSOCK_RXQ]))
		return;
	while ((c = v->stalled)) {
		v->stalled = c->stall_next;
		c->stalled = false;
		conn_update_events(c);
	}
}

/* Tells the guest about forwarded bytes once half a buffer has been freed
 * since it last heard (enough: a guest blocked on credit always triggers
 * it once everything it sent is forwarded). */
static void conn_credit_check(struct vsock_conn *c)
{
	if (c->state == C_ESTABLISHED && c->fwd_cnt - c->fwd_sent >= VSOCK_BUF_ALLOC / 2)
		conn_queue_ctl(c, CTL_CREDIT);
}

/* Finishes what both sides have shut: passes the guest's SHUTDOWN(SEND) on
 * as shutdown(SHUT_WR) once its data is out, and resets the connection when
 * no direction is left. Returns 0, or -1 when c was reset. */
static int conn_check_done(struct vsock_conn *c)
{
	if (c->state != C_ESTABLISHED || c->buf_len)
		return 0;
	if (c->guest_shut_send && !c->host_wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	if (c->guest_shut_send && (c->guest_shut_rcv || c->host_eof))
		return conn_reset(c);
	return 0;
}

/* Writes buffered guest data to the host socket. Returns 0 or -1 (reset). */
static int conn_flush(struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = MIN(c->buf_len, VSOCK_BUF_ALLOC - c->buf_head);
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first },
			{ c->buf, c->buf_len - first },
		};
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = c->buf_len > first ? 2 : 1 };
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return conn_reset(c);
		}
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	conn_credit_check(c);
	return conn_check_done(c);
}

/* Passes an RW payload (len bytes at offset HDR of the TX chain) to the
 * host socket, buffering what it cannot take. Returns 0 or -1 (reset). */
static int conn_from_guest(struct vsock_conn *c, const struct vq_chain *ch, uint32_t len)
{
	uint32_t done = 0;

	if (c->buf_len + len > VSOCK_BUF_ALLOC) {
		c->v->st.credit_violations++;
		return conn_reset(c);
	}
	if (!c->buf_len) {
		struct iovec iov[VQ_MAX_SEGS];
		struct msghdr m = { .msg_iov = iov };
		ssize_t n;

		m.msg_iovlen = (size_t)chain_iov(ch, false, HDR, len, iov);
		n = len ? sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return conn_reset(c);
		done = n > 0 ? (uint32_t)n : 0;
		c->fwd_cnt += done;
	}
	if (done < len) {
		uint32_t tail, first;

		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC)))
			return conn_reset(c);
		tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
		first = MIN(len - done, VSOCK_BUF_ALLOC - tail);
		vq_chain_read(ch, HDR + done, c->buf + tail, first);
		vq_chain_read(ch, HDR + done + first, c->buf, len - done - first);
		c->buf_len += len - done;
	}
	conn_credit_check(c);
	return 0;
}

static void conn_stall(struct vsock_conn *c)
{
	if (c->stalled)
		return;
	c->stalled = true;
	c->stall_next = c->v->stalled;
	c->v->stalled = c;
}

/* Reads host data into the guest's RX buffers while there is credit, data
 * and buffers (a bounded batch; the loop comes back for more). Returns 0,
 * or -1 when c was reset or the device failed. */
static int conn_to_guest(struct vsock_conn *c)
{
	struct vsock_dev *v = c->v;
	struct vq *rxq = &v->vdev.vq[VSOCK_RXQ];

	for (int batch = 0; batch < 16; batch++) {
		struct iovec iov[VQ_MAX_SEGS];
		struct virtio_vsock_hdr h;
		uint32_t max = MIN(conn_credit(c), (uint32_t)VSOCK_MAX_PKT);
		ssize_t n;
		int r, niov;

		if (!max)
			v->st.credit_stalls++;
		if (!max || c->host_eof || c->guest_shut_rcv || c->in_ctl)
			return 0;
		r = rx_pop(v);
		if (r < 0)
			return -1;
		if (r == 0) {
			conn_stall(c);
			return 0;
		}
		max = MIN(max, v->rxc.in_len - HDR);
		niov = chain_iov(&v->rxc, true, HDR, max, iov);
		n = readv(c->fd, iov, niov);
		if (n > 0) {
			hdr_fill(v, &h, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RW, 0,
				 (uint32_t)n, c);
			rx_push(v, &h, (uint32_t)n);
			c->tx_cnt += (uint32_t)n;
			continue;
		}
		vq_unpop(rxq);
		if (n == 0) {
			c->host_eof = true;
			c->shut_flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
			conn_queue_ctl(c, CTL_SHUTDOWN);
			return conn_check_done(c);
		}
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return conn_reset(c);
	}
	return 0;
}

/* Reads "CONNECT <port>\n" without consuming what follows it. Returns 0
 * (line incomplete or handled) or -1 (bad line, EOF: drop the client). */
static int conn_read_line(struct vsock_conn *c)
{
	struct vsock_dev *v = c->v;
	char tmp[sizeof(c->line)], *nl, *end;
	unsigned long port;
	ssize_t n, take;

	n = recv(c->fd, tmp, sizeof(c->line) - 1 - c->line_len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	nl = memchr(tmp, '\n', (size_t)n);
	take = nl ? nl - tmp + 1 : n;
	if (recv(c->fd, c->line + c->line_len, (size_t)take, MSG_DONTWAIT) != take)
		return -1;
	c->line_len += (unsigned)take;
	if (!nl)
		return c->line_len >= sizeof(c->line) - 1 ? -1 : 0;
	c->line[c->line_len - 1] = 0;
	if (strncmp(c->line, "CONNECT ", 8) || c->line[8] < '0' || c->line[8] > '9')
		return -1;
	errno = 0;
	port = strtoul(c->line + 8, &end, 10);
	if (*end || errno || port > UINT32_MAX)
		return -1;
	c->peer_port = (uint32_t)port;
	do {
		c->local_port = v->next_local_port++;
		if (v->next_local_port >= LOCAL_PORT_LIMIT)
			v->next_local_port = VSOCK_FIRST_LOCAL_PORT;
	} while (conn_find(v, c->local_port, c->peer_port));
	c->state = C_REQUESTED;
	conn_hash_add(c);
	conn_queue_ctl(c, CTL_REQUEST);
	return 0;
}

/* Host socket events of one connection. */
static void conn_io(struct loop_watch *w, uint32_t events)
{
	struct vsock_conn *c = w->ctx;
	struct vsock_dev *v = c->v;

	if (c->state == C_WAIT_CONNECT) {
		if (conn_read_line(c) < 0) {
			conn_free(c);
			return;
		}
		rx_run(v);
		dev_signal(v);
		return;
	}
	if (c->buf_len && conn_flush(c) < 0)
		goto out;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->events & EPOLLIN) &&
	    conn_to_guest(c) < 0)
		goto out;
	conn_update_events(c);
out:
	rx_run(v);
	dev_signal(v);
}

/* A host program connected to the vsock socket. */
static void listen_io(struct loop_watch *w, uint32_t events)
{
	struct vsock_dev *v = w->ctx;
	struct vsock_conn *c;
	int fd = usock_accept(v->listen_fd, &v->spare_fd);

	if (fd < 0) {
		if (fd == -EMFILE)
			v->st.refused++;
		return;
	}
	if (v->n_conns >= VSOCK_MAX_CONNS || !(c = conn_new(v, fd, C_WAIT_CONNECT))) {
		v->st.refused++;
		close(fd);
		return;
	}
	conn_update_events(c);
}

/* The guest asks for host port h->dst_port: connect to <path>_<port>. */
static void guest_connect(struct vsock_dev *v, uint32_t local, uint32_t peer,
			  const struct virtio_vsock_hdr *h)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd = -1;

	/* the guest gets at most half the connections (host clients, the
	 * control channel among them, always find room) and its budget */
	if (v->n_conns >= VSOCK_MAX_CONNS || v->n_guest_conns >= VSOCK_MAX_CONNS / 2)
		goto refuse;
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->path, local) >=
	    sizeof(a.sun_path))
		goto refuse;
	if (v->budget && !budget_take(v->budget, BUDGET_VSOCK)) {
		budget_refuse(v->budget, BUDGET_VSOCK);
		goto refuse;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    !(c = conn_new(v, fd, C_ESTABLISHED))) {
		if (v->budget)
			budget_put(v->budget, BUDGET_VSOCK);
		goto refuse;
	}
	c->guest_opened = true;
	v->n_guest_conns++;
	c->local_port = local;
	c->peer_port = peer;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	conn_hash_add(c);
	conn_queue_ctl(c, CTL_RESPONSE);
	return;
refuse:
	if (fd >= 0)
		close(fd);
	v->st.refused++;
	rst_unknown(v, local, peer);
}

/* The guest accepted a host-initiated connection: tell the host client. */
static int conn_established(struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	c->state = C_ESTABLISHED;
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		return conn_reset(c);
	return 0;
}

/* Handles one packet from the guest (header h, payload in ch at HDR). */
static void tx_packet(struct vsock_dev *v, const struct virtio_vsock_hdr *h,
		      const struct vq_chain *ch)
{
	uint32_t local = le32toh(h->dst_port), peer = le32toh(h->src_port);
	uint32_t len = le32toh(h->len), flags = le32toh(h->flags);
	uint16_t op = le16toh(h->op);
	struct vsock_conn *c;

	if (le64toh(h->src_cid) != v->cid || len > VSOCK_MAX_PKT || len > ch->out_len - HDR) {
		v->st.bad_pkts++;
		return;
	}
	c = conn_find(v, local, peer);
	if (le64toh(h->dst_cid) != VSOCK_HOST_CID || le16toh(h->type) != VIRTIO_VSOCK_TYPE_STREAM) {
		v->st.bad_pkts++;
		if (op != VIRTIO_VSOCK_OP_RST && !c)
			rst_unknown(v, local, peer);
		return;
	}
	if (!c) {
		if (op == VIRTIO_VSOCK_OP_REQUEST)
			guest_connect(v, local, peer, h);
		else if (op != VIRTIO_VSOCK_OP_RST)
			rst_unknown(v, local, peer);
		return;
	}
	if (op == VIRTIO_VSOCK_OP_RST) {
		conn_free(c);
		return;
	}
	if (c->state == C_DEAD)
		return;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != C_REQUESTED || conn_established(c) < 0) {
			if (c->state != C_DEAD)
				conn_reset(c);
			return;
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != C_ESTABLISHED || c->guest_shut_send) {
			conn_reset(c);
			return;
		}
		if (conn_from_guest(c, ch, len) < 0)
			return;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->guest_shut_send = true;
		if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->guest_shut_rcv = true;
		if (c->state != C_ESTABLISHED) {
			conn_reset(c);
			return;
		}
		if (conn_check_done(c) < 0)
			return;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		if (c->state == C_ESTABLISHED)
			conn_queue_ctl(c, CTL_CREDIT);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	default: /* REQUEST on a live connection, or an unknown op */
		v->st.bad_pkts++;
		conn_reset(c);
		return;
	}
	conn_update_events(c);
}

/* Services the TX queue: every packet the guest sent. */
static void tx_run(struct vsock_dev *v)
{
	struct vq *q = &v->vdev.vq[VSOCK_TXQ];
	unsigned budget = VSOCK_TX_BUDGET;

	while (dev_live(v)) {
		struct virtio_vsock_hdr h;
		int r;

		if (!budget--) {
			/* a guest refilling as fast as we drain: let the loop
			 * serve others, and come back for the rest */
			if (vq_has_avail(q))
				vq_kick_again(q);
			break;
		}
		r = vq_pop(q, &v->txc);
		if (r == 0)
			break;
		if (r < 0) {
			vdev_fail(&v->vdev, "vsock tx queue: malformed ring or descriptor chain");
			return;
		}
		v->st.tx_pkts++;
		if (vq_chain_read(&v->txc, 0, &h, HDR) == HDR) {
			v->st.tx_bytes += MIN(le32toh(h.len), v->txc.out_len - HDR);
			tx_packet(v, &h, &v->txc);
		} else {
			v->st.bad_pkts++;
		}
		vq_push(q, v->txc.head, 0);
		v->tx_dirty = true;
	}
	rx_run(v);
}

/* By bit number: <linux/virtio_config.h> (pulled in by virtio_vsock.h)
 * redefines VIRTIO_F_VERSION_1 as the bit number 32, not device.h's mask. */
static uint64_t vsock_features(struct vdev *d)
{
	return 1ULL << VIRTIO_F_VERSION_1_BIT;
}

static void vsock_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	uint8_t cid[8]; /* struct virtio_vsock_config: le64 guest_cid */

	st_le64(cid, dev_of(d)->cid);
	memcpy(buf, cid + off, len);
}

static void vsock_write_config(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
	/* the guest CID is read-only */
}

/* Closes every connection the guest knew about (all but host clients that
 * have not finished their CONNECT line) and forgets pending packets. */
static void vsock_drop_guest_conns(struct vsock_dev *v)
{
	struct vsock_conn *c = v->all, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->state != C_WAIT_CONNECT)
			conn_free(c);
	}
	v->rst_n = v->rst_head = 0;
}

static int vsock_start(struct vdev *d)
{
	struct vsock_dev *v = dev_of(d);

	if (!d->vq[VSOCK_RXQ].ready || !d->vq[VSOCK_TXQ].ready)
		return -EINVAL;
	v->running = true;
	tx_run(v);
	dev_signal(v);
	return 0;
}

static void vsock_queue_kick(struct vdev *d, unsigned qi)
{
	struct vsock_dev *v = dev_of(d);

	if (qi == VSOCK_TXQ)
		tx_run(v);
	else if (qi == VSOCK_RXQ)
		rx_run(v);
	dev_signal(v);
}

static void vsock_reset(struct vdev *d)
{
	struct vsock_dev *v = dev_of(d);

	v->running = false;
	vsock_drop_guest_conns(v);
	v->rx_dirty = v->tx_dirty = false;
}

static const struct vdev_ops vsock_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.max_queue_size = VSOCK_QUEUE_SIZE,
	.config_size = 8,
	.features = vsock_features,
	.read_config = vsock_read_config,
	.write_config = vsock_write_config,
	.start = vsock_start,
	.queue_kick = vsock_queue_kick,
	.reset = vsock_reset,
};

int vsock_dev_init(struct vsock_dev *v, struct loop *l, uint64_t cid, const char *uds_path)
{
	struct sockaddr_un a;
	int r;

	memset(v, 0, sizeof(*v));
	v->listen_fd = v->spare_fd = -1;
	if (cid < 3 || cid > UINT32_MAX - 1 || !*uds_path)
		return -EINVAL;
	/* "<path>_<port>" must fit a sockaddr_un too */
	if (strlen(uds_path) + 11 >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(v->path, uds_path);
	v->spare_fd = usock_spare();
	if (v->spare_fd < 0)
		return v->spare_fd;
	v->listen_fd = usock_listen(uds_path, 64);
	if (v->listen_fd < 0) {
		r = v->listen_fd;
		goto fail;
	}
	v->loop = l;
	v->cid = cid;
	v->next_local_port = VSOCK_FIRST_LOCAL_PORT;
	v->listen_w = (struct loop_watch){ .fd = v->listen_fd, .cb = listen_io, .ctx = v };
	r = loop_add(l, &v->listen_w, EPOLLIN);
	if (r < 0) {
		close(v->listen_fd);
		v->listen_fd = -1;
		unlink(uds_path);
		goto fail;
	}
	v->vdev.ops = &vsock_ops;
	v->vdev.name = "vsock";
	v->vdev.loop = l;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		v->vdev.vq[i].kick_fd = v->vdev.vq[i].call_fd = -1;
	return 0;
fail:
	close(v->spare_fd);
	v->spare_fd = -1;
	return r;
}

struct vdev *vsock_dev_vdev(struct vsock_dev *v)
{
	return &v->vdev;
}

void vsock_dev_fini(struct vsock_dev *v)
{
	while (v->all)
		conn_free(v->all);
	v->rst_n = 0;
	if (v->listen_fd >= 0) {
		loop_del(v->loop, &v->listen_w);
		close(v->listen_fd);
		unlink(v->path);
		v->listen_fd = -1;
	}
	if (v->spare_fd >= 0)
		close(v->spare_fd);
	v->spare_fd = -1;
	v->running = false;
}
