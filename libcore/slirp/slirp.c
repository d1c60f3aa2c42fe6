/* The SLIRP core: start-up and tear-down, the Ethernet layer of slirp_input()
 * (which frames are ours, and which protocol gets them), output to the
 * front end with the -ENOBUFS hold/resume protocol, the periodic timer that
 * drives retransmission and idle clean-up, and the counters. */
#include "slirp/priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/util.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const char *const stat_names[SLIRP_STAT_N] = {
#define SLIRP_STAT_NAME(id, name) name,
	SLIRP_STATS(SLIRP_STAT_NAME)
#undef SLIRP_STAT_NAME
};

/* Counts a frame the front end took, or notes that it had no room. */
static int slirp_out_done(struct slirp *s, int r, size_t len)
{
	if (r < 0) {
		if (!s->rx_blocked)
			stat_inc(s, SLIRP_STAT_RX_BLOCKED);
		s->rx_blocked = true;
		return -ENOBUFS;
	}
	s->stats[SLIRP_STAT_FRAMES_OUT]++;
	s->stats[SLIRP_STAT_BYTES_OUT] += len;
	s->out_since_flush = true;
	return 0;
}

int slirp_out(struct slirp *s, const uint8_t *frame, size_t len)
{
	return slirp_out_done(s, s->ops->output(s->ctx, frame, len), len);
}

int slirp_out_tso(struct slirp *s, const uint8_t *frame, size_t len, uint16_t mss)
{
	return slirp_out_done(s, s->ops->output_tso(s->ctx, frame, len, mss), len);
}

bool slirp_tso(struct slirp *s)
{
	return s->ops->output_tso && s->ops->tso && s->ops->tso(s->ctx);
}

void slirp_flush(struct slirp *s)
{
	if (s->batching)
		return;
	if (s->out_since_flush && s->ops->flush)
		s->ops->flush(s->ctx);
	s->out_since_flush = false;
}

void slirp_hold(struct slirp *s, struct slirp_flow *f)
{
	if (f->pending)
		return;
	f->pending = true;
	f->pnext = s->pending;
	s->pending = f;
}

/* Queues f for the deferred pass (flows_deferred) and makes sure the pass
 * runs within delay_ns. */
static void flow_defer(struct slirp *s, struct slirp_flow *f, uint64_t delay_ns)
{
	if (!f->dqueued) {
		f->dqueued = true;
		f->dnext = s->deferq;
		s->deferq = f;
	}
	if (s->flow_defer.armed && s->flow_defer.due > now_ns() + delay_ns)
		loop_defer_cancel(s->loop, &s->flow_defer); /* an earlier deadline */
	loop_defer(s->loop, &s->flow_defer, delay_ns);
}

/* Nothing is owed or watched any more: the pass and its queue go (the
 * queue must not outlive the flows it names). */
static void defer_idle(struct slirp *s)
{
	if (s->acks_owed || s->wnd_watched)
		return;
	loop_defer_cancel(s->loop, &s->flow_defer);
	for (struct slirp_flow *q = s->deferq; q; q = q->dnext)
		q->dqueued = false;
	s->deferq = NULL;
}

void slirp_ack_owe(struct slirp *s, struct slirp_flow *f)
{
	if (f->ack_owed)
		return;
	f->ack_owed = true;
	s->acks_owed++;
	flow_defer(s, f, ACK_DELAY_NS);
}

void slirp_ack_paid(struct slirp *s, struct slirp_flow *f)
{
	if (!f->ack_owed)
		return;
	f->ack_owed = false;
	s->acks_owed--;
	defer_idle(s);
}

void slirp_wnd_watch(struct slirp *s, struct slirp_flow *f, uint64_t delay_ns)
{
	if (!f->wnd_watch) {
		f->wnd_watch = true;
		s->wnd_watched++;
	}
	f->wnd_due = now_ns() + delay_ns;
	flow_defer(s, f, delay_ns);
}

void slirp_wnd_unwatch(struct slirp *s, struct slirp_flow *f)
{
	if (!f->wnd_watch)
		return;
	f->wnd_watch = false;
	s->wnd_watched--;
	defer_idle(s);
}

