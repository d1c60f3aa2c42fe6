/* The DNS forwarder behind the virtual DNS address (10.0.2.3:53). Each guest
 * client port gets one UDP socket connected to the upstream in use. Every
 * query goes upstream under a random ID of ours, and only an answer with an
 * ID we are waiting for reaches the guest (with its own ID back); others
 * are counted drops (drop_dns_unmatched). Up to
 * DNS_MAX_PENDING unanswered queries are kept so that, when the upstream
 * refuses (ICMP unreachable) or stays silent past DNS_TRY_NS, they are sent
 * again to the next configured server. When every server has failed the
 * guest gets SERVFAIL at once instead of waiting for its own timeout. The
 * server that answered last is tried first by new flows. TCP queries are
 * plain TCP NAT to an upstream chosen by dns_upstream() (see tcp.c). */
#include "slirp/priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DNS_TRY_NS (1500 * NS_PER_MS)
#define DNS_IDLE_NS (30 * NS_PER_S)
#define DNS_HLEN 12

bool dns_upstream(struct slirp *s, unsigned try, struct sockaddr_in *to)
{
	if (try >= s->cfg.n_dns)
		return false;
	*to = s->cfg.dns[(s->dns_cur + try) % s->cfg.n_dns];
	return true;
}

/* Answers query q (its first len bytes, at least a header; q's own ID
 * field is ignored) from guest port gport, ID guest_id, with SERVFAIL: its
 * header and first question, QR set. */
static void dns_servfail(struct slirp *s, uint16_t gport, uint16_t guest_id, const uint8_t *q,
			 size_t len)
{
	uint8_t *r = s->tx + OFF_L4 + UDP_HLEN;
	size_t end = DNS_HLEN, room = (size_t)s->cfg.net.mtu - IP_HLEN - UDP_HLEN;
	struct cursor c = cur_init(q, len);
	const uint8_t *h = cur_take(&c, DNS_HLEN), *b;

	if (h && ld_be16(h + 4) >= 1) { /* keep the first question when it parses and fits */
		/* the name's labels (no compression in a question), then its
		 * root label and QTYPE, QCLASS */
		while ((b = cur_peek(&c, 0, 1)) && b[0] && b[0] < 64 && cur_skip(&c, (size_t)b[0] + 1))
			;
		if ((b = cur_peek(&c, 0, 5)) && b[0] == 0 && c.off + 5 <= room)
			end = c.off + 5;
	}
	memmove(r, q, end);
	st_be16(r, guest_id);
	r[2] = (uint8_t)((r[2] & 0x79) | 0x80); /* QR, keep opcode and RD */
	r[3] = 0x80 | 2;                        /* RA, RCODE = SERVFAIL */
	st_be16(r + 4, end > DNS_HLEN ? 1 : 0);
	memset(r + 6, 0, 6);
	stat_inc(s, SLIRP_STAT_DNS_SERVFAIL);
	udp_send_guest(s, s->tx, s->cfg.net.dns, 53, gport, end);
}

/* A fresh upstream ID for a query of flow d: unpredictable (SipHash of a
 * counter under the run's key) and unlike the other pending ones. */
static uint16_t dns_new_id(struct slirp *s, const struct dns_flow *d)
{
	for (;;) {
		uint64_t ctr = ++s->dns_ids ^ 0x646e730000000000ULL; /* "dns" */
		uint16_t id = (uint16_t)(siphash13(&s->hash_key, &ctr, sizeof(ctr)) >> 48);
		bool taken = false;

		for (int i = 0; i < DNS_MAX_PENDING; i++)
			taken |= d->q[i].used && d->q[i].up_id == id;
		if (!taken)
			return id;
	}
}

/* Points the flow's socket at upstream index f->dns->server. */
static int dns_connect(struct slirp_flow *f)
{
	struct sockaddr_in *to = &f->s->cfg.dns[f->dns->server];

	return connect(f->w.fd, (struct sockaddr *)to, sizeof(*to)) < 0 ? -errno : 0;
}

/* Moves the pending queries to the next upstream, or fails them. */
static void dns_failover(struct slirp_flow *f)
{
	struct slirp *s = f->s;
	struct dns_flow *d = f->dns;
	bool sent = false;

	while (!sent) {
		if (++d->tries >= s->cfg.n_dns) {
			for (int i = 0; i < DNS_MAX_PENDING; i++) {
				if (d->q[i].used && d->q[i].len)
					dns_servfail(s, f->gport, d->q[i].guest_id, d->q[i].data,
						     d->q[i].len);
				d->q[i].used = false;
			}
			d->tries = 0;
			d->deadline = 0;
			return;
		}
		stat_inc(s, SLIRP_STAT_DNS_FAILOVERS);
		d->server = (uint8_t)((d->server + 1) % s->cfg.n_dns);
		if (dns_connect(f) < 0)
			continue;
		sent = true;
		for (int i = 0; i < DNS_MAX_PENDING; i++)
			if (d->q[i].used && d->q[i].len &&
			    send(f->w.fd, d->q[i].data, d->q[i].len, MSG_DONTWAIT) < 0)
				sent = false;
	}
	d->deadline = s->now + DNS_TRY_NS;
}

