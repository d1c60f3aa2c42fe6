/* UDP NAT for SLIRP: each (guest port, destination) pair gets its own
 * connected host socket, closed after an idle timeout; datagrams to the DNS
 * address go to dns.c; refusals and ICMP errors from the host side come
 * back to the guest as ICMP unreachable. Also the UDP half of port
 * forwarding: datagrams from a host peer to a forwarded port enter the
 * guest from the gateway, one gateway-side port per peer. */
#include "slirp/priv.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_IDLE_NS (60 * NS_PER_S)
#define ICMP_IDLE_NS (10 * NS_PER_S)
#define UDP_BATCH 32

int udp_send_guest(struct slirp *s, uint8_t *buf, uint32_t src, uint16_t sport,
		   uint16_t dport, size_t plen)
{
	uint8_t *l4 = ip_build(s, buf, IPPROTO_UDP, src, s->cfg.net.guest, UDP_HLEN + plen);
	uint16_t c;

	st_be16(l4, sport);
	st_be16(l4 + 2, dport);
	st_be16(l4 + 4, (uint16_t)(UDP_HLEN + plen));
	st_be16(l4 + 6, 0);
	if (s->cfg.csum_offload) {
		c = csum_l4_partial(src, s->cfg.net.guest, IPPROTO_UDP, UDP_HLEN + plen);
	} else {
		c = csum_l4(src, s->cfg.net.guest, IPPROTO_UDP, l4, UDP_HLEN + plen);
		if (c == 0)
			c = 0xffff;
	}
	memcpy(l4 + 6, &c, 2);
	if (slirp_out(s, buf, OFF_L4 + UDP_HLEN + plen) < 0) {
		stat_inc(s, SLIRP_STAT_DROP_GUEST_NOBUF);
		return -ENOBUFS;
	}
	return 0;
}

void udp_input(struct slirp *s, const struct ip_pkt *p)
{
	struct cursor c = ip_l4(p);
	const uint8_t *h = cur_take(&c, UDP_HLEN), *data;
	uint16_t sport, dport, ulen;
	struct slirp_flow *f;
	ssize_t n;

	/* the payload ends where the UDP length says, within the IP packet */
	if (!h || (ulen = ld_be16(h + 4)) < UDP_HLEN || !(data = cur_peek(&c, 0, ulen - UDP_HLEN))) {
		stat_inc(s, SLIRP_STAT_DROP_UDP_HDR);
		return;
	}
	sport = ld_be16(h);
	dport = ld_be16(h + 2);
	if (p->dst == s->cfg.net.dns) {
		if (dport == 53) {
			dns_input(s, p, sport, cur_sub(&c, 0, ulen - UDP_HLEN));
		} else {
			stat_inc(s, SLIRP_STAT_DROP_IP_DST);
			icmp_unreach(s, p->ip, (size_t)(p->l4 - p->ip) + p->l4len, 3);
		}
		return;
	}
	f = flow_find(s, IPPROTO_UDP, sport, p->dst, dport);
	if (f && f->kind == FLOW_UDP_FWD) {
		flow_touch(f);
		if (sendto(f->fwd_fd, data, ulen - UDP_HLEN, MSG_DONTWAIT, (struct sockaddr *)&f->peer,
			   sizeof(f->peer)) < 0)
			stat_inc(s, SLIRP_STAT_DROP_SOCKET);
		return;
	}
	if (!f && !(f = flow_open_dgram(s, p, FLOW_UDP, sport, dport)))
		return;
	flow_touch(f);
	n = send(f->w.fd, data, ulen - UDP_HLEN, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno == ECONNREFUSED) {
		icmp_unreach_flow(s, f, 3);
		n = send(f->w.fd, data, ulen - UDP_HLEN, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (n < 0)
		stat_inc(s, SLIRP_STAT_DROP_SOCKET);
}

void udp_sock_event(struct slirp_flow *f, uint32_t events)
{
	struct slirp *s = f->s;
	size_t room = (size_t)s->cfg.net.mtu - IP_HLEN - UDP_HLEN;

	for (int i = 0; i < UDP_BATCH; i++) {
		ssize_t n = recv(f->w.fd, s->tx + OFF_L4 + UDP_HLEN, room, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == ECONNREFUSED)
				icmp_unreach_flow(s, f, 3);
			else if (errno == EAGAIN)
				return;
			continue;
		}
		if ((size_t)n > room) {
			stat_inc(s, SLIRP_STAT_DROP_UDP_TOO_BIG);
			continue;
		}
		udp_send_guest(s, s->tx, f->rip, f->rport, f->gport, (size_t)n);
	}
}

/* The forward flow of a host peer on listener idx, created on first use. */
static struct slirp_flow *udp_fwd_flow(struct slirp *s, int idx, const struct sockaddr_in *peer)
{
	const struct slirp_fwd *fw = &s->cfg.fwd[idx];
	int fd = s->fwd_watch[idx].fd;
	struct slirp_flow *f;

	for (f = s->flows; f; f = f->next)
		if (f->kind == FLOW_UDP_FWD && f->fwd_fd == fd &&
		    f->peer.sin_addr.s_addr == peer->sin_addr.s_addr &&
		    f->peer.sin_port == peer->sin_port)
			return f;
	f = flow_new(s, FLOW_UDP_FWD, IPPROTO_UDP, fw->guest_port, s->cfg.net.gw,
		     fwd_port(s, IPPROTO_UDP, fw->guest_port));
	if (f) {
		f->peer = *peer;
		f->fwd_fd = fd;
		stat_inc(s, SLIRP_STAT_UDP_FLOWS);
	}
	return f;
}

void udp_fwd_event(struct slirp *s, int idx)
{
	size_t room = (size_t)s->cfg.net.mtu - IP_HLEN - UDP_HLEN;

	for (int i = 0; i < UDP_BATCH; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		struct slirp_flow *f;
		ssize_t n = recvfrom(s->fwd_watch[idx].fd, s->tx + OFF_L4 + UDP_HLEN, room,
				     MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&peer, &plen);

		if (n < 0) {
			if (errno == EAGAIN)
				return;
			continue;
		}
		if ((size_t)n > room) {
			stat_inc(s, SLIRP_STAT_DROP_UDP_TOO_BIG);
			continue;
		}
		f = udp_fwd_flow(s, idx, &peer);
		if (!f)
			continue;
		flow_touch(f);
		udp_send_guest(s, s->tx, f->rip, f->rport, f->gport, (size_t)n);
	}
}

void udp_timer(struct slirp_flow *f)
{
	uint64_t idle = f->kind == FLOW_ICMP ? ICMP_IDLE_NS : UDP_IDLE_NS;

	if (f->s->now - f->last > idle)
		flow_kill(f);
}
