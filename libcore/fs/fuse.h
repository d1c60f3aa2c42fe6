/* FUSE requests against a share: the wire format of <linux/fuse.h> as the
 * guest's virtio-fs driver sends it, checked, dispatched to one handler per
 * operation (fs/ops_node.c, fs/ops_file.c) and answered. The transport
 * (fs/dev.c) copies the request's header and arguments out of guest
 * memory into a struct fs_req and lends the guest memory that bulk data
 * lives in: WRITE's payload and the room after the reply header, where
 * READ's data lands directly (no copy through voidbox). Every length is
 * checked against what the guest really supplied before it is used; an
 * operation whose reply would not fit is refused before it has any effect.
 * Limits, each a clear error to the guest: names FS_NAME_MAX
 * (ENAMETOOLONG), symlink targets FS_SYMLINK_MAX, reads and writes
 * FS_MAX_IO, directory listings FS_REPLY_MAX per request, the inode and
 * handle tables (ENFILE), requests other than WRITE FS_REQ_MAX bytes
 * (EINVAL). The protocol needs minor version FS_MIN_MINOR (Linux 5.4). */
#ifndef VOIDBOX_FS_FUSE_H
#define VOIDBOX_FS_FUSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/fuse.h>

#include "fs/share.h"

#define FS_REQ_MAX 8192            /* request bytes copied (all but WRITE data) */
#define FS_REPLY_MAX 65536         /* reply body built in scratch (all but READ data) */
#define FS_MAX_PAGES 32            /* pages per READ/WRITE: a chain stays < VQ_MAX_SEGS */
#define FS_MAX_IO (FS_MAX_PAGES * 4096)
#define FS_MIN_MINOR 31
#define FS_IOV_MAX 64              /* guest buffers per request and direction */
#define FS_WRITE_HDR (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
#define FS_OUT_HDR ((uint32_t)sizeof(struct fuse_out_header))

/* One request, as the transport hands it over. */
struct fs_req {
	struct fuse_in_header h;
	const uint8_t *arg;          /* the arguments after the header (a copy) */
	uint32_t arg_len;            /* bytes at arg */
	uint32_t total_len;          /* bytes the guest sent, header included */
	const struct iovec *wdata;   /* guest memory after header + fuse_write_in */
	unsigned n_wdata;
	const struct iovec *rdata;   /* guest memory after the reply header */
	unsigned n_rdata;
	uint32_t rdata_len;          /* bytes of it */
	bool can_reply;              /* the guest left room for a reply header */
	uint8_t *out;                /* scratch for the reply body, FS_REPLY_MAX */
	/* set by the handler */
	bool direct;                 /* the body is in rdata already (READ) */
	bool noreply;                /* answer nothing (FORGET, INTERRUPT, ...) */
};

/* The FUSE session of one share. */
struct fs_fuse {
	struct fs_share *s;
	bool inited;                 /* INIT answered */
	uint32_t minor;              /* negotiated minor version */
};

/* Answers one request. Returns the reply body's length (>= 0) or -errno
 * for an error reply; r->noreply says to answer nothing at all. */
int fs_fuse_request(struct fs_fuse *f, struct fs_req *r);
/* Forgets the session: the next request must be INIT again. */
void fs_fuse_reset(struct fs_fuse *f);

#endif
