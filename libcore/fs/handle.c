/* The handle table of a share (see fs/share.h): the guest's open files and
 * directories, each a host descriptor in a fixed array of slots with a
 * free list. A handle id is (generation << 32) | (slot + 1), so 0 is never
 * valid and a stale id of a reused slot fails its generation check. A
 * handle keeps its inode in the table while it is open. */
#include "fs/share.h"

#include <errno.h>
#include <unistd.h>

int64_t fs_fh_add(struct fs_share *s, int fd, bool dir, struct fs_inode *i)
{
	struct fs_handle *h;
	uint32_t idx;

	if (s->fh_free) {
		idx = s->fh_free - 1;
		s->fh_free = s->fh[idx].next_free;
	} else if (s->fh_top < s->max_handles) {
		idx = s->fh_top++;
	} else {
		close(fd);
		s->st.table_full++;
		return -ENFILE;
	}
	h = &s->fh[idx];
	h->fd = fd;
	h->dir = dir;
	h->ino = (uint32_t)(i - s->ino) + 1;
	fs_ino_ref(s, i, 1);
	h->pos = 0;
	h->next_free = 0;
	h->gen++;
	s->n_handles++;
	return (int64_t)(((uint64_t)h->gen << 32) | (idx + 1));
}

struct fs_handle *fs_fh_get(struct fs_share *s, uint64_t id, bool dir)
{
	uint32_t idx = (uint32_t)id, gen = (uint32_t)(id >> 32);
	struct fs_handle *h;

	if (idx == 0 || idx > s->fh_top) {
		s->st.bad_ids++;
		return NULL;
	}
	h = &s->fh[idx - 1];
	if (h->fd < 0 || h->gen != gen || h->dir != dir) {
		s->st.bad_ids++;
		return NULL;
	}
	return h;
}

/* Frees slot idx. */
static void fh_free(struct fs_share *s, uint32_t idx)
{
	struct fs_handle *h = &s->fh[idx];

	close(h->fd);
	h->fd = -1;
	h->next_free = s->fh_free;
	s->fh_free = idx + 1;
	s->n_handles--;
	if (h->ino)
		fs_ino_ref(s, &s->ino[h->ino - 1], -1);
	h->ino = 0;
}

int fs_fh_close(struct fs_share *s, uint64_t id, bool dir)
{
	struct fs_handle *h = fs_fh_get(s, id, dir);

	if (!h)
		return -EBADF;
	fh_free(s, (uint32_t)(h - s->fh));
	return 0;
}

void fs_fh_reset(struct fs_share *s)
{
	for (uint32_t idx = 0; idx < s->fh_top; idx++)
		if (s->fh[idx].fd >= 0)
			fh_free(s, idx);
}
