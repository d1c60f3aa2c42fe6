/* The frame decoder behind `voidbox pcap`: turns one captured frame into
 * one tcpdump-style line (without the timestamp) and a summary of its
 * headers (struct pcap_pkt) that filters and flow statistics use. One file
 * per protocol: decode.c (link layers, the line buffer, the entry point),
 * decode_arp.c, decode_ip.c (IPv4, IPv6), decode_icmp.c (ICMP, ICMPv6),
 * decode_tcp.c, decode_udp.c, decode_dns.c. Every header access is bounds
 * checked against the captured length; what is cut short is marked
 * "[|proto]" as tcpdump does, what is not understood is marked
 * "[not decoded]" or "[bad ...]". Every decoder gets a struct cursor
 * (base/bytes.h) over its protocol's bytes as captured and reads its
 * headers only through it. Nothing allocates, except the table of
 * TCP conversations for relative sequence numbers when cfg->rel is set. */
#ifndef VOIDBOX_PCAP_DECODE_H
#define VOIDBOX_PCAP_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"

#define PCAP_LINKTYPE_RAW 101u       /* raw IPv4/IPv6 */
#define PCAP_LINKTYPE_LINUX_SLL 113u /* tcpdump -i any */
#define PCAP_LINE_MAX 1024u
#define PCAP_DNS_PORTS_MAX 8u

/* What the decoder found in a frame (flags of struct pcap_pkt). */
enum {
	PKT_ARP = 1u << 0,
	PKT_IP4 = 1u << 1,
	PKT_IP6 = 1u << 2,
	PKT_TCP = 1u << 3,
	PKT_UDP = 1u << 4,
	PKT_ICMP = 1u << 5, /* ICMP or ICMPv6 */
	PKT_DNS = 1u << 6,  /* UDP, or TCP with data, on a DNS port */
	PKT_PORTS = 1u << 7, /* sport/dport are valid */
	PKT_FRAG = 1u << 8, /* an IP fragment other than the first */
};

/* IPv6 extension headers seen (ip6_ext of struct pcap_pkt). */
enum { PKT_EXT_HBH = 1, PKT_EXT_DSTOPT = 2, PKT_EXT_SRCRT = 4, PKT_EXT_FRAG = 8 };

/* TCP flag bits as in the header's 13th byte. */
enum {
	TCPF_FIN = 0x01, TCPF_SYN = 0x02, TCPF_RST = 0x04, TCPF_PSH = 0x08,
	TCPF_ACK = 0x10, TCPF_URG = 0x20, TCPF_ECE = 0x40, TCPF_CWR = 0x80,
};

struct pcap_pkt {
	unsigned flags;
	uint8_t family;       /* 4 or 6 when PKT_IP4/PKT_IP6/PKT_ARP */
	uint8_t ipproto;
	uint8_t tcp_flags;
	uint8_t ip6_ext;      /* PKT_EXT_* */
	uint8_t src[16], dst[16]; /* IP addresses (ARP: sender, target) */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t payload;     /* TCP/UDP payload bytes, from the headers */
};

struct pcap_tcpseq;

struct pcap_decode_cfg {
	uint16_t dns_ports[PCAP_DNS_PORTS_MAX]; /* UDP/TCP ports decoded as DNS */
	unsigned n_dns_ports;
	int link;             /* print MAC addresses and ethertype (tcpdump -e) */
	/* Non-NULL: print relative TCP sequence numbers as tcpdump does
	 * without -S, keeping conversations here (pcap/tcpseq.h). */
	struct pcap_tcpseq *rel;
};

/* A bounded line: appends never overflow; a line that would is cut and
 * ends in "...". */
struct pcap_line {
	size_t len;
	int full;
	char buf[PCAP_LINE_MAX];
};

/* Sets the default configuration: DNS on port 53, no link header. */
void pcap_decode_cfg_init(struct pcap_decode_cfg *cfg);

/* Decodes one frame of the given link type (caplen bytes at p, wirelen on
 * the wire) into out (reset first) and pkt. Never reads beyond caplen. */
void pcap_decode(const struct pcap_decode_cfg *cfg, uint32_t linktype, const uint8_t *p,
		 size_t caplen, uint32_t wirelen, struct pcap_pkt *pkt, struct pcap_line *out);

/* Writes a timestamp into out: mode 'l' local HH:MM:SS.frac, 'u' the same
 * in UTC, 'e' seconds since the epoch; nsec picks 9 digits over 6. */
void pcap_format_time(struct pcap_line *out, uint64_t ts_ns, int nsec, char mode);

/* Line helpers shared by the protocol decoders. */
void pcap_line_reset(struct pcap_line *l);
void pcap_line_add(struct pcap_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends an IPv4 (family 4) or IPv6 (6) address. */
void pcap_line_addr(struct pcap_line *l, int family, const uint8_t *a);
/* Appends a MAC address as aa:bb:cc:dd:ee:ff. */
void pcap_line_mac(struct pcap_line *l, const uint8_t *m);
/* Appends "SRC > DST: " from pkt, each with ".PORT" when ports is set,
 * then markers of the IPv6 extension headers passed ("HBH "...). */
void pcap_line_endpoints(struct pcap_line *l, const struct pcap_pkt *pkt, int ports);
/* Starts a TCP or UDP header (hlen bytes) in c: fills pkt's ports and
 * prints "SRC.PORT > DST.PORT: ". Returns the header, or NULL after
 * printing the endpoints and "[|proto]" when it was not captured. */
const uint8_t *pcap_ports(struct cursor c, size_t hlen, const char *proto, struct pcap_pkt *pkt,
			  struct pcap_line *l);
/* The per-protocol decoders. c holds the protocol's bytes as captured,
 * len its length according to the enclosing header (may exceed what c holds). */
void pcap_decode_arp(struct cursor c, size_t len, struct pcap_pkt *pkt, struct pcap_line *l);
void pcap_decode_ipv4(const struct pcap_decode_cfg *cfg, struct cursor c, struct pcap_pkt *pkt,
		      struct pcap_line *l);
void pcap_decode_ipv6(const struct pcap_decode_cfg *cfg, struct cursor c, struct pcap_pkt *pkt,
		      struct pcap_line *l);
/* Transport decoders, called after "SRC > DST" context is known; they
 * print the ports themselves. */
void pcap_decode_tcp(const struct pcap_decode_cfg *cfg, struct cursor c, size_t len,
		     struct pcap_pkt *pkt, struct pcap_line *l);
void pcap_decode_udp(const struct pcap_decode_cfg *cfg, struct cursor c, size_t len,
		     struct pcap_pkt *pkt, struct pcap_line *l);
void pcap_decode_icmp(struct cursor c, size_t len, struct pcap_pkt *pkt, struct pcap_line *l);
void pcap_decode_icmp6(struct cursor c, size_t len, struct pcap_pkt *pkt, struct pcap_line *l);
/* Decodes a DNS message (c: the message as captured, len: its length). */
void pcap_decode_dns(struct cursor c, size_t len, struct pcap_line *l);
/* Returns whether port is one of cfg's DNS ports. */
int pcap_is_dns_port(const struct pcap_decode_cfg *cfg, uint16_t port);

#endif
