/* Unit tests for pcap's decoder, filter and flow table on hand-built
 * frames: exact tcpdump-style lines for ARP, TCP with options, UDP, DNS
 * (compression pointers, pointer loops, over-long names, cut captures),
 * ICMP, IPv6 with extension headers, VLAN, fragments and unknown types;
 * every prefix of every sample frame; and mutated frames (a fuzz loop run
 * under ASan+UBSan), none of which may crash or overrun the line. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pcap/decode.h"
#include "pcap/filter.h"
#include "pcap/flows.h"
#include "pcap/tcpseq.h"
#include "pcap/writer.h"
#include "t.h"

struct frame {
	uint8_t b[1600];
	size_t len;
};

static void put(struct frame *f, const void *p, size_t n)
{
	if (n)
		memcpy(f->b + f->len, p, n);
	f->len += n;
}

/* Appends v in network byte order. */
static void put16(struct frame *f, uint16_t v)
{
	st_be16(f->b + f->len, v);
	f->len += 2;
}

static void put32(struct frame *f, uint32_t v)
{
	st_be32(f->b + f->len, v);
	f->len += 4;
}

static void eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };

	f->len = 0;
	put(f, macs, 12);
	put16(f, type);
}

/* Ethernet + IPv4 header from 10.0.0.1 to 10.0.0.2 for proto; the total
 * length is fixed by ip_done(). */
static void ip4(struct frame *f, uint8_t proto)
{
	static const uint8_t addrs[8] = { 10, 0, 0, 1, 10, 0, 0, 2 };

	eth(f, 0x0800);
	put16(f, 0x4500);
	put16(f, 0);
	put32(f, 0x12344000);
	f->b[f->len++] = 64;
	f->b[f->len++] = proto;
	put16(f, 0);
	put(f, addrs, 8);
}

static void ip_done(struct frame *f)
{
	st_be16(f->b + 16, (uint16_t)(f->len - 14));
}

/* A TCP header with the given options (n bytes, a multiple of 4). */
static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
		const uint8_t *opt, size_t n)
{
	put16(f, sp);
	put16(f, dp);
	put32(f, seq);
	put32(f, ack);
	f->b[f->len++] = (uint8_t)((20 + n) / 4 << 4);
	f->b[f->len++] = flags;
	put16(f, 65535);
	put32(f, 0);
	put(f, opt, n);
}

static void udp(struct frame *f, uint16_t sp, uint16_t dp, const void *payload, size_t n)
{
	put16(f, sp);
	put16(f, dp);
	put16(f, (uint16_t)(8 + n));
	put16(f, 0);
	put(f, payload, n);
}

static struct pcap_decode_cfg cfg;
static struct pcap_line line;
static struct pcap_pkt pkt;

static const char *dec(const struct frame *f)
{
	pcap_decode(&cfg, PCAP_LINKTYPE_ETHERNET, f->b, f->len, (uint32_t)f->len, &pkt, &line);
	return line.buf;
}

#define T_LINE(f, want) T_CHECK(!strcmp(dec(f), want), "got '%.300s'", line.buf)

static void test_arp(void)
{
	static const uint8_t req[] = { 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 51, 100, 1,
				       0, 0, 0, 0, 0, 0, 198, 51, 100, 2 };
	static const uint8_t rep[] = { 0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 2, 198, 51, 100, 2,
				       2, 0, 0, 0, 0, 1, 198, 51, 100, 1 };
	struct frame f;

	eth(&f, 0x0806);
	put(&f, req, sizeof(req));
	T_LINE(&f, "ARP, Request who-has 198.51.100.2 tell 198.51.100.1, length 28");
	T_CHECK(pkt.flags & PKT_ARP, "arp flag");
	eth(&f, 0x0806);
	put(&f, rep, sizeof(rep));
	memset(f.b + f.len, 0, 18); /* Ethernet padding counts in the length */
	f.len += 18;
	T_LINE(&f, "ARP, Reply 198.51.100.2 is-at 02:00:00:00:00:02, length 46");
	f.b[14 + 7] = 9;
	T_LINE(&f, "ARP, opcode 9 [not decoded], length 46");
	f.b[14 + 1] = 6;
	T_LINE(&f, "ARP, hardware type 6, protocol 0x0800, opcode 9 [not decoded], length 46");
}

