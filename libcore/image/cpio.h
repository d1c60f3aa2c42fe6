/* The cpio "newc" format (magic 070701) that the Linux kernel unpacks as
 * its initramfs: a writer that streams entries to a sink, and a reader that
 * walks an archive held in memory (newc, and its "crc" variant 070702,
 * whose data checksums it verifies). The reader trusts nothing: every field
 * is checked against the buffer, and names that could escape an extraction
 * directory are reported by cpio_name_is_safe(). */
#ifndef VOIDBOX_CPIO_H
#define VOIDBOX_CPIO_H

#include <stddef.h>
#include <stdint.h>

#define CPIO_TRAILER "TRAILER!!!"
#define CPIO_MAX_NAME 4096

struct cpio_entry {
	const char *name;    /* "bin/voidbox": no leading '/' */
	uint32_t ino;
	uint32_t mode;       /* S_IFxxx | permission bits */
	uint32_t uid, gid;
	uint32_t nlink;
	uint32_t mtime;
	uint32_t size;       /* bytes of data that follow the header */
	uint32_t dev_major, dev_minor;
	uint32_t rdev_major, rdev_minor; /* for device nodes */
};

/* Receives the archive's bytes in order. Returns 0 or -errno. */
typedef int (*cpio_sink)(void *ctx, const void *buf, size_t len);

struct cpio_writer {
	cpio_sink sink;
	void *ctx;
	uint64_t off;        /* bytes written so far (for padding) */
	uint64_t left;       /* data bytes still owed by the current entry */
};

void cpio_writer_init(struct cpio_writer *w, cpio_sink sink, void *ctx);
/* Writes e's header; e->size bytes of data must follow through
 * cpio_write_data(). Returns 0, -ENAMETOOLONG, -EINVAL (data still owed
 * by the previous entry) or the sink's error. */
int cpio_write_header(struct cpio_writer *w, const struct cpio_entry *e);
/* Writes part of the current entry's data; pads after its last byte.
 * Returns 0, -EOVERFLOW (more than the header announced) or the sink's error. */
int cpio_write_data(struct cpio_writer *w, const void *buf, size_t len);
/* Writes the TRAILER!!! entry. Returns 0 or -errno. */
int cpio_write_trailer(struct cpio_writer *w);

struct cpio_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
	unsigned count;      /* entries read so far */
};

void cpio_reader_init(struct cpio_reader *r, const uint8_t *buf, size_t len);
/* Reads the next entry: fills *e (e->name points into the buffer) and
 * *data (e->size bytes). Returns 1 for an entry, 0 at the trailer,
 * -EBADMSG for a damaged or truncated archive with a reason in err. */
int cpio_next(struct cpio_reader *r, struct cpio_entry *e, const uint8_t **data,
	      char *err, size_t errlen);

/* Returns 1 when name is a relative path that stays inside the directory it
 * is extracted to (no "..", no leading '/', no empty name), else 0. */
int cpio_name_is_safe(const char *name);

#endif
