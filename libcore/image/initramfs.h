/* The initramfs builder: what `voidbox mkinitramfs` writes and what
 * `voidbox run` boots. An image holds the voidbox binary as /init (and
 * /bin/voidbox), the guest's users and directories, the kernel modules for
 * virtio-mmio, virtio-net and virtio-vsock with a load-order file for the
 * agent, and whatever the spec adds (files, dynamically linked programs with
 * their libraries, a static busybox). Layout and formats: docs/image.md. */
#ifndef VOIDBOX_INITRAMFS_H
#define VOIDBOX_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where the image tells the agent which modules to load, in order. */
#define INITRAMFS_MODULES_LOAD "/etc/voidbox/modules.load"
#define INITRAMFS_SANDBOX_UID 1000

struct initramfs_add {
	const char *src;     /* host file, or directory copied recursively */
	const char *dst;     /* absolute path in the image */
	int mode;            /* permission bits, or -1 for the source's */
};

struct initramfs_spec {
	const char *self;          /* program for /init; NULL: /proc/self/exe */
	const char *kernel;        /* bzImage whose version picks the modules */
	const char *kver;          /* the version, when kernel is NULL */
	const char *modules_dir;   /* NULL: initramfs_modules_dir() decides */
	int no_modules;            /* leave the kernel modules out */
	const char *const *modules; /* extra module names */
	size_t n_modules;
	const char *busybox;       /* static busybox to install, or NULL */
	const struct initramfs_add *adds;
	size_t n_adds;
	const char *const *binaries; /* programs copied with their libraries */
	size_t n_binaries;
	int level;                 /* 1..9 gzip level; 0: plain cpio */
	int64_t mtime;             /* < 0: $SOURCE_DATE_EPOCH, or 0 */
};

/* Fills spec with the defaults: level 6, mtime -1, everything else empty. */
void initramfs_spec_init(struct initramfs_spec *spec);
/* Parses "SRC:DST[:MODE]" (MODE octal) into add, pointing into buf, which
 * it modifies. Returns 0 or -EINVAL with the reason in err ("want
 * SRC:DST[:MODE]"; the caller names the option). */
int initramfs_parse_add(char *buf, struct initramfs_add *add, char *err, size_t errlen);
/* Picks the modules tree for kver: spec->modules_dir (or its <kver>
 * subdirectory), else modules/<kver> beside spec->kernel, else
 * /lib/modules/<kver>. Returns 0 or -ENOENT (message in err). */
int initramfs_modules_dir(const struct initramfs_spec *spec, const char *kver,
			  char *out, size_t outlen, char *err, size_t errlen);

/* Builds the image and writes it to out_fd (a file, a pipe or a memfd).
 * Every input is checked before the first byte is written. Returns 0 or
 * -errno with one line in err naming what failed and why. */
int initramfs_build(const struct initramfs_spec *spec, int out_fd, char *err, size_t errlen);
/* Builds into path ("-": stdout) through a temporary file renamed at the
 * end, so a failure leaves no partial file. Returns 0 or -errno (err). */
int initramfs_build_file(const struct initramfs_spec *spec, const char *path,
			 char *err, size_t errlen);

/* Lists the entries of a cpio or cpio.gz image ("-": stdin) to out, one name
 * a line as `cpio -t` does, or `ls -l` style when verbose. Returns 0 or
 * -errno (-EBADMSG for a damaged image; message in err). */
int initramfs_list(const char *image, FILE *out, int verbose, char *err, size_t errlen);
/* Unpacks a cpio or cpio.gz image into dir (created if missing), refusing
 * any entry whose path would land outside dir (absolute, "..", or through
 * a symlink). Returns 0 or -errno (message in err). */
int initramfs_extract(const char *image, const char *dir, char *err, size_t errlen);

#endif
