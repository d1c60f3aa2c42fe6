/* The inode table of a share (see fs/share.h): a fixed array of slots
 * allocated at open, a free list, and a hash of (st_dev, st_ino) with
 * chains threaded through the slots. A node id is (generation << 32) |
 * (slot + 1): slot 0 is the root (node id 1, FUSE_ROOT_ID), and a stale id
 * of a reused slot fails its generation check instead of naming another
 * file.
 *
 * Each inode remembers the directory and name it was last found by, so
 * its O_PATH descriptor is a cache: directories keep theirs (they are the
 * parents everything is re-opened from), other inodes lose theirs when
 * the share has max_fds descriptors open, least recently used first, and
 * get a new one when next used: openat(parent, name, O_PATH | O_NOFOLLOW),
 * accepted only when it is the same (st_dev, st_ino) and, where the file
 * system keeps one, the same birth time (an inode number reused by a new
 * file is not the old file), else ESTALE. A
 * parent outlives its children and an inode its open handles (refs).
 * Nothing here allocates after open, but for names longer than the inline
 * buffer. */
#include "fs/share.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SLOT(s, n) (&(s)->ino[(n) - 1]) /* n: slot + 1 */

/* Bucket of (dev, ino). */
static uint32_t ino_bucket(const struct fs_share *s, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev * 0xc2b2ae3d27d4eb4fULL);

	return (uint32_t)(h >> 32) & s->hash_mask;
}

static uint32_t ino_num(const struct fs_share *s, const struct fs_inode *i)
{
	return (uint32_t)(i - s->ino) + 1;
}

uint64_t fs_ino_id(const struct fs_share *s, const struct fs_inode *i)
{
	return ((uint64_t)i->gen << 32) | ino_num(s, i);
}

struct fs_inode *fs_ino_get(struct fs_share *s, uint64_t id)
{
	uint32_t n = (uint32_t)id, gen = (uint32_t)(id >> 32);
	struct fs_inode *i;

	if (n == 0 || n > s->ino_top) {
		s->st.bad_ids++;
		return NULL;
	}
	i = SLOT(s, n);
	if (!i->used || i->gen != gen) {
		s->st.bad_ids++;
		return NULL;
	}
	return i;
}

const char *fs_ino_name(const struct fs_inode *i)
{
	return i->long_name ? i->long_name : i->name;
}

/* --- the LRU of non-directories holding a descriptor --- */

static void lru_unlink(struct fs_share *s, struct fs_inode *i)
{
	if (i->prev)
		SLOT(s, i->prev)->next = i->next;
	else if (s->lru_head == ino_num(s, i))
		s->lru_head = i->next;
	if (i->next)
		SLOT(s, i->next)->prev = i->prev;
	else if (s->lru_tail == ino_num(s, i))
		s->lru_tail = i->prev;
	i->prev = i->next = 0;
}

static void lru_push(struct fs_share *s, struct fs_inode *i)
{
	uint32_t n = ino_num(s, i);

	i->prev = 0;
	i->next = s->lru_head;
	if (s->lru_head)
		SLOT(s, s->lru_head)->prev = n;
	s->lru_head = n;
	if (!s->lru_tail)
		s->lru_tail = n;
}

/* Gives inode i descriptor fd (counted; non-directories join the LRU). */
static void attach(struct fs_share *s, struct fs_inode *i, int fd)
{
	i->fd = fd;
	s->n_fds++;
	if (i->mode != S_IFDIR)
		lru_push(s, i);
}

/* Closes inode i's descriptor. */
static void detach(struct fs_share *s, struct fs_inode *i)
{
	if (i->fd < 0)
		return;
	if (i->mode != S_IFDIR)
		lru_unlink(s, i);
	close(i->fd);
	i->fd = -1;
	s->n_fds--;
}

/* statx of fd itself: identity and birth time. Returns 0 or -errno. */
static int ino_statx(int fd, struct statx *x)
{
	memset(x, 0, sizeof(*x));
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		    STATX_TYPE | STATX_INO | STATX_BTIME, x) < 0)
		return -errno;
	return 0;
}

int fs_ino_fd_room(struct fs_share *s)
{
	while (s->n_fds >= s->max_fds) {
		struct fs_inode *i;
		struct statx x;

		if (!s->lru_tail) {
			s->st.table_full++;
			return -ENFILE; /* all held by directories */
		}
		/* what tells this file from a later one with its number */
		i = SLOT(s, s->lru_tail);
		i->has_btime = !ino_statx(i->fd, &x) && (x.stx_mask & STATX_BTIME);
		i->btime_sec = x.stx_btime.tv_sec;
		i->btime_nsec = x.stx_btime.tv_nsec;
		detach(s, i);
		s->st.fds_recycled++;
	}
	return 0;
}

/* --- names and references --- */

/* Records that inode i was found as name in directory dir (NULL: keep
 * what it has): the parent holds a reference for it. */
static void set_name(struct fs_share *s, struct fs_inode *i, struct fs_inode *dir,
		     const char *name);

/* Frees slot n (not the root) when nothing holds it any more, then its
 * parent likewise, up the tree. */
static void try_free(struct fs_share *s, uint32_t n)
{
	while (n > 1) {
		struct fs_inode *i = SLOT(s, n);
		uint32_t parent = i->parent;
		uint32_t *p;

		if (!i->used || i->nlookup || i->refs)
			return;
		p = &s->hash[ino_bucket(s, i->dev, i->ino)];
		while (*p && *p != n)
			p = &SLOT(s, *p)->hnext;
		if (*p)
			*p = i->hnext;
		detach(s, i);
		free(i->long_name);
		i->long_name = NULL;
		i->name[0] = 0;
		i->used = false;
		i->parent = 0;
		i->hnext = s->ino_free;
		s->ino_free = n;
		s->n_inodes--;
		if (!parent)
			return;
		SLOT(s, parent)->refs--;
		n = parent;
	}
}

