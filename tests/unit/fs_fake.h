/* A fake virtiofs driver for the virtio-fs unit tests: fake guest memory
 * (test_vq_driver.h), both queues laid out in it, the device started as a
 * front end would, and FUSE requests built, posted, kicked and answered
 * the way Linux's virtio_fs does it (header + arguments readable, an
 * optional separate payload descriptor, the reply room device-writable,
 * optionally split into several descriptors). The share is a fresh
 * temporary folder, beside a folder "outside" the share that no request
 * may reach. Included by tests/unit/test_fs_*.c (one global each). */
#ifndef VOIDBOX_TEST_FS_FAKE_H
#define VOIDBOX_TEST_FS_FAKE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "fs/dev.h"
#include "test_vq_driver.h"

#define FX_QN 256
#define FX_GPA 0x100000ULL
#define FX_MEM (8u << 20)
#define FX_REQ_AREA (1u << 20)      /* offsets in fake memory */
#define FX_DATA_AREA (2u << 20)
#define FX_REPLY_AREA (4u << 20)
#define FX_GUEST_UID 1000
#define FX_ACKED (VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC)

static uint8_t fx_mem[FX_MEM] __attribute__((aligned(4096)));

static struct {
	struct fs_dev f;
	bool on;
	struct fake_mem fm;
	struct fake_drv q[FS_NUM_QUEUES];
	int call[FS_NUM_QUEUES];
	char dir[64], share[128], outside[128];
	int fails;
	char why[160];
	uint64_t unique;
	/* the last reply */
	struct fuse_out_header oh;
	uint32_t used_len;
	uint8_t body[FS_REPLY_MAX + FS_MAX_IO];
} X = { .call = { -1, -1 } };

static void fx_on_fail(struct vdev *d, const char *why)
{
	X.fails++;
	snprintf(X.why, sizeof(X.why), "%s", why);
}

static inline struct vdev *fx_dev(void)
{
	return fs_dev_vdev(&X.f);
}

/* Makes the temporary folders (once): DIR/share, DIR/outside/secret. */
static inline void fx_dirs(void)
{
	char p[200];
	int fd;

	if (X.dir[0])
		return;
	snprintf(X.dir, sizeof(X.dir), "/tmp/vb-fs-unit-XXXXXX");
	if (!mkdtemp(X.dir))
		abort();
	snprintf(X.share, sizeof(X.share), "%s/share", X.dir);
	snprintf(X.outside, sizeof(X.outside), "%s/outside", X.dir);
	mkdir(X.share, 0755);
	mkdir(X.outside, 0755);
	snprintf(p, sizeof(p), "%s/secret", X.outside);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "secret\n", 7) != 7)
		abort();
	close(fd);
}

/* Empties the share folder (rm -rf of its content). */
static inline void fx_clean(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* '%s'/.[!.]* 2>/dev/null; chmod 755 '%s'", X.share,
		 X.share, X.share);
	if (system(cmd) < 0)
		abort();
}

/* (Re)starts the device on a fresh, empty share. Returns start()'s result,
 * -100 when the share did not open. */
static inline int fx_boot_cfg(const struct fs_share_cfg *cfg, uint64_t acked)
{
	struct vdev *d = fx_dev();
	char why[200];
	int r;

	fx_dirs();
	if (X.on)
		fs_dev_fini(&X.f);
	X.on = false;
	fx_clean();
	if (fs_dev_init(&X.f, "t0", cfg, why, sizeof(why)))
		return -100;
	X.on = true;
	X.fails = 0;
	X.why[0] = 0;
	fmem_init(&X.fm, fx_mem, FX_GPA, FX_MEM);
	d->on_fail = fx_on_fail;
	d->mem = &X.fm.map;
	d->acked = acked;
	for (unsigned i = 0; i < FS_NUM_QUEUES; i++) {
		if (X.call[i] >= 0)
			close(X.call[i]);
		X.call[i] = eventfd(0, EFD_NONBLOCK);
		fdrv_init(&X.q[i], &X.fm, &d->vq[i], FX_QN);
		d->vq[i].call_fd = X.call[i];
		d->vq[i].kick_fd = -1;
		d->vq[i].last_avail = d->vq[i].used_idx = 0;
		if (vq_start(&d->vq[i], &X.fm.map))
			return -101;
	}
	d->started = true;
	r = d->ops->start(d);
	if (r)
		d->started = false;
	return r;
}

static inline int fx_boot(bool ro)
{
	struct fs_share_cfg cfg = { .guest_uid = FX_GUEST_UID, .guest_gid = FX_GUEST_UID, .ro = ro };

	fx_dirs();
	cfg.path = X.share;
	return fx_boot_cfg(&cfg, FX_ACKED);
}

