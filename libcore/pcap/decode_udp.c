/* UDP datagrams: ports and payload length ("UDP, length N" as tcpdump
 * prints it), or the DNS message when either port is a DNS port. A UDP
 * length that disagrees with the IP payload is marked. */
#include "pcap/decode.h"

#define UDP_HDR_LEN 8u

void pcap_decode_udp(const struct pcap_decode_cfg *cfg, struct cursor c, size_t len,
		     struct pcap_pkt *pkt, struct pcap_line *l)
{
	const uint8_t *h;
	size_t ulen;

	pkt->flags |= PKT_UDP;
	if (!(h = pcap_ports(c, UDP_HDR_LEN, "udp", pkt, l)))
		return;
	ulen = ld_be16(h + 4);
	if (ulen < UDP_HDR_LEN || ulen > len) {
		pcap_line_add(l, "[bad udp length %zu, ip payload %zu]", ulen, len);
		return;
	}
	pkt->payload = (uint32_t)(ulen - UDP_HDR_LEN);
	if (pcap_is_dns_port(cfg, pkt->sport) || pcap_is_dns_port(cfg, pkt->dport)) {
		pkt->flags |= PKT_DNS;
		pcap_decode_dns(cur_sub(&c, UDP_HDR_LEN, ulen - UDP_HDR_LEN), ulen - UDP_HDR_LEN, l);
		return;
	}
	pcap_line_add(l, "UDP, length %zu", ulen - UDP_HDR_LEN);
}
