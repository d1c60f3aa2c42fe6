/* ICMP for SLIRP: echo requests go out through unprivileged ICMP sockets
 * (SOCK_DGRAM, IPPROTO_ICMP; the host's ping_group_range decides whether we
 * may open one), one per (echo id, destination), and replies come back with
 * the guest's id restored. The gateway and DNS addresses answer echo
 * themselves; other echoes without an ICMP socket are counted drops. Also
 * builds the destination-unreachable errors other protocols send to refuse
 * a flow. */
#include "slirp/priv.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ICMP_ECHOREPLY_ 0
#define ICMP_UNREACH_ 3
#define ICMP_ECHO_ 8

bool icmp_probe(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Sends an ICMP message of l4len bytes (already at s->tx + OFF_L4) from src
 * to the guest, filling in the checksum. */
static void icmp_send(struct slirp *s, uint32_t src, size_t l4len)
{
	uint8_t *l4 = ip_build(s, s->tx, IPPROTO_ICMP, src, s->cfg.net.guest, l4len);
	uint16_t c;

	st_be16(l4 + 2, 0);
	c = csum_fold(csum_partial(l4, l4len, 0));
	memcpy(l4 + 2, &c, 2);
	if (slirp_out(s, s->tx, OFF_L4 + l4len) < 0)
		stat_inc(s, SLIRP_STAT_DROP_GUEST_NOBUF);
}

void icmp_unreach(struct slirp *s, const uint8_t *orig, size_t orig_len, uint8_t code)
{
	size_t ihl = (size_t)(orig[0] & 0xf) * 4, n = MIN(orig_len, ihl + 8);
	uint8_t *l4 = s->tx + OFF_L4;
	uint32_t src;

	memcpy(&src, orig + 16, 4);
	memmove(l4 + ICMP_HLEN, orig, n);
	l4[0] = ICMP_UNREACH_;
	l4[1] = code;
	memset(l4 + 4, 0, 4);
	icmp_send(s, src, ICMP_HLEN + n);
}

void icmp_unreach_flow(struct slirp *s, const struct slirp_flow *f, uint8_t code)
{
	uint8_t orig[IP_HLEN + 8] = { 0x45, 0 };
	uint16_t c;

	st_be16(orig + 2, sizeof(orig));
	st_be16(orig + 6, 0x4000);
	orig[8] = 64;
	orig[9] = f->proto;
	memcpy(orig + 12, &s->cfg.net.guest, 4);
	memcpy(orig + 16, &f->rip, 4);
	c = csum_fold(csum_partial(orig, IP_HLEN, 0));
	memcpy(orig + 10, &c, 2);
	st_be16(orig + 20, f->gport);
	st_be16(orig + 22, f->rport);
	st_be16(orig + 24, 8);
	icmp_unreach(s, orig, sizeof(orig), code);
}

void icmp_input(struct slirp *s, const struct ip_pkt *p)
{
	struct cursor c = ip_l4(p);
	const uint8_t *h = cur_peek(&c, 0, ICMP_HLEN);
	struct slirp_flow *f;
	uint16_t id;

	if (!h || csum_fold(csum_partial(p->l4, p->l4len, 0)) != 0 || h[0] != ICMP_ECHO_ ||
	    p->l4len > (size_t)s->cfg.net.mtu - IP_HLEN) {
		stat_inc(s, SLIRP_STAT_DROP_ICMP);
		return;
	}
	id = ld_be16(h + 4);
	stat_inc(s, SLIRP_STAT_ICMP_ECHOS);
	if (p->dst == s->cfg.net.gw || p->dst == s->cfg.net.dns) {
		memmove(s->tx + OFF_L4, p->l4, p->l4len);
		s->tx[OFF_L4] = ICMP_ECHOREPLY_;
		icmp_send(s, p->dst, p->l4len);
		return;
	}
	f = flow_find(s, IPPROTO_ICMP, id, p->dst, 0);
	if (!f && !s->icmp_ok) {
		stat_inc(s, SLIRP_STAT_DROP_ICMP_NO_SOCKET);
		return;
	}
	if (!f && !(f = flow_open_dgram(s, p, FLOW_ICMP, id, 0)))
		return;
	flow_touch(f);
	if (send(f->w.fd, p->l4, p->l4len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
}

void icmp_sock_event(struct slirp_flow *f, uint32_t events)
{
	struct slirp *s = f->s;
	uint8_t *l4 = s->tx + OFF_L4;

	for (int i = 0; i < 32; i++) {
		ssize_t n = recv(f->w.fd, l4, (size_t)s->cfg.net.mtu - IP_HLEN, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				stat_inc(s, SLIRP_STAT_DROP_SOCKET);
			if (errno != EINTR)
				return;
			continue;
		}
		if (n < ICMP_HLEN || (size_t)n > (size_t)s->cfg.net.mtu - IP_HLEN || l4[0] != ICMP_ECHOREPLY_) {
			stat_inc(s, SLIRP_STAT_DROP_ICMP);
			continue;
		}
		st_be16(l4 + 4, f->gport);
		icmp_send(s, f->rip, (size_t)n);
	}
}
