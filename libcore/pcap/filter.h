/* Frame filters of `voidbox pcap`: by protocol (--proto, several are
 * or-ed), by host (--host, IPv4 or IPv6, either direction, ARP sender or
 * target too) and by port (--port, TCP or UDP, either direction); the
 * three kinds are and-ed, as tcpdump's "tcp and host X and port N". */
#ifndef VOIDBOX_PCAP_FILTER_H
#define VOIDBOX_PCAP_FILTER_H

#include <stdint.h>

#include "pcap/decode.h"

struct pcap_filter {
	unsigned proto_mask; /* PKT_* bits; 0 = any protocol */
	uint8_t host_family; /* 0 = any host, else 4 or 6 */
	uint8_t host[16];
	int have_port;
	uint16_t port;
};

/* Adds a protocol by name: arp, ip, ip6, tcp, udp, icmp, dns. Returns 0 or
 * -EINVAL. */
int pcap_filter_add_proto(struct pcap_filter *f, const char *name);
/* Sets the host from an IPv4 or IPv6 address. Returns 0 or -EINVAL. */
int pcap_filter_set_host(struct pcap_filter *f, const char *addr);
/* Returns 1 when the decoded frame passes every filter set, else 0. */
int pcap_filter_match(const struct pcap_filter *f, const struct pcap_pkt *pkt);

#endif
