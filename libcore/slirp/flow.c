/* The SLIRP flow table: one record per guest TCP connection, UDP flow, DNS
 * client port or ICMP echo id, hashed by (protocol, guest port, remote
 * address, remote port) under a random per-run SipHash key, and bounded
 * twice: records by cfg.max_flows, host fds by the guest's budget
 * (base/budget.h). When either is full the least recently used UDP/DNS or
 * ICMP flow (or, for records, the oldest TIME_WAIT one) is recycled to make
 * room; TCP connections that hold data are never recycled. A killed flow
 * leaves the hash and epoll at once but its memory is freed two timer ticks
 * later, because the epoll batch being dispatched may still carry its
 * events. */
#include "slirp/priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/siphash.h"

/* The bucket of a flow key: SipHash-1-3 under the per-run random key, so a
 * guest cannot choose ports that all land in one bucket. */
static unsigned flow_hash(const struct slirp *s, uint8_t proto, uint16_t gport,
			  uint32_t rip, uint16_t rport)
{
	uint8_t k[9];

	memcpy(k, &rip, 4);
	memcpy(k + 4, &gport, 2);
	memcpy(k + 6, &rport, 2);
	k[8] = proto;
	return (unsigned)siphash13(&s->hash_key, k, sizeof(k)) & s->hash_mask;
}

int flow_table_init(struct slirp *s)
{
	unsigned n = 64;

	while (n < s->cfg.max_flows && n < (1u << 20))
		n <<= 1;
	s->hash = calloc(n, sizeof(*s->hash));
	if (!s->hash)
		return -ENOMEM;
	s->hash_mask = n - 1;
	siphash_key_random(&s->hash_key); /* a clock-derived key otherwise */
	return 0;
}

static void dead_free(struct slirp_flow *f)
{
	while (f) {
		struct slirp_flow *next = f->next;

		if (f->kind == FLOW_DNS)
			free(f->dns);
		free(f);
		f = next;
	}
}

void flow_table_fini(struct slirp *s)
{
	while (s->flows)
		flow_kill(s->flows);
	dead_free(s->dead[0]);
	dead_free(s->dead[1]);
	s->dead[0] = s->dead[1] = NULL;
	free(s->hash);
	s->hash = NULL;
}

struct slirp_flow *flow_find(struct slirp *s, uint8_t proto, uint16_t gport,
			     uint32_t rip, uint16_t rport)
{
	struct slirp_flow *f = s->hash[flow_hash(s, proto, gport, rip, rport)];

	while (f && (f->proto != proto || f->gport != gport || f->rip != rip || f->rport != rport))
		f = f->hnext;
	return f;
}

/* The budget kind of the fd a flow of this kind holds, or -1. */
static int flow_slot_kind(uint8_t kind)
{
	switch (kind) {
	case FLOW_TCP:
		return BUDGET_TCP;
	case FLOW_UDP:
	case FLOW_DNS:
		return BUDGET_UDP;
	case FLOW_ICMP:
		return BUDGET_ICMP;
	default:
		return -1; /* UDP forwards use their listener's socket */
	}
}

static void lru_unlink(struct slirp_flow *f)
{
	struct flow_lru *l = f->lru;

	if (!l)
		return;
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		l->tail = f->lprev;
	f->lnext = f->lprev = NULL;
	f->lru = NULL;
	l->n--;
}

static void lru_push(struct flow_lru *l, struct slirp_flow *f)
{
	f->lru = l;
	f->lprev = NULL;
	f->lnext = l->head;
	if (l->head)
		l->head->lprev = f;
	else
		l->tail = f;
	l->head = f;
	l->n++;
}

void flow_touch(struct slirp_flow *f)
{
	struct flow_lru *l = f->lru;

	f->last = f->s->now;
	if (l && l->head != f) {
		lru_unlink(f);
		lru_push(l, f);
	}
}

/* Recycles the least recently used flow of list a or b (whichever is
 * older). Returns true when one was killed. */
static bool flow_recycle(struct slirp *s, struct flow_lru *a, struct flow_lru *b)
{
	struct slirp_flow *v = a ? a->tail : NULL;

	if (b && b->tail && (!v || b->tail->last < v->last))
		v = b->tail;
	if (!v)
		return false;
	if (v->slot >= 0)
		s->budget->evicted[v->slot]++;
	stat_inc(s, SLIRP_STAT_FLOWS_EVICTED);
	flow_kill(v);
	return true;
}

/* Takes a budget slot of kind k, recycling idle datagram flows when the
 * kind (UDP, ICMP: its own list) or the total (both lists) is full. TCP
 * never recycles TCP. Returns 0, or -1 (counted) when none can be had. */
static int flow_slot_take(struct slirp *s, int k)
{
	struct budget *b = s->budget;

	for (int tries = 0; tries < 4; tries++) {
		bool own = budget_kind_full(b, (enum budget_kind)k), freed;

		if (budget_take(b, (enum budget_kind)k))
			return 0;
		if (own) /* the kind's own cap: only its own flows make room */
			freed = k == BUDGET_UDP	   ? flow_recycle(s, &s->lru_udp, NULL)
				: k == BUDGET_ICMP ? flow_recycle(s, &s->lru_icmp, NULL)
						   : false;
		else /* the total: any idle datagram flow */
			freed = flow_recycle(s, &s->lru_udp, &s->lru_icmp);
		if (!freed)
			break;
	}
	budget_refuse(b, (enum budget_kind)k);
	stat_inc(s, SLIRP_STAT_DROP_BUDGET);
	return -1;
}

