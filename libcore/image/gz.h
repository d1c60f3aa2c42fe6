/* gzip through zlib: a streaming compressor that writes a gzip member to a
 * file descriptor (used as the cpio writer's sink), and a whole-buffer
 * decompressor for reading images back. The gzip header carries no name
 * and mtime 0, so the same input always gives the same bytes. */
#ifndef VOIDBOX_GZ_H
#define VOIDBOX_GZ_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

struct gz_writer {
	z_stream zs;
	int fd;
	int level;           /* 0: no gzip at all, bytes pass straight to fd */
	int open;
	uint8_t out[65536];
};

/* Starts a gzip stream on fd at level 1..9, or a plain pass-through at
 * level 0. Returns 0 or -ENOMEM/-EINVAL. */
int gz_writer_init(struct gz_writer *g, int fd, int level);
/* Compresses and writes len bytes (matches cpio_sink). Returns 0 or -errno. */
int gz_write(void *g, const void *buf, size_t len);
/* Ends the stream (gzip trailer) and frees zlib's state. Returns 0 or -errno. */
int gz_finish(struct gz_writer *g);
/* Frees the stream without finishing it (after an error). */
void gz_abort(struct gz_writer *g);

/* Returns 1 when buf starts with the gzip magic 1f 8b. */
int gz_is_gzip(const uint8_t *buf, size_t len);
/* Inflates every gzip member in in[0..len) into a malloc'd buffer of at
 * most max bytes. Returns 0, -EBADMSG (corrupt or truncated, reason in
 * err), -EFBIG or -ENOMEM. */
int gz_inflate_all(const uint8_t *in, size_t len, size_t max, uint8_t **out,
		   size_t *outlen, char *err, size_t errlen);

#endif