static void test_tcp(void)
{
	static const uint8_t syn_opt[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					   1, 3, 3, 7 };
	static const uint8_t sack_opt[] = { 1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200 };
	static const uint8_t bad_opt[] = { 2, 9, 0, 0 };
	struct frame f;

	ip4(&f, 6);
	tcp(&f, 1234, 80, 1000, 0, TCPF_SYN, syn_opt, sizeof(syn_opt));
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 1000, win 65535, options "
		   "[mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0");
	T_CHECK(pkt.seq == 1000 && pkt.sport == 1234 && pkt.tcp_flags == TCPF_SYN, "pkt");

	ip4(&f, 6);
	tcp(&f, 80, 1234, 4294967290u, 1001, TCPF_PSH | TCPF_ACK, sack_opt, sizeof(sack_opt));
	put(&f, "0123456789", 10);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.80 > 10.0.0.2.1234: Flags [P.], seq 4294967290:4, ack 1001, "
		   "win 65535, options [nop,nop,sack 1 {100:200}], length 10");
	T_CHECK(pkt.payload == 10, "payload %u", pkt.payload);

	ip4(&f, 6);
	tcp(&f, 80, 1234, 7, 8, TCPF_ACK, bad_opt, sizeof(bad_opt));
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.80 > 10.0.0.2.1234: Flags [.], ack 8, win 65535, options [bad opt], "
		   "length 0");
	ip4(&f, 6);
	tcp(&f, 80, 1234, 7, 8, TCPF_RST | TCPF_ACK | TCPF_ECE | TCPF_CWR, NULL, 0);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.80 > 10.0.0.2.1234: Flags [R.EW], seq 7, ack 8, win 65535, length 0");
	f.b[14 + 20 + 12] = 0x40; /* data offset 16 < 20 */
	T_LINE(&f, "IP 10.0.0.1.80 > 10.0.0.2.1234: [bad header length 16, segment length 20]");
}

/* tcpdump's relative numbers: the SYN-ACK records both bases, later
 * segments (either way) and SACK blocks are relative, -S is absolute. */
static void test_tcp_relative(void)
{
	static const uint8_t sack_opt[] = { 1, 1, 5, 10, 0, 0, 0x03, 0xe9 + 0, 0, 0, 0x04, 0x4d };
	struct pcap_tcpseq seqs;
	struct frame f;

	pcap_tcpseq_init(&seqs);
	cfg.rel = &seqs;
	ip4(&f, 6);
	tcp(&f, 40000, 80, 1000, 0, TCPF_SYN, NULL, 0);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 65535, length 0");
	ip4(&f, 6);
	memcpy(f.b + 26, "\x0a\0\0\x02\x0a\0\0\x01", 8);
	tcp(&f, 80, 40000, 5000, 1001, TCPF_SYN | TCPF_ACK, NULL, 0);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 65535, length 0");
	ip4(&f, 6);
	tcp(&f, 40000, 80, 1001, 5001, TCPF_ACK | TCPF_PSH, NULL, 0);
	put(&f, "GET /", 5);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:6, ack 1, win 65535, length 5");
	ip4(&f, 6);
	memcpy(f.b + 26, "\x0a\0\0\x02\x0a\0\0\x01", 8);
	tcp(&f, 80, 40000, 5001, 1001, TCPF_ACK, sack_opt, sizeof(sack_opt));
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 1, win 65535, options "
		   "[nop,nop,sack 1 {1:101}], length 0");
	cfg.rel = NULL;
	T_LINE(&f, "IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 1001, win 65535, options "
		   "[nop,nop,sack 1 {1001:1101}], length 0");
	/* Many conversations: the table grows and keeps every base. */
	cfg.rel = &seqs;
	for (uint32_t i = 0; i < 5000; i++) {
		ip4(&f, 6);
		tcp(&f, (uint16_t)(1000 + i), 80, 7 * i, 100, TCPF_ACK, NULL, 0);
		ip_done(&f);
		dec(&f);
	}
	for (uint32_t i = 0; i < 5000; i += 7) {
		char want[128];

		ip4(&f, 6);
		tcp(&f, (uint16_t)(1000 + i), 80, 7 * i + 5, 100, TCPF_ACK | TCPF_FIN, NULL, 0);
		ip_done(&f);
		snprintf(want, sizeof(want), "IP 10.0.0.1.%u > 10.0.0.2.80: Flags [F.], seq 5, ack 1, "
			 "win 65535, length 0", 1000 + i);
		T_CHECK(!strcmp(dec(&f), want), "conversation %u: %.200s", i, line.buf);
	}
	T_CHECK(seqs.n == 5001, "conversations %zu", seqs.n);
	cfg.rel = NULL;
	pcap_tcpseq_free(&seqs);
}

