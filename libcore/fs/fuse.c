/* FUSE dispatch for a share; see fs/fuse.h. One table row per operation
 * says how many argument bytes it needs, how large its reply is, whether
 * it modifies the share (refused with EROFS on a read-only one, before the
 * handler runs) and whether it is answered at all. INIT negotiates the
 * protocol; every other request before it is refused with EIO. FLUSH is
 * answered ENOSYS, which tells the guest never to send it again: writes
 * reach the host as they are made (nothing to report at close) and locks
 * stay in the guest, so each close saves a round trip. */
#include "fs/fuse.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "fs/ops.h"

enum {
	OP_WRITES = 1,   /* modifies the share: EROFS when read-only */
	OP_NOREPLY = 2,  /* the guest expects no answer */
	OP_BULK = 4,     /* may be longer than FS_REQ_MAX (WRITE's data) */
};

struct fs_op {
	fs_op_fn *fn;
	uint16_t arg_min;    /* fixed argument bytes (+ a NUL per name) */
	uint16_t reply;      /* fixed reply size; 0: variable or none */
	uint8_t flags;
};

#define E_OUT ((uint16_t)sizeof(struct fuse_entry_out))
#define OPEN_OUT ((uint16_t)sizeof(struct fuse_open_out))

static const struct fs_op ops[] = {
	[FUSE_LOOKUP] = { fs_op_lookup, 1, E_OUT, 0 },
	[FUSE_FORGET] = { fs_op_forget, sizeof(struct fuse_forget_in), 0, OP_NOREPLY },
	[FUSE_BATCH_FORGET] = { fs_op_batch_forget, sizeof(struct fuse_batch_forget_in), 0,
				OP_NOREPLY },
	[FUSE_GETATTR] = { fs_op_getattr, sizeof(struct fuse_getattr_in),
			   sizeof(struct fuse_attr_out), 0 },
	[FUSE_SETATTR] = { fs_op_setattr, sizeof(struct fuse_setattr_in),
			   sizeof(struct fuse_attr_out), OP_WRITES },
	[FUSE_READLINK] = { fs_op_readlink, 0, 0, 0 },
	[FUSE_SYMLINK] = { fs_op_symlink, 2, E_OUT, OP_WRITES },
	[FUSE_MKNOD] = { fs_op_mknod, sizeof(struct fuse_mknod_in) + 1, E_OUT, OP_WRITES },
	[FUSE_MKDIR] = { fs_op_mkdir, sizeof(struct fuse_mkdir_in) + 1, E_OUT, OP_WRITES },
	[FUSE_UNLINK] = { fs_op_unlink, 1, 0, OP_WRITES },
	[FUSE_RMDIR] = { fs_op_rmdir, 1, 0, OP_WRITES },
	[FUSE_RENAME] = { fs_op_rename, sizeof(struct fuse_rename_in) + 2, 0, OP_WRITES },
	[FUSE_RENAME2] = { fs_op_rename2, sizeof(struct fuse_rename2_in) + 2, 0, OP_WRITES },
	[FUSE_LINK] = { fs_op_link, sizeof(struct fuse_link_in) + 1, E_OUT, OP_WRITES },
	[FUSE_OPEN] = { fs_op_open, sizeof(struct fuse_open_in), OPEN_OUT, 0 },
	[FUSE_READ] = { fs_op_read, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_WRITE] = { fs_op_write, sizeof(struct fuse_write_in),
			 sizeof(struct fuse_write_out), OP_WRITES | OP_BULK },
	[FUSE_STATFS] = { fs_op_statfs, 0, sizeof(struct fuse_statfs_out), 0 },
	[FUSE_RELEASE] = { fs_op_release, sizeof(struct fuse_release_in), 0, 0 },
	[FUSE_FSYNC] = { fs_op_fsync, sizeof(struct fuse_fsync_in), 0, 0 },
	[FUSE_OPENDIR] = { fs_op_opendir, sizeof(struct fuse_open_in), OPEN_OUT, 0 },
	[FUSE_READDIR] = { fs_op_readdir, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_RELEASEDIR] = { fs_op_releasedir, sizeof(struct fuse_release_in), 0, 0 },
	[FUSE_FSYNCDIR] = { fs_op_fsyncdir, sizeof(struct fuse_fsync_in), 0, 0 },
	[FUSE_ACCESS] = { fs_op_access, sizeof(struct fuse_access_in), 0, 0 },
	[FUSE_CREATE] = { fs_op_create, sizeof(struct fuse_create_in) + 1, E_OUT + OPEN_OUT,
			  OP_WRITES },
	[FUSE_FALLOCATE] = { fs_op_fallocate, sizeof(struct fuse_fallocate_in), 0, OP_WRITES },
	[FUSE_READDIRPLUS] = { fs_op_readdirplus, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_LSEEK] = { fs_op_lseek, sizeof(struct fuse_lseek_in),
			 sizeof(struct fuse_lseek_out), 0 },
	[FUSE_SYNCFS] = { fs_op_syncfs, 0, 0, 0 },
};

