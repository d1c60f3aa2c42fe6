/* IPv4 for SLIRP: Internet checksums, validation of the guest's IPv4
 * headers (version, lengths, header checksum, fragments, source address)
 * with a counted drop for each failure, dispatch to TCP/UDP/ICMP, and the
 * Ethernet+IPv4 header builder every outgoing frame starts from. */
#include "slirp/priv.h"

#include <string.h>

uint64_t csum_partial(const void *p, size_t len, uint64_t sum)
{
	const uint8_t *b = p;

	/* 32-bit big-endian-neutral words summed into 64 bits; folded later. */
	while (len >= 32) {
		uint32_t w[8];

		memcpy(w, b, 32);
		sum += (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
		b += 32;
		len -= 32;
	}
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, b, 4);
		sum += w;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, b, 2);
		sum += h;
		b += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { b[0], 0 };
		uint16_t h;

		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

/* Folds a 64-bit sum of native-order words into the complemented 16-bit
 * checksum, returned in the byte order it is stored in (memcpy it). */
uint16_t csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The sum of the IPv4 pseudo-header, unfolded. */
static uint64_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	uint8_t ph[4] = { 0, proto, (uint8_t)(len >> 8), (uint8_t)len };
	uint32_t w;

	memcpy(&w, ph, 4);
	return (uint64_t)src + dst + w;
}

uint16_t csum_l4(uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t len)
{
	return csum_fold(csum_partial(l4, len, pseudo_sum(src, dst, proto, len)));
}

uint16_t csum_l4_partial(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (uint16_t)~csum_fold(pseudo_sum(src, dst, proto, len));
}

uint8_t *ip_build(struct slirp *s, uint8_t *buf, uint8_t proto, uint32_t src,
		  uint32_t dst, size_t l4len)
{
	uint8_t *ip = buf + OFF_IP;
	uint16_t c;

	memcpy(buf, s->cfg.net.mac, 6);
	memcpy(buf + 6, s->cfg.net.gw_mac, 6);
	st_be16(buf + 12, ETHTYPE_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	st_be16(ip + 2, (uint16_t)(IP_HLEN + l4len));
	st_be16(ip + 4, 0);
	st_be16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	st_be16(ip + 10, 0);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = csum_fold(csum_partial(ip, IP_HLEN, 0));
	memcpy(ip + 10, &c, 2);
	return buf + OFF_L4;
}

void ip_input(struct slirp *s, const uint8_t *eth, struct cursor l3)
{
	const uint8_t *ip = cur_peek(&l3, 0, IP_HLEN);
	size_t hlen, tot;
	struct ip_pkt p;

	if (!ip) {
		stat_inc(s, SLIRP_STAT_DROP_SHORT);
		return;
	}
	hlen = (size_t)(ip[0] & 0xf) * 4;
	tot = ld_be16(ip + 2);
	if ((ip[0] >> 4) != 4 || hlen < IP_HLEN || !cur_peek(&l3, 0, hlen)) {
		stat_inc(s, SLIRP_STAT_DROP_IP_HDR);
		return;
	}
	/* the L4 bytes end where the total length says (Ethernet may pad) */
	if (tot < hlen || !(p.l4 = cur_peek(&l3, hlen, tot - hlen))) {
		stat_inc(s, SLIRP_STAT_DROP_IP_LEN);
		return;
	}
	if (csum_fold(csum_partial(ip, hlen, 0)) != 0) {
		stat_inc(s, SLIRP_STAT_DROP_IP_CSUM);
		return;
	}
	if (ld_be16(ip + 6) & 0x3fff) { /* MF or a fragment offset */
		stat_inc(s, SLIRP_STAT_DROP_IP_FRAG);
		return;
	}
	memcpy(&p.src, ip + 12, 4);
	memcpy(&p.dst, ip + 16, 4);
	if (p.src != s->cfg.net.guest) {
		stat_inc(s, SLIRP_STAT_DROP_IP_SRC);
		return;
	}
	if (memcmp(eth + 6, s->cfg.net.mac, 6)) /* replies go where it is */
		memcpy(s->cfg.net.mac, eth + 6, 6);
	p.ip = ip;
	p.l4len = tot - hlen;
	p.proto = ip[9];
	switch (p.proto) {
	case IPPROTO_TCP:
		tcp_input(s, &p);
		break;
	case IPPROTO_UDP:
		udp_input(s, &p);
		break;
	case IPPROTO_ICMP:
		icmp_input(s, &p);
		break;
	default:
		stat_inc(s, SLIRP_STAT_DROP_IP_PROTO);
	}
}