static void test_udp_icmp_other(void)
{
	static const uint8_t echo[] = { 8, 0, 0, 0, 0, 7, 0, 1, 'a', 'b' };
	struct frame f, inner;

	ip4(&f, 17);
	udp(&f, 5000, 6000, "hello", 5);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 5");
	f.b[14 + 20 + 5] = 200; /* UDP length beyond the IP payload */
	T_LINE(&f, "IP 10.0.0.1.5000 > 10.0.0.2.6000: [bad udp length 200, ip payload 13]");

	ip4(&f, 1);
	put(&f, echo, sizeof(echo));
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 10");
	T_CHECK(pkt.flags & PKT_ICMP, "icmp flag");

	/* Port unreachable quoting a UDP datagram. */
	ip4(&inner, 17);
	udp(&inner, 5000, 53, "q", 1);
	ip_done(&inner);
	ip4(&f, 1);
	put32(&f, 0x03030000);
	put32(&f, 0);
	put(&f, inner.b + 14, inner.len - 14);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 udp port 53 unreachable, length 37");

	ip4(&f, 1);
	put32(&f, 0x0d000000);
	put32(&f, 0);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1 > 10.0.0.2: ICMP type 13, code 0, length 8");

	ip4(&f, 47);
	put32(&f, 0);
	ip_done(&f);
	T_LINE(&f, "IP 10.0.0.1 > 10.0.0.2: ip-proto-47 [not decoded], length 4");

	/* A later fragment: no transport header to decode. */
	ip4(&f, 17);
	put32(&f, 0);
	ip_done(&f);
	f.b[20] = 0x20;
	f.b[21] = 0x10; /* MF, offset 16 * 8 */
	T_LINE(&f, "IP 10.0.0.1 > 10.0.0.2: ip-proto-17 fragment id 4660 offset 128+ [not decoded], "
		   "length 4");
	T_CHECK(pkt.flags & PKT_FRAG, "frag flag");

	eth(&f, 0x88cc);
	put32(&f, 0);
	T_LINE(&f, "ethertype 0x88cc [not decoded], length 4");
	eth(&f, 0x0042);
	put32(&f, 0);
	T_LINE(&f, "802.3 LLC [not decoded], length 4");

	/* 802.1Q tag around ARP's neighbour, an IPv4 UDP frame. */
	ip4(&inner, 17);
	udp(&inner, 1, 2, NULL, 0);
	ip_done(&inner);
	eth(&f, 0x8100);
	put16(&f, 0x2064);
	put(&f, inner.b + 12, inner.len - 12);
	T_LINE(&f, "vlan 100, p 1, IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0");
}

static void test_ipv6(void)
{
	static const uint8_t lo6[32] = { [15] = 1, [31] = 1 };
	struct frame f;

	eth(&f, 0x86dd);
	put32(&f, 0x60000000);
	put16(&f, 8 + 8 + 4);
	f.b[f.len++] = 0; /* hop-by-hop first */
	f.b[f.len++] = 64;
	put(&f, lo6, 32);
	put32(&f, 0x3a000000); /* HBH: next ICMPv6, length 0 (8 bytes) */
	put32(&f, 0);
	put32(&f, 0x80000000); /* echo request */
	put32(&f, 0x00050006);
	put32(&f, 0x61626364);
	put32(&f, 0xdeadbeef); /* beyond the payload length: padding */
	T_LINE(&f, "IP6 ::1 > ::1: HBH ICMP6, echo request, id 5, seq 6, length 12");
	T_CHECK(pkt.flags & PKT_IP6 && pkt.family == 6, "ip6 flags");

	eth(&f, 0x86dd);
	put32(&f, 0x60000000);
	put16(&f, 8);
	f.b[f.len++] = 17;
	f.b[f.len++] = 64;
	put(&f, lo6, 32);
	udp(&f, 53, 9999, NULL, 0);
	T_LINE(&f, "IP6 ::1.53 > ::1.9999: [malformed dns: 0-byte message] (0)");
	T_CHECK(pkt.flags & PKT_DNS, "dns flag");

	f.b[14 + 6] = 99;
	T_LINE(&f, "IP6 ::1 > ::1: ip-proto-99 [not decoded], length 8");
}