/* How a request is laid out; zero fields take the defaults. */
struct fx_shape {
	unsigned queue;          /* FS_REQUEST_Q unless set with use_queue */
	bool use_queue;
	uint32_t reply_cap;      /* bytes of reply room (default 16 + FS_REPLY_MAX) */
	unsigned reply_split;    /* extra descriptors the room after the header is cut into */
	bool no_reply_room;      /* no writable descriptor at all */
	int32_t len_delta;       /* added to the header's len (lies) */
	uint32_t hdr_only;       /* send only this many header bytes */
};

/* Sends one request: header + arg in one readable descriptor, data (if
 * any) in a second, reply room after. Returns the FUSE error of the
 * reply (0 or -errno), or 1 when the device answered with no reply. */
static inline int fx_send(uint32_t opc, uint64_t nodeid, const void *arg, uint32_t alen,
			  const void *data, uint32_t dlen, const struct fx_shape *sh)
{
	static const struct fx_shape none;
	struct fuse_in_header h = { 0 };
	struct fseg seg[FS_IOV_MAX];
	unsigned n = 0, qi;
	uint8_t *req = fmem_ptr(&X.fm, FX_GPA + FX_REQ_AREA);
	uint32_t cap, id, len;

	if (!sh)
		sh = &none;
	qi = sh->use_queue ? sh->queue : FS_REQUEST_Q;
	cap = sh->reply_cap ? sh->reply_cap : FS_OUT_HDR + FS_REPLY_MAX;
	h.len = (uint32_t)sizeof(h) + alen + dlen + (uint32_t)sh->len_delta;
	h.opcode = opc;
	h.unique = ++X.unique;
	h.nodeid = nodeid;
	h.uid = h.gid = FX_GUEST_UID;
	memcpy(req, &h, sizeof(h));
	if (alen)
		memcpy(req + sizeof(h), arg, alen);
	seg[n++] = (struct fseg){ FX_GPA + FX_REQ_AREA,
				  sh->hdr_only ? sh->hdr_only : (uint32_t)sizeof(h) + alen, 0 };
	if (dlen) {
		memcpy(fmem_ptr(&X.fm, FX_GPA + FX_DATA_AREA), data, dlen);
		seg[n++] = (struct fseg){ FX_GPA + FX_DATA_AREA, dlen, 0 };
	}
	memset(fmem_ptr(&X.fm, FX_GPA + FX_REPLY_AREA), 0xa5, MIN(cap, 64u));
	if (!sh->no_reply_room) {
		uint32_t first = sh->reply_split && cap > FS_OUT_HDR ? FS_OUT_HDR : cap;
		uint32_t left = cap - first, off = first;
		seg[n++] = (struct fseg){ FX_GPA + FX_REPLY_AREA, first, 1 };
		for (unsigned k = 0; k < sh->reply_split && left; k++) {
			uint32_t piece = k + 1 == sh->reply_split ? left : left / (sh->reply_split - k);
			/* leave a gap between pieces: they are not one buffer */
			seg[n++] = (struct fseg){ FX_GPA + FX_REPLY_AREA + off + 64 * (k + 1), piece, 1 };
			off += piece;
			left -= piece;
		}
	}
	fdrv_add(&X.q[qi], seg, n);
	fx_dev()->ops->queue_kick(fx_dev(), qi);
	if (!fdrv_used(&X.q[qi], &id, &len))
		return 2; /* not answered at all */
	X.used_len = len;
	if (len < FS_OUT_HDR)
		return 1;
	memcpy(&X.oh, fmem_ptr(&X.fm, FX_GPA + FX_REPLY_AREA), sizeof(X.oh));
	/* gather the body back across the pieces */
	{
		uint32_t got = 0, want = len - FS_OUT_HDR;
		for (unsigned k = 0; k < n && got < want; k++) {
			if (!seg[k].write)
				continue;
			uint32_t skip = seg[k].gpa == FX_GPA + FX_REPLY_AREA ? FS_OUT_HDR : 0;
			uint32_t take = MIN(seg[k].len - skip, want - got);
			memcpy(X.body + got, fmem_ptr(&X.fm, seg[k].gpa + skip), take);
			got += take;
		}
	}
	return X.oh.error;
}

/* The common case: no payload, default layout. */
static inline int fx(uint32_t opc, uint64_t nodeid, const void *arg, uint32_t alen)
{
	return fx_send(opc, nodeid, arg, alen, NULL, 0, NULL);
}

/* INIT as Linux 6.1 sends it. */
static inline int fx_init(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 37, .max_readahead = 131072,
				   .flags = 0xffffffffu & ~FUSE_INIT_EXT };

	return fx(FUSE_INIT, 0, &in, sizeof(in));
}

