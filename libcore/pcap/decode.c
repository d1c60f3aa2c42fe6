/* The decoder's entry point and link layers (see pcap/decode.h): Ethernet
 * with up to two VLAN tags, Linux cooked capture (SLL) and raw IP, then
 * dispatch on the ethertype; plus the bounded line buffer and the
 * timestamp formats every decoder shares. */
#include "pcap/decode.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "pcap/writer.h"

#define ETH_HDR_LEN 14u
#define SLL_HDR_LEN 16u

void pcap_line_reset(struct pcap_line *l)
{
	l->len = 0;
	l->full = 0;
	l->buf[0] = 0;
}

void pcap_line_add(struct pcap_line *l, const char *fmt, ...)
{
	size_t room = sizeof(l->buf) - l->len;
	va_list ap;
	int n;

	if (l->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= room) {
		/* Cut: keep the line terminated and say so. */
		l->len = sizeof(l->buf) - 1;
		memcpy(l->buf + l->len - 3, "...", 3);
		l->buf[l->len] = 0;
		l->full = 1;
		return;
	}
	l->len += (size_t)n;
}

void pcap_line_addr(struct pcap_line *l, int family, const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, s, sizeof(s)))
		snprintf(s, sizeof(s), "?");
	pcap_line_add(l, "%s", s);
}

void pcap_line_endpoints(struct pcap_line *l, const struct pcap_pkt *pkt, int ports)
{
	pcap_line_addr(l, pkt->family, pkt->src);
	if (ports)
		pcap_line_add(l, ".%u", pkt->sport);
	pcap_line_add(l, " > ");
	pcap_line_addr(l, pkt->family, pkt->dst);
	if (ports)
		pcap_line_add(l, ".%u", pkt->dport);
	pcap_line_add(l, ": %s%s%s%s", pkt->ip6_ext & PKT_EXT_HBH ? "HBH " : "",
		      pkt->ip6_ext & PKT_EXT_DSTOPT ? "DSTOPT " : "",
		      pkt->ip6_ext & PKT_EXT_SRCRT ? "srcrt " : "",
		      pkt->ip6_ext & PKT_EXT_FRAG ? "frag " : "");
}

const uint8_t *pcap_ports(struct cursor c, size_t hlen, const char *proto, struct pcap_pkt *pkt,
			  struct pcap_line *l)
{
	const uint8_t *h = cur_peek(&c, 0, hlen);

	if (!h) {
		pcap_line_endpoints(l, pkt, 0);
		pcap_line_add(l, "[|%s]", proto);
		return NULL;
	}
	pkt->flags |= PKT_PORTS;
	pkt->sport = ld_be16(h);
	pkt->dport = ld_be16(h + 2);
	pcap_line_endpoints(l, pkt, 1);
	return h;
}

void pcap_format_time(struct pcap_line *out, uint64_t ts_ns, int nsec, char mode)
{
	time_t sec = (time_t)(ts_ns / 1000000000u);
	uint64_t frac = ts_ns % 1000000000u;
	struct tm tm;

	if (!nsec)
		frac /= 1000u;
	if (mode == 'e') {
		pcap_line_add(out, "%lld.%0*llu", (long long)sec, nsec ? 9 : 6,
			      (unsigned long long)frac);
		return;
	}
	if (!(mode == 'u' ? gmtime_r(&sec, &tm) : localtime_r(&sec, &tm)))
		memset(&tm, 0, sizeof(tm));
	pcap_line_add(out, "%02d:%02d:%02d.%0*llu", tm.tm_hour, tm.tm_min, tm.tm_sec,
		      nsec ? 9 : 6, (unsigned long long)frac);
}

void pcap_decode_cfg_init(struct pcap_decode_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dns_ports[0] = 53;
	cfg->n_dns_ports = 1;
}

int pcap_is_dns_port(const struct pcap_decode_cfg *cfg, uint16_t port)
{
	for (unsigned i = 0; i < cfg->n_dns_ports; i++)
		if (cfg->dns_ports[i] == port)
			return 1;
	return 0;
}

/* Names the ethertypes tcpdump -e names; NULL for the rest. */
static const char *ethertype_name(uint16_t t)
{
	switch (t) {
	case 0x0800: return "IPv4";
	case 0x0806: return "ARP";
	case 0x86dd: return "IPv6";
	case 0x8100: return "802.1Q";
	case 0x88a8: return "802.1Q-QinQ";
	default: return NULL;
	}
}

/* Decodes the network layer named by ethertype t; c holds it as captured,
 * len is what was on the wire. Unless named (the link header already
 * printed the ethertype, as tcpdump -e does), the line says which
 * protocol follows: "IP ", "IP6 ", "ARP, ". */