/* A DNS message builder: header, then raw bytes. */
static void dns_hdr(struct frame *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->len = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put32(m, 0);
}

static const char *dec_dns(const struct frame *m, size_t captured)
{
	struct frame f;

	ip4(&f, 17);
	udp(&f, 53, 40000, m->b, m->len);
	ip_done(&f);
	pcap_decode(&cfg, PCAP_LINKTYPE_ETHERNET, f.b, f.len - (m->len - captured), (uint32_t)f.len,
		    &pkt, &line);
	return line.buf + strlen("IP 10.0.0.1.53 > 10.0.0.2.40000: ");
}

#define T_DNS(m, cap, want) \
	T_CHECK(!strcmp(dec_dns(m, cap), want), "got '%.300s'", line.buf)

static void test_dns(void)
{
	static const uint8_t qname[] = "\3www\7example\4test";
	struct frame m;
	size_t full;

	dns_hdr(&m, 4660, 0x0100, 1, 0);
	put(&m, qname, sizeof(qname));
	put32(&m, 0x00010001);
	T_DNS(&m, m.len, "4660+ A? www.example.test. (34)");

	/* Response: the answers point back at the question's name. */
	dns_hdr(&m, 4660, 0x8580, 1, 3);
	put(&m, qname, sizeof(qname));
	put32(&m, 0x00050001);
	put16(&m, 0xc00c);
	put32(&m, 0x00050001);
	put32(&m, 300);
	put16(&m, 6);
	put(&m, "\3web", 4);
	put16(&m, 0xc010); /* -> example.test */
	put16(&m, 0xc02e); /* -> web.example.test, the CNAME's data */
	put32(&m, 0x00010001);
	put32(&m, 300);
	put16(&m, 4);
	put32(&m, 0xc6336407);
	put16(&m, 0xc00c);
	put32(&m, 0x001c0001);
	put32(&m, 300);
	put16(&m, 16);
	put32(&m, 0x20010db8);
	put32(&m, 0);
	put32(&m, 0);
	put32(&m, 8);
	full = m.len;
	T_DNS(&m, full, "4660* q: CNAME? www.example.test. 3/0/0 CNAME web.example.test., "
			"A 198.51.100.7, AAAA 2001:db8::8 (96)");
	T_DNS(&m, full - 3, "4660* q: CNAME? www.example.test. 3/0/0 CNAME web.example.test., "
			    "A 198.51.100.7, [|domain] (96)");

	/* NXDomain, no recursion available, truncated. */
	dns_hdr(&m, 1, 0x8203, 1, 0);
	put(&m, qname, sizeof(qname));
	put32(&m, 0x00100001);
	T_DNS(&m, m.len, "1 NXDomain-| q: TXT? www.example.test. 0/0/0 (34)");

	/* A pointer to itself, a forward pointer, and a two-pointer cycle. */
	dns_hdr(&m, 2, 0x0100, 1, 0);
	put16(&m, 0xc00c);
	put32(&m, 0x00010001);
	T_DNS(&m, m.len, "2+ [malformed dns: compression pointer loop] (18)");
	dns_hdr(&m, 3, 0x0100, 1, 0);
	put16(&m, 0xc00e);
	put(&m, "\1a", 3);
	put32(&m, 0x00010001);
	T_DNS(&m, m.len, "3+ [malformed dns: compression pointer loop] (21)");
	dns_hdr(&m, 4, 0x8100, 1, 1);
	put(&m, "\1a", 3);
	put32(&m, 0x00010001);
	put(&m, "\1b\xc0\x16", 4); /* offset 19: b, then -> 22 (itself + 3) */
	put32(&m, 0x00010001);
	T_DNS(&m, m.len, "4- q: A? a. 1/0/0 [malformed dns: compression pointer loop] (27)");

	/* 5 labels of 63 bytes: longer than 255. */
	dns_hdr(&m, 5, 0x0100, 1, 0);
	for (int i = 0; i < 5; i++) {
		m.b[m.len++] = 63;
		memset(m.b + m.len, 'x', 63);
		m.len += 63;
	}
	m.b[m.len++] = 0;
	put32(&m, 0x00010001);
	T_DNS(&m, m.len, "5+ [malformed dns: name longer than 255 bytes] (337)");

	/* A reserved label type (01xxxxxx), odd characters, the root. */
	dns_hdr(&m, 6, 0x0100, 2, 0);
	put(&m, "\3a.\x01", 5);
	put32(&m, 0x00ff0001);
	put(&m, "\x41", 1);
	T_DNS(&m, m.len, "6+ [2q] ANY? a\\.\\001. [malformed dns: reserved label type] (22)");
	dns_hdr(&m, 7, 0x0100, 1, 0);
	put(&m, "", 1);
	put32(&m, 0x00020001);
	T_DNS(&m, m.len, "7+ NS? . (17)");
	/* TXT with a quote, a newline and a backslash stays on one line. */
	dns_hdr(&m, 9, 0x8180, 0, 1);
	put(&m, "", 1);
	put32(&m, 0x00100001);
	put32(&m, 60);
	put16(&m, 9);
	put(&m, "\4a\"\n\\\3b c", 9);
	T_DNS(&m, m.len, "9 1/0/0 TXT \"a\\\"\\010\\\\\" \"b c\" (32)");
	/* The question runs past the end of the message. */
	dns_hdr(&m, 8, 0x0100, 1, 0);
	put(&m, "\5ab", 3);
	T_DNS(&m, m.len, "8+ [malformed dns: runs past the end of the message] (15)");
}

