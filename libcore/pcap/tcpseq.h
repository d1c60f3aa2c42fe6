/* Relative TCP sequence numbers as tcpdump prints them without -S: the
 * first segment of a conversation that carries an ACK (or any later
 * SYN-ACK) records both directions' bases and prints absolute numbers;
 * later segments print seq and ack (and SACK blocks) minus those bases.
 * Both directions share one entry, found whichever way a segment goes.
 * The table grows with the conversations (an offline reader's state, not
 * the packet path's). */
#ifndef VOIDBOX_PCAP_TCPSEQ_H
#define VOIDBOX_PCAP_TCPSEQ_H

#include <stddef.h>
#include <stdint.h>

#include "pcap/decode.h"

/* The key is every byte before seq: no implicit padding in it. */
struct pcap_tcpseq_conv {
	uint8_t a[16], b[16];   /* the ends in tcpdump's collating order */
	uint16_t aport, bport;
	uint8_t family, used;
	uint8_t pad[2];         /* zero */
	uint32_t seq, ack;      /* bases of A-to-B and B-to-A numbers */
};

struct pcap_tcpseq {
	struct pcap_tcpseq_conv *tab;
	size_t n, cap;
};

void pcap_tcpseq_init(struct pcap_tcpseq *t);
void pcap_tcpseq_free(struct pcap_tcpseq *t);

/* For a segment with ACK set (pkt: ports, addresses, flags, seq, ack):
 * sets *seq and *ack to the numbers to print and *sack_base to what SACK
 * blocks lose. Returns 0, or -ENOMEM (numbers stay absolute). */
int pcap_tcpseq_relative(struct pcap_tcpseq *t, const struct pcap_pkt *pkt, uint32_t *seq,
			 uint32_t *ack, uint32_t *sack_base);

#endif