/* The deferred pass: sends the ACKs still owed, checks the watched windows
 * that are due (a check may watch again, re-queueing its flow). */
static void flows_deferred(struct slirp *s)
{
	struct slirp_flow *f = s->deferq;

	loop_defer_cancel(s->loop, &s->flow_defer);
	s->deferq = NULL;
	s->now = now_ns();
	while (f) {
		struct slirp_flow *next = f->dnext;

		f->dqueued = false;
		if (f->ack_owed)
			tcp_ack_now(f);
		if (f->wnd_watch && f->wnd_due <= s->now)
			tcp_wnd_check(f);
		else if (f->wnd_watch)
			flow_defer(s, f, f->wnd_due - s->now);
		f = next;
	}
	slirp_flush(s);
}

static void flow_defer_event(struct loop_defer *d)
{
	flows_deferred(d->ctx);
}

void slirp_rx_ready(struct slirp *s)
{
	struct slirp_flow *f = s->pending;

	s->rx_blocked = false;
	s->pending = NULL;
	s->now = now_ns();
	while (f) {
		struct slirp_flow *next = f->pnext;

		f->pending = false;
		if (!f->dead && !s->rx_blocked)
			tcp_resume(f);
		else if (!f->dead)
			slirp_hold(s, f);
		f = next;
	}
	slirp_flush(s);
}

void slirp_batch_begin(struct slirp *s)
{
	s->batching = true;
}

void slirp_batch_end(struct slirp *s)
{
	s->batching = false;
	slirp_flush(s);
}

void slirp_input(struct slirp *s, const uint8_t *frame, size_t len)
{
	struct cursor c = cur_init(frame, len);
	const uint8_t *eth;
	uint16_t type;

	s->stats[SLIRP_STAT_FRAMES_IN]++;
	s->stats[SLIRP_STAT_BYTES_IN] += len;
	s->now = now_ns();
	eth = cur_take(&c, ETH_HLEN_);
	if (!eth) {
		stat_inc(s, SLIRP_STAT_DROP_SHORT);
		return;
	}
	type = ld_be16(eth + 12);
	if (type == ETHTYPE_IPV6) {
		stat_inc(s, SLIRP_STAT_DROP_IPV6);
		return;
	}
	if (memcmp(eth, s->cfg.net.gw_mac, 6) && memcmp(eth, bcast, 6)) {
		stat_inc(s, SLIRP_STAT_DROP_ETH_DST);
		return;
	}
	if (type == ETHTYPE_ARP)
		arp_input(s, c);
	else if (type == ETHTYPE_IP)
		ip_input(s, eth, c);
	else
		stat_inc(s, SLIRP_STAT_DROP_ETHERTYPE);
	slirp_flush(s);
}

/* Every flow's host socket lands here. */
static void flow_event(struct loop_watch *w, uint32_t events)
{
	struct slirp_flow *f = w->ctx;
	struct slirp *s = f->s;

	if (f->dead)
		return;
	s->now = now_ns();
	flow_touch(f);
	switch (f->kind) {
	case FLOW_TCP:
		tcp_sock_event(f, events);
		break;
	case FLOW_DNS:
		dns_sock_event(f, events);
		break;
	case FLOW_ICMP:
		icmp_sock_event(f, events);
		break;
	default:
		udp_sock_event(f, events);
	}
	slirp_flush(s);
}

int flow_watch(struct slirp_flow *f, int fd, uint32_t events)
{
	int err;

	f->w.fd = fd;
	f->w.cb = flow_event;
	f->w.ctx = f;
	f->events = events;
	err = loop_add(f->s->loop, &f->w, events);
	f->watched = err == 0;
	return err;
}

