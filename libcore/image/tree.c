/* The image's file tree; see image/tree.h. */
#include "image/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

void tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
}

static void ent_free(struct tree_ent *e)
{
	free(e->path);
	free(e->src);
	free(e->data);
}

void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		ent_free(&t->e[i]);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

int tree_norm_path(const char *path, char *out, size_t outlen)
{
	size_t o = 0;

	while (*path) {
		size_t n;

		while (*path == '/')
			path++;
		n = strcspn(path, "/");
		if (!n)
			break;
		if ((n == 1 && path[0] == '.') || (n == 2 && path[0] == '.' && path[1] == '.'))
			return -EINVAL;
		if (o + (o ? 1 : 0) + n + 1 > outlen || o + n + 1 > CPIO_MAX_NAME)
			return -EINVAL;
		if (o)
			out[o++] = '/';
		memcpy(out + o, path, n);
		o += n;
		path += n;
	}
	if (!o)
		return -EINVAL;
	out[o] = 0;
	return 0;
}

/* Appends an entry for path (normalised here) and returns it, or NULL. */
static struct tree_ent *tree_new(struct tree *t, const char *path, uint32_t mode)
{
	char norm[CPIO_MAX_NAME];
	struct tree_ent *e;

	if (tree_norm_path(path, norm, sizeof(norm)))
		return NULL;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		struct tree_ent *ne = realloc(t->e, nc * sizeof(*ne));
		if (!ne)
			return NULL;
		t->e = ne;
		t->cap = nc;
	}
	e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	if (!(e->path = strdup(norm)))
		return NULL;
	e->mode = mode;
	e->seq = t->seq++;
	t->n++;
	return e;
}

/* -EINVAL when path does not normalise, else -ENOMEM. */
static int new_err(const char *path)
{
	char norm[CPIO_MAX_NAME];

	return tree_norm_path(path, norm, sizeof(norm)) ? -EINVAL : -ENOMEM;
}

int tree_dir(struct tree *t, const char *path, uint32_t perm, uint32_t uid, uint32_t gid)
{
	struct tree_ent *e = tree_new(t, path, S_IFDIR | (perm & 07777));

	if (!e)
		return new_err(path);
	e->uid = uid;
	e->gid = gid;
	return 0;
}

int tree_file(struct tree *t, const char *path, uint32_t perm, const char *src)
{
	struct tree_ent *e = tree_new(t, path, S_IFREG | (perm & 07777));

	if (!e)
		return new_err(path);
	return (e->src = strdup(src)) ? 0 : -ENOMEM;
}

/* Sets e's data to a copy of data[0..len). */
static int ent_set_data(struct tree_ent *e, const void *data, size_t len)
{
	if (!(e->data = malloc(len + 1)))
		return -ENOMEM;
	memcpy(e->data, data, len);
	e->data[len] = 0;
	e->len = len;
	return 0;
}

int tree_data(struct tree *t, const char *path, uint32_t perm, const void *data, size_t len)
{
	struct tree_ent *e = tree_new(t, path, S_IFREG | (perm & 07777));

	return e ? ent_set_data(e, data, len) : new_err(path);
}

int tree_symlink(struct tree *t, const char *path, const char *target)
{
	struct tree_ent *e = tree_new(t, path, S_IFLNK | 0777);

	return e ? ent_set_data(e, target, strlen(target)) : new_err(path);
}

