/* TCP NAT for SLIRP: each guest connection is spliced onto one host TCP
 * socket, with no per-connection buffer in between (see "Theory of
 * Operation" in docs/slirp.md).
 *
 * Guest -> host: a segment at the expected sequence number is written to the
 * host socket; only the bytes the socket took are acknowledged, and the
 * window we advertise is the room left in the socket's send buffer, so
 * nothing acknowledged can be lost and nothing unacknowledged needs keeping.
 * A small segment's ACK waits a moment (ACK_DELAY_NS) for the reply to carry
 * it.
 *
 * Host -> guest: data stays in the host socket until the guest acknowledges
 * it. We MSG_PEEK up to the guest's window (from the peek offset, so each
 * byte is read once; before Linux 6.9, which has no SO_PEEK_OFF for TCP,
 * the bytes in flight are read again into one small discard chunk), send
 * it as MSS-sized segments, and discard bytes from
 * the socket (MSG_TRUNC) as the guest acknowledges them. A retransmission
 * (timeout or three duplicate ACKs) rewinds the peek offset to the oldest
 * unacknowledged byte.
 *
 * Connections start with the guest's SYN: we connect() the host socket
 * non-blocking and answer SYN-ACK only once that connect succeeds (RST if it
 * fails). Forwarded ports run the other way: an accepted host connection
 * makes us send SYN to the guest from the gateway. FIN and RST travel both
 * ways (shutdown(SHUT_WR) / SO_LINGER 0 on the host side). */
#include "slirp/priv.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/usock.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define TCP_WS_OURS 7
#define TCP_RTO_NS (250 * NS_PER_MS)      /* before any RTT sample */
#define TCP_RTO_MIN_NS (200 * NS_PER_MS)
#define TCP_RTO_MAX_NS (3 * NS_PER_S)
#define TCP_MAX_RETRIES 8
#define TCP_SYN_RETRIES 5
#define TCP_CONNECT_NS (30 * NS_PER_S)
#define TCP_IDLE_NS (7200 * NS_PER_S)
#define TCP_TIME_WAIT_NS (2 * NS_PER_S)
#define TCP_DEFAULT_MSS 536
/* A low window is looked at again after 100 us, then 200, 400... 25.6 ms
 * while the socket stays full (a stalled reader costs 9 looks); the 50 ms
 * timer goes on after that. */
#define TCP_WND_LOOK_NS (100 * 1000)
#define TCP_WND_LOOKS 9
/* The host socket's send buffer we ask for, fixed (the kernel doubles it for
 * its overhead, and caps the request at net.core.wmem_max). The window we
 * advertise is what we got minus what is queued, so the socket takes
 * whatever the guest sends within it. */
#define TCP_SNDBUF (4 << 20)

/* The guest's TCP header and payload. */
struct tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opts;
	size_t optlen;
	const uint8_t *data;
	size_t len;
};

static void tcp_send_ctl(struct slirp_flow *f, uint8_t flags);
static void tcp_to_guest(struct slirp_flow *f);

/* Writes the TCP header (and optlen bytes of options at opts, unless they
 * are already in place) and the IP/Ethernet headers around plen bytes of
 * payload already at frame + OFF_L4 + TCP_HLEN + optlen. The checksum is
 * left to the receiver (the pseudo-header sum) with the offload, and in a
 * frame over the MTU (TSO: the guest's stack takes it whole). Returns the
 * frame length. */
static size_t tcp_build(struct slirp *s, uint8_t *frame, uint32_t src, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
			const uint8_t *opts, size_t optlen, size_t plen)
{
	bool partial = s->cfg.csum_offload || IP_HLEN + TCP_HLEN + optlen + plen > s->cfg.net.mtu;
	size_t hl = TCP_HLEN + optlen;
	uint32_t dst = s->cfg.net.guest;
	uint8_t *l4 = ip_build(s, frame, IPPROTO_TCP, src, dst, hl + plen);
	uint16_t c;

	st_be16(l4, sport);
	st_be16(l4 + 2, dport);
	st_be32(l4 + 4, seq);
	st_be32(l4 + 8, ack);
	l4[12] = (uint8_t)(hl / 4) << 4;
	l4[13] = flags;
	st_be16(l4 + 14, win);
	st_be32(l4 + 16, 0);
	if (opts)
		memcpy(l4 + TCP_HLEN, opts, optlen);
	c = partial ? csum_l4_partial(src, dst, IPPROTO_TCP, hl + plen)
		    : csum_l4(src, dst, IPPROTO_TCP, l4, hl + plen);
	memcpy(l4 + 16, &c, 2);
	return OFF_L4 + hl + plen;
}

/* The largest window we may advertise on f. */
static uint32_t tcp_max_wnd(const struct tcp_flow *t)
{
	return MIN(t->flags & TF_WS ? 65535u << t->ws_ours : 65535u, t->sndbuf);
}

/* The window we advertise: room in the host socket's send buffer. The
 * queue is measured (TIOCOUTQ) only when its upper bound (what was queued
 * when last measured, plus what we wrote since) would leave less than half
 * the largest window: advertising less room than there is is harmless, and
 * the right edge never moves back, since each byte written moves rcv_nxt as
 * far as it moves the bound. */