static void decode_l3(const struct pcap_decode_cfg *cfg, uint16_t t, int named, struct cursor c,
		      size_t len, struct pcap_pkt *pkt, struct pcap_line *l)
{
	switch (t) {
	case 0x0800:
		pcap_line_add(l, named ? "" : "IP ");
		pcap_decode_ipv4(cfg, c, pkt, l);
		break;
	case 0x86dd:
		pcap_line_add(l, named ? "" : "IP6 ");
		pcap_decode_ipv6(cfg, c, pkt, l);
		break;
	case 0x0806:
		pcap_line_add(l, named ? "" : "ARP, ");
		pcap_decode_arp(c, len, pkt, l);
		break;
	default:
		if (ethertype_name(t))
			pcap_line_add(l, "%s [not decoded], length %zu", ethertype_name(t), len);
		else
			pcap_line_add(l, "ethertype 0x%04x [not decoded], length %zu", t, len);
	}
}

/* With cfg->link, prints the ethertype and the length as tcpdump -e does. */
static void add_ethertype(const struct pcap_decode_cfg *cfg, uint16_t t, size_t len,
			  struct pcap_line *l)
{
	if (cfg->link)
		pcap_line_add(l, "ethertype %s (0x%04x), length %zu: ",
			      ethertype_name(t) ? ethertype_name(t) : "Unknown", t, len);
}

void pcap_line_mac(struct pcap_line *l, const uint8_t *m)
{
	pcap_line_add(l, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Ethernet II, 802.3 length frames, up to two VLAN tags. */
static void decode_eth(const struct pcap_decode_cfg *cfg, struct cursor c, size_t len,
		       struct pcap_pkt *pkt, struct pcap_line *l)
{
	const uint8_t *h = cur_take(&c, ETH_HDR_LEN), *tag;
	uint16_t t;

	if (!h) {
		pcap_line_add(l, "[|ether] length %zu", len);
		return;
	}
	t = ld_be16(h + 12);
	if (cfg->link) {
		pcap_line_mac(l, h + 6);
		pcap_line_add(l, " > ");
		pcap_line_mac(l, h);
		pcap_line_add(l, ", ");
	}
	for (int depth = 0; (t == 0x8100 || t == 0x88a8) && depth < 2; depth++) {
		tag = cur_take(&c, 4);
		if (!tag) {
			pcap_line_add(l, "vlan [|vlan]");
			return;
		}
		pcap_line_add(l, "vlan %u, p %u, ", ld_be16(tag) & 0xfff, tag[0] >> 5);
		t = ld_be16(tag + 2);
	}
	len = len >= c.off ? len - c.off : 0; /* c.off: the header and its tags */
	if (t < 0x0600) {
		pcap_line_add(l, "802.3 LLC [not decoded], length %zu", len);
		return;
	}
	add_ethertype(cfg, t, len + c.off, l);
	decode_l3(cfg, t, cfg->link, c, len, pkt, l);
}

/* Linux cooked capture v1: 16-byte header ending in the protocol type. */
static void decode_sll(const struct pcap_decode_cfg *cfg, struct cursor c, size_t len,
		       struct pcap_pkt *pkt, struct pcap_line *l)
{
	const uint8_t *h = cur_take(&c, SLL_HDR_LEN);
	static const char *const dir[] = { "In", "B", "M", "P", "Out" };
	uint16_t type;

	if (!h) {
		pcap_line_add(l, "[|sll] length %zu", len);
		return;
	}
	type = ld_be16(h);
	if (cfg->link)
		pcap_line_add(l, "%s ", type < ARRAY_SIZE(dir) ? dir[type] : "?");
	add_ethertype(cfg, ld_be16(h + 14), len, l);
	decode_l3(cfg, ld_be16(h + 14), cfg->link, c, len >= SLL_HDR_LEN ? len - SLL_HDR_LEN : 0,
		  pkt, l);
}

void pcap_decode(const struct pcap_decode_cfg *cfg, uint32_t linktype, const uint8_t *p,
		 size_t caplen, uint32_t wirelen, struct pcap_pkt *pkt, struct pcap_line *out)
{
	struct cursor c = cur_init(p, caplen);

	memset(pkt, 0, sizeof(*pkt));
	pcap_line_reset(out);
	if (caplen == 0) {
		pcap_line_add(out, "[empty frame: 0 bytes captured], length %u", wirelen);
		return;
	}
	switch (linktype) {
	case PCAP_LINKTYPE_ETHERNET:
		decode_eth(cfg, c, wirelen, pkt, out);
		break;
	case PCAP_LINKTYPE_LINUX_SLL:
		decode_sll(cfg, c, wirelen, pkt, out);
		break;
	case PCAP_LINKTYPE_RAW:
		decode_l3(cfg, (p[0] >> 4) == 6 ? 0x86dd : 0x0800, 0, c, wirelen, pkt, out);
		break;
	default:
		pcap_line_add(out, "linktype %u [not decoded], length %u", linktype, wirelen);
	}
}
