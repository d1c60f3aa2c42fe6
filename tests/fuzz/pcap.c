/* Fuzz target: `voidbox pcap`'s reader and decoders (pcap/): the input as
 * a capture file (both byte orders, usec/nsec, any link type, truncated
 * records), each frame decoded to a tcpdump line with relative TCP
 * sequence numbers and DNS ports, counted into flows and matched by a
 * filter; and the input decoded once more as a bare Ethernet frame. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "pcap/decode.h"
#include "pcap/filter.h"
#include "pcap/flows.h"
#include "pcap/reader.h"
#include "pcap/tcpseq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pcap_line line;
	struct pcap_decode_cfg cfg;
	struct pcap_tcpseq seq;
	struct pcap_flows fl;
	struct pcap_filter flt = { 0 };
	struct pcap_reader r;
	struct pcap_frame fr;
	struct pcap_pkt pkt;
	int fd = memfd_create("vb-fuzz-pcap", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	pcap_decode_cfg_init(&cfg);
	pcap_tcpseq_init(&seq);
	cfg.rel = &seq;
	cfg.link = size & 1;
	pcap_flows_init(&fl);
	pcap_filter_add_proto(&flt, "tcp");
	pcap_filter_add_proto(&flt, "dns");
	pcap_filter_set_host(&flt, "10.0.2.15");
	if (pcap_reader_open(&r, fd) == 0) {
		for (int i = 0; i < 4096 && pcap_reader_next(&r, &fr) == 1; i++) {
			pcap_line_reset(&line);
			pcap_decode(&cfg, r.linktype, fr.data, fr.caplen, fr.wirelen, &pkt, &line);
			pcap_format_time(&line, fr.ts_ns, r.nsec, "lua"[i % 3]);
			pcap_flows_add(&fl, fr.ts_ns, fr.wirelen, &pkt);
			pcap_filter_match(&flt, &pkt);
		}
	}
	pcap_reader_close(&r); /* also after a refused header: its buffer */
	pcap_line_reset(&line);
	pcap_decode(&cfg, 1, data, size, (uint32_t)size + (size & 2), &pkt, &line);
	pcap_flows_free(&fl);
	pcap_tcpseq_free(&seq);
	close(fd);
	return 0;
}
