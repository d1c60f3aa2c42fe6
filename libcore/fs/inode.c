/* The inode table of a share (see fs/share.h): a fixed array of slots
 * allocated at open, a free list, and a hash of (st_dev, st_ino) with
 * chains threaded through the slots. A node id is (generation << 32) |
 * (slot + 1): slot 0 is the root (node id 1, FUSE_ROOT_ID), and a stale id
 * of a reused slot fails its generation check instead of naming another
 * file. Nothing here allocates after open. */
#include "fs/share.h"

#include <errno.h>
#include <unistd.h>

/* Bucket of (dev, ino). */
static uint32_t ino_bucket(const struct fs_share *s, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev * 0xc2b2ae3d27d4eb4fULL);

	return (uint32_t)(h >> 32) & s->hash_mask;
}

uint64_t fs_ino_id(const struct fs_share *s, const struct fs_inode *i)
{
	uint32_t idx = (uint32_t)(i - s->ino);

	return ((uint64_t)i->gen << 32) | (idx + 1);
}

struct fs_inode *fs_ino_get(struct fs_share *s, uint64_t id)
{
	uint32_t idx = (uint32_t)id, gen = (uint32_t)(id >> 32);
	struct fs_inode *i;

	if (idx == 0 || idx > s->ino_top) {
		s->st.bad_ids++;
		return NULL;
	}
	i = &s->ino[idx - 1];
	if (i->fd < 0 || i->gen != gen) {
		s->st.bad_ids++;
		return NULL;
	}
	return i;
}

void fs_ino_hash_root(struct fs_share *s)
{
	s->hash[ino_bucket(s, s->ino[0].dev, s->ino[0].ino)] = 1;
}

/* Unlinks slot idx from its hash chain. */
static void ino_unhash(struct fs_share *s, uint32_t idx)
{
	struct fs_inode *i = &s->ino[idx];
	uint32_t *p = &s->hash[ino_bucket(s, i->dev, i->ino)];

	while (*p && *p != idx + 1)
		p = &s->ino[*p - 1].hnext;
	if (*p)
		*p = i->hnext;
	i->hnext = 0;
}

struct fs_inode *fs_ino_add(struct fs_share *s, int fd, const struct stat *st, int *err)
{
	uint32_t b = ino_bucket(s, (uint64_t)st->st_dev, (uint64_t)st->st_ino), idx;
	struct fs_inode *i;

	for (uint32_t n = s->hash[b]; n; n = s->ino[n - 1].hnext) {
		i = &s->ino[n - 1];
		if (i->dev == (uint64_t)st->st_dev && i->ino == (uint64_t)st->st_ino) {
			close(fd);
			i->nlookup++;
			return i;
		}
	}
	if (s->ino_free) {
		idx = s->ino_free - 1;
		s->ino_free = s->ino[idx].hnext;
	} else if (s->ino_top < s->max_inodes) {
		idx = s->ino_top++;
	} else {
		close(fd);
		s->st.table_full++;
		*err = -ENFILE;
		return NULL;
	}
	i = &s->ino[idx];
	i->dev = (uint64_t)st->st_dev;
	i->ino = (uint64_t)st->st_ino;
	i->mode = st->st_mode & S_IFMT;
	i->fd = fd;
	i->nlookup = 1;
	i->gen++;
	if (!i->gen)
		i->gen = 1; /* generation 0 belongs to the root's id alone */
	i->hnext = s->hash[b];
	s->hash[b] = idx + 1;
	s->n_inodes++;
	return i;
}

/* Frees slot idx (not the root). */
static void ino_free(struct fs_share *s, uint32_t idx)
{
	struct fs_inode *i = &s->ino[idx];

	ino_unhash(s, idx);
	close(i->fd);
	i->fd = -1;
	i->nlookup = 0;
	i->hnext = s->ino_free;
	s->ino_free = idx + 1;
	s->n_inodes--;
}

void fs_ino_forget(struct fs_share *s, uint64_t id, uint64_t n)
{
	struct fs_inode *i = fs_ino_get(s, id);

	if (!i || i == s->ino)
		return; /* unknown (counted), or the root, which stays */
	if (n >= i->nlookup)
		ino_free(s, (uint32_t)(i - s->ino));
	else
		i->nlookup -= n;
}

void fs_ino_reset(struct fs_share *s)
{
	for (uint32_t idx = 1; idx < s->ino_top; idx++)
		if (s->ino[idx].fd >= 0)
			ino_free(s, idx);
}
