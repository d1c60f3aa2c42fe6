/* The default guest image of `voidbox run`: built with the mkinitramfs code
 * (image/initramfs.h) from this voidbox binary, the kernel's modules and
 * the static busybox beside the kernel (make guest's folder), and cached in
 * $XDG_CACHE_HOME/voidbox (else ~/.cache/voidbox, else /tmp/voidbox-cache-UID)
 * under a name keyed on the content of our binary and the identity (path,
 * size, mtime) of the kernel, its modules folder and busybox. */
#ifndef VOIDBOX_RUN_IMAGE_H
#define VOIDBOX_RUN_IMAGE_H

#include <stddef.h>

/* Finds or builds the image for kernel, with the kernel modules named in
 * modules (NULL-terminated, or NULL) besides the default ones (their
 * names are part of the cache key). Returns 0 with its path in out, or
 * -errno with one line in why. */
int run_image_get(const char *kernel, const char *const *modules, char *out, size_t len,
		  char *why, size_t wlen, int verbose);

#endif
