/* Shared folders' part of setting up and ending a VM; see fs/vm.h. */
#include "fs/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define FS_FD_KEEP 1024          /* descriptors left to the rest of voidbox */

static const char *const fs_modules[] = { "virtiofs", NULL };
static const char *const fs_root_modules[] = { "virtiofs", "overlay", NULL };

const char *const *fs_vm_modules(const struct fs_opts *o)
{
	if (o->rootfs[0])
		return fs_root_modules;
	return o->n_vol ? fs_modules : NULL;
}

/* Adds share k (host folder path, mount tag tag) to the VM. Returns 0 or
 * -errno (why). */
static int add_share(struct fs_vm *v, const struct fs_share_cfg *cfg, const char *tag,
		     struct vmm_config *c, char *why, size_t len)
{
	unsigned k = v->n;
	struct vmm_dev *d;
	char err[300];
	int r;

	if (c->ndevs >= VMM_MAX_DEVS) {
		snprintf(why, len, "shared folder %s: too many devices (at most %d in all)", cfg->path,
			 VMM_MAX_DEVS);
		return -ENOSPC;
	}
	v->dev[k] = calloc(1, sizeof(*v->dev[k]));
	if (!v->dev[k]) {
		snprintf(why, len, "shared folder %s: out of memory", cfg->path);
		return -ENOMEM;
	}
	if ((r = fs_dev_init(v->dev[k], tag, cfg, err, sizeof(err)))) {
		free(v->dev[k]);
		v->dev[k] = NULL;
		snprintf(why, len, "shared folder %s", err);
		return r;
	}
	v->n++;
	d = &c->devs[c->ndevs];
	memset(d, 0, sizeof(*d));
	d->dev = fs_dev_vdev(v->dev[k]);
	snprintf(v->name[k], sizeof(v->name[k]), "%s", tag);
	d->name = v->name[k];
	c->ndevs++;
	return 0;
}

/* Each share's part of the descriptors the process may open, FS_FD_KEEP
 * kept for everything else (vsock, SLIRP, qemu's sockets): its open
 * handles and its cache of inode descriptors, in cfg. */
static void fd_share(struct fs_share_cfg *cfg, unsigned shares)
{
	uint64_t fds = fs_share_fd_budget(), part;

	part = fds > FS_FD_KEEP + 128 ? (fds - FS_FD_KEEP) / shares : 128;
	cfg->max_handles = (uint32_t)MIN((uint64_t)FS_DEFAULT_MAX_HANDLES, part / 8);
	cfg->max_fds = (uint32_t)MIN((uint64_t)FS_DEFAULT_MAX_FDS, part - cfg->max_handles);
}

int fs_vm_setup(struct fs_vm *v, const struct fs_opts *o, uint32_t uid, uint32_t gid,
		struct vmm_config *c, char *cmdline, size_t cmdlen, char *why, size_t len)
{
	unsigned shares = o->n_vol + !!o->rootfs[0];
	char tag[16];
	int r;

	memset(v, 0, sizeof(*v));
	if (!fs_opts_any(o))
		return 0;
	if (o->rootfs[0]) {
		/* the root's owner is root inside; written only with :rw */
		struct fs_share_cfg cfg = { .path = o->rootfs, .ro = !o->rootfs_rw };
		fd_share(&cfg, shares);
		if ((r = add_share(v, &cfg, FS_ROOT_TAG, c, why, len)))
			return r;
	}
	for (unsigned i = 0; i < o->n_vol; i++) {
		struct fs_share_cfg cfg = { .path = o->vol[i].host, .ro = o->vol[i].ro,
					    .guest_uid = uid, .guest_gid = gid };
		fd_share(&cfg, shares);
		snprintf(tag, sizeof(tag), "%s%u", FS_TAG_PREFIX, i);
		if ((r = add_share(v, &cfg, tag, c, why, len)))
			return r;
	}
	if (fs_opts_cmdline(o, cmdline, cmdlen)) {
		snprintf(why, len, "kernel command line too long for the shared folders' mount points");
		return -ENOSPC;
	}
	return 0;
}

void fs_vm_finish(struct fs_vm *v)
{
	for (unsigned k = 0; k < FS_MAX_SHARES; k++) {
		if (v->dev[k]) {
			fs_dev_fini(v->dev[k]);
			free(v->dev[k]);
			v->dev[k] = NULL;
		}
	}
	v->n = 0;
}
