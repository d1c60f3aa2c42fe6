/* FUSE operations on names, attributes and the tree of a share: lookup,
 * forget, getattr, setattr, readlink, symlink, mknod, mkdir, unlink,
 * rmdir, rename, link, statfs, access. Each name is one checked component
 * opened relative to its parent's descriptor (fs/path.c); operations on an
 * inode itself go through its O_PATH descriptor, or /proc/self/fd/N for
 * the calls that have no empty-path form. */
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

void fs_attr_fill(const struct fs_share *s, const struct stat *st, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = (uint64_t)st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = (uint32_t)st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = fs_map_uid(s, (uint32_t)st->st_uid);
	a->gid = fs_map_gid(s, (uint32_t)st->st_gid);
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

void fs_entry_fill(const struct fs_share *s, const struct fs_inode *i, const struct stat *st,
		   struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = fs_ino_id(s, i);
	e->generation = i->gen;
	e->entry_valid = FS_TTL_S;
	e->attr_valid = FS_TTL_S;
	fs_attr_fill(s, st, &e->attr);
}

int fs_lookup_entry(struct fs_share *s, struct fs_inode *dir, const char *name,
		    struct fuse_entry_out *e)
{
	struct fs_inode *i;
	struct stat st;
	int fd = fs_child_open(s, dir, name, &st), err = 0;

	if (fd < 0)
		return fd;
	i = fs_ino_add(s, fd, &st, dir, name, &err);
	if (!i)
		return err;
	fs_entry_fill(s, i, &st, e);
	return 0;
}

/* The name under /proc/self/fd of inode i's descriptor, for the calls
 * with no empty-path form. Returns 0 or -errno. */
static int proc_name(struct fs_share *s, struct fs_inode *i, char n[16])
{
	int fd = fs_ino_fd(s, i);

	if (fd < 0)
		return fd;
	fs_fd_name(fd, n);
	return 0;
}

struct fs_inode *fs_req_inode(struct fs_share *s, const struct fs_req *r)
{
	return fs_ino_get(s, r->h.nodeid);
}

int fs_req_name(struct fs_share *s, const struct fs_req *r, uint32_t off, const char **name,
		uint32_t *next)
{
	const char *p = (const char *)r->arg + off;
	const char *nul;
	int e;

	if (off >= r->arg_len)
		return -EINVAL;
	nul = memchr(p, 0, r->arg_len - off);
	if (!nul) {
		s->st.bad_requests++;
		return -EINVAL;
	}
	if ((e = fs_name_check(s, p, (size_t)(nul - p))))
		return e;
	*name = p;
	if (next)
		*next = off + (uint32_t)(nul - p) + 1;
	return 0;
}

/* The parent directory inode of a request, and the name at offset off of
 * its arguments. Returns 0 or -errno. */
static int dir_and_name(struct fs_share *s, const struct fs_req *r, uint32_t off,
			struct fs_inode **dir, const char **name, uint32_t *next)
{
	*dir = fs_req_inode(s, r);
	if (!*dir)
		return -ESTALE;
	if ((*dir)->mode != S_IFDIR)
		return -ENOTDIR;
	return fs_req_name(s, r, off, name, next);
}

int fs_op_lookup(struct fs_share *s, struct fs_req *r)
{
	struct fs_inode *dir;
	const char *name;
	int e = dir_and_name(s, r, 0, &dir, &name, NULL);

	if (e)
		return e;
	if ((e = fs_lookup_entry(s, dir, name, (struct fuse_entry_out *)r->out)))
		return e;
	return sizeof(struct fuse_entry_out);
}

int fs_op_forget(struct fs_share *s, struct fs_req *r)
{
	struct fuse_forget_in in;

	memcpy(&in, r->arg, sizeof(in));
	fs_ino_forget(s, r->h.nodeid, in.nlookup);
	r->noreply = true;
	return 0;
}

int fs_op_batch_forget(struct fs_share *s, struct fs_req *r)
{
	struct fuse_batch_forget_in in;
	uint32_t fit = (r->arg_len - (uint32_t)sizeof(in)) / (uint32_t)sizeof(struct fuse_forget_one);

	memcpy(&in, r->arg, sizeof(in));
	if (in.count > fit)
		s->st.bad_requests++; /* forget what is there */
	for (uint32_t k = 0; k < in.count && k < fit; k++) {
		struct fuse_forget_one one;
		memcpy(&one, r->arg + sizeof(in) + k * sizeof(one), sizeof(one));
		fs_ino_forget(s, one.nodeid, one.nlookup);
	}
	r->noreply = true;
	return 0;
}

/* A fuse_attr_out for st in r->out. Returns its size. */
static int reply_attr(struct fs_share *s, struct fs_req *r, const struct stat *st)
{
	struct fuse_attr_out *o = (struct fuse_attr_out *)r->out;

	memset(o, 0, sizeof(*o));
	o->attr_valid = FS_TTL_S;
	fs_attr_fill(s, st, &o->attr);
	return sizeof(*o);
}

int fs_op_getattr(struct fs_share *s, struct fs_req *r)
{
	struct fuse_getattr_in in;
	struct fs_inode *i = fs_req_inode(s, r);
	struct stat st;
	int e;

	if (!i)
		return -ESTALE;
	memcpy(&in, r->arg, sizeof(in));
	if (in.getattr_flags & FUSE_GETATTR_FH) {
		struct fs_handle *h = fs_fh_get(s, in.fh, false);
		if (h && fstat(h->fd, &st) == 0)
			return reply_attr(s, r, &st);
	}
	if ((e = fs_ino_stat(s, i, &st)))
		return e;
	return reply_attr(s, r, &st);
}

/* SETATTR's owner change: only to the owner the file already has (the
 * guest cannot give host files away). Returns 0 or -EPERM. */
static int setattr_owner(struct fs_share *s, const struct fuse_setattr_in *in,
			 const struct stat *st)
{
	if ((in->valid & FATTR_UID) && in->uid != fs_map_uid(s, (uint32_t)st->st_uid))
		return -EPERM;
	if ((in->valid & FATTR_GID) && in->gid != fs_map_gid(s, (uint32_t)st->st_gid))
		return -EPERM;
	return 0;
}

/* SETATTR's size: through the handle, else a write-only re-open. */
static int setattr_size(struct fs_share *s, struct fs_inode *i, struct fs_handle *h, uint64_t size)
{
	int fd, e = 0;

	if (size > INT64_MAX)
		return -EFBIG;
	if (h)
		return ftruncate(h->fd, (off_t)size) < 0 ? -errno : 0;
	fd = fs_ino_reopen(s, i, O_WRONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) < 0)
		e = -errno;
	close(fd);
	return e;
}

