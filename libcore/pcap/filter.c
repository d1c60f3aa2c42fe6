/* The frame filters (see pcap/filter.h), applied to a decoded frame's
 * summary rather than its bytes. */
#include "pcap/filter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int pcap_filter_add_proto(struct pcap_filter *f, const char *name)
{
	static const struct { const char *name; unsigned bits; } protos[] = {
		{ "arp", PKT_ARP }, { "ip", PKT_IP4 }, { "ip6", PKT_IP6 }, { "tcp", PKT_TCP },
		{ "udp", PKT_UDP }, { "icmp", PKT_ICMP }, { "dns", PKT_DNS },
	};

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (!strcmp(name, protos[i].name)) {
			f->proto_mask |= protos[i].bits;
			return 0;
		}
	}
	return -EINVAL;
}

int pcap_filter_set_host(struct pcap_filter *f, const char *addr)
{
	if (inet_pton(AF_INET, addr, f->host) == 1)
		f->host_family = 4;
	else if (inet_pton(AF_INET6, addr, f->host) == 1)
		f->host_family = 6;
	else
		return -EINVAL;
	return 0;
}

int pcap_filter_match(const struct pcap_filter *f, const struct pcap_pkt *pkt)
{
	if (f->proto_mask && !(pkt->flags & f->proto_mask))
		return 0;
	if (f->host_family) {
		size_t n = f->host_family == 4 ? 4 : 16;

		if (pkt->family != f->host_family ||
		    (memcmp(pkt->src, f->host, n) && memcmp(pkt->dst, f->host, n)))
			return 0;
	}
	if (f->have_port &&
	    (!(pkt->flags & PKT_PORTS) || (pkt->sport != f->port && pkt->dport != f->port)))
		return 0;
	return 1;
}
