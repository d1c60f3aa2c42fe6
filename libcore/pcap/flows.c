/* Flow statistics (see pcap/flows.h): flows live in a growing array in
 * order of appearance, found through an open-addressing hash table whose
 * hash is the same for both directions of a flow. */
#include "pcap/flows.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pcap_flows_init(struct pcap_flows *fl)
{
	memset(fl, 0, sizeof(*fl));
}

void pcap_flows_free(struct pcap_flows *fl)
{
	free(fl->flows);
	free(fl->slots);
	pcap_flows_init(fl);
}

/* FNV-1a over one endpoint. */
static uint32_t ep_hash(const uint8_t *addr, size_t n, uint16_t port)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ addr[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	return (h ^ (port >> 8)) * 16777619u;
}

static size_t addr_len(uint8_t family)
{
	return family == 6 ? 16 : 4;
}

/* The hash of a flow, the same from either end. */
static uint32_t flow_hash(uint8_t family, uint8_t proto, const uint8_t *a, uint16_t ap,
			  const uint8_t *b, uint16_t bp)
{
	size_t n = addr_len(family);

	return (ep_hash(a, n, ap) + ep_hash(b, n, bp)) * 31u + proto * 7u + family;
}

/* Returns the direction of pkt in f (0 A to B, 1 B to A), or -1 when pkt
 * is not f's. */
static int flow_dir(const struct pcap_flow *f, const struct pcap_pkt *p, uint16_t sp, uint16_t dp)
{
	size_t n = addr_len(f->family);

	if (f->family != p->family || f->proto != p->ipproto)
		return -1;
	if (!memcmp(f->a, p->src, n) && !memcmp(f->b, p->dst, n) && f->aport == sp && f->bport == dp)
		return 0;
	if (!memcmp(f->a, p->dst, n) && !memcmp(f->b, p->src, n) && f->aport == dp && f->bport == sp)
		return 1;
	return -1;
}

/* Doubles the hash table and reinserts every flow. Returns 0 or -ENOMEM. */
static int flows_rehash(struct pcap_flows *fl)
{
	size_t ns = fl->nslots ? fl->nslots * 2 : 256;
	uint32_t *s = calloc(ns, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < fl->n; i++) {
		const struct pcap_flow *f = &fl->flows[i];
		size_t k = flow_hash(f->family, f->proto, f->a, f->aport, f->b, f->bport) & (ns - 1);

		while (s[k])
			k = (k + 1) & (ns - 1);
		s[k] = (uint32_t)i + 1;
	}
	free(fl->slots);
	fl->slots = s;
	fl->nslots = ns;
	return 0;
}

/* Updates the TCP state of f for a segment going direction d. */
static void tcp_account(struct pcap_flow *f, int d, const struct pcap_pkt *p)
{
	uint32_t seglen = p->payload + !!(p->tcp_flags & TCPF_SYN) + !!(p->tcp_flags & TCPF_FIN);
	uint32_t end = p->seq + seglen;

	if (p->tcp_flags & TCPF_RST)
		f->resets++;
	if (!seglen)
		return;
	if (f->dir[d].have && (int32_t)(p->seq - f->dir[d].next) < 0) {
		int keepalive = p->payload <= 1 && p->seq == f->dir[d].next - 1 &&
				!(p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST));

		if (!keepalive)
			f->retrans++;
	}
	if (!f->dir[d].have || (int32_t)(end - f->dir[d].next) > 0)
		f->dir[d].next = end;
	f->dir[d].have = 1;
}

int pcap_flows_add(struct pcap_flows *fl, uint64_t ts_ns, uint32_t wirelen,
		   const struct pcap_pkt *p)
{
	uint16_t sp = 0, dp = 0;
	struct pcap_flow *f;
	size_t k;
	int d = -1;

	if (!(p->flags & (PKT_IP4 | PKT_IP6))) {
		fl->other_packets++;
		fl->other_bytes += wirelen;
		return 0;
	}
	if (p->flags & PKT_PORTS) {
		sp = p->sport;
		dp = p->dport;
	}
	if (fl->n * 2 >= fl->nslots && flows_rehash(fl))
		return -ENOMEM;
	k = flow_hash(p->family, p->ipproto, p->src, sp, p->dst, dp) & (fl->nslots - 1);
	for (; fl->slots[k]; k = (k + 1) & (fl->nslots - 1)) {
		d = flow_dir(&fl->flows[fl->slots[k] - 1], p, sp, dp);
		if (d >= 0)
			break;
	}
	if (d < 0) {
		if (fl->n == fl->cap) {
			size_t nc = fl->cap ? fl->cap * 2 : 64;
			struct pcap_flow *nf = realloc(fl->flows, nc * sizeof(*nf));

			if (!nf)
				return -ENOMEM;
			fl->flows = nf;
			fl->cap = nc;
		}
		f = &fl->flows[fl->n];
		memset(f, 0, sizeof(*f));
		f->family = p->family;
		f->proto = p->ipproto;
		memcpy(f->a, p->src, 16);
		memcpy(f->b, p->dst, 16);
		f->aport = sp;
		f->bport = dp;
		f->first_ns = ts_ns;
		fl->slots[k] = (uint32_t)++fl->n;
		d = 0;
	}
	f = &fl->flows[fl->slots[k] - 1];
	f->packets++;
	f->bytes += wirelen;
	if (ts_ns > f->last_ns)
		f->last_ns = ts_ns;
	if (ts_ns < f->first_ns)
		f->first_ns = ts_ns;
	if (f->proto == 6 && (p->flags & PKT_PORTS) && !(p->flags & PKT_FRAG))
		tcp_account(f, d, p);
	return 0;
}

/* Prints one endpoint: 1.2.3.4:80, [::1]:80, or the bare address. */
static void print_ep(FILE *out, uint8_t family, const uint8_t *a, uint16_t port, int ports)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, s, sizeof(s));
	if (!ports)
		fputs(s, out);
	else if (family == 6)
		fprintf(out, "[%s]:%u", s, port);
	else
		fprintf(out, "%s:%u", s, port);
}

void pcap_flows_print(const struct pcap_flows *fl, FILE *out, int nsec)
{
	for (size_t i = 0; i < fl->n; i++) {
		const struct pcap_flow *f = &fl->flows[i];
		int ports = f->proto == 6 || f->proto == 17;
		uint64_t dur = f->last_ns - f->first_ns;

		switch (f->proto) {
		case 6: fputs("tcp ", out); break;
		case 17: fputs("udp ", out); break;
		case 1: fputs("icmp ", out); break;
		case 58: fputs("icmp6 ", out); break;
		default: fprintf(out, "ip-proto-%u ", f->proto);
		}
		print_ep(out, f->family, f->a, f->aport, ports);
		fputs(" <-> ", out);
		print_ep(out, f->family, f->b, f->bport, ports);
		fprintf(out, " packets %llu bytes %llu duration %llu.%0*llu",
			(unsigned long long)f->packets, (unsigned long long)f->bytes,
			(unsigned long long)(dur / 1000000000u), nsec ? 9 : 6,
			(unsigned long long)(nsec ? dur % 1000000000u : dur % 1000000000u / 1000u));
		if (f->proto == 6)
			fprintf(out, " retransmissions %llu resets %llu",
				(unsigned long long)f->retrans, (unsigned long long)f->resets);
		fputc('\n', out);
	}
	fprintf(out, "%zu flows", fl->n);
	if (fl->other_packets)
		fprintf(out, ", non-IP packets %llu bytes %llu", (unsigned long long)fl->other_packets,
			(unsigned long long)fl->other_bytes);
	fputc('\n', out);
}
