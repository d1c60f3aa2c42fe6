/* FUSE operations on open files and directories of a share: open, create,
 * read, write, release, fsync, fallocate, lseek, opendir, readdir,
 * readdirplus, releasedir, fsyncdir, syncfs. READ lands in the guest's
 * buffers directly (preadv), WRITE is taken from them directly (pwritev).
 * Directory listings are read with getdents64 into the share's scratch
 * and rewritten as fuse_dirent / fuse_direntplus records; a listing that
 * does not fit the guest's buffer stops at a whole entry and the next
 * request continues there (the host offset, d_off, is the FUSE offset). */
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/util.h"

/* The open flags a guest may pass on to the host. O_DIRECT (alignment the
 * guest cannot know), O_NOATIME (owner only) and the creation flags are
 * dropped. */
#define PASS_FLAGS (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)

struct dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

/* A fuse_open_out for handle fh in r->out. Returns its size. */
static int reply_open(struct fs_req *r, uint64_t fh, uint32_t off)
{
	struct fuse_open_out *o = (struct fuse_open_out *)(r->out + off);

	memset(o, 0, sizeof(*o));
	o->fh = fh;
	return (int)(off + sizeof(*o));
}

/* Whether open flags would write on a read-only share. */
static bool writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

int fs_op_open(struct fs_share *s, struct fs_req *r)
{
	struct fuse_open_in in;
	struct fs_inode *i = fs_req_inode(s, r);
	int64_t fh;
	int fd;

	if (!i)
		return -ESTALE;
	memcpy(&in, r->arg, sizeof(in));
	if (s->ro && writes((int)in.flags)) {
		s->st.erofs++;
		return -EROFS;
	}
	if (i->mode == S_IFDIR)
		return -EISDIR;
	fd = fs_ino_reopen(s, i, (int)in.flags & PASS_FLAGS);
	if (fd < 0)
		return fd;
	fh = fs_fh_add(s, fd, false, i);
	if (fh < 0)
		return (int)fh;
	return reply_open(r, (uint64_t)fh, 0);
}

/* Opens name in dir for CREATE: exclusively first, so the mode is known
 * to be ours to set; without O_EXCL an existing file is opened instead
 * (never through a symlink). Returns the fd or -errno; *made says which. */
static int create_open(struct fs_inode *dir, const char *name, int flags, mode_t mode, bool *made)
{
	int base = (flags & PASS_FLAGS) | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dir->fd, name, base | O_CREAT | O_EXCL, mode);

	*made = fd >= 0;
	if (fd < 0 && errno == EEXIST && !(flags & O_EXCL))
		fd = openat(dir->fd, name, base, 0);
	if (fd < 0)
		return errno == EMFILE ? -ENFILE : -errno;
	return fd;
}

int fs_op_create(struct fs_share *s, struct fs_req *r)
{
	struct fuse_create_in in;
	struct fuse_entry_out *e = (struct fuse_entry_out *)r->out;
	struct fs_inode *dir = fs_req_inode(s, r), *i;
	const char *name;
	struct stat st;
	char n[16];
	mode_t mode;
	bool made;
	int64_t fh;
	int fd, pfd, err = 0;

	if (!dir)
		return -ESTALE;
	if (dir->mode != S_IFDIR)
		return -ENOTDIR;
	if ((err = fs_req_name(s, r, sizeof(in), &name, NULL)))
		return err;
	memcpy(&in, r->arg, sizeof(in));
	/* both tables must have room before anything is created */
	if ((!s->ino_free && s->ino_top >= s->max_inodes) ||
	    (!s->fh_free && s->fh_top >= s->max_handles)) {
		s->st.table_full++;
		return -ENFILE;
	}
	mode = fs_safe_mode((mode_t)(in.mode & 07777) | S_IFREG) & 07777;
	fd = create_open(dir, name, (int)in.flags, mode, &made);
	if (fd < 0)
		return fd;
	if (made)
		fs_fix_mode(s, fd, mode);
	/* the inode from the open file itself: no second walk of the name */
	if ((err = fs_ino_fd_room(s))) {
		close(fd);
		return err;
	}
	pfd = openat(s->proc_fd, fs_fd_name(fd, n), O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		err = errno == EMFILE ? -ENFILE : -errno;
		close(fd);
		return err;
	}
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		close(fd);
		return -EIO;
	}
	i = fs_ino_add(s, pfd, &st, dir, name, &err);
	if (!i) {
		close(fd);
		return err;
	}
	fh = fs_fh_add(s, fd, false, i);
	if (fh < 0) {
		fs_ino_forget(s, fs_ino_id(s, i), 1);
		return (int)fh;
	}
	fs_entry_fill(s, i, &st, e);
	return reply_open(r, (uint64_t)fh, sizeof(*e));
}

