/* The pcap reader (see pcap/reader.h). Records are pulled through one
 * buffer big enough for the largest legal record, refilled with read(2);
 * a frame's bytes are handed out in place. */
#include "pcap/reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/util.h"
#include "pcap/writer.h"

#define PCAPNG_MAGIC 0x0a0d0d0au

/* Sets r->err from a printf format. Returns -EINVAL. */
static int __attribute__((format(printf, 2, 3))) rd_fail(struct pcap_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A field of the file, in the byte order its magic announced. */
static uint32_t rd_u32(const struct pcap_reader *r, const uint8_t *p)
{
	return r->be ? ld_be32(p) : ld_le32(p);
}

static uint16_t rd_u16(const struct pcap_reader *r, const uint8_t *p)
{
	return r->be ? ld_be16(p) : ld_le16(p);
}

/* Makes n bytes available from r->buf + r->pos, reading more as needed.
 * Returns how many are available (fewer than n only at end of file) or
 * -errno. */
static ssize_t rd_fill(struct pcap_reader *r, size_t n)
{
	if (r->len - r->pos >= n || r->eof)
		return (ssize_t)MIN(n, r->len - r->pos);
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	while (r->len < n && !r->eof) {
		ssize_t k = read(r->fd, r->buf + r->len, r->cap - r->len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			snprintf(r->err, sizeof(r->err), "read: %s", strerror(errno));
			return -errno;
		}
		if (k == 0)
			r->eof = 1;
		r->len += (size_t)k;
	}
	return (ssize_t)MIN(n, r->len);
}

/* Reads and checks the file header into r. Returns 0, or -errno with the
 * reason in r->err for -EINVAL. */
static int read_header(struct pcap_reader *r)
{
	uint32_t magic;
	ssize_t got;
	const uint8_t *h;

	got = rd_fill(r, PCAP_FILE_HDR_LEN);
	if (got < 0)
		return (int)got;
	if (got == 0)
		return rd_fail(r, "empty file: no pcap header");
	h = r->buf;
	if (got >= 4) {
		magic = ld_le32(h);
		if (magic == PCAP_MAGIC_USEC || magic == PCAP_MAGIC_NSEC) {
			r->be = 0;
		} else if (ld_be32(h) == PCAP_MAGIC_USEC || ld_be32(h) == PCAP_MAGIC_NSEC) {
			r->be = 1;
			magic = ld_be32(h);
		} else if (magic == PCAPNG_MAGIC) {
			return rd_fail(r, "pcapng is not supported (editcap -F pcap converts it)");
		} else {
			return rd_fail(r, "not a pcap file: bad magic 0x%02x%02x%02x%02x",
				       h[0], h[1], h[2], h[3]);
		}
		r->nsec = magic == PCAP_MAGIC_NSEC;
	}
	if (got < (ssize_t)PCAP_FILE_HDR_LEN)
		return rd_fail(r, "truncated file header: %zd of %u bytes", got, PCAP_FILE_HDR_LEN);
	r->ver_major = rd_u16(r, h + 4);
	r->ver_minor = rd_u16(r, h + 6);
	r->snaplen = rd_u32(r, h + 16);
	r->linktype = rd_u32(r, h + 20) & 0x0fffffffu; /* upper bits: FCS info */
	if (r->ver_major != 2)
		return rd_fail(r, "unsupported pcap version %u.%u", r->ver_major, r->ver_minor);
	r->pos = PCAP_FILE_HDR_LEN;
	return 0;
}

int pcap_reader_open(struct pcap_reader *r, int fd)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cap = 2 * (PCAP_REC_HDR_LEN + PCAP_SNAPLEN_MAX);
	r->buf = malloc(r->cap);
	if (!r->buf) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -ENOMEM;
	}
	err = read_header(r);
	if (err)
		pcap_reader_close(r);
	return err;
}

int pcap_reader_next(struct pcap_reader *r, struct pcap_frame *f)
{
	uint64_t n = r->frames + 1;
	uint32_t sec, frac, caplen, wirelen;
	const uint8_t *h;
	ssize_t got = rd_fill(r, PCAP_REC_HDR_LEN);

	if (got < 0)
		return (int)got;
	if (got == 0)
		return 0;
	if (got < (ssize_t)PCAP_REC_HDR_LEN)
		return rd_fail(r, "frame %llu: truncated record header: %zd of %u bytes",
			       (unsigned long long)n, got, PCAP_REC_HDR_LEN);
	h = r->buf + r->pos;
	sec = rd_u32(r, h);
	frac = rd_u32(r, h + 4);
	caplen = rd_u32(r, h + 8);
	wirelen = rd_u32(r, h + 12);
	if (caplen > PCAP_SNAPLEN_MAX)
		return rd_fail(r, "frame %llu: caplen %u exceeds the %u-byte limit (corrupt record)",
			       (unsigned long long)n, caplen, PCAP_SNAPLEN_MAX);
	if (r->snaplen && caplen > r->snaplen)
		return rd_fail(r, "frame %llu: caplen %u exceeds the file's snaplen %u",
			       (unsigned long long)n, caplen, r->snaplen);
	if (caplen > wirelen)
		return rd_fail(r, "frame %llu: caplen %u exceeds the wire length %u",
			       (unsigned long long)n, caplen, wirelen);
	if (frac >= (r->nsec ? 1000000000u : 1000000u))
		return rd_fail(r, "frame %llu: timestamp fraction %u out of range",
			       (unsigned long long)n, frac);
	got = rd_fill(r, PCAP_REC_HDR_LEN + (size_t)caplen);
	if (got < 0)
		return (int)got;
	if (got < (ssize_t)(PCAP_REC_HDR_LEN + caplen))
		return rd_fail(r, "frame %llu: truncated: caplen %u but only %zd bytes left",
			       (unsigned long long)n, caplen, got - (ssize_t)PCAP_REC_HDR_LEN);
	f->number = n;
	f->ts_ns = (uint64_t)sec * 1000000000u + (r->nsec ? frac : (uint64_t)frac * 1000u);
	f->caplen = caplen;
	f->wirelen = wirelen;
	f->data = r->buf + r->pos + PCAP_REC_HDR_LEN;
	r->pos += PCAP_REC_HDR_LEN + caplen;
	r->frames = n;
	return 1;
}

void pcap_reader_close(struct pcap_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}
