/* Shared folders as one piece `voidbox run` adds to a VM it sets up, like
 * the network (net/vm.h): one virtio-fs device (fs/dev.h) per --volume and
 * for --rootfs, each added to the VMM's device list under its mount tag,
 * and the kernel parameters the agent mounts them from
 * (fs/opts.h). A volume's files show the user running voidbox as the
 * command's uid:gid; the root file system's show them as root. At the
 * end, fs_vm_finish() closes the shares. */
#ifndef VOIDBOX_FS_VM_H
#define VOIDBOX_FS_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/dev.h"
#include "fs/opts.h"
#include "vmm/vmm.h"

struct fs_vm {
	struct fs_dev *dev[FS_MAX_SHARES];
	unsigned n;
	char name[FS_MAX_SHARES][16];   /* each device's name: its tag */
};

/* The kernel modules the guest needs for o, NULL-terminated (fuse comes
 * with virtiofs as its dependency), or NULL when no share is asked for. */
const char *const *fs_vm_modules(const struct fs_opts *o);
/* Opens every share of o and adds its device to c->devs (uid:gid is who
 * runs the command); appends the kernel parameters to cmdline (size
 * cmdlen). Returns 0 or -errno with one line in why; fs_vm_finish() is
 * safe either way. */
int fs_vm_setup(struct fs_vm *v, const struct fs_opts *o, uint32_t uid, uint32_t gid,
		struct vmm_config *c, char *cmdline, size_t cmdlen, char *why, size_t len);
/* After the VM and its device thread are gone: closes the shares. */
void fs_vm_finish(struct fs_vm *v);

#endif
