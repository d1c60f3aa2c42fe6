/* TCP segments, printed as tcpdump does: ports, flags, seq (or seq A:B
 * when data is carried), ack, window, urgent pointer, options (mss,
 * wscale, sackOK, sack blocks, TS, nop, eol; others by number) and
 * payload length; sequence numbers relative to the conversation's first
 * (pcap/tcpseq.h) or, as with tcpdump -S, absolute. DNS on a DNS port is
 * decoded after its two-byte length prefix. */
#include "pcap/decode.h"
#include "pcap/tcpseq.h"

#define TCP_HDR_LEN 20u

/* Appends the flag letters tcpdump uses, in its order. */
static void add_flags(struct pcap_line *l, uint8_t f)
{
	static const struct { uint8_t bit; char c; } map[] = {
		{ TCPF_FIN, 'F' }, { TCPF_SYN, 'S' }, { TCPF_RST, 'R' }, { TCPF_PSH, 'P' },
		{ TCPF_ACK, '.' }, { TCPF_URG, 'U' }, { TCPF_ECE, 'E' }, { TCPF_CWR, 'W' },
	};
	char s[9];
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (f & map[i].bit)
			s[n++] = map[i].c;
	s[n] = 0;
	pcap_line_add(l, "Flags [%s]", n ? s : "none");
}

/* Appends the options in o (n bytes); SACK blocks lose sack_base. */
static void add_options(struct pcap_line *l, const uint8_t *o, size_t n, uint32_t sack_base)
{
	struct cursor c = cur_init(o, n);
	const uint8_t *k;

	pcap_line_add(l, ", options [");
	while ((k = cur_peek(&c, 0, 1))) {
		uint8_t kind = k[0], len;

		if (c.off)
			pcap_line_add(l, ",");
		if (kind == 0) {
			pcap_line_add(l, "eol");
			break;
		}
		if (kind == 1) {
			pcap_line_add(l, "nop");
			cur_skip(&c, 1);
			continue;
		}
		/* kind, length (>= 2, within the options), value */
		if (!(k = cur_peek(&c, 0, 2)) || (len = k[1]) < 2 || !(k = cur_take(&c, len))) {
			pcap_line_add(l, "bad opt");
			break;
		}
		const uint8_t *v = k + 2;
		switch (kind) {
		case 2:
			if (len == 4)
				pcap_line_add(l, "mss %u", ld_be16(v));
			else
				pcap_line_add(l, "mss [bad length %u]", len);
			break;
		case 3:
			if (len == 3)
				pcap_line_add(l, "wscale %u", v[0]);
			else
				pcap_line_add(l, "wscale [bad length %u]", len);
			break;
		case 4:
			pcap_line_add(l, len == 2 ? "sackOK" : "sackOK [bad length]");
			break;
		case 5:
			if ((len - 2) % 8) {
				pcap_line_add(l, "sack [bad length %u]", len);
				break;
			}
			pcap_line_add(l, "sack %u ", (len - 2) / 8);
			for (unsigned b = 0; b + 8 <= (unsigned)len - 2; b += 8)
				pcap_line_add(l, "{%u:%u}", ld_be32(v + b) - sack_base,
					      ld_be32(v + b + 4) - sack_base);
			break;
		case 8:
			if (len == 10)
				pcap_line_add(l, "TS val %u ecr %u", ld_be32(v), ld_be32(v + 4));
			else
				pcap_line_add(l, "TS [bad length %u]", len);
			break;
		case 19:
			pcap_line_add(l, "md5");
			break;
		case 28:
			pcap_line_add(l, "uto");
			break;
		case 30:
			pcap_line_add(l, "mptcp");
			break;
		case 34:
			pcap_line_add(l, "tfo");
			break;
		default:
			pcap_line_add(l, "opt-%u len %u", kind, len);
		}
	}
	pcap_line_add(l, "]");
}

void pcap_decode_tcp(const struct pcap_decode_cfg *cfg, struct cursor c, size_t len,
		     struct pcap_pkt *pkt, struct pcap_line *l)
{
	const uint8_t *h, *o, *dl;
	size_t doff, payload;
	uint32_t seq, ack, sack_base = 0;
	uint8_t f;

	pkt->flags |= PKT_TCP;
	if (!(h = pcap_ports(c, TCP_HDR_LEN, "tcp", pkt, l)))
		return;
	pkt->seq = ld_be32(h + 4);
	pkt->ack = ld_be32(h + 8);
	pkt->tcp_flags = f = h[13];
	doff = (size_t)(h[12] >> 4) * 4;
	if (doff < TCP_HDR_LEN || doff > len) {
		pcap_line_add(l, "[bad header length %zu, segment length %zu]", doff, len);
		return;
	}
	payload = len - doff;
	pkt->payload = (uint32_t)payload;
	if (payload && (pcap_is_dns_port(cfg, pkt->sport) || pcap_is_dns_port(cfg, pkt->dport)))
		pkt->flags |= PKT_DNS; /* a segment that carries DNS, not a bare ACK */
	seq = pkt->seq;
	ack = pkt->ack;
	if (cfg->rel && (f & TCPF_ACK))
		pcap_tcpseq_relative(cfg->rel, pkt, &seq, &ack, &sack_base);
	add_flags(l, f);
	if (payload || (f & (TCPF_SYN | TCPF_FIN | TCPF_RST))) {
		if (payload)
			pcap_line_add(l, ", seq %u:%u", seq, (uint32_t)(seq + payload));
		else
			pcap_line_add(l, ", seq %u", seq);
	}
	if (f & TCPF_ACK)
		pcap_line_add(l, ", ack %u", ack);
	pcap_line_add(l, ", win %u", ld_be16(h + 14));
	if (f & TCPF_URG)
		pcap_line_add(l, ", urg %u", ld_be16(h + 18));
	if (doff > TCP_HDR_LEN) {
		o = cur_peek(&c, TCP_HDR_LEN, doff - TCP_HDR_LEN);
		if (o)
			add_options(l, o, doff - TCP_HDR_LEN, sack_base);
		else
			pcap_line_add(l, ", options [|tcp]");
	}
	pcap_line_add(l, ", length %zu", payload);
	if ((pkt->flags & PKT_DNS) && payload >= 2) {
		/* DNS over TCP: a two-byte length, then the message. */
		dl = cur_peek(&c, doff, 2);
		if (!dl) {
			pcap_line_add(l, " [|domain]");
			return;
		}
		size_t mlen = ld_be16(dl);

		if (mlen > payload - 2) {
			pcap_line_add(l, " [dns message continues in later segments]");
			return;
		}
		pcap_line_add(l, " ");
		pcap_decode_dns(cur_sub(&c, doff + 2, mlen), mlen, l);
	}
}
