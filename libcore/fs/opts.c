/* Run's shared-folder options (fs/opts.h): their table and parsers, and
 * the kernel parameters they become. Only the text is checked here (the
 * folders are opened when the VM is set up, fs/vm.c). */
#include "fs/opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

bool fs_opts_any(const struct fs_opts *o)
{
	return o->n_vol || o->rootfs[0];
}

/* Checks a guest mount point: absolute, no "." or ".." or empty
 * components, not / nor under /proc, /sys or /dev; a trailing '/' is
 * dropped. Returns NULL or what is wrong. */
static const char *guest_path_bad(char *p)
{
	size_t n = strlen(p);
	const char *c = p;

	if (p[0] != '/')
		return "GUEST must be an absolute path";
	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	if (n == 1)
		return "GUEST cannot be / (use --rootfs)";
	if (n >= FS_GUEST_PATH_MAX)
		return "GUEST is too long";
	while (*c) {
		size_t k;
		c++; /* the '/' */
		k = strcspn(c, "/");
		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return "GUEST has an empty, '.' or '..' component";
		c += k;
	}
	if (!strncmp(p, "/proc", 5) || !strncmp(p, "/sys", 4) || !strncmp(p, "/dev", 4)) {
		char f = p[!strncmp(p, "/proc", 5) ? 5 : 4];
		if (f == 0 || f == '/')
			return "GUEST cannot be under /proc, /sys or /dev";
	}
	return NULL;
}

/* Parses HOST:GUEST[:ro|:rw] into v. Returns 0 or -EINVAL (why). */
static int parse_volume(struct fs_volume *v, const char *arg, char *why, size_t len)
{
	char buf[PATH_MAX + FS_GUEST_PATH_MAX + 8];
	char *g;
	const char *bad;
	size_t n = strlen(arg);

	if (n >= sizeof(buf)) {
		snprintf(why, len, "too long");
		return -EINVAL;
	}
	memcpy(buf, arg, n + 1);
	v->ro = false;
	if (n > 3 && (!strcmp(buf + n - 3, ":ro") || !strcmp(buf + n - 3, ":rw"))) {
		v->ro = buf[n - 2] == 'r' && buf[n - 1] == 'o';
		buf[n - 3] = 0;
	}
	/* GUEST starts at the last ":/" (HOST may hold ':') */
	g = NULL;
	for (char *p = strstr(buf, ":/"); p; p = strstr(p + 1, ":/"))
		g = p;
	if (!g || g == buf) {
		snprintf(why, len, "expected HOST:GUEST[:ro] with GUEST absolute");
		return -EINVAL;
	}
	*g++ = 0;
	if ((bad = guest_path_bad(g))) {
		snprintf(why, len, "%s", bad);
		return -EINVAL;
	}
	if (strlen(buf) >= sizeof(v->host)) {
		snprintf(why, len, "HOST is too long");
		return -EINVAL;
	}
	strcpy(v->host, buf);
	strcpy(v->guest, g);
	return 0;
}

/* Refuses a share beyond FS_MAX_SHARES. Returns 0 or -EINVAL (why). */
static int room_for_share(const struct fs_opts *o, char *why, size_t len)
{
	if (o->n_vol + !!o->rootfs[0] < FS_MAX_SHARES)
		return 0;
	snprintf(why, len, "at most %d shared folders (--volume and --rootfs together)",
		 FS_MAX_SHARES);
	return -EINVAL;
}

/* -v, --volume HOST:GUEST[:ro|:rw]. */
static int volume_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct fs_opts *o = obj;
	struct fs_volume *v = &o->vol[o->n_vol];

	if (room_for_share(o, why, len) || parse_volume(v, arg, why, len))
		return -EINVAL;
	for (unsigned i = 0; i < o->n_vol; i++)
		if (!strcmp(o->vol[i].guest, v->guest)) {
			snprintf(why, len, "%s is mounted twice", v->guest);
			return -EINVAL;
		}
	o->n_vol++;
	return 0;
}

/* --rootfs DIR[:rw]. */
static int rootfs_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct fs_opts *o = obj;
	size_t n = strlen(arg);

	if (room_for_share(o, why, len))
		return -EINVAL;
	if (o->rootfs[0]) {
		snprintf(why, len, "given twice");
		return -EINVAL;
	}
	o->rootfs_rw = n > 3 && !strcmp(arg + n - 3, ":rw");
	if (o->rootfs_rw)
		n -= 3;
	if (n == 0 || n >= sizeof(o->rootfs)) {
		snprintf(why, len, "expected DIR[:rw]");
		return -EINVAL;
	}
	memcpy(o->rootfs, arg, n);
	o->rootfs[n] = 0;
	return 0;
}

/* Both shape a new VM (OPT_MARK: --attach refuses them). */
static const struct opt fs_opt_list[] = {
	{ "volume", 'v', OPT_CALL, .parse = volume_parse, .flags = OPT_MARK | OPT_REPEAT,
	  .meta = "HOST:GUEST[:ro]",
	  .help = "mount the host folder HOST at GUEST before CMD starts; :ro refuses every "
		  "write" },
	{ "rootfs", 0, OPT_CALL, .parse = rootfs_parse, .flags = OPT_MARK, .meta = "DIR[:rw]",
	  .help = "boot with DIR as the guest's root: read-only with a tmpfs overlay for "
		  "writes, or written directly (:rw)" },
	{ .kind = OPT_END },
};

const struct opts_table fs_opts_table = {
	.heading = "Shared folders (virtio-fs served by voidbox; see docs/fs.md):",
	.opts = fs_opt_list,
};

/* Appends printf-formatted text at *off of buf (size len). Returns 0 or
 * -ENOSPC (buf cut back to *off). */
static int put(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off) {
		buf[*off] = 0;
		return -ENOSPC;
	}
	*off += (size_t)n;
	return 0;
}

/* Percent-encodes s into out (3 * strlen(s) + 1 bytes). */
static void encode(const char *s, char *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/._-", *p))
			*out++ = (char)*p;
		else
			out += sprintf(out, "%%%02X", *p);
	}
	*out = 0;
}

int fs_opts_cmdline(const struct fs_opts *o, char *cmdline, size_t len)
{
	size_t off = strlen(cmdline), start = off;
	char enc[FS_GUEST_PATH_MAX * 3 + 1];

	if (o->rootfs[0] && put(cmdline, len, &off, " voidbox.root=%s,%s", FS_ROOT_TAG,
				o->rootfs_rw ? "rw" : "overlay"))
		return -ENOSPC;
	for (unsigned i = 0; i < o->n_vol; i++) {
		encode(o->vol[i].guest, enc);
		if (put(cmdline, len, &off, " voidbox.fs.%u=%s%u,%s,%s", i, FS_TAG_PREFIX, i,
			o->vol[i].ro ? "ro" : "rw", enc))
			return -ENOSPC;
	}
	if (off - start > FS_CMDLINE_MAX) {
		cmdline[start] = 0;
		return -ENOSPC;
	}
	return 0;
}
