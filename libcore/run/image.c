/* The cached default image; see run/image.h. */
#include "run/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "image/initramfs.h"

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define IMAGE_FORMAT "1"    /* bump when what goes into the image changes */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV_PRIME;
	return h;
}

/* Mixes path and its size and mtime (or "missing") into h. */
static uint64_t fnv_identity(uint64_t h, const char *path)
{
	struct stat st;

	h = fnv(h, path, strlen(path) + 1);
	if (stat(path, &st) < 0)
		return fnv(h, "missing", 7);
	h = fnv(h, &st.st_size, sizeof(st.st_size));
	h = fnv(h, &st.st_mtim, sizeof(st.st_mtim));
	return h;
}

/* Hashes the content of our own binary. Returns 0 or -errno. */
static int hash_self(uint64_t *h)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return -EIO;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	*h = fnv(*h, p, (size_t)st.st_size);
	munmap(p, (size_t)st.st_size);
	return 0;
}

/* The cache folder (created). Returns 0 or -errno. */
static int cache_dir(char *out, size_t len)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char base[4096];

	if (x && *x == '/')
		snprintf(base, sizeof(base), "%s", x);
	else if (home && *home == '/')
		snprintf(base, sizeof(base), "%s/.cache", home);
	else
		snprintf(base, sizeof(base), "/tmp/voidbox-cache-%u", (unsigned)getuid());
	mkdir(base, 0700);
	if (snprintf(out, len, "%s/voidbox", base) >= (int)len)
		return -ENAMETOOLONG;
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int run_image_get(const char *kernel, const char *const *modules, char *out, size_t len,
		  char *why, size_t wlen, int verbose)
{
	char dir[4096], kdir[4096], busybox[4200], moddir[4200], err[512];
	size_t n_mods = 0;
	struct initramfs_spec spec;
	uint64_t h = FNV_OFF;
	uint64_t t0 = now_ns();
	int r;

	snprintf(kdir, sizeof(kdir), "%s", kernel);
	char *slash = strrchr(kdir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(kdir, sizeof(kdir), ".");
	snprintf(busybox, sizeof(busybox), "%s/busybox", kdir);
	snprintf(moddir, sizeof(moddir), "%s/modules", kdir);
	if ((r = hash_self(&h))) {
		snprintf(why, wlen, "reading our own binary: %s", strerror(-r));
		return r;
	}
	h = fnv(h, IMAGE_FORMAT, 1);
	h = fnv_identity(h, kernel);
	h = fnv_identity(h, busybox);
	h = fnv_identity(h, moddir);
	for (size_t i = 0; modules && modules[i]; i++) {
		h = fnv(h, modules[i], strlen(modules[i]) + 1);
		n_mods++;
	}
	if ((r = cache_dir(dir, sizeof(dir)))) {
		snprintf(why, wlen, "image cache folder: %s", strerror(-r));
		return r;
	}
	if (snprintf(out, len, "%s/initrd-%016llx.img", dir, (unsigned long long)h) >= (int)len) {
		snprintf(why, wlen, "image cache path too long");
		return -ENAMETOOLONG;
	}
	if (!access(out, R_OK))
		return 0;
	initramfs_spec_init(&spec);
	spec.kernel = kernel;
	spec.modules = modules;
	spec.n_modules = n_mods;
	if (!access(busybox, X_OK))
		spec.busybox = busybox;
	spec.level = 1;
	r = initramfs_build_file(&spec, out, err, sizeof(err));
	if (r) {
		snprintf(why, wlen, "building the guest image: %s", err);
		return r;
	}
	if (verbose)
		fprintf(stderr, "voidbox run: built %s in %llu ms\n", out,
			(unsigned long long)((now_ns() - t0) / 1000000));
	return 0;
}
