/* The shared-folder options of `voidbox run`, declared once in
 * fs_opts_table (fs/opts.c, base/opts.h), which run's option table
 * includes:
 *   -v, --volume HOST:GUEST[:ro|:rw]   HOST mounted at GUEST (repeatable)
 *   --rootfs DIR[:rw]                  DIR is the guest's root: read-only
 *                                      with a tmpfs overlay for writes, or
 *                                      written directly with :rw
 * Together at most FS_MAX_SHARES. Each becomes a virtio-fs device
 * (fs/vm.h) and a kernel parameter the agent reads (agent/fs.h):
 *   voidbox.root=TAG,overlay|rw   voidbox.fs.N=TAG,ro|rw,GUEST
 * with GUEST percent-encoded (bytes other than [A-Za-z0-9/._-]). */
#ifndef VOIDBOX_FS_OPTS_H
#define VOIDBOX_FS_OPTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/opts.h"

#define FS_MAX_SHARES 6         /* microvm has 8 virtio-mmio slots; vsock and net take 2 */
#define FS_GUEST_PATH_MAX 256   /* a guest mount point, bytes */
#define FS_CMDLINE_MAX 1024     /* kernel parameter bytes all shares may take */
#define FS_ROOT_TAG "vbroot"
#define FS_TAG_PREFIX "vbfs"

struct fs_volume {
	char host[PATH_MAX];
	char guest[FS_GUEST_PATH_MAX];
	bool ro;
};

struct fs_opts {
	struct fs_volume vol[FS_MAX_SHARES];
	unsigned n_vol;
	char rootfs[PATH_MAX];      /* "" : none */
	bool rootfs_rw;
};

/* -v/--volume and --rootfs (defaults: none). */
extern const struct opts_table fs_opts_table;
/* Whether any share is asked for. */
bool fs_opts_any(const struct fs_opts *o);
/* Appends the kernel parameters for o to cmdline (size len, NUL
 * terminated). Returns 0 or -ENOSPC. */
int fs_opts_cmdline(const struct fs_opts *o, char *cmdline, size_t len);

#endif
