/* The file tree of an image being built: entries are collected in any
 * order (a later entry for the same path replaces an earlier one), then
 * finished (missing parent directories added, entries sorted by name so
 * every directory precedes what it holds) and written as a cpio newc
 * archive with fixed inode numbers, owners and mtime, so equal inputs give
 * equal bytes. File contents come from a host file (read while writing) or
 * from memory. */
#ifndef VOIDBOX_TREE_H
#define VOIDBOX_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "image/cpio.h"

struct tree_ent {
	char *path;          /* "bin/voidbox": normalised, no leading '/' */
	uint32_t mode;       /* S_IFxxx | permission bits */
	uint32_t uid, gid;
	uint32_t rmaj, rmin; /* device nodes */
	char *src;           /* regular file: host file to copy, or NULL */
	uint8_t *data;       /* regular file contents or symlink target */
	size_t len;
	unsigned seq;        /* order of addition (later wins) */
};

struct tree {
	struct tree_ent *e;
	size_t n, cap;
	unsigned seq;
};

void tree_init(struct tree *t);
void tree_free(struct tree *t);
/* Adds a directory. Returns 0, -EINVAL for a bad path, or -ENOMEM. */
int tree_dir(struct tree *t, const char *path, uint32_t perm, uint32_t uid, uint32_t gid);
/* Adds a regular file copied from host file src. */
int tree_file(struct tree *t, const char *path, uint32_t perm, const char *src);
/* Adds a regular file with the given contents (copied). */
int tree_data(struct tree *t, const char *path, uint32_t perm, const void *data, size_t len);
int tree_symlink(struct tree *t, const char *path, const char *target);
/* Adds a device node; type is S_IFCHR or S_IFBLK. */
int tree_node(struct tree *t, const char *path, uint32_t type, uint32_t perm,
	      uint32_t maj, uint32_t min);
/* Returns the entry for path (after tree_finish), or NULL. */
const struct tree_ent *tree_find(const struct tree *t, const char *path);
/* Keeps the last entry of each path, adds missing parent directories
 * (0755, root), sorts. Returns 0, -ENOTDIR (a path's parent is not a
 * directory; message in err) or -ENOMEM. */
int tree_finish(struct tree *t, char *err, size_t errlen);
/* Writes the finished tree and the trailer to w, every entry with mtime.
 * Returns 0 or -errno, with the failing path in err. */
int tree_write(const struct tree *t, struct cpio_writer *w, uint32_t mtime,
	       char *err, size_t errlen);
/* Normalises path ("/a//b/" -> "a/b") into out. Returns 0, or -EINVAL for
 * an empty path, "." or ".." components, or one too long. */
int tree_norm_path(const char *path, char *out, size_t outlen);

#endif
