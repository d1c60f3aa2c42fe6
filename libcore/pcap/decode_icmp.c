/* ICMP (RFC 792) and ICMPv6 (RFC 4443, 4861) messages in tcpdump's words:
 * echo request/reply with id and seq, destination unreachable with the
 * address and port quoted from the offending datagram, time exceeded,
 * neighbour discovery; any other type is printed as its type and code. */
#include "pcap/decode.h"

#define ICMP_HDR_LEN 8u

/* The unreachable message for code, quoting the original IPv4 datagram
 * inside the ICMP body q (after the 8-byte header). */
static void add_unreach(struct pcap_line *l, uint8_t code, struct cursor q)
{
	const uint8_t *ip = cur_peek(&q, 0, 20), *ports = NULL;
	size_t ihl;

	if (!ip || ip[0] >> 4 != 4) {
		pcap_line_add(l, "unreachable, code %u [|quoted ip]", code);
		return;
	}
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl >= 20)
		ports = cur_peek(&q, ihl, 4);
	pcap_line_addr(l, 4, ip + 16);
	switch (code) {
	case 0:
		pcap_line_add(l, " net unreachable");
		break;
	case 1:
		pcap_line_add(l, " host unreachable");
		break;
	case 2:
		pcap_line_add(l, " protocol %u unreachable", ip[9]);
		break;
	case 3:
		if (ports && (ip[9] == 6 || ip[9] == 17))
			pcap_line_add(l, " %s port %u unreachable", ip[9] == 6 ? "tcp" : "udp",
				      ld_be16(ports + 2));
		else
			pcap_line_add(l, " port unreachable%s",
				      ip[9] == 6 || ip[9] == 17 ? " [|icmp]" : "");
		break;
	default:
		pcap_line_add(l, " unreachable, code %u", code);
	}
}

void pcap_decode_icmp(struct cursor c, size_t len, struct pcap_pkt *pkt, struct pcap_line *l)
{
	const uint8_t *h = cur_take(&c, ICMP_HDR_LEN);

	pkt->flags |= PKT_ICMP;
	pcap_line_endpoints(l, pkt, 0);
	pcap_line_add(l, "ICMP ");
	if (!h) {
		pcap_line_add(l, "[|icmp]");
		return;
	}
	switch (h[0]) {
	case 0:
	case 8:
		pcap_line_add(l, "echo %s, id %u, seq %u", h[0] ? "request" : "reply",
			      ld_be16(h + 4), ld_be16(h + 6));
		if (h[1])
			pcap_line_add(l, ", code %u", h[1]);
		break;
	case 3:
		add_unreach(l, h[1], c);
		break;
	case 11:
		if (h[1] <= 1)
			pcap_line_add(l, h[1] ? "ip reassembly time exceeded" : "time exceeded in-transit");
		else
			pcap_line_add(l, "time exceeded, code %u", h[1]);
		break;
	default:
		pcap_line_add(l, "type %u, code %u", h[0], h[1]);
	}
	pcap_line_add(l, ", length %zu", len);
}

/* The ICMPv6 destination unreachable message for code, quoting the
 * original IPv6 datagram inside the body q (tcpdump's wording). */
static void add_unreach6(struct pcap_line *l, uint8_t code, struct cursor q)
{
	const uint8_t *ip = cur_peek(&q, 0, 40), *ports = cur_peek(&q, 40, 4);

	pcap_line_add(l, "destination unreachable, ");
	if (!ip || ip[0] >> 4 != 6) {
		pcap_line_add(l, "code %u [|quoted ip6]", code);
		return;
	}
	switch (code) {
	case 3:
		pcap_line_add(l, "unreachable address ");
		pcap_line_addr(l, 6, ip + 24);
		break;
	case 4:
		pcap_line_add(l, "unreachable port, ");
		pcap_line_addr(l, 6, ip + 24);
		if (ports && (ip[6] == 6 || ip[6] == 17))
			pcap_line_add(l, " %s port %u", ip[6] == 6 ? "tcp" : "udp", ld_be16(ports + 2));
		else if (ip[6] == 6 || ip[6] == 17)
			pcap_line_add(l, " [|icmp6]");
		break;
	default:
		pcap_line_add(l, "code %u", code);
	}
}

void pcap_decode_icmp6(struct cursor c, size_t len, struct pcap_pkt *pkt, struct pcap_line *l)
{
	const uint8_t *h = cur_take(&c, ICMP_HDR_LEN), *t;

	pkt->flags |= PKT_ICMP;
	pcap_line_endpoints(l, pkt, 0);
	pcap_line_add(l, "ICMP6, ");
	if (!h) {
		pcap_line_add(l, "[|icmp6]");
		return;
	}
	switch (h[0]) {
	case 128:
	case 129:
		pcap_line_add(l, "echo %s, id %u, seq %u", h[0] == 128 ? "request" : "reply",
			      ld_be16(h + 4), ld_be16(h + 6));
		break;
	case 1:
		add_unreach6(l, h[1], c);
		break;
	case 2:
		pcap_line_add(l, "packet too big, mtu %u", ld_be32(h + 4));
		break;
	case 3:
		pcap_line_add(l, "time exceeded, code %u", h[1]);
		break;
	case 143:
		pcap_line_add(l, "multicast listener report v2, %u group record(s)", ld_be16(h + 6));
		break;
	case 133:
		pcap_line_add(l, "router solicitation");
		break;
	case 134:
		pcap_line_add(l, "router advertisement");
		break;
	case 135:
	case 136:
		t = cur_peek(&c, 0, 16);
		pcap_line_add(l, h[0] == 135 ? "neighbor solicitation, who has " :
					       "neighbor advertisement, tgt is ");
		if (t)
			pcap_line_addr(l, 6, t);
		else
			pcap_line_add(l, "[|icmp6]");
		break;
	default:
		pcap_line_add(l, "type %u, code %u", h[0], h[1]);
	}
	pcap_line_add(l, ", length %zu", len);
}