static void set_name(struct fs_share *s, struct fs_inode *i, struct fs_inode *dir,
		     const char *name)
{
	uint32_t old = i->parent;
	size_t len;

	if (!dir || i == s->ino || i == dir)
		return;
	len = strlen(name);
	free(i->long_name);
	i->long_name = NULL;
	if (len < sizeof(i->name)) {
		memcpy(i->name, name, len + 1);
	} else {
		i->name[0] = 0;
		i->long_name = strdup(name); /* NULL: the inode cannot be re-opened (ESTALE) */
	}
	i->parent = ino_num(s, dir);
	dir->refs++;
	if (old) {
		SLOT(s, old)->refs--;
		try_free(s, old);
	}
}

void fs_ino_rename(struct fs_share *s, struct fs_inode *i, struct fs_inode *dir, const char *name)
{
	set_name(s, i, dir, name);
}

void fs_ino_ref(struct fs_share *s, struct fs_inode *i, int delta)
{
	i->refs = (uint32_t)((int64_t)i->refs + delta);
	if (delta < 0)
		try_free(s, ino_num(s, i));
}

/* --- adding, finding, forgetting --- */

void fs_ino_hash_root(struct fs_share *s)
{
	s->hash[ino_bucket(s, s->ino[0].dev, s->ino[0].ino)] = 1;
}

struct fs_inode *fs_ino_find(struct fs_share *s, const struct stat *st)
{
	uint32_t b = ino_bucket(s, (uint64_t)st->st_dev, (uint64_t)st->st_ino);

	for (uint32_t n = s->hash[b]; n; n = SLOT(s, n)->hnext) {
		struct fs_inode *i = SLOT(s, n);
		if (i->dev == (uint64_t)st->st_dev && i->ino == (uint64_t)st->st_ino)
			return i;
	}
	return NULL;
}

struct fs_inode *fs_ino_add(struct fs_share *s, int fd, const struct stat *st,
			    struct fs_inode *dir, const char *name, int *err)
{
	struct fs_inode *i = fs_ino_find(s, st);
	uint32_t n, b;

	if (i) {
		if (i->fd < 0)
			attach(s, i, fd);
		else
			close(fd);
		i->nlookup++;
		set_name(s, i, dir, name);
		return i;
	}
	if (s->ino_free) {
		n = s->ino_free;
		s->ino_free = SLOT(s, n)->hnext;
	} else if (s->ino_top < s->max_inodes) {
		n = ++s->ino_top;
	} else {
		close(fd);
		s->st.table_full++;
		*err = -ENFILE;
		return NULL;
	}
	i = SLOT(s, n);
	i->dev = (uint64_t)st->st_dev;
	i->ino = (uint64_t)st->st_ino;
	i->mode = st->st_mode & S_IFMT;
	i->nlookup = 1;
	i->refs = 0;
	i->parent = 0;
	i->used = true;
	i->gen++;
	if (!i->gen)
		i->gen = 1; /* generation 0 belongs to the root's id alone */
	b = ino_bucket(s, i->dev, i->ino);
	i->hnext = s->hash[b];
	s->hash[b] = n;
	s->n_inodes++;
	attach(s, i, fd);
	set_name(s, i, dir, name);
	return i;
}

int fs_ino_fd(struct fs_share *s, struct fs_inode *i)
{
	struct fs_inode *dir;
	struct statx x;
	int fd, e;

	if (i->fd >= 0) {
		if (i->mode != S_IFDIR && s->lru_head != ino_num(s, i)) {
			lru_unlink(s, i);
			lru_push(s, i);
		}
		return i->fd;
	}
	/* re-open by the name it was last found by (directories never lose
	 * their descriptor, so the parent has one) */
	if (!i->parent || (!i->long_name && !i->name[0]))
		return -ESTALE;
	dir = SLOT(s, i->parent);
	if ((e = fs_ino_fd_room(s)))
		return e;
	fd = openat(dir->fd, fs_ino_name(i), O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : errno == EMFILE ? -ENFILE : -errno;
	if (ino_statx(fd, &x) || makedev(x.stx_dev_major, x.stx_dev_minor) != i->dev ||
	    x.stx_ino != i->ino ||
	    (i->has_btime && (!(x.stx_mask & STATX_BTIME) || x.stx_btime.tv_sec != i->btime_sec ||
			      x.stx_btime.tv_nsec != i->btime_nsec))) {
		close(fd);
		return -ESTALE; /* renamed or replaced behind the guest's back */
	}
	s->st.fds_reopened++;
	attach(s, i, fd);
	return fd;
}

void fs_ino_forget(struct fs_share *s, uint64_t id, uint64_t n)
{
	struct fs_inode *i = fs_ino_get(s, id);

	if (!i || i == s->ino)
		return; /* unknown (counted), or the root, which stays */
	i->nlookup = n >= i->nlookup ? 0 : i->nlookup - n;
	try_free(s, ino_num(s, i));
}

void fs_ino_reset(struct fs_share *s)
{
	for (uint32_t n = 2; n <= s->ino_top; n++) {
		struct fs_inode *i = SLOT(s, n);
		if (!i->used)
			continue;
		i->nlookup = 0;
		i->refs = 0;
		i->parent = 0; /* everything goes: no walking up */
		try_free(s, n);
	}
	s->ino[0].refs = 0;
}