/* The periodic tick: retransmission, failover and idle clean-up. */
static void timer_event(struct loop_watch *w, uint32_t events)
{
	struct slirp *s = w->ctx;
	uint64_t ticks;
	struct slirp_flow *f, *next;

	if (read(w->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (s->deferq)
		flows_deferred(s); /* before flow_reap frees what the queue names */
	s->now = now_ns();
	flow_reap(s);
	for (f = s->flows; f; f = next) {
		next = f->next;
		switch (f->kind) {
		case FLOW_TCP:
			tcp_timer(f);
			break;
		case FLOW_DNS:
			dns_timer(f);
			break;
		default:
			udp_timer(f);
		}
	}
	slirp_flush(s);
}

static int timer_init(struct slirp *s)
{
	struct itimerspec its = {
		.it_interval = { 0, TIMER_TICK_MS * NS_PER_MS },
		.it_value = { 0, TIMER_TICK_MS * NS_PER_MS },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	s->timer.fd = fd;
	s->timer.cb = timer_event;
	s->timer.ctx = s;
	err = loop_add(s->loop, &s->timer, EPOLLIN);
	if (err < 0) {
		close(fd);
		s->timer.fd = -1;
	}
	return err;
}

int slirp_init(struct slirp *s, const struct slirp_cfg *c, struct loop *l,
	       const struct slirp_ops *ops, void *ctx)
{
	size_t frame = ETH_HLEN_ + NET_MTU_MAX;
	int err;

	memset(s, 0, sizeof(*s));
	s->timer.fd = -1;
	s->spare_fd = -1;
	for (unsigned i = 0; i < SLIRP_MAX_FWD; i++)
		s->fwd_watch[i].fd = -1;
	if (!c->net.enabled || net_layout_check(&c->net, NULL, 0) || !c->max_flows || !ops ||
	    !ops->output)
		return -EINVAL;
	s->cfg = *c;
	s->loop = l;
	s->ops = ops;
	s->ctx = ctx;
	s->flow_defer.cb = flow_defer_event;
	s->flow_defer.ctx = s;
	/* a TCP frame to the guest: the MTU, or an IP packet's 64 KiB with TSO */
	s->seg_size = ETH_HLEN_ + (ops->output_tso ? 65535 : c->net.mtu);
	s->n_seg = (unsigned)MIN(64, MAX(8, (1u << 20) / s->seg_size));
	s->discard_chunk = SLIRP_DISCARD_CHUNK;
	s->tx = malloc(frame);
	s->seg = malloc((size_t)s->n_seg * s->seg_size);
	if (!s->tx || !s->seg) {
		err = -ENOMEM;
		goto fail;
	}
	if (getrandom(&s->isn_base, sizeof(s->isn_base), 0) < 0)
		s->isn_base = (uint32_t)now_ns();
	s->next_port = 49152 + (uint16_t)(s->isn_base % 8192);
	s->icmp_ok = icmp_probe();
	s->peek_off = tcp_peek_off_probe();
	if (!(s->discard = malloc(s->discard_chunk))) { /* touched only without peek_off */
		err = -ENOMEM;
		goto fail;
	}
	s->budget = c->budget;
	if (!s->budget) { /* on its own (tests, the TAP harness) */
		budget_init(&s->own_budget, budget_nofile_now());
		s->budget = &s->own_budget;
	}
	if (c->net_policy == SLIRP_POLICY_PUBLIC && (err = policy_host_addrs(s)) < 0)
		goto fail;
	err = flow_table_init(s);
	if (err < 0)
		goto fail;
	err = timer_init(s);
	if (err < 0)
		goto fail;
	err = fwd_init(s);
	if (err < 0)
		goto fail;
	return 0;
fail:
	slirp_fini(s);
	return err;
}

void slirp_fini(struct slirp *s)
{
	loop_defer_cancel(s->loop, &s->flow_defer);
	s->deferq = NULL;
	fwd_fini(s);
	flow_table_fini(s);
	if (s->timer.fd >= 0) {
		loop_del(s->loop, &s->timer);
		close(s->timer.fd);
		s->timer.fd = -1;
	}
	free(s->tx);
	free(s->seg);
	free(s->discard);
	s->tx = s->seg = s->discard = NULL;
}

void slirp_stats_print(const struct slirp *s, FILE *f)
{
	for (unsigned i = 0; i < SLIRP_STAT_N; i++)
		fprintf(f, "%s %llu\n", stat_names[i], (unsigned long long)s->stats[i]);
}
