/* Mounting shared folders in the guest; see agent/fs.h. */
#include "agent/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "agent/boot.h"

#define MOUNT_TRIES 40           /* x 50 ms: the device may still be probing */
#define READ_AHEAD_KB "4096"     /* FUSE's bdi starts at 128 KiB: a 128 KiB READ at a time */

int agent_fs_decode(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		unsigned v;
		if (o + 1 >= len)
			return -EINVAL;
		if (*in == '%') {
			if (sscanf(in + 1, "%2x", &v) != 1 || !in[1] || !in[2] || v == 0)
				return -EINVAL;
			out[o++] = (char)v;
			in += 2;
		} else {
			out[o++] = *in;
		}
	}
	out[o] = 0;
	return o ? 0 : -EINVAL;
}

/* mkdir -p path (root's, mode 0755). Returns 0 or -errno. */
static int mkdir_p(const char *path)
{
	char buf[512];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* Lets the guest read ahead further on the file system mounted at dir, so
 * sequential reads keep several requests in flight (each one a round
 * trip to the host). Best effort. */
static void read_ahead(const char *dir)
{
	char path[64];
	struct stat st;
	int fd;

	if (stat(dir, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev),
		 minor(st.st_dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, READ_AHEAD_KB, strlen(READ_AHEAD_KB)) < 0) {
		/* the default stays */
	}
	close(fd);
}

/* Mounts virtio-fs tag at dir, retrying while the device is not there
 * yet. Returns 0 or -errno. */
static int mount_tag(const char *tag, const char *dir, unsigned long flags)
{
	for (int i = 0;; i++) {
		if (mount(tag, dir, "virtiofs", flags, NULL) == 0) {
			read_ahead(dir);
			return 0;
		}
		if ((errno != EINVAL && errno != ENOENT && errno != ENODEV) || i == MOUNT_TRIES)
			return -errno;
		nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	}
}

/* Fills why with "step path: strerror" and returns e. */
static int fail(char *why, size_t len, int e, const char *step, const char *path)
{
	snprintf(why, len, "%s %s: %s", step, path, strerror(-e));
	return e;
}

/* The new root per mode, mounted at AGENT_FS_NEWROOT. Returns 0 or -errno. */
static int root_mount(const char *tag, const char *mode, char *why, size_t len)
{
	int e;

	if ((e = mkdir_p(AGENT_FS_NEWROOT)))
		return fail(why, len, e, "mkdir", AGENT_FS_NEWROOT);
	if (!strcmp(mode, "rw"))
		return (e = mount_tag(tag, AGENT_FS_NEWROOT, 0)) ? fail(why, len, e, "mount root", tag) : 0;
	if (strcmp(mode, "overlay"))
		return fail(why, len, -EINVAL, "voidbox.root mode", mode);
	/* the share read-only below, the writes in a tmpfs above */
	if ((e = mkdir_p("/.voidbox/lower")) || (e = mkdir_p("/.voidbox/rw")))
		return fail(why, len, e, "mkdir", "/.voidbox");
	if ((e = mount_tag(tag, "/.voidbox/lower", MS_RDONLY)))
		return fail(why, len, e, "mount root", tag);
	if (mount("tmpfs", "/.voidbox/rw", "tmpfs", 0, "mode=0755") < 0)
		return fail(why, len, -errno, "mount tmpfs", "/.voidbox/rw");
	if ((e = mkdir_p("/.voidbox/rw/upper")) || (e = mkdir_p("/.voidbox/rw/work")))
		return fail(why, len, e, "mkdir", "/.voidbox/rw");
	if (mount("overlay", AGENT_FS_NEWROOT, "overlay", 0,
		  "lowerdir=/.voidbox/lower,upperdir=/.voidbox/rw/upper,workdir=/.voidbox/rw/work") < 0)
		return fail(why, len, -errno, "mount overlay", AGENT_FS_NEWROOT);
	return 0;
}

/* Moves the kernel file systems into the new root and enters it, as
 * switch_root does (the initramfs stays, unreachable). Returns 0 or -errno. */
static int root_enter(char *why, size_t len)
{
	static const char *const moved[] = { "/dev", "/proc", "/sys", "/run", "/tmp" };
	char dst[256];

	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		snprintf(dst, sizeof(dst), "%s%s", AGENT_FS_NEWROOT, moved[i]);
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return fail(why, len, -errno, "mkdir", dst);
		if (mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
			return fail(why, len, -errno, "move mount", moved[i]);
	}
	if (chdir(AGENT_FS_NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		return fail(why, len, -errno, "switch root to", AGENT_FS_NEWROOT);
	return 0;
}

/* Mounts one voidbox.fs.N value ("TAG,ro|rw,PATH"). Returns 0 or -errno. */
static int share_mount(const char *val, char *why, size_t len)
{
	char v[1024], path[512];
	char *mode, *enc;
	unsigned long flags = MS_NOSUID | MS_NODEV;
	int e;

	snprintf(v, sizeof(v), "%s", val);
	mode = strchr(v, ',');
	enc = mode ? strchr(mode + 1, ',') : NULL;
	if (!enc || agent_fs_decode(enc + 1, path, sizeof(path)) || path[0] != '/')
		return fail(why, len, -EINVAL, "shared folder parameter", val);
	*mode++ = 0;
	*enc = 0;
	if (!strcmp(mode, "ro"))
		flags |= MS_RDONLY;
	else if (strcmp(mode, "rw"))
		return fail(why, len, -EINVAL, "shared folder mode", mode);
	if ((e = mkdir_p(path)))
		return fail(why, len, e, "shared folder: mkdir", path);
	if ((e = mount_tag(v, path, flags)))
		return fail(why, len, e, "shared folder: mount", path);
	return 0;
}

int agent_fs_setup(const char *cmdline, char *why, size_t len)
{
	char val[1024], key[32];
	int n = 0, e;

	if (agent_cmdline_get(cmdline, "voidbox.root", val, sizeof(val))) {
		char *mode = strchr(val, ',');
		if (!mode)
			return fail(why, len, -EINVAL, "voidbox.root", val);
		*mode++ = 0;
		if ((e = root_mount(val, mode, why, len)) || (e = root_enter(why, len)))
			return e;
		n++;
	}
	for (int i = 0;; i++) {
		snprintf(key, sizeof(key), "voidbox.fs.%d", i);
		if (!agent_cmdline_get(cmdline, key, val, sizeof(val)))
			break;
		if ((e = share_mount(val, why, len)))
			return e;
		n++;
	}
	return n;
}