/* The sample frames the prefix and fuzz tests start from. */
static size_t samples(struct frame *s)
{
	static const uint8_t syn_opt[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					   1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200, 0 };
	static const uint8_t dnsresp[] = { 0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
					   1, 'a', 0, 0, 1, 0, 1,
					   0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 4, 1, 'b', 0xc0, 12,
					   0xc0, 31, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 };
	static const uint8_t arp[] = { 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 51, 100, 1,
				       0, 0, 0, 0, 0, 0, 198, 51, 100, 2 };
	size_t n = 0;

	ip4(&s[n], 6);
	tcp(&s[n], 1, 53, 1, 2, TCPF_SYN | TCPF_ACK | TCPF_PSH, syn_opt, sizeof(syn_opt));
	put16(&s[n], sizeof(dnsresp));
	put(&s[n], dnsresp, sizeof(dnsresp));
	ip_done(&s[n++]);
	ip4(&s[n], 17);
	udp(&s[n], 53, 2, dnsresp, sizeof(dnsresp));
	ip_done(&s[n++]);
	eth(&s[n], 0x0806);
	put(&s[n++], arp, sizeof(arp));
	ip4(&s[n], 1);
	put32(&s[n], 0x03030000);
	put32(&s[n], 0);
	put(&s[n], s[1].b + 14, 24); /* the quoted IP header and ports */
	ip_done(&s[n++]);
	eth(&s[n], 0x86dd);
	put32(&s[n], 0x60000000);
	put16(&s[n], 16);
	s[n].b[s[n].len++] = 60;
	s[n].b[s[n].len++] = 1;
	memset(s[n].b + s[n].len, 0, 32);
	s[n].len += 32;
	put32(&s[n], 0x3a000000);
	put32(&s[n], 0);
	put32(&s[n], 0x80000000);
	put32(&s[n++], 0x00010002);
	return n;
}

/* Decodes frame bytes p[0..len) and checks the line is terminated and fits. */
static int line_ok(const uint8_t *p, size_t len, uint32_t linktype)
{
	pcap_decode(&cfg, linktype, p, len, (uint32_t)len + 3, &pkt, &line);
	return line.len < PCAP_LINE_MAX && strlen(line.buf) == line.len && line.len > 0;
}