static uint32_t tcp_rcv_wnd(struct slirp_flow *f)
{
	struct tcp_flow *t = &f->tcp;
	uint32_t max = tcp_max_wnd(t);
	int outq = 0;

	if (f->w.fd < 0)
		return 0;
	if (t->outq_hi < t->sndbuf && t->sndbuf - t->outq_hi >= max / 2)
		return MIN(t->sndbuf - t->outq_hi, max);
	if (ioctl(f->w.fd, TIOCOUTQ, &outq) < 0 || outq < 0)
		return 0;
	t->outq_hi = (uint32_t)outq;
	if (t->outq_hi >= t->sndbuf)
		return 0;
	return MIN(t->sndbuf - t->outq_hi, max);
}

/* Whether the last advertised window is small enough that the guest should
 * hear when the socket drains. */
static bool tcp_wnd_low(const struct tcp_flow *t)
{
	return t->wnd_adv < tcp_max_wnd(t) / 4;
}

/* The window field for a non-SYN segment. */
static uint16_t tcp_win_field(struct slirp_flow *f)
{
	struct tcp_flow *t = &f->tcp;

	t->wnd_adv = tcp_rcv_wnd(f);
	return (uint16_t)(t->wnd_adv >> (t->flags & TF_WS ? t->ws_ours : 0));
}

/* Sends a segment without payload on f (ACK, FIN, RST...). */
static void tcp_send_ctl(struct slirp_flow *f, uint8_t flags)
{
	struct slirp *s = f->s;
	struct tcp_flow *t = &f->tcp;
	uint32_t seq = (flags & TH_FIN) ? t->snd_nxt - 1 : t->snd_nxt;
	size_t len = tcp_build(s, s->tx, f->rip, f->rport, f->gport, seq, t->rcv_nxt, flags,
			       tcp_win_field(f), NULL, 0, 0);

	if (slirp_out(s, s->tx, len) < 0)
		stat_inc(s, SLIRP_STAT_DROP_GUEST_NOBUF);
	else if (flags & TH_ACK)
		slirp_ack_paid(s, f);
}

void tcp_ack_now(struct slirp_flow *f)
{
	tcp_send_ctl(f, TH_ACK);
}

/* Sends our SYN (forward) or SYN-ACK with MSS and window-scale options. */
static void tcp_send_syn(struct slirp_flow *f, uint8_t flags)
{
	struct slirp *s = f->s;
	struct tcp_flow *t = &f->tcp;
	uint16_t mss = (uint16_t)(s->cfg.net.mtu - IP_HLEN - TCP_HLEN);
	uint8_t opts[8] = { 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 3, 3, TCP_WS_OURS };
	bool ws = (flags & TH_ACK) ? (t->flags & TF_WS) != 0 : true;

	t->wnd_adv = 65535; /* the window field of a SYN is not scaled */
	size_t len = tcp_build(s, s->tx, f->rip, f->rport, f->gport, t->isn,
			       (flags & TH_ACK) ? t->rcv_nxt : 0, flags, 65535, opts,
			       ws ? 8 : 4, 0);

	if (slirp_out(s, s->tx, len) < 0)
		stat_inc(s, SLIRP_STAT_DROP_GUEST_NOBUF);
}

/* Answers a segment that has no flow (or is refused) with RST. */
static void tcp_rst_reply(struct slirp *s, const struct ip_pkt *p, const struct tcp_seg *g)
{
	uint32_t ack = g->seq + (uint32_t)g->len + !!(g->flags & TH_SYN) + !!(g->flags & TH_FIN);
	size_t len;

	if (g->flags & TH_RST)
		return;
	if (g->flags & TH_ACK)
		len = tcp_build(s, s->tx, p->dst, g->dport, g->sport, g->ack, 0, TH_RST, 0, NULL, 0, 0);
	else
		len = tcp_build(s, s->tx, p->dst, g->dport, g->sport, 0, ack, TH_RST | TH_ACK, 0,
				NULL, 0, 0);
	stat_inc(s, SLIRP_STAT_TCP_RST_TO_GUEST);
	if (slirp_out(s, s->tx, len) < 0)
		stat_inc(s, SLIRP_STAT_DROP_GUEST_NOBUF);
}

/* Reads MSS and window scale from SYN options into t. */
static void tcp_parse_opts(struct tcp_flow *t, const struct tcp_seg *g, unsigned mtu)
{
	struct cursor c = cur_init(g->opts, g->optlen);
	const uint8_t *o;

	t->mss = TCP_DEFAULT_MSS;
	while ((o = cur_peek(&c, 0, 1)) && o[0] != 0) { /* up to End of Option List */
		if (o[0] == 1) { /* No-Operation */
			cur_skip(&c, 1);
			continue;
		}
		/* kind, length (>= 2, within the options), data */
		if (!(o = cur_peek(&c, 0, 2)) || o[1] < 2 || !(o = cur_take(&c, o[1])))
			break;
		if (o[0] == 2 && o[1] == 4)
			t->mss = ld_be16(o + 2);
		else if (o[0] == 3 && o[1] == 3) {
			t->flags |= TF_WS;
			t->ws_guest = MIN(o[2], 14);
			t->ws_ours = TCP_WS_OURS;
		}
	}
	t->mss = (uint16_t)MIN(MAX(t->mss, 64), mtu - IP_HLEN - TCP_HLEN);
}

