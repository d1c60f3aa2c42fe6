/* Frame encoding and decoding for the host<->agent protocol; see
 * proto/proto.h and docs/protocol.md. EXEC payload layout (little-endian):
 *   u16 version, u16 flags, u32 uid, u32 gid, u16 rows, u16 cols,
 *   u32 argc, u32 envc, then argc+envc+1 NUL-terminated strings:
 *   workdir, argv[0..argc), env[0..envc). Nothing may follow the last NUL. */
#include "proto/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXEC_FIXED 24

void proto_put_hdr(uint8_t *p, uint16_t type, uint32_t len)
{
	st_le32(p, len);
	st_le16(p + 4, type);
	st_le16(p + 6, 0);
}

uint32_t proto_max_payload(uint16_t type)
{
	switch (type) {
	case PT_EXEC:
		return PROTO_MAX_EXEC;
	case PT_STDIN: case PT_STDOUT: case PT_STDERR:
		return PROTO_MAX_DATA;
	case PT_SIGNAL: case PT_STARTED:
		return 4;
	case PT_RESIZE:
		return 4;
	case PT_POWEROFF:
		return 0;
	case PT_EXIT:
		return 8;
	case PT_ERROR:
		return 4 + 1024;
	default:
		return 0;
	}
}

static bool type_known(uint16_t t)
{
	return (t >= PT_EXEC && t <= PT_POWEROFF) || (t >= PT_STARTED && t <= PT_ERROR);
}

/* Appends s with its NUL at *off. Returns 0 or -EMSGSIZE. */
static int put_str(uint8_t *buf, size_t cap, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > cap - *off)
		return -EMSGSIZE;
	memcpy(buf + *off, s, n);
	*off += n;
	return 0;
}

int proto_exec_encode(const struct proto_exec *e, uint8_t *buf, size_t cap)
{
	size_t off = EXEC_FIXED;

	if (cap > PROTO_MAX_EXEC)
		cap = PROTO_MAX_EXEC;
	if (cap < EXEC_FIXED || e->argc + (uint64_t)e->envc > PROTO_MAX_STRINGS)
		return -EMSGSIZE;
	st_le16(buf, e->version);
	st_le16(buf + 2, e->flags);
	st_le32(buf + 4, e->uid);
	st_le32(buf + 8, e->gid);
	st_le16(buf + 12, e->rows);
	st_le16(buf + 14, e->cols);
	st_le32(buf + 16, e->argc);
	st_le32(buf + 20, e->envc);
	if (put_str(buf, cap, &off, e->workdir ? e->workdir : ""))
		return -EMSGSIZE;
	for (uint32_t i = 0; i < e->argc; i++)
		if (put_str(buf, cap, &off, e->argv[i]))
			return -EMSGSIZE;
	for (uint32_t i = 0; i < e->envc; i++)
		if (put_str(buf, cap, &off, e->envp[i]))
			return -EMSGSIZE;
	return (int)off;
}