struct slirp_flow *flow_new(struct slirp *s, uint8_t kind, uint8_t proto,
			    uint16_t gport, uint32_t rip, uint16_t rport)
{
	struct slirp_flow *f;
	int k = flow_slot_kind(kind);
	unsigned h;

	/* at the record limit a TIME_WAIT record goes first, then an idle
	 * datagram flow */
	if (s->n_flows >= s->cfg.max_flows && !flow_recycle(s, &s->lru_tw, NULL))
		flow_recycle(s, &s->lru_udp, &s->lru_icmp);
	if (s->n_flows >= s->cfg.max_flows || !(f = calloc(1, sizeof(*f)))) {
		stat_inc(s, SLIRP_STAT_DROP_FLOW_LIMIT);
		return NULL;
	}
	if (k >= 0 && flow_slot_take(s, k) < 0) {
		free(f);
		return NULL;
	}
	f->s = s;
	f->w.fd = -1;
	f->fwd_fd = -1;
	f->slot = (int8_t)k;
	f->kind = kind;
	f->proto = proto;
	f->gport = gport;
	f->rip = rip;
	f->rport = rport;
	f->last = s->now;
	h = flow_hash(s, proto, gport, rip, rport);
	f->hnext = s->hash[h];
	s->hash[h] = f;
	f->next = s->flows;
	if (s->flows)
		s->flows->prev = f;
	s->flows = f;
	s->n_flows++;
	if (k == BUDGET_UDP)
		lru_push(&s->lru_udp, f);
	else if (k == BUDGET_ICMP)
		lru_push(&s->lru_icmp, f);
	return f;
}

/* Gives back f's budget slot (its fd is closed or about to be). */
static void flow_slot_put(struct slirp_flow *f)
{
	if (f->slot >= 0)
		budget_put(f->s->budget, (enum budget_kind)f->slot);
	f->slot = -1;
}

void flow_time_wait(struct slirp_flow *f)
{
	flow_unwatch(f);
	if (f->w.fd >= 0)
		close(f->w.fd);
	f->w.fd = -1;
	flow_slot_put(f);
	lru_unlink(f);
	lru_push(&f->s->lru_tw, f);
}

void flow_events(struct slirp_flow *f, uint32_t events)
{
	if (f->watched && events != f->events && loop_mod(f->s->loop, &f->w, events) == 0)
		f->events = events;
}

void flow_unwatch(struct slirp_flow *f)
{
	if (f->watched)
		loop_del(f->s->loop, &f->w);
	f->watched = false;
}

void flow_kill(struct slirp_flow *f)
{
	struct slirp *s = f->s;
	struct slirp_flow **pp = &s->hash[flow_hash(s, f->proto, f->gport, f->rip, f->rport)];

	if (f->dead)
		return;
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	if (f->prev)
		f->prev->next = f->next;
	else
		s->flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	if (f->pending) { /* unlink from the hold list */
		struct slirp_flow **q = &s->pending;

		while (*q && *q != f)
			q = &(*q)->pnext;
		if (*q)
			*q = f->pnext;
		f->pending = false;
	}
	slirp_ack_paid(s, f);
	slirp_wnd_unwatch(s, f);
	flow_unwatch(f);
	if (f->w.fd >= 0)
		close(f->w.fd);
	f->w.fd = -1;
	flow_slot_put(f);
	lru_unlink(f);
	f->dead = true;
	s->n_flows--;
	f->next = s->dead[0];
	s->dead[0] = f;
}

void flow_reap(struct slirp *s)
{
	dead_free(s->dead[1]);
	s->dead[1] = s->dead[0];
	s->dead[0] = NULL;
}

struct slirp_flow *flow_open_dgram(struct slirp *s, const struct ip_pkt *p, uint8_t kind,
				   uint16_t gport, uint16_t rport)
{
	uint8_t proto = kind == FLOW_ICMP ? IPPROTO_ICMP : IPPROTO_UDP;
	struct sockaddr_in to;
	struct slirp_flow *f;
	int fd, why = policy_map(s, p->dst, rport, &to);

	if (why) {
		/* host unreachable for nowhere, administratively prohibited else */
		stat_inc(s, why);
		icmp_unreach(s, p->ip, (size_t)(p->l4 - p->ip) + p->l4len,
			     why == SLIRP_STAT_DROP_IP_DST ? 1 : 13);
		return NULL;
	}
	f = flow_new(s, kind, proto, gport, p->dst, rport); /* the budget first */
	if (!f)
		return NULL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    kind == FLOW_ICMP ? IPPROTO_ICMP : 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		stat_inc(s, fd < 0 && errno == EACCES ? SLIRP_STAT_DROP_ICMP_NO_SOCKET
						      : SLIRP_STAT_DROP_SOCKET);
		if (fd >= 0)
			close(fd);
		flow_kill(f);
		return NULL;
	}
	if (flow_watch(f, fd, EPOLLIN) < 0) {
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
		flow_kill(f); /* closes fd: flow_watch set it */
		return NULL;
	}
	if (kind == FLOW_UDP)
		stat_inc(s, SLIRP_STAT_UDP_FLOWS);
	return f;
}

unsigned slirp_flow_chain_max(const struct slirp *s)
{
	unsigned best = 0;

	for (unsigned i = 0; s->hash && i <= s->hash_mask; i++) {
		unsigned n = 0;

		for (const struct slirp_flow *f = s->hash[i]; f; f = f->hnext)
			n++;
		best = MAX(best, n);
	}
	return best;
}
