/* IPv4 and IPv6 headers: addresses, header and payload lengths (the
 * payload ends where the IP header says, not at Ethernet padding), IPv4
 * fragments, IPv6 extension headers (hop-by-hop, routing, fragment,
 * destination options), then dispatch to TCP, UDP, ICMP or ICMPv6. Other
 * protocols are named by number and marked "[not decoded]". */
#include "pcap/decode.h"

#include <string.h>

#define IP4_HDR_LEN 20u
#define IP6_HDR_LEN 40u
#define IP6_MAX_EXT 8

/* Decodes the transport proto carried in c (len bytes on the wire). */
static void decode_transport(const struct pcap_decode_cfg *cfg, uint8_t proto, struct cursor c,
			     size_t len, struct pcap_pkt *pkt, struct pcap_line *l)
{
	pkt->ipproto = proto;
	switch (proto) {
	case 6:
		pcap_decode_tcp(cfg, c, len, pkt, l);
		return;
	case 17:
		pcap_decode_udp(cfg, c, len, pkt, l);
		return;
	case 1:
		if (pkt->family == 4) {
			pcap_decode_icmp(c, len, pkt, l);
			return;
		}
		break;
	case 58:
		if (pkt->family == 6) {
			pcap_decode_icmp6(c, len, pkt, l);
			return;
		}
		break;
	case 59:
		pcap_line_endpoints(l, pkt, 0);
		pcap_line_add(l, "no next header, length %zu", len);
		return;
	}
	pcap_line_endpoints(l, pkt, 0);
	pcap_line_add(l, "ip-proto-%u [not decoded], length %zu", proto, len);
}

/* Returns the fixed header of hlen bytes, or NULL after marking it cut
 * short or of the wrong version. */
static const uint8_t *ip_start(struct cursor c, size_t hlen, unsigned version,
			       struct pcap_line *l)
{
	const uint8_t *h = cur_peek(&c, 0, hlen);

	if (!h)
		pcap_line_add(l, version == 4 ? "[|ip]" : "[|ip6]");
	else if (h[0] >> 4 != version)
		pcap_line_add(l, "[bad version %u]", h[0] >> 4);
	else
		return h;
	return NULL;
}

void pcap_decode_ipv4(const struct pcap_decode_cfg *cfg, struct cursor c, struct pcap_pkt *pkt,
		      struct pcap_line *l)
{
	const uint8_t *h = ip_start(c, IP4_HDR_LEN, 4, l);
	size_t ihl, tot, frag;

	if (!h)
		return;
	ihl = (size_t)(h[0] & 0xf) * 4;
	tot = ld_be16(h + 2);
	if (ihl < IP4_HDR_LEN || tot < ihl) {
		pcap_line_add(l, "[bad header length %zu, total length %zu]", ihl, tot);
		return;
	}
	pkt->flags |= PKT_IP4;
	pkt->family = 4;
	memcpy(pkt->src, h + 12, 4);
	memcpy(pkt->dst, h + 16, 4);
	if (!cur_peek(&c, 0, ihl)) {
		pcap_line_endpoints(l, pkt, 0);
		pcap_line_add(l, "[|ip options]");
		return;
	}
	frag = (size_t)(ld_be16(h + 6) & 0x1fff) * 8;
	if (frag) {
		pkt->flags |= PKT_FRAG;
		pkt->ipproto = h[9];
		pcap_line_endpoints(l, pkt, 0);
		pcap_line_add(l, "ip-proto-%u fragment id %u offset %zu%s [not decoded], length %zu",
			      h[9], ld_be16(h + 4), frag, h[6] & 0x20 ? "+" : "", tot - ihl);
		return;
	}
	/* the payload ends where the total length says, not at padding */
	decode_transport(cfg, h[9], cur_sub(&c, ihl, tot - ihl), tot - ihl, pkt, l);
	if (h[6] & 0x20)
		pcap_line_add(l, " [first fragment, id %u]", ld_be16(h + 4));
}

void pcap_decode_ipv6(const struct pcap_decode_cfg *cfg, struct cursor c, struct pcap_pkt *pkt,
		      struct pcap_line *l)
{
	const uint8_t *h = ip_start(c, IP6_HDR_LEN, 6, l), *e;
	size_t plen, off = IP6_HDR_LEN, elen;
	uint8_t nh;

	if (!h)
		return;
	pkt->flags |= PKT_IP6;
	pkt->family = 6;
	memcpy(pkt->src, h + 8, 16);
	memcpy(pkt->dst, h + 24, 16);
	plen = ld_be16(h + 4);
	if (plen == 0) /* jumbogram or TSO: trust what was captured */
		plen = cur_left(&c) - IP6_HDR_LEN;
	nh = h[6];
	for (int i = 0; i < IP6_MAX_EXT; i++) {
		if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
			break;
		e = cur_peek(&c, off, 8);
		if (!e) {
			pcap_line_endpoints(l, pkt, 0);
			pcap_line_add(l, "[|ip6 extension header %u]", nh);
			return;
		}
		if (nh == 44) {
			if (ld_be16(e + 2) >> 3) {
				pkt->flags |= PKT_FRAG;
				pkt->ipproto = e[0];
				pcap_line_endpoints(l, pkt, 0);
				pcap_line_add(l, "ip-proto-%u fragment id %u offset %u%s [not decoded], length %zu",
					      e[0], ld_be32(e + 4), ld_be16(e + 2) & 0xfff8u,
					      e[3] & 1 ? "+" : "", plen);
				return;
			}
			elen = 8;
		} else {
			elen = ((size_t)e[1] + 1) * 8;
		}
		pkt->ip6_ext |= nh == 0 ? PKT_EXT_HBH : nh == 43 ? PKT_EXT_SRCRT :
				nh == 60 ? PKT_EXT_DSTOPT : PKT_EXT_FRAG;
		nh = e[0];
		off += elen;
	}
	if (off - IP6_HDR_LEN > plen) {
		pcap_line_endpoints(l, pkt, 0);
		pcap_line_add(l, "[bad extension header length]");
		return;
	}
	if (!cur_peek(&c, off, 0)) {
		pcap_line_endpoints(l, pkt, 0);
		pcap_line_add(l, "[|ip6 extension header]");
		return;
	}
	decode_transport(cfg, nh, cur_sub(&c, off, IP6_HDR_LEN + plen - off),
			 plen - (off - IP6_HDR_LEN), pkt, l);
}