static uint32_t tcp_isn(struct slirp *s, const struct slirp_flow *f)
{
	uint32_t h = f->rip ^ ((uint32_t)f->gport << 16 | f->rport) ^ s->isn_base;

	h *= 0x9e3779b1u;
	return h + (uint32_t)(s->now >> 12);
}

/* How many bytes may be in flight to the guest: its window, and without
 * SO_PEEK_OFF no more than the discard chunks cover (struct slirp). */
static uint32_t tcp_send_limit(const struct slirp *s, const struct tcp_flow *t)
{
	if (s->peek_off)
		return t->wnd;
	return MIN(t->wnd, (uint32_t)(SLIRP_DISCARD_IOVS * s->discard_chunk));
}

/* The epoll interest that matches f's state. Edge-triggered: data we have
 * peeked but the guest has not acknowledged stays in the socket, so a
 * level-triggered EPOLLIN would fire for it forever. An edge comes with
 * each new arrival; what the guest's window held back is sent when its
 * ACKs open the window. */
static void tcp_events(struct slirp_flow *f)
{
	struct tcp_flow *t = &f->tcp;
	uint32_t ev = EPOLLET;

	if (t->state == TS_CONNECTING)
		ev = EPOLLOUT;
	else if (t->state == TS_ESTABLISHED) {
		if (!(t->flags & (TF_HOST_EOF | TF_FIN_SENT)) && !f->pending &&
		    t->snd_nxt - t->snd_una < tcp_send_limit(f->s, t))
			ev |= EPOLLIN | EPOLLRDHUP;
		if (t->flags & TF_WANT_OUT)
			ev |= EPOLLOUT;
	}
	flow_events(f, ev);
}

/* Drops the flow and resets the host side (SO_LINGER 0: the peer sees RST). */
static void tcp_abort_host(struct slirp_flow *f)
{
	struct linger lg = { 1, 0 };

	if (f->w.fd >= 0) {
		setsockopt(f->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		stat_inc(f->s, SLIRP_STAT_TCP_RST_TO_HOST);
	}
	flow_kill(f);
}

/* Resets the guest side and drops the flow. */
static void tcp_reset_guest(struct slirp_flow *f, bool host_too)
{
	stat_inc(f->s, SLIRP_STAT_TCP_RST_TO_GUEST);
	tcp_send_ctl(f, TH_RST | TH_ACK);
	if (host_too)
		tcp_abort_host(f);
	else
		flow_kill(f);
}

/* Both directions are finished: close the host socket, linger in TIME_WAIT
 * to answer retransmitted FINs. */
static void tcp_close(struct slirp_flow *f)
{
	flow_time_wait(f);
	f->tcp.state = TS_TIME_WAIT;
	f->tcp.rto_at = f->s->now + TCP_TIME_WAIT_NS;
}

/* Options every host socket of f gets: no Nagle (the guest does its own),
 * a fixed send buffer (its payload size goes to f->tcp.sndbuf), and the
 * peek offset. */
static void tcp_sock_setup(struct slirp_flow *f, int fd)
{
	int one = 1, zero = 0, sndbuf = TCP_SNDBUF;
	socklen_t sl = sizeof(sndbuf);

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	/* what the kernel made of the request is the same for every socket */
	if (!f->s->sndbuf) {
		if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) < 0 || sndbuf < 2 * 65536)
			sndbuf = 2 * 65536;
		f->s->sndbuf = sndbuf;
	}
	f->tcp.sndbuf = (uint32_t)MIN(f->s->sndbuf / 2, TCP_SNDBUF);
	f->tcp.outq_hi = 0;
	if (f->s->peek_off)
		setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
}

static void tcp_connect_done(struct slirp_flow *f, int err);

/* Opens the host socket of f and connects it to *to. A connect the kernel
 * finishes at once (loopback does, inside the call: a second connect()
 * says so) is answered now, without a trip through epoll. Returns 0
 * (connected or in progress) or -errno. */
static int tcp_connect(struct slirp_flow *f, const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;
	bool done = true;

	if (fd < 0)
		return -errno;
	tcp_sock_setup(f, fd);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			close(fd);
			return err;
		}
		done = connect(fd, (const struct sockaddr *)to, sizeof(*to)) == 0;
	}
	/* SYN_RCVD's interest is edge-only (see tcp_events) */
	err = flow_watch(f, fd, done ? EPOLLET : EPOLLOUT);
	if (err < 0) {
		close(fd);
		f->w.fd = -1;
		return err;
	}
	if (done)
		tcp_connect_done(f, 0);
	return 0;
}