int proto_exec_decode(uint8_t *p, uint32_t len, struct proto_exec *e, char **vec, size_t vec_cap)
{
	uint64_t want;
	uint32_t off = EXEC_FIXED, n = 0;

	if (len < EXEC_FIXED + 1 || len > PROTO_MAX_EXEC)
		return -EPROTO;
	e->version = ld_le16(p);
	if (e->version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	e->flags = ld_le16(p + 2);
	e->uid = ld_le32(p + 4);
	e->gid = ld_le32(p + 8);
	e->rows = ld_le16(p + 12);
	e->cols = ld_le16(p + 14);
	e->argc = ld_le32(p + 16);
	e->envc = ld_le32(p + 20);
	if (e->flags & ~(PROTO_EXEC_PTY | PROTO_EXEC_POWEROFF))
		return -EPROTO;
	want = (uint64_t)e->argc + e->envc;
	if (e->argc < 1 || want > PROTO_MAX_STRINGS)
		return -EPROTO;
	if (want + 2 > vec_cap)
		return -E2BIG;
	if (p[len - 1] != 0)
		return -EPROTO;
	/* Walk exactly 1 + argc + envc strings; they must end at len. */
	for (uint64_t i = 0; i < want + 1; i++) {
		uint8_t *z;
		if (off >= len)
			return -EPROTO;
		z = memchr(p + off, 0, len - off);
		if (!z)
			return -EPROTO;
		if (i == 0)
			e->workdir = (char *)p + off;
		else
			vec[n++] = (char *)p + off;
		off = (uint32_t)(z - p) + 1;
	}
	if (off != len)
		return -EPROTO;
	/* argv = vec[0..argc) NULL, env follows after its own NULL. */
	memmove(vec + e->argc + 1, vec + e->argc, e->envc * sizeof(*vec));
	vec[e->argc] = NULL;
	vec[e->argc + 1 + e->envc] = NULL;
	e->argv = vec;
	e->envp = vec + e->argc + 1;
	for (uint32_t i = 0; i < e->envc; i++)
		if (!strchr(e->envp[i], '=') || e->envp[i][0] == '=')
			return -EPROTO;
	if (!e->argv[0][0])
		return -EPROTO;
	return 0;
}

int proto_rx_init(struct proto_rx *rx, uint32_t max_payload)
{
	rx->cap = (size_t)max_payload + PROTO_HDR_LEN;
	rx->off = rx->end = 0;
	rx->buf = malloc(rx->cap);
	return rx->buf ? 0 : -ENOMEM;
}

void proto_rx_free(struct proto_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
}

ssize_t proto_rx_fill(struct proto_rx *rx, int fd)
{
	ssize_t r;

	if (rx->off && rx->end == rx->cap) {
		memmove(rx->buf, rx->buf + rx->off, rx->end - rx->off);
		rx->end -= rx->off;
		rx->off = 0;
	} else if (rx->off == rx->end) {
		rx->off = rx->end = 0;
	}
	if (rx->end == rx->cap)
		return -EAGAIN;
	r = read(fd, rx->buf + rx->end, rx->cap - rx->end);
	if (r < 0)
		return -errno;
	rx->end += (size_t)r;
	return r;
}

int proto_rx_next(struct proto_rx *rx, struct proto_msg *m)
{
	uint8_t *p = rx->buf + rx->off;
	size_t have = rx->end - rx->off;
	uint32_t len;

	if (have < PROTO_HDR_LEN)
		return 0;
	len = ld_le32(p);
	m->type = ld_le16(p + 4);
	m->flags = ld_le16(p + 6);
	if (!type_known(m->type))
		return -EPROTO;
	if (len > proto_max_payload(m->type) || len > rx->cap - PROTO_HDR_LEN)
		return -EMSGSIZE;
	if (have - PROTO_HDR_LEN < len)
		return 0;
	m->len = len;
	m->data = p + PROTO_HDR_LEN;
	rx->off += PROTO_HDR_LEN + len;
	return 1;
}

int proto_tx_init(struct proto_tx *tx, size_t cap)
{
	tx->cap = cap;
	tx->off = tx->len = 0;
	tx->buf = malloc(cap);
	return tx->buf ? 0 : -ENOMEM;
}

void proto_tx_free(struct proto_tx *tx)
{
	free(tx->buf);
	tx->buf = NULL;
}

size_t proto_tx_room(const struct proto_tx *tx)
{
	return tx->cap - tx->len;
}

int proto_tx_frame(struct proto_tx *tx, uint16_t type, const void *data, uint32_t len)
{
	if ((size_t)len + PROTO_HDR_LEN > proto_tx_room(tx))
		return -ENOBUFS;
	if (tx->off + tx->len + PROTO_HDR_LEN + len > tx->cap) {
		memmove(tx->buf, tx->buf + tx->off, tx->len);
		tx->off = 0;
	}
	proto_put_hdr(tx->buf + tx->off + tx->len, type, len);
	if (len)
		memcpy(tx->buf + tx->off + tx->len + PROTO_HDR_LEN, data, len);
	tx->len += PROTO_HDR_LEN + len;
	return 0;
}

int proto_tx_u32s(struct proto_tx *tx, uint16_t type, uint32_t a, uint32_t b, unsigned n)
{
	uint8_t p[8];

	st_le32(p, a);
	st_le32(p + 4, b);
	return proto_tx_frame(tx, type, p, n * 4);
}

int proto_tx_flush(struct proto_tx *tx, int fd)
{
	while (tx->len) {
		ssize_t w = send(fd, tx->buf + tx->off, tx->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, tx->buf + tx->off, tx->len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		tx->off += (size_t)w;
		tx->len -= (size_t)w;
	}
	tx->off = 0;
	return 0;
}