/* Up to len bytes of the iovecs v[0..n) into out (at most n entries).
 * Returns the number of entries used. */
static unsigned iov_trim(const struct iovec *v, unsigned n, uint64_t len, struct iovec *out)
{
	unsigned k = 0;

	for (unsigned j = 0; j < n && len; j++) {
		out[k] = v[j];
		if (out[k].iov_len > len)
			out[k].iov_len = len;
		len -= out[k].iov_len;
		k++;
	}
	return k;
}

int fs_op_read(struct fs_share *s, struct fs_req *r)
{
	struct fuse_read_in in;
	struct iovec v[FS_IOV_MAX];
	struct fs_handle *h;
	uint64_t size;
	unsigned n;
	ssize_t got;

	memcpy(&in, r->arg, sizeof(in));
	h = fs_fh_get(s, in.fh, false);
	if (!h)
		return -EBADF;
	if (in.offset > INT64_MAX)
		return -EINVAL;
	size = MIN(MIN((uint64_t)in.size, (uint64_t)r->rdata_len), (uint64_t)FS_MAX_IO);
	n = iov_trim(r->rdata, MIN(r->n_rdata, FS_IOV_MAX), size, v);
	got = n ? preadv(h->fd, v, (int)n, (off_t)in.offset) : 0;
	if (got < 0)
		return -errno;
	s->st.bytes_read += (uint64_t)got;
	r->direct = true;
	return (int)got;
}

int fs_op_write(struct fs_share *s, struct fs_req *r)
{
	struct fuse_write_in in;
	struct fuse_write_out *o = (struct fuse_write_out *)r->out;
	struct fs_handle *h;
	ssize_t put = 0;

	memcpy(&in, r->arg, sizeof(in));
	if (r->total_len < FS_WRITE_HDR || in.size != r->total_len - FS_WRITE_HDR) {
		s->st.bad_requests++;
		return -EINVAL;
	}
	if (in.size > FS_MAX_IO)
		return -EINVAL;
	if (in.offset > INT64_MAX)
		return -EFBIG;
	h = fs_fh_get(s, in.fh, false);
	if (!h)
		return -EBADF;
	if (in.size) {
		put = pwritev(h->fd, r->wdata, (int)r->n_wdata, (off_t)in.offset);
		if (put < 0)
			return -errno;
	}
	s->st.bytes_written += (uint64_t)put;
	memset(o, 0, sizeof(*o));
	o->size = (uint32_t)put;
	return sizeof(*o);
}

int fs_op_release(struct fs_share *s, struct fs_req *r)
{
	struct fuse_release_in in;

	memcpy(&in, r->arg, sizeof(in));
	return fs_fh_close(s, in.fh, false);
}

int fs_op_releasedir(struct fs_share *s, struct fs_req *r)
{
	struct fuse_release_in in;

	memcpy(&in, r->arg, sizeof(in));
	return fs_fh_close(s, in.fh, true);
}

/* FSYNC and FSYNCDIR. */
static int do_fsync(struct fs_share *s, struct fs_req *r, bool dir)
{
	struct fuse_fsync_in in;
	struct fs_handle *h;

	memcpy(&in, r->arg, sizeof(in));
	h = fs_fh_get(s, in.fh, dir);
	if (!h)
		return -EBADF;
	if (in.fsync_flags & FUSE_FSYNC_FDATASYNC)
		return fdatasync(h->fd) < 0 ? -errno : 0;
	return fsync(h->fd) < 0 ? -errno : 0;
}

int fs_op_fsync(struct fs_share *s, struct fs_req *r)
{
	return do_fsync(s, r, false);
}

int fs_op_fsyncdir(struct fs_share *s, struct fs_req *r)
{
	return do_fsync(s, r, true);
}

int fs_op_fallocate(struct fs_share *s, struct fs_req *r)
{
	struct fuse_fallocate_in in;
	struct fs_handle *h;
	const uint32_t ok = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;

	memcpy(&in, r->arg, sizeof(in));
	h = fs_fh_get(s, in.fh, false);
	if (!h)
		return -EBADF;
	if (in.mode & ~ok)
		return -EOPNOTSUPP;
	if (in.offset > INT64_MAX || in.length > INT64_MAX)
		return -EFBIG;
	return fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) < 0 ? -errno : 0;
}

int fs_op_lseek(struct fs_share *s, struct fs_req *r)
{
	struct fuse_lseek_in in;
	struct fuse_lseek_out *o = (struct fuse_lseek_out *)r->out;
	struct fs_handle *h;
	off_t at;

	memcpy(&in, r->arg, sizeof(in));
	h = fs_fh_get(s, in.fh, false);
	if (!h)
		return -EBADF;
	if ((in.whence != SEEK_DATA && in.whence != SEEK_HOLE) || in.offset > INT64_MAX)
		return -EINVAL;
	at = lseek(h->fd, (off_t)in.offset, (int)in.whence);
	if (at < 0)
		return -errno;
	memset(o, 0, sizeof(*o));
	o->offset = (uint64_t)at;
	return sizeof(*o);
}

