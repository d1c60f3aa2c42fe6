/* The host<->agent wire format (docs/protocol.md), shared by the client in
 * `voidbox run` and the agent's command server. A connection carries one
 * command: the host sends EXEC, then STDIN/SIGNAL/RESIZE frames; the agent
 * answers STARTED, then STDOUT/STDERR frames and finally EXIT (or ERROR).
 * Every frame is an 8-byte little-endian header {u32 len, u16 type, u16 flags}
 * and len payload bytes. Frames are parsed from untrusted bytes: a bad type,
 * an oversized length or a malformed EXEC is an error, never a crash.
 * Nothing here allocates after proto_rx_init()/proto_tx_init(). */
#ifndef VOIDBOX_PROTO_H
#define VOIDBOX_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/bytes.h" /* payload fields: ld_le16/ld_le32, st_le16/st_le32 */

#define PROTO_VERSION 1
#define PROTO_VSOCK_PORT 1024        /* the agent listens here */
#define PROTO_HDR_LEN 8
#define PROTO_MAX_EXEC (1u << 20)    /* largest EXEC payload */
#define PROTO_MAX_DATA (64u << 10)   /* largest STDIN/STDOUT/STDERR payload */
#define PROTO_MAX_STRINGS 8192       /* argv + env entries in one EXEC */
#define PROTO_MAX_FRAME PROTO_MAX_EXEC
/* What the agent prints on the console once it listens (then the port). */
#define AGENT_LISTEN_LINE "voidbox-agent: listening on vsock port"

enum proto_type {
	/* host -> agent */
	PT_EXEC = 1,      /* struct proto_exec, see proto_exec_encode() */
	PT_STDIN = 2,     /* bytes; empty payload = end of input */
	PT_SIGNAL = 3,    /* u32 signal number, sent to the command's process group */
	PT_RESIZE = 4,    /* u16 rows, u16 cols (pty only) */
	PT_POWEROFF = 5,  /* empty: power the VM off (agent --listen: stop serving) */
	/* agent -> host */
	PT_STARTED = 16,  /* u32 pid of the command in the guest */
	PT_STDOUT = 17,   /* bytes; empty payload = end of that stream */
	PT_STDERR = 18,
	PT_EXIT = 19,     /* u32 exit code (0-255), u32 signal (0 if it exited) */
	PT_ERROR = 20,    /* u32 code (125 setup, 126 cannot execute, 127 not found), text */
};

/* EXEC flags */
#define PROTO_EXEC_PTY 1u           /* run on a pty (stdout carries both streams) */
#define PROTO_EXEC_POWEROFF 2u      /* power off once this command ended and the host closed */

struct proto_exec {
	uint16_t version;
	uint16_t flags;
	uint32_t uid, gid;
	uint16_t rows, cols;        /* initial pty size (pty only) */
	const char *workdir;        /* "" = the user's home */
	uint32_t argc, envc;
	char **argv;                /* argc entries, then NULL */
	char **envp;                /* envc entries ("K=V"), then NULL */
};

/* Writes a frame header for (type, len) into p[PROTO_HDR_LEN]. */
void proto_put_hdr(uint8_t *p, uint16_t type, uint32_t len);
/* Largest payload a frame of this type may carry (0 for unknown types). */
uint32_t proto_max_payload(uint16_t type);

/* Encodes an EXEC payload into buf. Returns its length or -EMSGSIZE. */
int proto_exec_encode(const struct proto_exec *e, uint8_t *buf, size_t cap);
/* Decodes an EXEC payload in place (strings point into p, which must stay
 * alive). vec holds argv + env pointers (vec_cap entries incl. two NULLs).
 * Returns 0 or -EPROTO (malformed), -EPROTONOSUPPORT (version), -E2BIG. */
int proto_exec_decode(uint8_t *p, uint32_t len, struct proto_exec *e, char **vec, size_t vec_cap);

/* Incremental frame receiver over one buffer. */
struct proto_rx {
	uint8_t *buf;
	size_t cap;
	size_t off, end;   /* unparsed bytes are buf[off, end) */
};
struct proto_msg {
	uint16_t type, flags;
	uint32_t len;
	uint8_t *data;     /* valid until the next proto_rx_fill() */
};
/* Allocates a buffer for frames up to max_payload. Returns 0 or -ENOMEM. */
int proto_rx_init(struct proto_rx *rx, uint32_t max_payload);
void proto_rx_free(struct proto_rx *rx);
/* Reads what fd has (non-blocking). Returns bytes read, 0 at EOF, -EAGAIN
 * when nothing is there or the buffer is full, or -errno. */
/* Whether unparsed bytes are buffered. */
static inline bool proto_rx_pending(const struct proto_rx *rx)
{
	return rx->end > rx->off;
}
ssize_t proto_rx_fill(struct proto_rx *rx, int fd);
/* Takes the next whole frame. Returns 1 (m filled), 0 (need more bytes),
 * -EPROTO (unknown type) or -EMSGSIZE (length over the type's limit). */
int proto_rx_next(struct proto_rx *rx, struct proto_msg *m);

/* Outgoing byte queue (a ring-less FIFO compacted on flush). */
struct proto_tx {
	uint8_t *buf;
	size_t cap, off, len;  /* pending bytes are buf[off, off+len) */
};
int proto_tx_init(struct proto_tx *tx, size_t cap);
void proto_tx_free(struct proto_tx *tx);
/* Free room for one more frame's bytes. */
size_t proto_tx_room(const struct proto_tx *tx);
/* Queues a frame. Returns 0 or -ENOBUFS (the caller checks room first). */
int proto_tx_frame(struct proto_tx *tx, uint16_t type, const void *data, uint32_t len);
/* Queues a frame whose payload is two u32 values (EXIT, SIGNAL...). */
int proto_tx_u32s(struct proto_tx *tx, uint16_t type, uint32_t a, uint32_t b, unsigned n);
/* Writes what is pending (non-blocking, MSG_NOSIGNAL where fd is a socket).
 * Returns 0 (all written), -EAGAIN (some left) or -errno. */
int proto_tx_flush(struct proto_tx *tx, int fd);

#endif