static struct slirp_flow *dns_flow_new(struct slirp *s, uint16_t sport)
{
	struct slirp_flow *f = flow_new(s, FLOW_DNS, IPPROTO_UDP, sport, s->cfg.net.dns, 53);
	int fd;

	if (!f)
		return NULL; /* counted: record limit or budget */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	f->dns = calloc(1, sizeof(*f->dns));
	if (fd < 0 || !f->dns || flow_watch(f, fd, EPOLLIN) < 0) {
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
		if (fd >= 0 && f->w.fd < 0)
			close(fd);
		flow_kill(f); /* closes fd once flow_watch set it */
		return NULL;
	}
	f->dns->server = (uint8_t)s->dns_cur;
	f->dns->tries = 0;
	if (dns_connect(f) < 0)
		f->dns->deadline = s->now; /* fail over on the next tick */
	return f;
}

void dns_input(struct slirp *s, const struct ip_pkt *p, uint16_t sport, struct cursor c)
{
	const uint8_t *q = cur_peek(&c, 0, DNS_HLEN);
	size_t qlen = cur_left(&c);
	struct slirp_flow *f;
	struct dns_flow *d;
	struct dns_query *sq;
	uint8_t *out;
	int slot = -1;

	if (!q || (q[2] & 0x80)) { /* no header, or an answer */
		stat_inc(s, SLIRP_STAT_DROP_DNS);
		return;
	}
	stat_inc(s, SLIRP_STAT_DNS_QUERIES);
	if (s->cfg.n_dns == 0) {
		dns_servfail(s, sport, ld_be16(q), q, qlen);
		return;
	}
	f = flow_find(s, IPPROTO_UDP, sport, p->dst, 53);
	if (!f && !(f = dns_flow_new(s, sport)))
		return;
	flow_touch(f);
	d = f->dns;
	/* Its slot: the same guest ID again (a retry: same upstream ID, so
	 * either answer is taken), else a free one, else the oldest. */
	for (int i = 0; i < DNS_MAX_PENDING && slot < 0; i++)
		if (d->q[i].used && d->q[i].guest_id == ld_be16(q))
			slot = i;
	for (int i = 0; i < DNS_MAX_PENDING && slot < 0; i++)
		if (!d->q[i].used)
			slot = i;
	if (slot < 0) {
		slot = d->oldest;
		d->oldest = (uint8_t)((d->oldest + 1) % DNS_MAX_PENDING);
	}
	sq = &d->q[slot];
	if (!sq->used || sq->guest_id != ld_be16(q)) {
		sq->used = false; /* an ID of its own, unlike the others' */
		sq->up_id = dns_new_id(s, d);
		sq->guest_id = ld_be16(q);
		sq->used = true;
	}
	/* what goes upstream: the query under our ID (kept when it fits) */
	out = s->tx + OFF_L4 + UDP_HLEN;
	memcpy(out, q, qlen);
	st_be16(out, sq->up_id);
	sq->len = 0;
	if (qlen <= DNS_MAX_QUERY) {
		memcpy(sq->data, out, qlen);
		sq->len = (uint16_t)qlen;
	}
	if (!d->deadline)
		d->deadline = s->now + DNS_TRY_NS;
	if (send(f->w.fd, out, qlen, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
		dns_failover(f);
}

void dns_sock_event(struct slirp_flow *f, uint32_t events)
{
	struct slirp *s = f->s;
	struct dns_flow *d = f->dns;
	uint8_t *r = s->tx + OFF_L4 + UDP_HLEN;
	size_t room = (size_t)s->cfg.net.mtu - IP_HLEN - UDP_HLEN;

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(f->w.fd, r, room, MSG_DONTWAIT | MSG_TRUNC);
		bool more = false;
		int match = -1;

		if (n < 0) {
			if (errno == ECONNREFUSED) {
				dns_failover(f);
				continue;
			}
			return;
		}
		if (n < DNS_HLEN || (size_t)n > room) {
			stat_inc(s, SLIRP_STAT_DROP_DNS);
			continue;
		}
		for (int j = 0; j < DNS_MAX_PENDING; j++) {
			if (d->q[j].used && d->q[j].up_id == ld_be16(r) && match < 0)
				match = j;
			else
				more |= d->q[j].used;
		}
		if (match < 0 || !(r[2] & 0x80)) { /* not an answer we wait for */
			stat_inc(s, SLIRP_STAT_DROP_DNS_UNMATCHED);
			continue;
		}
		st_be16(r, d->q[match].guest_id);
		d->q[match].used = false;
		s->dns_cur = d->server;
		d->tries = 0;
		d->deadline = more ? s->now + DNS_TRY_NS : 0;
		udp_send_guest(s, s->tx, s->cfg.net.dns, 53, f->gport, (size_t)n);
	}
}

void dns_timer(struct slirp_flow *f)
{
	struct slirp *s = f->s;

	if (f->dns->deadline && s->now >= f->dns->deadline)
		dns_failover(f);
	else if (!f->dns->deadline && s->now - f->last > DNS_IDLE_NS)
		flow_kill(f);
}