/* FUSE_INIT: protocol 7.FS_MIN_MINOR or later; the features we serve. */
static int op_init(struct fs_fuse *f, struct fs_req *r)
{
	const uint32_t want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			      FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			      FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS;
	struct fuse_init_out *o = (struct fuse_init_out *)r->out;
	struct fuse_init_in in = { 0 };

	if (r->arg_len < 16) {
		f->s->st.bad_requests++;
		return -EINVAL;
	}
	if (f->inited)
		return -EPROTO; /* once per session */
	memcpy(&in, r->arg, MIN(r->arg_len, (uint32_t)sizeof(in)));
	memset(o, 0, sizeof(*o));
	o->major = FUSE_KERNEL_VERSION;
	o->minor = FUSE_KERNEL_MINOR_VERSION;
	if (in.major > FUSE_KERNEL_VERSION)
		return 8; /* our major only: the kernel asks again in it */
	if (in.major < FUSE_KERNEL_VERSION || in.minor < FS_MIN_MINOR)
		return -EPROTO;
	if (r->rdata_len < sizeof(*o))
		return -EINVAL;
	o->minor = MIN(in.minor, (uint32_t)FUSE_KERNEL_MINOR_VERSION);
	o->max_readahead = in.max_readahead;
	o->flags = in.flags & want;
	o->max_background = 64;
	o->congestion_threshold = 48;
	o->max_write = FS_MAX_IO;
	o->time_gran = 1;
	o->max_pages = FS_MAX_PAGES;
	f->inited = true;
	f->minor = o->minor;
	return sizeof(*o);
}

void fs_fuse_reset(struct fs_fuse *f)
{
	f->inited = false;
	f->minor = 0;
	fs_share_reset(f->s);
}

int fs_fuse_request(struct fs_fuse *f, struct fs_req *r)
{
	struct fs_share *s = f->s;
	uint32_t opc = r->h.opcode;
	const struct fs_op *op = opc < ARRAY_SIZE(ops) && ops[opc].fn ? &ops[opc] : NULL;

	s->st.requests++;
	if (opc == FUSE_INTERRUPT || (op && (op->flags & OP_NOREPLY))) {
		/* requests are answered in order, one at a time: there is
		 * never one to interrupt */
		r->noreply = true;
		if (!op)
			return 0;
	} else if (!r->can_reply) {
		s->st.bad_requests++; /* no room for an answer: not executed */
		r->noreply = true;
		return 0;
	}
	if (r->total_len > FS_REQ_MAX && !(op && (op->flags & OP_BULK))) {
		s->st.bad_requests++;
		return -EINVAL;
	}
	if (opc == FUSE_INIT)
		return op_init(f, r);
	if (!f->inited)
		return -EIO;
	if (opc == FUSE_DESTROY) {
		fs_fuse_reset(f);
		return 0;
	}
	if (!op)
		return -ENOSYS; /* xattrs, locks, ioctl, poll, DAX, ... */
	if (r->arg_len < op->arg_min || r->rdata_len < op->reply) {
		s->st.bad_requests++;
		return -EINVAL;
	}
	if ((op->flags & OP_WRITES) && s->ro) {
		s->st.erofs++;
		return -EROFS;
	}
	return op->fn(s, r);
}
