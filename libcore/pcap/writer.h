/* The pcap writer: appends Ethernet frames to a classic libpcap capture file
 * (LINKTYPE_ETHERNET, microsecond or nanosecond timestamps, a snaplen) that
 * tshark, capinfos, tcpdump and Wireshark read without a warning. It is
 * meant for the packet path of `run --pcap`: the whole state, including its
 * output buffer, lives in one caller-owned struct pcap_writer, so adding a
 * frame never allocates and usually costs one memcpy; the buffer goes to
 * the file when it fills, on pcap_writer_flush() and on close. There is no
 * hidden shared state: a writer is thread-compatible, so threads that share
 * one writer must serialise their calls to it (one mutex around the calls);
 * different writers are independent. Records are written in host byte order
 * with the matching magic, as libpcap does. */
#ifndef VOIDBOX_PCAP_WRITER_H
#define VOIDBOX_PCAP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_MAGIC_NSEC 0xa1b23c4du
#define PCAP_LINKTYPE_ETHERNET 1u
/* tcpdump's default snaplen, and the largest caplen libpcap accepts. */
#define PCAP_SNAPLEN_DEFAULT 262144u
#define PCAP_SNAPLEN_MAX 262144u
#define PCAP_FILE_HDR_LEN 24u
#define PCAP_REC_HDR_LEN 16u
/* Bytes buffered before a write(2); larger frames are written directly. */
#define PCAP_WRITER_BUF (64u * 1024u)

enum pcap_tsres {
	PCAP_TS_USEC, /* magic a1b2c3d4, ts fraction in microseconds */
	PCAP_TS_NSEC, /* magic a1b23c4d, ts fraction in nanoseconds */
};

struct pcap_writer {
	int fd;
	int own_fd;          /* close fd in pcap_writer_close() */
	int err;             /* first write error (-errno), sticky; 0 if none */
	enum pcap_tsres res;
	uint32_t snaplen;
	size_t used;         /* bytes waiting in buf */
	uint64_t frames;     /* frames accepted (written or buffered) */
	uint64_t bytes;      /* captured bytes accepted, record headers excluded */
	uint64_t truncated;  /* frames cut to snaplen */
	uint64_t dropped;    /* frames refused because of an earlier write error */
	uint8_t buf[PCAP_WRITER_BUF];
};

/* Starts a capture on fd (a file, pipe or socket): checks snaplen (0 means
 * PCAP_SNAPLEN_DEFAULT; at most PCAP_SNAPLEN_MAX) and writes the file
 * header at once, so a reader of a pipe sees it before the first frame.
 * The caller keeps ownership of fd. Returns 0 or -errno (-EINVAL for a bad
 * snaplen or resolution). */
int pcap_writer_init_fd(struct pcap_writer *w, int fd, uint32_t snaplen, enum pcap_tsres res);

/* pcap_writer_init_fd() for another link type (a LINKTYPE_ number), for
 * rewriting captures of other links. */
int pcap_writer_init_fd_link(struct pcap_writer *w, int fd, uint32_t snaplen, enum pcap_tsres res,
			     uint32_t linktype);

/* Like pcap_writer_init_fd() on path, created or truncated with mode 0644;
 * the writer owns and closes that fd. Returns 0 or -errno. */
int pcap_writer_open(struct pcap_writer *w, const char *path, uint32_t snaplen,
		     enum pcap_tsres res);

/* Appends one frame captured at ts_ns (nanoseconds since the Unix epoch,
 * e.g. pcap_now_ns()), whose bytes are the concatenation of iov[0..iovcnt).
 * Frames longer than the snaplen are cut (the record keeps the wire length).
 * Never allocates. Returns 0, or -errno of the write that failed (that and
 * every later frame counts in ->dropped). */
int pcap_writer_writev(struct pcap_writer *w, uint64_t ts_ns, const struct iovec *iov,
		       int iovcnt);

/* pcap_writer_writev() for one contiguous frame. */
int pcap_writer_write(struct pcap_writer *w, uint64_t ts_ns, const void *frame, size_t len);

/* Appends a frame captured elsewhere: caplen bytes at data, of a frame
 * that was wirelen bytes on the wire (wirelen >= caplen). Cut to the
 * snaplen like the others. Returns 0 or -errno (-EINVAL if wirelen <
 * caplen). */
int pcap_writer_write_captured(struct pcap_writer *w, uint64_t ts_ns, const void *data,
			       uint32_t caplen, uint32_t wirelen);

/* Writes out whatever is buffered. Returns 0 or -errno. */
int pcap_writer_flush(struct pcap_writer *w);

/* Flushes, closes the fd if the writer opened it, and returns the first
 * error the writer met (0 if none). The struct may then be reused. */
int pcap_writer_close(struct pcap_writer *w);

/* CLOCK_REALTIME in nanoseconds, the timestamp pcap files carry. */
uint64_t pcap_now_ns(void);

#endif
