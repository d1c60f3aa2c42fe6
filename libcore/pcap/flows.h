/* Per-flow statistics for `voidbox pcap --stats`: IP frames are grouped
 * into bidirectional flows (protocol, address and port of both ends; the
 * first frame's source is end A) with packets, bytes on the wire, first
 * and last time, and for TCP the resets and the retransmissions: segments
 * that carry sequence space (data, SYN or FIN) starting below the highest
 * sequence number already sent that way, keep-alives excepted — what
 * Wireshark calls retransmissions, fast and spurious ones included.
 * Unlike the decoder this allocates (the table grows with the flows): it
 * serves an offline reader, not the packet path. */
#ifndef VOIDBOX_PCAP_FLOWS_H
#define VOIDBOX_PCAP_FLOWS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pcap/decode.h"

struct pcap_flow {
	uint8_t family, proto;
	uint8_t a[16], b[16];
	uint16_t aport, bport;
	uint64_t first_ns, last_ns;
	uint64_t packets, bytes;
	uint64_t retrans, resets;
	struct {
		uint32_t next; /* highest seq + len sent this way */
		int have;
	} dir[2];              /* 0: A to B, 1: B to A */
};

struct pcap_flows {
	struct pcap_flow *flows; /* in order of first appearance */
	size_t n, cap;
	uint32_t *slots;         /* hash table of flow index + 1; 0 = empty */
	size_t nslots;
	uint64_t other_packets, other_bytes; /* frames that are not IP */
};

void pcap_flows_init(struct pcap_flows *fl);
/* Accounts one decoded frame. Returns 0 or -ENOMEM. */
int pcap_flows_add(struct pcap_flows *fl, uint64_t ts_ns, uint32_t wirelen,
		   const struct pcap_pkt *pkt);
/* Prints one line per flow, then the non-IP total; nsec picks 9 digits of
 * duration over 6. */
void pcap_flows_print(const struct pcap_flows *fl, FILE *out, int nsec);
void pcap_flows_free(struct pcap_flows *fl);

#endif
