/* Kernel-module dependency resolution for one modules tree
 * (/lib/modules/<version>/). Dependencies come from modules.dep when the
 * tree has one (depmod ran), else from each module's own .modinfo
 * "depends=" field, as Debian's unpacked kernel package has no modules.dep.
 * Modules named in modules.builtin are part of the kernel and need no file.
 * Names match as the kernel does: '-' and '_' are the same. */
#ifndef VOIDBOX_KMOD_H
#define VOIDBOX_KMOD_H

#include <stddef.h>

struct kmod_db;

/* Indexes the modules tree at dir. Returns 0 or -errno (message in err). */
int kmod_open(const char *dir, struct kmod_db **db, char *err, size_t errlen);
void kmod_close(struct kmod_db *db);
/* Returns 1 when the index came from modules.dep, 0 when from .modinfo. */
int kmod_has_depfile(const struct kmod_db *db);

/* Resolves names and everything they depend on into load order
 * (dependencies first, each module once, built-in ones left out). *paths
 * gets a malloc'd array of *n paths relative to the tree (owned by db; free
 * only the array). Returns 0, -ENOENT naming the missing module and who
 * needs it, -ELOOP for a dependency cycle, or another -errno; message in err. */
int kmod_resolve(struct kmod_db *db, const char *const *names, size_t n_names,
		 const char ***paths, size_t *n, char *err, size_t errlen);

/* Writes the module name of a file name or path ("kernel/x/virtio-foo.ko.xz"
 * -> "virtio_foo") into out. Returns 0, or -EINVAL when it is not a module
 * file name. */
int kmod_name_of(const char *path, char *out, size_t outlen);

#endif