/* The host connect() finished (EPOLLOUT): its result. */
static void tcp_connected(struct slirp_flow *f)
{
	int err = 0;
	socklen_t sl = sizeof(err);

	if (getsockopt(f->w.fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	tcp_connect_done(f, err);
}

/* The host connect() ended with err (0: connected): SYN-ACK to the guest,
 * or the next DNS upstream, or RST. */
static void tcp_connect_done(struct slirp_flow *f, int err)
{
	struct slirp *s = f->s;
	struct tcp_flow *t = &f->tcp;
	struct sockaddr_in to;

	if (err == ECONNRESET) /* connected, then reset: its data comes first */
		t->flags |= TF_HOST_RST | TF_HOST_EOF;
	if (err == 0 || err == ECONNRESET) {
		t->state = TS_SYN_RCVD;
		t->rto_at = s->now + NS_PER_S;
		t->retries = 0;
		tcp_send_syn(f, TH_SYN | TH_ACK);
		tcp_events(f);
		return;
	}
	if (f->rip == s->cfg.net.dns && dns_upstream(s, ++t->dns_try, &to)) {
		stat_inc(s, SLIRP_STAT_DNS_FAILOVERS);
		flow_unwatch(f);
		close(f->w.fd);
		f->w.fd = -1;
		if (tcp_connect(f, &to) == 0)
			return;
	}
	stat_inc(s, SLIRP_STAT_DROP_SOCKET);
	tcp_reset_guest(f, false);
}

/* A guest SYN without a flow: policy, mapping, host connect. */
static void tcp_conn_new(struct slirp *s, const struct ip_pkt *p, const struct tcp_seg *g)
{
	struct sockaddr_in to;
	struct slirp_flow *f;
	struct tcp_flow *t;
	int why = 0, err;

	if (p->dst == s->cfg.net.dns)
		why = g->dport != 53 ? SLIRP_STAT_DROP_IP_DST
				     : !dns_upstream(s, 0, &to) ? SLIRP_STAT_DROP_DNS : 0;
	else
		why = policy_map(s, p->dst, g->dport, &to);
	if (why) {
		stat_inc(s, why);
		tcp_rst_reply(s, p, g);
		return;
	}
	f = flow_new(s, FLOW_TCP, IPPROTO_TCP, g->sport, p->dst, g->dport);
	if (!f) {
		tcp_rst_reply(s, p, g);
		return;
	}
	t = &f->tcp;
	tcp_parse_opts(t, g, s->cfg.net.mtu);
	t->rcv_nxt = g->seq + 1;
	t->isn = tcp_isn(s, f);
	t->snd_una = t->isn;
	t->snd_nxt = t->snd_max = t->isn + 1;
	t->wnd = g->win;
	t->state = TS_CONNECTING;
	t->rto_at = s->now + TCP_CONNECT_NS;
	stat_inc(s, SLIRP_STAT_TCP_CONNS);
	err = tcp_connect(f, &to);
	if (err < 0) {
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
		tcp_reset_guest(f, false);
	}
}

/* The retransmission timeout: smoothed RTT + 4 deviations (RFC 6298),
 * clamped; 250 ms before the first sample. */
static uint64_t tcp_rto(const struct tcp_flow *t)
{
	uint64_t rto = ((uint64_t)t->srtt_us + 4ULL * t->rttvar_us) * 1000;

	if (!t->srtt_us)
		return TCP_RTO_NS;
	return MIN(MAX(rto, TCP_RTO_MIN_NS), TCP_RTO_MAX_NS);
}

/* Arms the retransmission timer when data goes out with none in flight. */
static void tcp_arm_rto(struct slirp *s, struct tcp_flow *t)
{
	if (t->rto_at)
		return;
	t->sent_at = s->now;
	t->rto_at = s->now + tcp_rto(t);
}

/* Folds one ACK delay into the smoothed RTT (not after a retransmission:
 * Karn's rule). */
static void tcp_rtt_sample(struct tcp_flow *t, uint64_t now)
{
	uint32_t m;

	if (t->retries || !t->sent_at || now < t->sent_at)
		return;
	m = (uint32_t)MIN((now - t->sent_at) / 1000, 60000000ULL);
	if (!t->srtt_us) {
		t->srtt_us = MAX(m, 1);
		t->rttvar_us = m / 2;
		return;
	}
	t->rttvar_us = (3 * t->rttvar_us + (uint32_t)(m > t->srtt_us ? m - t->srtt_us : t->srtt_us - m)) / 4;
	t->srtt_us = MAX((7 * t->srtt_us + m) / 8, 1);
}

/* Rewinds to the oldest unacknowledged byte and sends again. */
static void tcp_retransmit(struct slirp_flow *f)
{
	struct tcp_flow *t = &f->tcp;
	int zero = 0;

	stat_inc(f->s, SLIRP_STAT_TCP_RETRANS);
	t->snd_nxt = t->snd_una;
	t->dupacks = 0;
	if (t->flags & TF_FIN_SENT && !(t->flags & TF_FIN_ACKED))
		t->flags &= (uint16_t)~TF_FIN_SENT;
	if (f->s->peek_off)
		setsockopt(f->w.fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
	tcp_to_guest(f);
}

/* Sets the peek offset to what is in flight, after a partial send. */
static void tcp_peek_rewind(struct slirp_flow *f)
{
	int off = (int)(f->tcp.snd_nxt - f->tcp.snd_una);

	if (f->s->peek_off)
		setsockopt(f->w.fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

/* Sends host data to the guest, up to its window; then our FIN once the
 * host side has closed and everything is out. */
static void tcp_to_guest(struct slirp_flow *f)
{
	struct slirp *s = f->s;
	struct tcp_flow *t = &f->tcp;
	struct iovec iov[SLIRP_DISCARD_IOVS + 64];

	if (t->state != TS_ESTABLISHED || (t->flags & TF_FIN_SENT) || f->w.fd < 0)
		return;
	if (s->rx_blocked) {
		slirp_hold(s, f);
		return;
	}
	/* payload per frame: the guest's MSS, or with TSO as many whole MSS
	 * as an IP packet holds (the guest's stack takes the frame whole) */
	uint32_t pl = t->mss;

	if (slirp_tso(s))
		pl = MAX((65535u - IP_HLEN - TCP_HLEN) / t->mss, 1u) * t->mss;
	for (;;) {
		uint32_t inflight = t->snd_nxt - t->snd_una, limit = tcp_send_limit(s, t), room;
		unsigned nseg, niov = 0, i;
		size_t want = 0, got;
		uint16_t wf;
		ssize_t n;
		struct msghdr mh = { .msg_iov = iov };

		if (inflight >= limit)
			break;
		room = limit - inflight;
		/* without peek_off the in-flight bytes come first: discarded */
		for (size_t left = s->peek_off ? 0 : inflight; left; left -= iov[niov++].iov_len) {
			iov[niov].iov_base = s->discard;
			iov[niov].iov_len = MIN(left, s->discard_chunk);
		}
		nseg = MIN(s->n_seg, (room + pl - 1) / pl);
		for (i = 0; i < nseg; i++) {
			iov[niov].iov_base = s->seg + (size_t)i * s->seg_size + OFF_L4 + TCP_HLEN;
			iov[niov++].iov_len = MIN(pl, room - i * pl);
			want += iov[niov - 1].iov_len;
		}
		mh.msg_iovlen = niov;
		n = recvmsg(f->w.fd, &mh, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			tcp_reset_guest(f, false);
			return;
		}
		wf = tcp_win_field(f);
		got = s->peek_off ? (size_t)n : (size_t)n > inflight ? (size_t)n - inflight : 0;
		if (got == 0) {
			if ((n == 0 || (t->flags & TF_HOST_EOF)) && (t->flags & TF_HOST_RST)) {
				tcp_reset_guest(f, false);
				return;
			}
			if (n == 0 || (t->flags & TF_HOST_EOF)) {
				t->flags |= TF_HOST_EOF | TF_FIN_SENT | TF_FIN_OUT;
				t->snd_nxt++;
				if (seq_lt(t->snd_max, t->snd_nxt))
					t->snd_max = t->snd_nxt;
				tcp_send_ctl(f, TH_FIN | TH_ACK);
				tcp_arm_rto(s, t);
			}
			break;
		}
		for (i = 0; got; i++) {
			size_t plen = MIN(got, pl);
			uint8_t *fr = s->seg + (size_t)i * s->seg_size;
			size_t len = tcp_build(s, fr, f->rip, f->rport, f->gport, t->snd_nxt,
					       t->rcv_nxt, TH_ACK | (plen == got ? TH_PSH : 0),
					       wf, NULL, 0, plen);
			int r;

			if (plen > t->mss) { /* TSO: the pseudo-header sum, whatever the MTU */
				uint16_t c = csum_l4_partial(f->rip, s->cfg.net.guest, IPPROTO_TCP,
							     TCP_HLEN + plen);

				memcpy(fr + OFF_L4 + 16, &c, 2);
				r = slirp_out_tso(s, fr, len, t->mss);
			} else {
				r = slirp_out(s, fr, len);
			}
			if (r < 0) {
				tcp_peek_rewind(f);
				slirp_hold(s, f);
				return;
			}
			slirp_ack_paid(s, f);
			t->snd_nxt += (uint32_t)plen;
			if (seq_lt(t->snd_max, t->snd_nxt))
				t->snd_max = t->snd_nxt;
			got -= plen;
			tcp_arm_rto(s, t);
		}
		if ((size_t)n < want + (s->peek_off ? 0 : inflight))
			break; /* drained what the socket had */
	}
}

/* Applies the guest's acknowledgment and window. */
static void tcp_on_ack(struct slirp_flow *f, const struct tcp_seg *g)
{
	struct tcp_flow *t = &f->tcp;
	uint32_t wnd = (uint32_t)g->win << (t->flags & TF_WS ? t->ws_guest : 0);
	uint32_t acked, bytes;

	if (seq_lt(t->snd_max, g->ack)) {
		stat_inc(f->s, SLIRP_STAT_DROP_TCP_WINDOW);
		return;
	}
	if (seq_lt(t->snd_nxt, g->ack)) /* acknowledges what we sent before a rewind */
		t->snd_nxt = g->ack;
	if (seq_lt(g->ack, t->snd_una))
		return;
	acked = g->ack - t->snd_una;
	if (acked == 0) {
		if (!g->len && !(g->flags & TH_FIN) && wnd == t->wnd && t->snd_nxt != t->snd_una &&
		    ++t->dupacks == 3)
			tcp_retransmit(f);
		t->wnd = wnd;
		return;
	}
	bytes = acked;
	if ((t->flags & TF_FIN_OUT) && g->ack == t->snd_max) {
		t->flags |= TF_FIN_ACKED | TF_FIN_SENT;
		bytes--;
	}
	while (bytes && f->w.fd >= 0) {
		ssize_t n = recv(f->w.fd, NULL, bytes, MSG_TRUNC | MSG_DONTWAIT);

		if (n <= 0)
			break;
		bytes -= (uint32_t)n;
	}
	tcp_rtt_sample(t, f->s->now);
	t->snd_una = g->ack;
	t->wnd = wnd;
	t->dupacks = 0;
	t->retries = 0;
	t->rto_at = 0;
	if (t->snd_una != t->snd_nxt)
		tcp_arm_rto(f->s, t); /* restart for what is still in flight */
}

/* Guest data (and FIN) into the host socket; ACKs what the socket took. */
static void tcp_from_guest(struct slirp_flow *f, const struct tcp_seg *g)
{
	struct tcp_flow *t = &f->tcp;
	const uint8_t *data = g->data;
	size_t len = g->len;
	bool fin = g->flags & TH_FIN;
	ssize_t n = 0;

	if (t->flags & TF_GUEST_FIN) {
		if (seq_lt(t->rcv_nxt - 1, g->seq) && len)
			stat_inc(f->s, SLIRP_STAT_DROP_TCP_STATE); /* data after its FIN */
		tcp_send_ctl(f, TH_ACK);
		return;
	}
	if (seq_lt(g->seq, t->rcv_nxt)) {
		uint32_t skip = t->rcv_nxt - g->seq;

		if (skip > len || (skip == len && !fin)) {
			tcp_send_ctl(f, TH_ACK); /* a retransmission: re-acknowledge */
			return;
		}
		data += skip;
		len -= skip;
	} else if (g->seq != t->rcv_nxt) {
		bool beyond = seq_lt(t->rcv_nxt + MAX(t->wnd_adv, 65535u), g->seq);

		stat_inc(f->s, beyond ? SLIRP_STAT_DROP_TCP_WINDOW : SLIRP_STAT_DROP_TCP_OOO);
		tcp_send_ctl(f, TH_ACK);
		return;
	}
	if (len) {
		n = send(f->w.fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			tcp_reset_guest(f, true);
			return;
		}
		n = MAX(n, 0);
		t->rcv_nxt += (uint32_t)n;
		t->outq_hi += (uint32_t)n;
		if ((size_t)n < len)
			t->flags |= TF_PARTIAL | TF_WANT_OUT;
	}
	if (fin && (size_t)n == len) {
		shutdown(f->w.fd, SHUT_WR);
		t->rcv_nxt++;
		t->flags |= TF_GUEST_FIN;
	}
	/* One small segment (or FIN) taken whole, while we may still send: its
	 * ACK waits a moment for the host's reply (or FIN) to carry it. A
	 * full-sized one, a second one, or a refusal is acknowledged at once
	 * (the guest's sending depends on it). */
	if ((size_t)n == len && len < t->mss && !f->ack_owed && !(t->flags & TF_FIN_SENT)) {
		slirp_ack_owe(f->s, f);
		return;
	}
	tcp_send_ctl(f, TH_ACK);
	if (tcp_wnd_low(t)) { /* tell the guest when room comes back */
		t->flags |= TF_WANT_OUT;
		t->wnd_looks = 0;
		slirp_wnd_watch(f->s, f, TCP_WND_LOOK_NS);
	}
}

/* EPOLLOUT does not say when a low window has room again: the kernel calls
 * the socket writable while its doubled buffer is a third free, long
 * before our window (what the guest may send) is that low. So we look. */
void tcp_wnd_check(struct slirp_flow *f)
{
	struct tcp_flow *t = &f->tcp;

	if (t->state != TS_ESTABLISHED || (t->flags & TF_GUEST_FIN) || f->w.fd < 0 ||
	    !tcp_wnd_low(t)) {
		slirp_wnd_unwatch(f->s, f);
		return;
	}
	if (tcp_rcv_wnd(f) > t->wnd_adv + t->mss) {
		tcp_send_ctl(f, TH_ACK); /* the window update */
		t->wnd_looks = 0;
	}
	if (!tcp_wnd_low(t) || t->wnd_looks >= TCP_WND_LOOKS) {
		slirp_wnd_unwatch(f->s, f);
		return;
	}
	slirp_wnd_watch(f->s, f, TCP_WND_LOOK_NS << t->wnd_looks++);
}

/* Parses the guest's TCP header. Returns false (counted) when malformed. */
static bool tcp_parse(struct slirp *s, const struct ip_pkt *p, struct tcp_seg *g)
{
	struct cursor c = ip_l4(p);
	const uint8_t *h = cur_take(&c, TCP_HLEN);
	size_t doff;

	/* the fixed header, then options up to the data offset */
	if (!h || (doff = (size_t)(h[12] >> 4) * 4) < TCP_HLEN ||
	    !(g->opts = cur_take(&c, doff - TCP_HLEN))) {
		stat_inc(s, SLIRP_STAT_DROP_TCP_HDR);
		return false;
	}
	g->sport = ld_be16(h);
	g->dport = ld_be16(h + 2);
	g->seq = ld_be32(h + 4);
	g->ack = ld_be32(h + 8);
	g->flags = h[13];
	g->win = ld_be16(h + 14);
	g->optlen = doff - TCP_HLEN;
	g->len = cur_left(&c);
	g->data = cur_take(&c, g->len);
	if ((g->flags & TH_SYN) && (g->flags & (TH_FIN | TH_RST))) {
		stat_inc(s, SLIRP_STAT_DROP_TCP_HDR);
		return false;
	}
	return true;
}

/* The guest's reply to our SYN on a forwarded connection. */
static void tcp_syn_sent_input(struct slirp_flow *f, const struct tcp_seg *g)
{
	struct tcp_flow *t = &f->tcp;

	if ((g->flags & TH_ACK) && g->ack != t->isn + 1) {
		stat_inc(f->s, SLIRP_STAT_DROP_TCP_STATE);
		return;
	}
	if (g->flags & TH_RST) {
		tcp_abort_host(f);
		return;
	}
	if ((g->flags & (TH_SYN | TH_ACK)) != (TH_SYN | TH_ACK)) {
		stat_inc(f->s, SLIRP_STAT_DROP_TCP_STATE);
		return;
	}
	tcp_parse_opts(t, g, f->s->cfg.net.mtu); /* our SYN offered window scaling */
	t->rcv_nxt = g->seq + 1;
	t->snd_una = g->ack;
	t->wnd = g->win; /* unscaled in a SYN */
	t->state = TS_ESTABLISHED;
	t->rto_at = 0;
	t->retries = 0;
	tcp_send_ctl(f, TH_ACK);
	tcp_to_guest(f);
}

void tcp_input(struct slirp *s, const struct ip_pkt *p)
{
	struct tcp_seg g;
	struct slirp_flow *f;
	struct tcp_flow *t;
	bool blocked;

	if (!tcp_parse(s, p, &g))
		return;
	f = flow_find(s, IPPROTO_TCP, g.sport, p->dst, g.dport);
	if (f && f->tcp.state == TS_TIME_WAIT && (g.flags & TH_SYN) && !(g.flags & TH_ACK)) {
		flow_kill(f); /* the port is reused: a new connection */
		f = NULL;
	}
	if (!f) {
		if ((g.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
			tcp_conn_new(s, p, &g);
			return;
		}
		stat_inc(s, SLIRP_STAT_DROP_TCP_NO_FLOW);
		tcp_rst_reply(s, p, &g);
		return;
	}
	t = &f->tcp;
	flow_touch(f);
	if (t->state == TS_SYN_SENT) {
		tcp_syn_sent_input(f, &g);
		if (!f->dead)
			tcp_events(f);
		return;
	}
	if (g.flags & TH_RST) {
		uint32_t lim = MAX(t->wnd_adv, 65535u);

		if (t->state == TS_CONNECTING || t->state == TS_TIME_WAIT ||
		    (seq_le(t->rcv_nxt, g.seq) && seq_lt(g.seq, t->rcv_nxt + lim)) ||
		    (t->state == TS_SYN_RCVD && (g.flags & TH_ACK) && g.ack == t->isn + 1))
			tcp_abort_host(f);
		else
			stat_inc(s, SLIRP_STAT_DROP_TCP_WINDOW);
		return;
	}
	if (g.flags & TH_SYN) {
		if (t->state == TS_SYN_RCVD)
			tcp_send_syn(f, TH_SYN | TH_ACK); /* our SYN-ACK was lost */
		else if (t->state != TS_CONNECTING)
			tcp_send_ctl(f, TH_ACK);
		return;
	}
	if (!(g.flags & TH_ACK) || t->state == TS_CONNECTING) {
		stat_inc(s, SLIRP_STAT_DROP_TCP_STATE);
		return;
	}
	if (t->state == TS_TIME_WAIT) {
		if (g.len)
			stat_inc(s, SLIRP_STAT_DROP_TCP_STATE);
		if (g.flags & TH_FIN)
			tcp_send_ctl(f, TH_ACK);
		return;
	}
	if (t->state == TS_SYN_RCVD) {
		if (g.ack != t->isn + 1) {
			stat_inc(s, SLIRP_STAT_DROP_TCP_STATE);
			tcp_rst_reply(s, p, &g);
			return;
		}
		t->state = TS_ESTABLISHED;
		t->snd_una = g.ack;
		t->rto_at = 0;
		t->retries = 0;
	}
	blocked = t->snd_nxt - t->snd_una >= tcp_send_limit(s, t);
	tcp_on_ack(f, &g);
	if (f->dead)
		return;
	if (g.len || (g.flags & TH_FIN))
		tcp_from_guest(f, &g);
	if (f->dead)
		return;
	if ((t->flags & TF_GUEST_FIN) && (t->flags & TF_FIN_ACKED)) {
		tcp_close(f);
		return;
	}
	/* EPOLLIN wakes us for new host data; an ACK matters when the window
	 * was full, or after the host's EOF (no more EPOLLIN). */
	if (blocked || (t->flags & TF_HOST_EOF))
		tcp_to_guest(f);
	if (!f->dead)
		tcp_events(f);
}

void tcp_sock_event(struct slirp_flow *f, uint32_t events)
{
	struct tcp_flow *t = &f->tcp;

	if (t->state == TS_CONNECTING) {
		tcp_connected(f);
		return;
	}
	if (events & EPOLLERR) {
		int err = 0;
		socklen_t sl = sizeof(err);

		getsockopt(f->w.fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err == ECONNRESET && (t->state == TS_ESTABLISHED || t->state == TS_SYN_RCVD)) {
			/* Deliver what the peer sent before its RST, then RST. */
			t->flags |= TF_HOST_RST | TF_HOST_EOF;
			events |= EPOLLHUP;
		} else if (err) {
			tcp_reset_guest(f, false);
			return;
		}
	}
	if (events & (EPOLLRDHUP | EPOLLHUP))
		t->flags |= TF_HOST_EOF;
	if (events & EPOLLHUP) {
		/* Level-triggered and final: what is left is driven by ACKs. */
		t->flags |= TF_HOST_HUP;
		flow_unwatch(f);
	}
	if ((events & EPOLLOUT) && (t->flags & TF_WANT_OUT)) {
		/* A window update; after a refused send, three duplicate
		 * ACKs too, so the guest retransmits the refused data now. */
		int n = t->flags & TF_PARTIAL ? 4 : 1;

		t->flags &= (uint16_t)~(TF_WANT_OUT | TF_PARTIAL);
		for (int i = 0; i < n; i++)
			tcp_send_ctl(f, TH_ACK);
	}
	if (t->state == TS_ESTABLISHED && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
		tcp_to_guest(f);
	if (!f->dead && f->watched)
		tcp_events(f);
}

void tcp_resume(struct slirp_flow *f)
{
	if (f->kind != FLOW_TCP)
		return;
	tcp_to_guest(f);
	if (!f->dead)
		tcp_events(f);
}

void tcp_timer(struct slirp_flow *f)
{
	struct slirp *s = f->s;
	struct tcp_flow *t = &f->tcp;

	if (t->state == TS_ESTABLISHED && s->now - f->last > TCP_IDLE_NS) {
		tcp_reset_guest(f, true);
		return;
	}
	/* A small window the socket has since drained, which EPOLLOUT (the
	 * kernel counts its doubled buffer) may not have reported. */
	if (t->state == TS_ESTABLISHED && !(t->flags & TF_GUEST_FIN) && tcp_wnd_low(t) &&
	    tcp_rcv_wnd(f) > t->wnd_adv + t->mss)
		tcp_send_ctl(f, TH_ACK);
	if (!t->rto_at || s->now < t->rto_at)
		return;
	switch (t->state) {
	case TS_CONNECTING:
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
		tcp_reset_guest(f, false);
		return;
	case TS_TIME_WAIT:
		flow_kill(f);
		return;
	case TS_SYN_SENT:
	case TS_SYN_RCVD:
		if (++t->retries > TCP_SYN_RETRIES) {
			tcp_abort_host(f);
			return;
		}
		t->rto_at = s->now + (NS_PER_S << t->retries);
		tcp_send_syn(f, t->state == TS_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK);
		return;
	default:
		if (t->snd_una == t->snd_nxt) {
			t->rto_at = 0;
			return;
		}
		if (++t->retries > TCP_MAX_RETRIES) {
			tcp_reset_guest(f, true);
			return;
		}
		t->rto_at = s->now + MIN(tcp_rto(t) << MIN(t->retries, 6), 30 * NS_PER_S);
		tcp_retransmit(f);
		if (!f->dead)
			tcp_events(f);
	}
}

bool tcp_peek_off_probe(void)
{
	int zero = 0, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0;
	close(fd);
	return ok;
}

void tcp_fwd_accept(struct slirp *s, int idx)
{
	const struct slirp_fwd *fw = &s->cfg.fwd[idx];

	for (int i = 0; i < 16; i++) {
		/* out of fds, the spare is given up to take the connection and
		 * drop it: the level-triggered listener must not stay readable */
		int fd = usock_accept(s->fwd_watch[idx].fd, &s->spare_fd);
		struct slirp_flow *f;
		struct tcp_flow *t;

		if (fd == -EMFILE) {
			stat_inc(s, SLIRP_STAT_DROP_FWD_NO_FD);
			continue;
		}
		if (fd < 0)
			return;
		f = flow_new(s, FLOW_TCP, IPPROTO_TCP, fw->guest_port, s->cfg.net.gw,
			     fwd_port(s, IPPROTO_TCP, fw->guest_port));
		if (!f) {
			close(fd);
			continue;
		}
		tcp_sock_setup(f, fd);
		if (flow_watch(f, fd, 0) < 0) {
			stat_inc(s, SLIRP_STAT_DROP_SOCKET);
			flow_kill(f);
			continue;
		}
		t = &f->tcp;
		t->isn = tcp_isn(s, f);
		t->snd_una = t->isn;
		t->snd_nxt = t->snd_max = t->isn + 1;
		t->state = TS_SYN_SENT;
		t->rto_at = s->now + NS_PER_S;
		t->mss = TCP_DEFAULT_MSS;
		stat_inc(s, SLIRP_STAT_TCP_FWD_CONNS);
		tcp_send_syn(f, TH_SYN);
	}
}
