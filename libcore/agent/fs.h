/* The guest side of shared folders: mounts the virtio-fs shares the
 * kernel command line names (fs/opts.h writes them):
 *   voidbox.root=TAG,overlay|rw   the share TAG becomes the root: mounted
 *                                 read-only under a tmpfs overlay, or
 *                                 read-write; /dev /proc /sys /run /tmp
 *                                 move along, then the agent chroots in
 *   voidbox.fs.N=TAG,ro|rw,PATH   (N = 0, 1, ...) TAG mounted at PATH
 *                                 (percent-encoded), nosuid and nodev,
 *                                 read-only with ro; missing folders of
 *                                 PATH are created (root's, mode 0755)
 * The shares' owner is the host user, shown as the command's user (the
 * device maps it), so the command can use them. */
#ifndef VOIDBOX_AGENT_FS_H
#define VOIDBOX_AGENT_FS_H

#include <stddef.h>

#define AGENT_FS_NEWROOT "/.voidbox/root"

/* Switches the root and mounts the shares per cmdline. Needs the virtiofs
 * (and, for an overlay root, overlay) modules loaded. Returns the number
 * of shares mounted, or -errno of the first failure with what failed in
 * why (the agent then serves no command: its files would be missing). */
int agent_fs_setup(const char *cmdline, char *why, size_t len);
/* Decodes a percent-encoded path into out. Returns 0 or -EINVAL. */
int agent_fs_decode(const char *in, char *out, size_t len);

#endif