static void test_prefixes(void)
{
	static struct frame s[8];
	size_t n = samples(s);

	for (size_t i = 0; i < n; i++) {
		T_CHECK(!strstr(dec(&s[i]), "[|") && !strstr(line.buf, "malformed"),
			"sample %zu: %.200s", i, line.buf);
		for (size_t k = 0; k < s[i].len; k++) {
			T_REQUIRE(line_ok(s[i].b, k, PCAP_LINKTYPE_ETHERNET), "sample %zu prefix %zu", i, k);
			if (k > 0)
				T_CHECK(strstr(line.buf, "[|"), "sample %zu cut at %zu unmarked: %.200s",
					i, k, line.buf);
		}
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void test_fuzz(void)
{
	static struct frame s[8];
	static const uint32_t lts[] = { PCAP_LINKTYPE_ETHERNET, PCAP_LINKTYPE_RAW,
					PCAP_LINKTYPE_LINUX_SLL, 7 };
	size_t n = samples(s);
	uint8_t buf[1600];

	for (int it = 0; it < 200000; it++) {
		const struct frame *f = &s[rnd() % n];
		size_t len = f->len, flips = 1 + rnd() % 8;

		memcpy(buf, f->b, len);
		for (size_t k = 0; k < flips; k++)
			buf[rnd() % len] = (uint8_t)rnd();
		if (rnd() % 4 == 0)
			len = rnd() % (len + 1);
		T_REQUIRE(line_ok(buf, len, lts[rnd() % 8 ? 0 : rnd() % 4]), "iteration %d", it);
	}
	/* Pure noise, all lengths. */
	for (int it = 0; it < 20000; it++) {
		size_t len = rnd() % 200;

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd();
		T_REQUIRE(line_ok(buf, len, lts[it % 4]), "noise %d", it);
	}
}

static void test_line_cut(void)
{
	struct pcap_line l;

	pcap_line_reset(&l);
	for (int i = 0; i < 400; i++)
		pcap_line_add(&l, "%d,", i);
	T_CHECK(l.full && l.len == PCAP_LINE_MAX - 1 && strlen(l.buf) == l.len, "cut len %zu", l.len);
	T_CHECK(!strcmp(l.buf + l.len - 3, "..."), "ends in ...");
	pcap_line_add(&l, "more");
	T_CHECK(l.len == PCAP_LINE_MAX - 1, "no growth after full");
	pcap_line_reset(&l);
	pcap_format_time(&l, 1700000000123456789ull, 1, 'u');
	T_CHECK(!strcmp(l.buf, "22:13:20.123456789"), "utc nsec: %.40s", l.buf);
	pcap_line_reset(&l);
	pcap_format_time(&l, 1700000000123456789ull, 0, 'e');
	T_CHECK(!strcmp(l.buf, "1700000000.123456"), "epoch usec: %.40s", l.buf);
}

static void test_filter(void)
{
	struct pcap_filter f = { 0 };
	struct frame fr;

	ip4(&fr, 17);
	udp(&fr, 5000, 53, "", 0);
	ip_done(&fr);
	dec(&fr);
	T_CHECK(pcap_filter_match(&f, &pkt), "empty filter");
	T_CHECK(pcap_filter_add_proto(&f, "dns") == 0 && pcap_filter_add_proto(&f, "nope") < 0, "names");
	T_CHECK(pcap_filter_match(&f, &pkt), "dns");
	T_CHECK(pcap_filter_set_host(&f, "10.0.0.2") == 0 && pcap_filter_match(&f, &pkt), "host dst");
	T_CHECK(pcap_filter_set_host(&f, "10.0.0.3") == 0 && !pcap_filter_match(&f, &pkt), "other host");
	T_CHECK(pcap_filter_set_host(&f, "::1") == 0 && !pcap_filter_match(&f, &pkt), "v6 host");
	T_CHECK(pcap_filter_set_host(&f, "10.0.0.256") < 0, "bad host");
	f.host_family = 0;
	f.have_port = 1;
	f.port = 5000;
	T_CHECK(pcap_filter_match(&f, &pkt), "port src");
	f.port = 80;
	T_CHECK(!pcap_filter_match(&f, &pkt), "port other");
	f = (struct pcap_filter){ 0 };
	pcap_filter_add_proto(&f, "tcp");
	pcap_filter_add_proto(&f, "arp");
	T_CHECK(!pcap_filter_match(&f, &pkt), "udp is not tcp|arp");
}

/* Adds a TCP segment from 10.0.0.1:1000 (dir 0) or back (dir 1). */
static void seg(struct pcap_flows *fl, int dir, uint32_t seq, uint8_t flags, size_t n, uint64_t t)
{
	static const uint8_t data[100];
	struct frame f;

	ip4(&f, 6);
	if (dir) {
		memcpy(f.b + 26, "\x0a\0\0\x02\x0a\0\0\x01", 8);
		tcp(&f, 80, 1000, seq, 0, flags, NULL, 0);
	} else {
		tcp(&f, 1000, 80, seq, 0, flags, NULL, 0);
	}
	put(&f, data, n);
	ip_done(&f);
	dec(&f);
	pcap_flows_add(fl, t, (uint32_t)f.len, &pkt);
}

static void test_flows(void)
{
	struct pcap_flows fl;
	struct frame f;

	pcap_flows_init(&fl);
	seg(&fl, 0, 100, TCPF_SYN, 0, 1000);
	seg(&fl, 1, 500, TCPF_SYN | TCPF_ACK, 0, 2000);
	seg(&fl, 0, 100, TCPF_SYN, 0, 3000);       /* SYN again: retransmission */
	seg(&fl, 0, 101, TCPF_ACK, 0, 4000);       /* pure ACK */
	seg(&fl, 0, 101, TCPF_ACK | TCPF_PSH, 50, 5000);
	seg(&fl, 0, 151, TCPF_ACK, 50, 6000);
	seg(&fl, 0, 101, TCPF_ACK, 50, 7000);      /* retransmission */
	seg(&fl, 0, 200, TCPF_ACK, 1, 8000);       /* keep-alive: not one */
	seg(&fl, 1, 501, TCPF_RST, 0, 9000);
	seg(&fl, 0, 201, TCPF_FIN | TCPF_ACK, 0, 10000);
	seg(&fl, 0, 201, TCPF_FIN | TCPF_ACK, 0, 11000); /* FIN again */
	ip4(&f, 17);
	udp(&f, 1, 2, "", 0);
	ip_done(&f);
	dec(&f);
	pcap_flows_add(&fl, 500, (uint32_t)f.len, &pkt);
	eth(&f, 0x88cc);
	dec(&f);
	pcap_flows_add(&fl, 600, 14, &pkt);
	T_REQUIRE(fl.n == 2, "flows %zu", fl.n);
	T_CHECK(fl.flows[0].packets == 11 && fl.flows[0].retrans == 3 && fl.flows[0].resets == 1,
		"tcp: packets %llu retrans %llu resets %llu", (unsigned long long)fl.flows[0].packets,
		(unsigned long long)fl.flows[0].retrans, (unsigned long long)fl.flows[0].resets);
	T_CHECK(fl.flows[0].first_ns == 1000 && fl.flows[0].last_ns == 11000, "times");
	T_CHECK(fl.flows[0].bytes == 11 * 54 + 151, "bytes %llu", (unsigned long long)fl.flows[0].bytes);
	T_CHECK(fl.other_packets == 1 && fl.other_bytes == 14, "non-IP");
	/* Many flows: the table grows and still finds both directions. */
	for (uint32_t i = 0; i < 3000; i++) {
		ip4(&f, 17);
		udp(&f, (uint16_t)i, 7, "", 0);
		ip_done(&f);
		dec(&f);
		pcap_flows_add(&fl, i, 1, &pkt);
		pkt.sport = 7;
		pkt.dport = (uint16_t)i;
		memcpy(pkt.src, f.b + 30, 4);
		memcpy(pkt.dst, f.b + 26, 4);
		pcap_flows_add(&fl, i, 1, &pkt);
	}
	T_CHECK(fl.n == 3002, "flows after growth %zu", fl.n);
	pcap_flows_free(&fl);
}

int main(void)
{
	pcap_decode_cfg_init(&cfg);
	T_RUN(test_arp);
	T_RUN(test_tcp);
	T_RUN(test_tcp_relative);
	T_RUN(test_udp_icmp_other);
	T_RUN(test_ipv6);
	T_RUN(test_dns);
	T_RUN(test_prefixes);
	T_RUN(test_fuzz);
	T_RUN(test_line_cut);
	T_RUN(test_filter);
	T_RUN(test_flows);
	T_EXIT();
}
