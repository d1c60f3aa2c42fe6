/* cpio newc writer and reader; see image/cpio.h. A newc header is the magic
 * "070701", thirteen 8-digit hex fields and the name (NUL included), padded
 * to 4 bytes; the data follows, padded to 4 bytes again. */
#include "image/cpio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define HDR_LEN 110

static const uint8_t zeros[512];

void cpio_writer_init(struct cpio_writer *w, cpio_sink sink, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->sink = sink;
	w->ctx = ctx;
}

/* Sends len bytes to the sink and counts them. */
static int w_put(struct cpio_writer *w, const void *buf, size_t len)
{
	int err = len ? w->sink(w->ctx, buf, len) : 0;

	if (!err)
		w->off += len;
	return err;
}

/* Pads the output to a multiple of 4 bytes. */
static int w_pad(struct cpio_writer *w)
{
	return w_put(w, zeros, (4 - (w->off & 3)) & 3);
}

int cpio_write_header(struct cpio_writer *w, const struct cpio_entry *e)
{
	char hdr[HDR_LEN + 1];
	size_t nlen = strlen(e->name) + 1;
	int err;

	if (w->left)
		return -EINVAL;
	if (nlen > CPIO_MAX_NAME)
		return -ENAMETOOLONG;
	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X",
		 e->ino, e->mode, e->uid, e->gid, e->nlink, e->mtime, e->size,
		 e->dev_major, e->dev_minor, e->rdev_major, e->rdev_minor, nlen, 0u);
	if ((err = w_put(w, hdr, HDR_LEN)) || (err = w_put(w, e->name, nlen)) ||
	    (err = w_pad(w)))
		return err;
	w->left = e->size;
	return 0;
}

int cpio_write_data(struct cpio_writer *w, const void *buf, size_t len)
{
	int err;

	if (len > w->left)
		return -EOVERFLOW;
	if ((err = w_put(w, buf, len)))
		return err;
	w->left -= len;
	return w->left ? 0 : w_pad(w);
}

int cpio_write_trailer(struct cpio_writer *w)
{
	struct cpio_entry e = { .name = CPIO_TRAILER, .nlink = 1 };
	int err = cpio_write_header(w, &e);

	/* The kernel and GNU cpio accept any length; pad to 512 as cpio(1) does. */
	if (!err)
		err = w_put(w, zeros, (512 - (w->off & 511)) & 511);
	return err;
}

void cpio_reader_init(struct cpio_reader *r, const uint8_t *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
}

/* Parses 8 hex digits at p into *v. Returns 0 or -1. */
static int hex8(const uint8_t *p, uint32_t *v)
{
	uint32_t x = 0;

	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		x = x << 4 | (uint32_t)d;
	}
	*v = x;
	return 0;
}

/* Fails the read at the current entry with a reason. */
static int r_bad(struct cpio_reader *r, char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "entry %u at offset %zu: %s", r->count + 1, r->off, why);
	return -EBADMSG;
}

static size_t pad4(size_t x) { return (x + 3) & ~(size_t)3; }

int cpio_next(struct cpio_reader *r, struct cpio_entry *e, const uint8_t **data,
	      char *err, size_t errlen)
{
	const uint8_t *h = r->buf + r->off;
	uint32_t f[13];
	size_t name_end, data_end;

	memset(e, 0, sizeof(*e));
	*data = NULL;
	if (r->off >= r->len)
		return r_bad(r, err, errlen, "archive ends without a TRAILER!!! entry");
	if (r->len - r->off < HDR_LEN)
		return r_bad(r, err, errlen, "truncated header");
	if (memcmp(h, "070701", 6) && memcmp(h, "070702", 6))
		return r_bad(r, err, errlen, "bad magic (not a cpio newc archive)");
	for (int i = 0; i < 13; i++)
		if (hex8(h + 6 + 8 * i, &f[i]))
			return r_bad(r, err, errlen, "header field is not hexadecimal");
	e->ino = f[0];
	e->mode = f[1];
	e->uid = f[2];
	e->gid = f[3];
	e->nlink = f[4];
	e->mtime = f[5];
	e->size = f[6];
	e->dev_major = f[7];
	e->dev_minor = f[8];
	e->rdev_major = f[9];
	e->rdev_minor = f[10];
	if (f[11] == 0 || f[11] > CPIO_MAX_NAME)
		return r_bad(r, err, errlen, "bad name length");
	if (r->len - r->off - HDR_LEN < f[11])
		return r_bad(r, err, errlen, "truncated name");
	if (h[HDR_LEN + f[11] - 1] != 0 || memchr(h + HDR_LEN, 0, f[11] - 1))
		return r_bad(r, err, errlen, "name is not NUL-terminated");
	e->name = (const char *)h + HDR_LEN;
	name_end = pad4(r->off + HDR_LEN + f[11]);
	if (!strcmp(e->name, CPIO_TRAILER)) {
		r->off = name_end < r->len ? name_end : r->len;
		return 0;
	}
	if (name_end > r->len || r->len - name_end < e->size)
		return r_bad(r, err, errlen, "truncated data");
	data_end = name_end + e->size;
	*data = r->buf + name_end;
	if (h[5] == '2' && S_ISREG(e->mode)) {
		/* "crc" format: a regular file's check field sums its bytes */
		uint32_t sum = 0;

		for (uint32_t i = 0; i < e->size; i++)
			sum += (*data)[i];
		if (sum != f[12])
			return r_bad(r, err, errlen, "data checksum mismatch (070702)");
	}
	r->off = pad4(data_end);
	if (r->off > r->len)
		r->off = r->len;
	r->count++;
	return 1;
}

int cpio_name_is_safe(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		while (*p == '/')
			p++;
	}
	return 1;
}
