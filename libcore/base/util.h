/* Small helpers every part of voidbox uses: full reads and writes that retry
 * on EINTR and short transfers, number and size parsing, and the one error
 * printer applets use ("voidbox APPLET: what: why"). Functions return 0 or a
 * result on success and -errno on failure; nothing here exits. */
#ifndef VOIDBOX_UTIL_H
#define VOIDBOX_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Writes all of buf. Returns 0 or -errno. */
int write_full(int fd, const void *buf, size_t len);
/* Reads exactly len bytes. Returns len, fewer at EOF, or -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* Reads a whole file into a malloc'd buffer (NUL-terminated beyond *len).
 * Returns 0 or -errno; -EFBIG beyond max bytes. */
int read_file(const char *path, size_t max, uint8_t **out, size_t *len);
/* Maps a whole regular, non-empty file read-only and private, so that its
 * pages stay the page cache's rather than a copy in our heap. Returns 0 or
 * -errno; -EINVAL for an empty or non-regular file, -EFBIG beyond max. */
int map_file(const char *path, size_t max, void **out, size_t *len);
/* Parses "512", "64K", "512M", "2G" (binary units). Returns 0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);
/* Parses an unsigned decimal in [min, max]. Returns 0 or -EINVAL/-ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Prints "voidbox APPLET: what: strerror(-err)" (or without ": why" when
 * err == 0) to stderr. Returns nothing. */
void vb_err(const char *applet, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds 1 to the eventfd fd (nothing when fd < 0). Returns 0 or -errno; a
 * failure means the counter is saturated, i.e. the reader is woken anyway,
 * so callers that only want to wake someone may ignore it. */
int eventfd_poke(int fd);
/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

#endif
