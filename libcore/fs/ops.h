/* The FUSE operation handlers of a share, for fs/fuse.c's dispatch table
 * only. Each takes a request whose fixed arguments (the table's arg_min
 * bytes) are present and whose reply room holds the table's reply size,
 * and returns the reply body length (built in r->out) or -errno. */
#ifndef VOIDBOX_FS_OPS_H
#define VOIDBOX_FS_OPS_H

#include "fs/fuse.h"

typedef int fs_op_fn(struct fs_share *s, struct fs_req *r);

/* fs/ops_node.c: names, attributes, the tree */
fs_op_fn fs_op_lookup, fs_op_forget, fs_op_batch_forget, fs_op_getattr, fs_op_setattr,
	fs_op_readlink, fs_op_symlink, fs_op_mknod, fs_op_mkdir, fs_op_unlink, fs_op_rmdir,
	fs_op_rename, fs_op_rename2, fs_op_link, fs_op_statfs, fs_op_access;
/* fs/ops_file.c: open files and directories */
fs_op_fn fs_op_open, fs_op_create, fs_op_read, fs_op_write, fs_op_release, fs_op_fsync,
	fs_op_fallocate, fs_op_lseek, fs_op_opendir, fs_op_readdir, fs_op_readdirplus,
	fs_op_releasedir, fs_op_fsyncdir, fs_op_syncfs;

/* Shared by both: the reply for a looked-up inode. */
/* Fills a fuse_attr from a host stat, ids mapped for the guest. */
void fs_attr_fill(const struct fs_share *s, const struct stat *st, struct fuse_attr *a);
/* Fills a fuse_entry_out for inode i (stat st). */
void fs_entry_fill(const struct fs_share *s, const struct fs_inode *i, const struct stat *st,
		   struct fuse_entry_out *e);
/* Looks up name in dir and adds the inode (one more lookup); on success
 * fills *e. Returns 0 or -errno. */
int fs_lookup_entry(struct fs_share *s, struct fs_inode *dir, const char *name,
		    struct fuse_entry_out *e);
/* The inode of the request's node id, or NULL. */
struct fs_inode *fs_req_inode(struct fs_share *s, const struct fs_req *r);
/* The NUL-terminated name starting at byte off of the arguments, checked
 * with fs_name_check(); *next gets the offset after its NUL. Returns 0 or
 * -errno. */
int fs_req_name(struct fs_share *s, const struct fs_req *r, uint32_t off, const char **name,
		uint32_t *next);

#endif
