/* The pcap reader: walks a classic libpcap capture from a file descriptor
 * (a file or a pipe such as stdin), whichever of the two magics
 * (microsecond a1b2c3d4, nanosecond a1b23c4d) and byte orders it has, and
 * hands out one frame at a time without copying it. Every length in the
 * file is checked before it is used: a short or corrupt file ends with an
 * error whose one-line text (in ->err) names the frame number, never with
 * a read past the data. */
#ifndef VOIDBOX_PCAP_READER_H
#define VOIDBOX_PCAP_READER_H

#include <stddef.h>
#include <stdint.h>

struct pcap_reader {
	int fd;
	int be;              /* the file is big-endian (else little-endian) */
	int nsec;            /* timestamps carry nanoseconds */
	uint16_t ver_major, ver_minor;
	uint32_t snaplen;    /* as the file header says */
	uint32_t linktype;
	uint64_t frames;     /* frames returned so far; the last one's number */
	uint8_t *buf;        /* read buffer, one allocation at open */
	size_t cap, pos, len;
	int eof;
	char err[192];       /* the reason of the last error, one line */
};

struct pcap_frame {
	uint64_t number;     /* 1-based, as tshark counts */
	uint64_t ts_ns;      /* nanoseconds since the epoch (usec files: * 1000) */
	uint32_t caplen;     /* bytes at data */
	uint32_t wirelen;    /* the frame's length on the wire */
	const uint8_t *data; /* valid until the next pcap_reader_next() */
};

/* Reads and checks the file header from fd (not closed by the reader).
 * Returns 0, -EINVAL for a file that is not a usable pcap (reason in
 * r->err), -ENOMEM, or -errno of a failed read. A failed open has freed
 * what it took: pcap_reader_close is then a no-op. */
int pcap_reader_open(struct pcap_reader *r, int fd);

/* Reads the next frame into f. Returns 1, 0 at a clean end of file, or
 * -EINVAL (corrupt or truncated record; r->err names the frame) or -errno. */
int pcap_reader_next(struct pcap_reader *r, struct pcap_frame *f);

/* Frees the buffer. */
void pcap_reader_close(struct pcap_reader *r);

#endif
