/* The SLIRP flow table: one record per guest TCP connection, UDP flow, DNS
 * client port or ICMP echo id, hashed by (protocol, guest port, remote
 * address, remote port) and bounded by cfg.max_flows. A killed flow leaves
 * the hash and epoll at once but its memory is freed two timer ticks later,
 * because the epoll batch being dispatched may still carry its events. */
#include "slirp/priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned flow_hash(const struct slirp *s, uint8_t proto, uint16_t gport,
			  uint32_t rip, uint16_t rport)
{
	uint64_t k = ((uint64_t)rip << 32) ^ ((uint64_t)gport << 16) ^ rport ^
		     ((uint64_t)proto << 40);

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (unsigned)k & s->hash_mask;
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

struct slirp_flow *flow_new(struct slirp *s, uint8_t kind, uint8_t proto,
			    uint16_t gport, uint32_t rip, uint16_t rport)
{
	struct slirp_flow *f;
	unsigned h;

	if (s->n_flows >= s->cfg.max_flows || !(f = calloc(1, sizeof(*f)))) {
		stat_inc(s, SLIRP_STAT_DROP_FLOW_LIMIT);
		return NULL;
	}
	f->s = s;
	f->w.fd = -1;
	f->fwd_fd = -1;
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
	return f;
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
	flow_unwatch(f);
	if (f->w.fd >= 0)
		close(f->w.fd);
	f->w.fd = -1;
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
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    kind == FLOW_ICMP ? IPPROTO_ICMP : 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		stat_inc(s, fd < 0 && errno == EACCES ? SLIRP_STAT_DROP_ICMP_NO_SOCKET
						      : SLIRP_STAT_DROP_SOCKET);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	f = flow_new(s, kind, proto, gport, p->dst, rport);
	if (!f) {
		close(fd);
		return NULL;
	}
	if (flow_watch(f, fd, EPOLLIN) < 0) {
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
		flow_kill(f);
		return NULL;
	}
	if (kind == FLOW_UDP)
		stat_inc(s, SLIRP_STAT_UDP_FLOWS);
	return f;
}
