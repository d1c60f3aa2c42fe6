/* The pcap writer (see pcap/writer.h): a file header, then per frame a
 * 16-byte record header and the captured bytes, all gathered in the
 * writer's own buffer and written with write_full() when it fills. */
#include "pcap/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

/* Record and file headers, in host byte order (the magic tells readers). */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec, ts_frac, caplen, len;
};

_Static_assert(sizeof(struct pcap_file_hdr) == PCAP_FILE_HDR_LEN, "file header layout");
_Static_assert(sizeof(struct pcap_rec_hdr) == PCAP_REC_HDR_LEN, "record header layout");

uint64_t pcap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pcap_writer_flush(struct pcap_writer *w)
{
	int err;

	if (w->err)
		return w->err;
	if (!w->used)
		return 0;
	err = write_full(w->fd, w->buf, w->used);
	w->used = 0;
	if (err)
		w->err = err;
	return err;
}

/* Appends n bytes to the buffer, flushing whenever it fills. Returns 0 or
 * the write error. */
static int writer_put(struct pcap_writer *w, const void *p, size_t n)
{
	const uint8_t *s = p;

	while (n) {
		size_t room = sizeof(w->buf) - w->used, k = MIN(room, n);
		int err;

		memcpy(w->buf + w->used, s, k);
		w->used += k;
		s += k;
		n -= k;
		if (w->used == sizeof(w->buf) && (err = pcap_writer_flush(w)))
			return err;
	}
	return 0;
}

int pcap_writer_init_fd(struct pcap_writer *w, int fd, uint32_t snaplen, enum pcap_tsres res)
{
	return pcap_writer_init_fd_link(w, fd, snaplen, res, PCAP_LINKTYPE_ETHERNET);
}

int pcap_writer_init_fd_link(struct pcap_writer *w, int fd, uint32_t snaplen, enum pcap_tsres res,
			     uint32_t linktype)
{
	struct pcap_file_hdr h;

	if (snaplen == 0)
		snaplen = PCAP_SNAPLEN_DEFAULT;
	if (snaplen > PCAP_SNAPLEN_MAX || (res != PCAP_TS_USEC && res != PCAP_TS_NSEC) || fd < 0)
		return -EINVAL;
	w->fd = fd;
	w->own_fd = 0;
	w->err = 0;
	w->res = res;
	w->snaplen = snaplen;
	w->used = 0;
	w->frames = w->bytes = w->truncated = w->dropped = 0;
	h = (struct pcap_file_hdr){
		.magic = res == PCAP_TS_NSEC ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC,
		.version_major = 2,
		.version_minor = 4,
		.snaplen = snaplen,
		.linktype = linktype,
	};
	writer_put(w, &h, sizeof(h));
	return pcap_writer_flush(w);
}

int pcap_writer_open(struct pcap_writer *w, const char *path, uint32_t snaplen,
		     enum pcap_tsres res)
{
	int fd, err;

	if (snaplen > PCAP_SNAPLEN_MAX || (res != PCAP_TS_USEC && res != PCAP_TS_NSEC))
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	err = pcap_writer_init_fd(w, fd, snaplen, res);
	if (err) {
		close(fd);
		return err;
	}
	w->own_fd = 1;
	return 0;
}

/* Appends the record of a frame whose bytes are iov[0..iovcnt) and whose
 * wire length is *wirelen (NULL: the bytes' length). Returns 0 or -errno. */
static int writer_record(struct pcap_writer *w, uint64_t ts_ns, const struct iovec *iov, int iovcnt,
			 const uint32_t *wirelen)
{
	struct pcap_rec_hdr h;
	size_t len = 0, left;
	int err;

	if (w->err) {
		w->dropped++;
		return w->err;
	}
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	h.ts_sec = (uint32_t)(ts_ns / 1000000000u);
	h.ts_frac = (uint32_t)(ts_ns % 1000000000u);
	if (w->res == PCAP_TS_USEC)
		h.ts_frac /= 1000u;
	h.len = wirelen ? *wirelen : len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	h.caplen = (uint32_t)MIN(len, (size_t)w->snaplen);
	if (h.caplen < len)
		w->truncated++;
	err = writer_put(w, &h, sizeof(h));
	left = h.caplen;
	for (int i = 0; i < iovcnt && left && !err; i++) {
		size_t k = MIN(iov[i].iov_len, left);

		err = writer_put(w, iov[i].iov_base, k);
		left -= k;
	}
	if (err) {
		w->dropped++;
		return err;
	}
	w->frames++;
	w->bytes += h.caplen;
	return 0;
}

int pcap_writer_writev(struct pcap_writer *w, uint64_t ts_ns, const struct iovec *iov,
		       int iovcnt)
{
	return writer_record(w, ts_ns, iov, iovcnt, NULL);
}

int pcap_writer_write(struct pcap_writer *w, uint64_t ts_ns, const void *frame, size_t len)
{
	struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };

	return writer_record(w, ts_ns, &iov, 1, NULL);
}

int pcap_writer_write_captured(struct pcap_writer *w, uint64_t ts_ns, const void *data,
			       uint32_t caplen, uint32_t wirelen)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = caplen };

	if (wirelen < caplen)
		return -EINVAL;
	return writer_record(w, ts_ns, &iov, 1, &wirelen);
}

int pcap_writer_close(struct pcap_writer *w)
{
	int err = pcap_writer_flush(w);

	if (w->own_fd && close(w->fd) < 0 && !err)
		err = -errno;
	w->fd = -1;
	w->own_fd = 0;
	w->used = 0;
	return err ? err : w->err;
}
