/* The shared-folder options of `voidbox run`, declared once here like the
 * network's (run's option table includes FS_OPTS_LONG, "v:" goes in the
 * short string, and every option run does not know is offered to
 * fs_opts_parse()):
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

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define FS_MAX_SHARES 6         /* microvm has 8 virtio-mmio slots; vsock and net take 2 */
#define FS_GUEST_PATH_MAX 256   /* a guest mount point, bytes */
#define FS_CMDLINE_MAX 1024     /* kernel parameter bytes all shares may take */
#define FS_ROOT_TAG "vbroot"
#define FS_TAG_PREFIX "vbfs"

enum { FS_OPT_VOLUME = 'v', FS_OPT_ROOTFS = 0x4600 };

#define FS_OPTS_SHORT "v:"
#define FS_OPTS_LONG                                                       \
	{ "volume", required_argument, NULL, FS_OPT_VOLUME },              \
	{ "rootfs", required_argument, NULL, FS_OPT_ROOTFS }

#define FS_OPTS_USAGE                                                                       \
	"Shared folders (virtio-fs served by voidbox; see docs/fs.md):\n"                    \
	"  -v, --volume HOST:GUEST[:ro]  mount the host folder HOST at GUEST before CMD\n"   \
	"                            starts (repeatable; :ro refuses every write)\n"        \
	"  --rootfs DIR[:rw]         boot with DIR as the guest's root: read-only with a\n" \
	"                            tmpfs overlay for writes, or written directly (:rw)\n"

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

void fs_opts_init(struct fs_opts *o);
/* Handles one option code from getopt_long. Returns 1 when it was a
 * shared-folder option and was taken, 0 when it is not one, -EINVAL when
 * its argument is bad (why filled). */
int fs_opts_parse(struct fs_opts *o, int code, const char *arg, char *why, size_t len);
/* Whether any share is asked for. */
bool fs_opts_any(const struct fs_opts *o);
/* Appends the kernel parameters for o to cmdline (size len, NUL
 * terminated). Returns 0 or -ENOSPC. */
int fs_opts_cmdline(const struct fs_opts *o, char *cmdline, size_t len);

#endif