/* Arguments: a fixed struct followed by one or two NUL-terminated names. */
static inline uint32_t fx_args(uint8_t *buf, const void *fixed, uint32_t flen, const char *a,
			       const char *b)
{
	uint32_t n = flen;

	if (flen)
		memcpy(buf, fixed, flen);
	if (a) {
		memcpy(buf + n, a, strlen(a) + 1);
		n += (uint32_t)strlen(a) + 1;
	}
	if (b) {
		memcpy(buf + n, b, strlen(b) + 1);
		n += (uint32_t)strlen(b) + 1;
	}
	return n;
}

/* LOOKUP parent/name. Returns the error; *e gets the entry. */
static inline int fx_lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int r = fx(FUSE_LOOKUP, parent, name, (uint32_t)strlen(name) + 1);

	if (!r && e)
		memcpy(e, X.body, sizeof(*e));
	return r;
}

static inline int fx_mkdir(uint64_t parent, const char *name, uint32_t mode,
			   struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode };
	uint8_t buf[512];
	int r = fx(FUSE_MKDIR, parent, buf, fx_args(buf, &in, sizeof(in), name, NULL));

	if (!r && e)
		memcpy(e, X.body, sizeof(*e));
	return r;
}

/* CREATE parent/name. Returns the error; *e and *fh get the results. */
static inline int fx_create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
			    struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = S_IFREG | mode };
	uint8_t buf[512];
	int r = fx(FUSE_CREATE, parent, buf, fx_args(buf, &in, sizeof(in), name, NULL));

	if (!r) {
		struct fuse_open_out o;
		if (e)
			memcpy(e, X.body, sizeof(*e));
		memcpy(&o, X.body + sizeof(struct fuse_entry_out), sizeof(o));
		if (fh)
			*fh = o.fh;
	}
	return r;
}

static inline int fx_open(uint64_t node, uint32_t flags, uint64_t *fh, bool dir)
{
	struct fuse_open_in in = { .flags = flags };
	int r = fx(dir ? FUSE_OPENDIR : FUSE_OPEN, node, &in, sizeof(in));

	if (!r && fh) {
		struct fuse_open_out o;
		memcpy(&o, X.body, sizeof(o));
		*fh = o.fh;
	}
	return r;
}

static inline int fx_release(uint64_t node, uint64_t fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };

	return fx(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node, &in, sizeof(in));
}

/* WRITE len bytes at off through handle fh, the data in its own
 * descriptor. Returns the error; *n gets the bytes written. */
static inline int fx_write(uint64_t node, uint64_t fh, uint64_t off, const void *data, uint32_t len,
			   uint32_t *n)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = len };
	int r = fx_send(FUSE_WRITE, node, &in, sizeof(in), data, len, NULL);

	if (!r && n) {
		struct fuse_write_out o;
		memcpy(&o, X.body, sizeof(o));
		*n = o.size;
	}
	return r;
}

/* READ len bytes at off into X.body, the room split into split pieces.
 * Returns the error; *n gets the bytes read. */
static inline int fx_read(uint64_t node, uint64_t fh, uint64_t off, uint32_t len, unsigned split,
			  uint32_t *n)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = len };
	struct fx_shape sh = { .reply_cap = FS_OUT_HDR + len, .reply_split = split };
	int r = fx_send(FUSE_READ, node, &in, sizeof(in), NULL, 0, &sh);

	if (!r && n)
		*n = X.used_len - FS_OUT_HDR;
	return r;
}

/* Host path of name inside the share, in a static buffer. */
static inline const char *fx_host(const char *name)
{
	static char p[400];

	snprintf(p, sizeof(p), "%s/%s", X.share, name);
	return p;
}

/* Lists the outside folder: "secret" alone, unchanged. */
static inline int fx_outside_untouched(void)
{
	char p[200], buf[16] = { 0 };
	struct stat st;
	int fd, n = 0;

	snprintf(p, sizeof(p), "%s/secret", X.outside);
	fd = open(p, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) != 7 || strcmp(buf, "secret\n"))
		return 0;
	close(fd);
	if (stat(p, &st) || (st.st_mode & 07777) != 0600 || st.st_nlink != 1)
		return 0;
	{
		FILE *ls;
		char cmd[200], line[256];
		snprintf(cmd, sizeof(cmd), "ls -A '%s'", X.outside);
		ls = popen(cmd, "r");
		while (ls && fgets(line, sizeof(line), ls))
			n++;
		if (ls)
			pclose(ls);
	}
	return n == 1;
}

/* Removes the temporary folders at the end. */
static inline void fx_done(void)
{
	char cmd[200];

	if (X.on)
		fs_dev_fini(&X.f);
	X.on = false;
	if (X.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", X.dir);
		if (system(cmd) < 0) {
			/* left behind in /tmp */
		}
	}
}

#endif