int fs_op_syncfs(struct fs_share *s, struct fs_req *r)
{
	int fd = fs_ino_reopen(s, s->ino, O_RDONLY | O_DIRECTORY);
	int e = 0;

	if (fd < 0)
		return fd;
	if (syncfs(fd) < 0)
		e = -errno;
	close(fd);
	return e;
}

int fs_op_opendir(struct fs_share *s, struct fs_req *r)
{
	struct fs_inode *i = fs_req_inode(s, r);
	int64_t fh;
	int fd;

	if (!i)
		return -ESTALE;
	if (i->mode != S_IFDIR)
		return -ENOTDIR;
	fd = fs_ino_reopen(s, i, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	fh = fs_fh_add(s, fd, true, i);
	if (fh < 0)
		return (int)fh;
	return reply_open(r, (uint64_t)fh, 0);
}

/* Writes one directory record for host entry d at out (room checked by
 * the caller); with plus, the entry is looked up and described too (an
 * entry that vanished or a full inode table leaves node id 0: the guest
 * looks it up itself later). */
static void dir_record(struct fs_share *s, struct fs_handle *h, const struct dirent64 *d,
		       uint32_t namelen, bool plus, uint8_t *out, uint32_t size)
{
	struct fuse_dirent *fd;

	memset(out, 0, size);
	if (plus) {
		struct fuse_direntplus *p = (struct fuse_direntplus *)out;
		bool dots = d->d_name[0] == '.' &&
			    (namelen == 1 || (namelen == 2 && d->d_name[1] == '.'));
		struct stat st;
		int pfd, err;

		fd = &p->dirent;
		if (!dots && !fs_ino_fd_room(s) &&
		    (pfd = openat(h->fd, d->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			struct fs_inode *i = NULL;
			if (fstat(pfd, &st) == 0)
				i = fs_ino_add(s, pfd, &st, &s->ino[h->ino - 1], d->d_name, &err);
			else
				close(pfd);
			if (i)
				fs_entry_fill(s, i, &st, &p->entry_out);
		}
	} else {
		fd = (struct fuse_dirent *)out;
	}
	fd->ino = d->d_ino;
	fd->off = (uint64_t)d->d_off;
	fd->namelen = namelen;
	fd->type = d->d_type;
	memcpy(fd->name, d->d_name, namelen);
}

/* READDIR and READDIRPLUS. */
static int do_readdir(struct fs_share *s, struct fs_req *r, bool plus)
{
	struct fuse_read_in in;
	struct fs_handle *h;
	uint32_t room, used = 0;
	bool more = true;

	memcpy(&in, r->arg, sizeof(in));
	h = fs_fh_get(s, in.fh, true);
	if (!h)
		return -EBADF;
	room = MIN(MIN(in.size, r->rdata_len), (uint32_t)FS_REPLY_MAX);
	if (in.offset != h->pos) {
		if (in.offset > INT64_MAX || lseek(h->fd, (off_t)in.offset, SEEK_SET) < 0)
			return -EINVAL;
		h->pos = in.offset;
	}
	while (more) {
		/* host records are smaller than ours: read about what fits */
		uint32_t want = MAX(MIN(plus ? room / 4 : room, (uint32_t)FS_DIRBUF), 1024u);
		long n = syscall(SYS_getdents64, h->fd, s->dirbuf, want);

		if (n < 0)
			return used ? (int)used : -errno;
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			const struct dirent64 *d = (const struct dirent64 *)(s->dirbuf + off);
			uint32_t max = d->d_reclen - (uint32_t)offsetof(struct dirent64, d_name);
			uint32_t nl, size;

			if (d->d_reclen < offsetof(struct dirent64, d_name) + 2 || d->d_reclen > n - off)
				return used ? (int)used : -EIO;
			nl = (uint32_t)strnlen(d->d_name, max);
			size = plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nl)
				    : FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nl);
			if (used + size > room) {
				/* stop before this entry; the next request resumes here */
				lseek(h->fd, (off_t)h->pos, SEEK_SET);
				more = false;
				break;
			}
			dir_record(s, h, d, nl, plus, r->out + used, size);
			used += size;
			h->pos = (uint64_t)d->d_off;
			off += d->d_reclen;
		}
	}
	if (!used && !more)
		return -EINVAL; /* not even one entry fits the guest's buffer */
	return (int)used;
}

int fs_op_readdir(struct fs_share *s, struct fs_req *r)
{
	return do_readdir(s, r, false);
}

int fs_op_readdirplus(struct fs_share *s, struct fs_req *r)
{
	return do_readdir(s, r, true);
}