int tree_node(struct tree *t, const char *path, uint32_t type, uint32_t perm,
	      uint32_t maj, uint32_t min)
{
	struct tree_ent *e = tree_new(t, path, type | (perm & 07777));

	if (!e)
		return new_err(path);
	e->rmaj = maj;
	e->rmin = min;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct tree_ent *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_key_ent(const void *key, const void *e)
{
	return strcmp(key, ((const struct tree_ent *)e)->path);
}

const struct tree_ent *tree_find(const struct tree *t, const char *path)
{
	return t->n ? bsearch(path, t->e, t->n, sizeof(*t->e), cmp_key_ent) : NULL;
}

/* Sorts and keeps only the last-added entry of each path. */
static void sort_dedup(struct tree *t)
{
	size_t o = 0;

	qsort(t->e, t->n, sizeof(*t->e), cmp_ent);
	for (size_t i = 0; i < t->n; i++) {
		if (i + 1 < t->n && !strcmp(t->e[i].path, t->e[i + 1].path)) {
			ent_free(&t->e[i]);
			continue;
		}
		t->e[o++] = t->e[i];
	}
	t->n = o;
}

int tree_finish(struct tree *t, char *err, size_t errlen)
{
	size_t n0;
	int e;

	sort_dedup(t);
	n0 = t->n;
	for (size_t i = 0; i < n0; i++) {
		char parent[CPIO_MAX_NAME];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", t->e[i].path);
		while ((slash = strrchr(parent, '/'))) {
			const struct tree_ent *p;

			*slash = 0;
			p = bsearch(parent, t->e, n0, sizeof(*t->e), cmp_key_ent);
			if (p) {
				if (!S_ISDIR(p->mode)) {
					snprintf(err, errlen, "/%s is not a directory but /%s is put in it",
						 parent, t->e[i].path);
					return -ENOTDIR;
				}
				break;
			}
			/* adding may move t->e; n0 entries stay sorted for bsearch */
			if ((e = tree_dir(t, parent, 0755, 0, 0))) {
				snprintf(err, errlen, "out of memory");
				return e;
			}
		}
	}
	sort_dedup(t); /* parents added for several children collapse to one */
	return 0;
}

/* Streams host file e->src as the data of entry c. Returns 0 or -errno. */
static int write_src(const struct tree_ent *e, struct cpio_entry *c, struct cpio_writer *w,
		     char *err, size_t errlen)
{
	uint8_t buf[65536];
	struct stat st;
	uint64_t left;
	int fd = open(e->src, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", e->src, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > UINT32_MAX) {
		r = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		snprintf(err, errlen, "%s: %s", e->src, S_ISREG(st.st_mode) ?
			 "larger than 4 GiB (cpio newc limit)" : "not a regular file");
		goto out;
	}
	c->size = (uint32_t)st.st_size;
	if ((r = cpio_write_header(w, c))) {
		snprintf(err, errlen, "writing /%s: %s", e->path, strerror(-r));
		goto out;
	}
	for (left = c->size; left;) {
		ssize_t n = read(fd, buf, MIN(left, sizeof(buf)));

		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: %s", e->src,
				 n < 0 ? strerror(errno) : "file shrank while being read");
			goto out;
		}
		if ((r = cpio_write_data(w, buf, (size_t)n))) {
			snprintf(err, errlen, "writing /%s: %s", e->path, strerror(-r));
			goto out;
		}
		left -= (uint64_t)n;
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int tree_write(const struct tree *t, struct cpio_writer *w, uint32_t mtime,
	       char *err, size_t errlen)
{
	int r;

	for (size_t i = 0; i < t->n; i++) {
		const struct tree_ent *e = &t->e[i];
		struct cpio_entry c = {
			.name = e->path, .ino = (uint32_t)i + 1, .mode = e->mode,
			.uid = e->uid, .gid = e->gid, .nlink = S_ISDIR(e->mode) ? 2 : 1,
			.mtime = mtime, .rdev_major = e->rmaj, .rdev_minor = e->rmin,
		};

		if (S_ISREG(e->mode) && e->src) {
			if ((r = write_src(e, &c, w, err, errlen)))
				return r;
			continue;
		}
		c.size = (uint32_t)e->len;
		if ((r = cpio_write_header(w, &c)) || (r = cpio_write_data(w, e->data, e->len))) {
			snprintf(err, errlen, "writing /%s: %s", e->path, strerror(-r));
			return r;
		}
	}
	if ((r = cpio_write_trailer(w)))
		snprintf(err, errlen, "writing the trailer: %s", strerror(-r));
	return r;
}