/* SETATTR's times. */
static int setattr_times(struct fs_share *s, struct fs_inode *i, struct fs_handle *h,
			 const struct fuse_setattr_in *in)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	char n[16];
	int fd;

	if (in->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (in->valid & FATTR_ATIME)
		ts[0] = (struct timespec){ (time_t)in->atime, in->atimensec };
	if (in->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (in->valid & FATTR_MTIME)
		ts[1] = (struct timespec){ (time_t)in->mtime, in->mtimensec };
	if ((ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW && in->atimensec >= 1000000000) ||
	    (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW && in->mtimensec >= 1000000000))
		return -EINVAL;
	if (h)
		return futimens(h->fd, ts) < 0 ? -errno : 0;
	if ((fd = fs_ino_fd(s, i)) < 0)
		return fd;
	if (i->mode == S_IFLNK) /* the link itself, never what it points to */
		return utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	return utimensat(s->proc_fd, fs_fd_name(fd, n), ts, 0) < 0 ? -errno : 0;
}

int fs_op_setattr(struct fs_share *s, struct fs_req *r)
{
	struct fuse_setattr_in in;
	struct fs_inode *i = fs_req_inode(s, r);
	struct fs_handle *h = NULL;
	struct stat st;
	char n[16];
	int e;

	if (!i)
		return -ESTALE;
	memcpy(&in, r->arg, sizeof(in));
	if ((in.valid & FATTR_FH) && !(h = fs_fh_get(s, in.fh, false)))
		return -EBADF;
	if ((e = fs_ino_stat(s, i, &st)) || (e = setattr_owner(s, &in, &st)))
		return e;
	if (in.valid & FATTR_MODE) {
		mode_t m = fs_safe_mode((mode_t)((in.mode & 07777) | (st.st_mode & S_IFMT))) & 07777;
		if (i->mode == S_IFLNK)
			return -EOPNOTSUPP;
		if (h)
			e = fchmod(h->fd, m) < 0 ? -errno : 0;
		else if (!(e = proc_name(s, i, n)))
			e = fchmodat(s->proc_fd, n, m, 0) < 0 ? -errno : 0;
		if (e)
			return e;
	}
	if ((in.valid & FATTR_SIZE) && (e = setattr_size(s, i, h, in.size)))
		return e;
	if ((in.valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) &&
	    (e = setattr_times(s, i, h, &in)))
		return e;
	if ((e = fs_ino_stat(s, i, &st)))
		return e;
	return reply_attr(s, r, &st);
}

int fs_op_readlink(struct fs_share *s, struct fs_req *r)
{
	struct fs_inode *i = fs_req_inode(s, r);
	ssize_t n;
	int fd;

	if (!i)
		return -ESTALE;
	if (i->mode != S_IFLNK)
		return -EINVAL;
	if ((fd = fs_ino_fd(s, i)) < 0)
		return fd;
	n = readlinkat(fd, "", (char *)r->out, FS_SYMLINK_MAX + 1);
	if (n < 0)
		return -errno;
	if (n > FS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	if ((uint32_t)n > r->rdata_len)
		return -ERANGE;
	return (int)n;
}

/* After creating name in dir with mode: the mode as asked (the process
 * umask undone), then the entry reply. */
static int created(struct fs_share *s, struct fs_req *r, struct fs_inode *dir, const char *name,
		   mode_t mode)
{
	struct fuse_entry_out *e = (struct fuse_entry_out *)r->out;
	struct fs_inode *i;
	int err = fs_lookup_entry(s, dir, name, e);

	if (err)
		return err;
	i = fs_ino_get(s, e->nodeid);
	if (i && i->mode != S_IFLNK && (mode & s->umask & 0777) && fs_ino_fd(s, i) >= 0) {
		struct stat st;
		fs_fix_mode(s, i->fd, mode);
		if (fs_ino_stat(s, i, &st) == 0)
			fs_attr_fill(s, &st, &e->attr);
	}
	return sizeof(*e);
}

/* Whether the inode table could take one more inode. */
static int room_for_inode(struct fs_share *s)
{
	if (s->ino_free || s->ino_top < s->max_inodes)
		return 0;
	s->st.table_full++;
	return -ENFILE;
}

/* The start of every operation that creates a name: the fixed arguments
 * (inlen bytes) into in, the parent and the name after them (*next: the
 * offset past its NUL), and room in the inode table. Returns 0 or -errno. */
static int make_args(struct fs_share *s, const struct fs_req *r, void *in, uint32_t inlen,
		     struct fs_inode **dir, const char **name, uint32_t *next)
{
	int e = dir_and_name(s, r, inlen, dir, name, next);

	if (e)
		return e;
	if (inlen)
		memcpy(in, r->arg, inlen);
	return room_for_inode(s);
}

int fs_op_symlink(struct fs_share *s, struct fs_req *r)
{
	struct fs_inode *dir;
	const char *name, *target;
	uint32_t next;
	size_t tl;
	int e = make_args(s, r, NULL, 0, &dir, &name, &next);

	if (e)
		return e;
	target = (const char *)r->arg + next;
	if (next >= r->arg_len || !memchr(target, 0, r->arg_len - next)) {
		s->st.bad_requests++;
		return -EINVAL;
	}
	tl = strlen(target);
	if (tl == 0)
		return -ENOENT;
	if (tl > FS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	/* stored as given: a symlink is never followed on the host */
	if (symlinkat(target, dir->fd, name) < 0)
		return -errno;
	return created(s, r, dir, name, 0);
}

int fs_op_mknod(struct fs_share *s, struct fs_req *r)
{
	struct fuse_mknod_in in;
	struct fs_inode *dir;
	const char *name;
	mode_t mode;
	int e = make_args(s, r, &in, sizeof(in), &dir, &name, NULL);

	if (e)
		return e;
	switch (in.mode & S_IFMT) {
	case S_IFREG: case S_IFIFO: case S_IFSOCK:
		break;
	case S_IFCHR: case S_IFBLK:
		return -EPERM; /* no device nodes on the host */
	default:
		return -EINVAL;
	}
	mode = fs_safe_mode((mode_t)(in.mode & (S_IFMT | 07777)));
	if (mknodat(dir->fd, name, mode, 0) < 0)
		return -errno;
	return created(s, r, dir, name, mode & 07777);
}

int fs_op_mkdir(struct fs_share *s, struct fs_req *r)
{
	struct fuse_mkdir_in in;
	struct fs_inode *dir;
	const char *name;
	mode_t mode;
	int e = make_args(s, r, &in, sizeof(in), &dir, &name, NULL);

	if (e)
		return e;
	mode = fs_safe_mode((mode_t)((in.mode & 07777) | S_IFDIR)) & 07777;
	if (mkdirat(dir->fd, name, mode) < 0)
		return -errno;
	return created(s, r, dir, name, mode);
}

/* UNLINK and RMDIR. */
static int remove_name(struct fs_share *s, struct fs_req *r, int flags)
{
	struct fs_inode *dir;
	const char *name;
	int e = dir_and_name(s, r, 0, &dir, &name, NULL);

	if (e)
		return e;
	return unlinkat(dir->fd, name, flags) < 0 ? -errno : 0;
}

int fs_op_unlink(struct fs_share *s, struct fs_req *r)
{
	return remove_name(s, r, 0);
}

int fs_op_rmdir(struct fs_share *s, struct fs_req *r)
{
	return remove_name(s, r, AT_REMOVEDIR);
}

/* RENAME and RENAME2: the new directory's id, then flags (RENAME2), then
 * the two names, after hdr bytes of fixed arguments. */
static int do_rename(struct fs_share *s, struct fs_req *r, uint64_t newdir, uint32_t flags,
		     uint32_t hdr)
{
	struct fs_inode *dir, *nd, *x, *y = NULL;
	const char *oldname, *newname;
	struct stat st;
	uint32_t next;
	int e = dir_and_name(s, r, hdr, &dir, &oldname, &next);

	if (e)
		return e;
	if ((e = fs_req_name(s, r, next, &newname, NULL)))
		return e;
	nd = fs_ino_get(s, newdir);
	if (!nd)
		return -ESTALE;
	if (nd->mode != S_IFDIR)
		return -ENOTDIR;
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL; /* RENAME_WHITEOUT needs privilege we do not use */
	/* the inodes held under both names learn their new names */
	x = fstatat(dir->fd, oldname, &st, AT_SYMLINK_NOFOLLOW) ? NULL : fs_ino_find(s, &st);
	if ((flags & RENAME_EXCHANGE) && !fstatat(nd->fd, newname, &st, AT_SYMLINK_NOFOLLOW))
		y = fs_ino_find(s, &st);
	if (!flags)
		e = renameat(dir->fd, oldname, nd->fd, newname) < 0 ? -errno : 0;
	else
		e = syscall(SYS_renameat2, dir->fd, oldname, nd->fd, newname, flags) < 0 ? -errno : 0;
	if (e)
		return e;
	fs_ino_ref(s, dir, 1); /* both directories live through the renames */
	fs_ino_ref(s, nd, 1);
	if (x)
		fs_ino_rename(s, x, nd, newname);
	if (y)
		fs_ino_rename(s, y, dir, oldname);
	fs_ino_ref(s, nd, -1);
	fs_ino_ref(s, dir, -1);
	return 0;
}

int fs_op_rename(struct fs_share *s, struct fs_req *r)
{
	struct fuse_rename_in in;

	memcpy(&in, r->arg, sizeof(in));
	return do_rename(s, r, in.newdir, 0, sizeof(in));
}

int fs_op_rename2(struct fs_share *s, struct fs_req *r)
{
	struct fuse_rename2_in in;

	memcpy(&in, r->arg, sizeof(in));
	return do_rename(s, r, in.newdir, in.flags, sizeof(in));
}

int fs_op_link(struct fs_share *s, struct fs_req *r)
{
	struct fuse_link_in in;
	struct fs_inode *dir, *old;
	const char *name;
	char n[16];
	int e = dir_and_name(s, r, sizeof(in), &dir, &name, NULL);

	if (e)
		return e;
	memcpy(&in, r->arg, sizeof(in));
	/* only an inode the guest holds, so only a file inside the share */
	old = fs_ino_get(s, in.oldnodeid);
	if (!old)
		return -ESTALE;
	if (old->mode == S_IFDIR)
		return -EPERM;
	/* /proc/self/fd/N followed once: the held inode itself (a symlink
	 * inode links the symlink, not its target) */
	if ((e = proc_name(s, old, n)))
		return e;
	if (linkat(s->proc_fd, n, dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	if ((e = fs_lookup_entry(s, dir, name, (struct fuse_entry_out *)r->out)))
		return e;
	return sizeof(struct fuse_entry_out);
}

int fs_op_statfs(struct fs_share *s, struct fs_req *r)
{
	struct fuse_statfs_out *o = (struct fuse_statfs_out *)r->out;
	struct statfs sf;

	if (!fs_req_inode(s, r))
		return -ESTALE;
	if (fstatfs(s->root_fd, &sf) < 0)
		return -errno;
	memset(o, 0, sizeof(*o));
	o->st.blocks = (uint64_t)sf.f_blocks;
	o->st.bfree = (uint64_t)sf.f_bfree;
	o->st.bavail = (uint64_t)sf.f_bavail;
	o->st.files = (uint64_t)sf.f_files;
	o->st.ffree = (uint64_t)sf.f_ffree;
	o->st.bsize = (uint32_t)sf.f_bsize;
	o->st.namelen = MIN((uint32_t)sf.f_namelen, FS_NAME_MAX);
	o->st.frsize = (uint32_t)sf.f_frsize;
	return sizeof(*o);
}

int fs_op_access(struct fs_share *s, struct fs_req *r)
{
	struct fuse_access_in in;
	struct fs_inode *i = fs_req_inode(s, r);
	char n[16];
	int e;

	if (!i)
		return -ESTALE;
	memcpy(&in, r->arg, sizeof(in));
	if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((in.mask & W_OK) && s->ro)
		return -EROFS;
	if (i->mode == S_IFLNK || !in.mask)
		return 0;
	if ((e = proc_name(s, i, n)))
		return e;
	return faccessat(s->proc_fd, n, (int)in.mask, 0) < 0 ? -errno : 0;
}
