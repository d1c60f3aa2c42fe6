/* ARP (RFC 826) for Ethernet and IPv4, printed as tcpdump does:
 * "ARP, Request who-has T tell S" and "ARP, Reply S is-at MAC"; other
 * hardware or protocol types and opcodes are named and marked. */
#include "pcap/decode.h"

#include <string.h>

#define ARP_HDR_LEN 8u

void pcap_decode_arp(struct cursor c, size_t len, struct pcap_pkt *pkt, struct pcap_line *l)
{
	static const uint8_t zero_mac[6];
	const uint8_t *h = cur_take(&c, ARP_HDR_LEN), *b;
	uint16_t htype, ptype, op;

	if (!h) {
		pcap_line_add(l, "[|arp] length %zu", len);
		return;
	}
	htype = ld_be16(h);
	ptype = ld_be16(h + 2);
	op = ld_be16(h + 6);
	if (htype != 1 || ptype != 0x0800 || h[4] != 6 || h[5] != 4) {
		pcap_line_add(l, "hardware type %u, protocol 0x%04x, opcode %u [not decoded], length %zu",
			      htype, ptype, op, len);
		return;
	}
	b = cur_take(&c, 20); /* sha spa tha tpa */
	if (!b) {
		pcap_line_add(l, "[|arp] length %zu", len);
		return;
	}
	pkt->flags |= PKT_ARP;
	pkt->family = 4;
	memcpy(pkt->src, b + 6, 4);
	memcpy(pkt->dst, b + 16, 4);
	switch (op) {
	case 1:
		pcap_line_add(l, "Request who-has ");
		pcap_line_addr(l, 4, b + 16);
		if (memcmp(b + 10, zero_mac, 6)) {
			pcap_line_add(l, " (");
			pcap_line_mac(l, b + 10);
			pcap_line_add(l, ")");
		}
		pcap_line_add(l, " tell ");
		pcap_line_addr(l, 4, b + 6);
		break;
	case 2:
		pcap_line_add(l, "Reply ");
		pcap_line_addr(l, 4, b + 6);
		pcap_line_add(l, " is-at ");
		pcap_line_mac(l, b);
		break;
	default:
		pcap_line_add(l, "opcode %u [not decoded]", op);
	}
	pcap_line_add(l, ", length %zu", len);
}
