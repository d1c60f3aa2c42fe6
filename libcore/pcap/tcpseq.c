/* tcpdump's relative TCP sequence numbers (see pcap/tcpseq.h): an
 * open-addressing table of conversations keyed by both ends in a fixed
 * order (the lower port first; equal ports: the lower address first). */
#include "pcap/tcpseq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(struct pcap_tcpseq_conv, seq) == 40, "no padding in the key");

void pcap_tcpseq_init(struct pcap_tcpseq *t)
{
	memset(t, 0, sizeof(*t));
}

void pcap_tcpseq_free(struct pcap_tcpseq *t)
{
	free(t->tab);
	pcap_tcpseq_init(t);
}

static size_t conv_hash(const struct pcap_tcpseq_conv *k)
{
	uint32_t h = 2166136261u;
	const uint8_t *p = (const uint8_t *)k;

	for (size_t i = 0; i < offsetof(struct pcap_tcpseq_conv, seq); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Returns the slot of key k in t (the empty one where it would go). */
static struct pcap_tcpseq_conv *conv_slot(const struct pcap_tcpseq *t,
					  const struct pcap_tcpseq_conv *k)
{
	size_t i = conv_hash(k) & (t->cap - 1);

	while (t->tab[i].used &&
	       memcmp(&t->tab[i], k, offsetof(struct pcap_tcpseq_conv, seq)))
		i = (i + 1) & (t->cap - 1);
	return &t->tab[i];
}

/* Doubles the table. Returns 0 or -ENOMEM. */
static int tcpseq_grow(struct pcap_tcpseq *t)
{
	struct pcap_tcpseq old = *t;

	t->cap = old.cap ? old.cap * 2 : 1024;
	t->tab = calloc(t->cap, sizeof(*t->tab));
	if (!t->tab) {
		*t = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.tab[i].used)
			*conv_slot(t, &old.tab[i]) = old.tab[i];
	free(old.tab);
	return 0;
}

int pcap_tcpseq_relative(struct pcap_tcpseq *t, const struct pcap_pkt *pkt, uint32_t *seq,
			 uint32_t *ack, uint32_t *sack_base)
{
	size_t alen = pkt->family == 6 ? 16 : 4;
	int rev = pkt->sport > pkt->dport ||
		  (pkt->sport == pkt->dport && memcmp(pkt->src, pkt->dst, alen) > 0);
	struct pcap_tcpseq_conv k, *c;

	*seq = pkt->seq;
	*ack = pkt->ack;
	*sack_base = 0;
	if (t->n * 2 >= t->cap && tcpseq_grow(t))
		return -ENOMEM;
	memset(&k, 0, sizeof(k));
	k.used = 1;
	k.family = pkt->family;
	k.aport = rev ? pkt->dport : pkt->sport;
	k.bport = rev ? pkt->sport : pkt->dport;
	memcpy(k.a, rev ? pkt->dst : pkt->src, alen);
	memcpy(k.b, rev ? pkt->src : pkt->dst, alen);
	c = conv_slot(t, &k);
	if (!c->used || (pkt->tcp_flags & TCPF_SYN)) {
		if (!c->used)
			t->n++;
		*c = k;
		c->seq = rev ? pkt->ack - 1 : pkt->seq;
		c->ack = rev ? pkt->seq : pkt->ack - 1;
	} else {
		*seq -= rev ? c->ack : c->seq;
		*ack -= rev ? c->seq : c->ack;
	}
	*sack_base = rev ? c->seq : c->ack;
	return 0;
}
