/* The agent's boot steps; see agent/boot.h. */
#include "agent/boot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/fs.h"
#include "agent/netcfg.h"
#include "base/util.h"
#include "image/initramfs.h"
#include "image/kmod.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif
#define MAX_IFACES 32

int agent_mount_all(char *why, size_t len)
{
	static const struct {
		const char *src, *dir, *type;
		unsigned long flags;
		const char *data;
		mode_t mode;
	} m[] = {
		{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
		{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
		{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755 },
		{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", 0755 },
		{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
		{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
		{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
	};

	int first = 0;

	/* one failure does not keep the others from being mounted */
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		const char *step = "mkdir";
		int e = 0;

		if (mkdir(m[i].dir, m[i].mode) < 0 && errno != EEXIST)
			e = -errno;
		else if (mount(m[i].src, m[i].dir, m[i].type, m[i].flags, m[i].data) < 0 &&
			 errno != EBUSY) {
			e = -errno;
			step = "mount";
		}
		if (e && !first) {
			first = e;
			snprintf(why, len, "%s %s (%s): %s", step, m[i].dir, m[i].type, strerror(-e));
		}
	}
	return first;
}

/* Reads the first line of a small file (/proc, /sys) into buf, without
 * its newline or trailing blanks. Returns 0 or -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read_full(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	n = (ssize_t)strcspn(buf, "\n");
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = 0;
	return 0;
}

int agent_read_cmdline(char *buf, size_t len)
{
	return read_line("/proc/cmdline", buf, len);
}

/* Splits the next command-line word off *p as the kernel does (double
 * quotes group, and are dropped). Returns the word length in out, or -1 at
 * the end. */
static int next_word(const char **p, char *out, size_t outlen)
{
	const char *s = *p;
	size_t o = 0;
	int q = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (!*s)
		return -1;
	for (; *s && (q || (*s != ' ' && *s != '\t' && *s != '\n')); s++) {
		if (*s == '"') {
			q = !q;
			continue;
		}
		if (o + 1 < outlen)
			out[o++] = *s;
	}
	out[o] = 0;
	*p = s;
	return (int)o;
}

int agent_cmdline_get(const char *cmdline, const char *key, char *out, size_t outlen)
{
	char w[4096];
	size_t kl = strlen(key);
	int found = 0;

	/* the last occurrence wins, as for kernel parameters */
	while (next_word(&cmdline, w, sizeof(w)) >= 0)
		if (!strncmp(w, key, kl) && (w[kl] == '=' || !w[kl])) {
			snprintf(out, outlen, "%s", w[kl] ? w + kl + 1 : "");
			found = 1;
		}
	return found;
}

int agent_module_params(const char *cmdline, const char *module, char *out, size_t outlen)
{
	char w[4096];
	size_t o = 0, ml = strlen(module);

	out[0] = 0;
	while (next_word(&cmdline, w, sizeof(w)) >= 0) {
		const char *dot = strchr(w, '.'), *eq = strchr(w, '=');
		const char *val;
		int n;

		if (!dot || (eq && eq < dot) || (size_t)(dot - w) != ml || !dot[1])
			continue;
		for (size_t i = 0; i < ml; i++) {
			char a = w[i] == '-' ? '_' : w[i], b = module[i] == '-' ? '_' : module[i];
			if (a != b)
				goto next;
		}
		val = eq ? eq + 1 : NULL;
		if (val && strpbrk(val, " \t"))
			n = snprintf(out + o, outlen - o, "%s%.*s=\"%s\"", o ? " " : "",
				     (int)(eq - dot - 1), dot + 1, val);
		else
			n = snprintf(out + o, outlen - o, "%s%s", o ? " " : "", dot + 1);
		if (n < 0 || (size_t)n >= outlen - o) {
			out[o] = 0;
			return -ENOSPC;
		}
		o += (size_t)n;
next:;
	}
	return 0;
}

/* Loads one module file. Returns 0 (also when already loaded) or -errno. */
static int load_one(const char *path, const char *cmdline, char *why, size_t len)
{
	char name[256], params[1024];
	int fd, flags = 0, e = 0;
	size_t pl = strlen(path);

	if (kmod_name_of(path, name, sizeof(name))) {
		snprintf(why, len, "%s: not a module file name", path);
		return -EINVAL;
	}
	if (agent_module_params(cmdline, name, params, sizeof(params))) {
		snprintf(why, len, "module %s: parameters too long", name);
		return -ENOSPC;
	}
	if ((pl > 6 && !strcmp(path + pl - 6, ".ko.xz")) ||
	    (pl > 7 && !strcmp(path + pl - 7, ".ko.zst")) ||
	    (pl > 6 && !strcmp(path + pl - 6, ".ko.gz")))
		flags |= MODULE_INIT_COMPRESSED_FILE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		snprintf(why, len, "module %s: %s: %s", name, path, strerror(errno));
		return e;
	}
	if (syscall(SYS_finit_module, fd, params, flags) < 0 && errno != EEXIST) {
		e = -errno;
		snprintf(why, len, "module %s: finit_module: %s%s", name, strerror(errno),
			 errno == ENOENT || errno == EINVAL ? " (see dmesg: unknown symbol?)" : "");
	}
	close(fd);
	return e;
}

int agent_load_modules(const char *list_path, const char *cmdline, char *why, size_t len)
{
	uint8_t *txt;
	size_t tl;
	char *line, *save = NULL;
	int e, first = 0, loaded = 0;
	char one[512];

	if ((e = read_file(list_path, 1u << 20, &txt, &tl))) {
		if (e == -ENOENT)
			return 0;
		snprintf(why, len, "%s: %s", list_path, strerror(-e));
		return e;
	}
	for (line = strtok_r((char *)txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		e = load_one(line, cmdline, one, sizeof(one));
		if (!e) {
			loaded++;
		} else {
			fprintf(stderr, "voidbox agent: %s\n", one);
			if (!first) {
				first = e;
				snprintf(why, len, "%s", one);
			}
		}
	}
	free(txt);
	return first ? first : loaded;
}

/* Counts virtio devices of type net (device id 1). */
static int count_virtio_net(void)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[512], id[32];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%.200s/device", de->d_name);
		if (!read_line(path, id, sizeof(id)) && strtoul(id, NULL, 0) == 1)
			n++;
	}
	closedir(d);
	return n;
}

static int cmp_name(const void *a, const void *b)
{
	const char *x = a, *y = b;

	if (!strcmp(x, "lo") || !strcmp(y, "lo"))
		return strcmp(y, "lo") ? -1 : strcmp(x, "lo") ? 1 : 0;
	return strcmp(x, y);
}

/* Lists /sys/class/net into names (lo first) and counts the interfaces
 * whose device is a virtio device. Returns the number of interfaces. */
static int scan_ifaces(char names[MAX_IFACES][IFNAMSIZ], int *virtio_ifs)
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *de;
	int n = 0;

	*virtio_ifs = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < MAX_IFACES) {
		char path[512], target[512];
		ssize_t tl;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= IFNAMSIZ)
			continue;
		memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
		snprintf(path, sizeof(path), "/sys/class/net/%s/device", de->d_name);
		tl = readlink(path, target, sizeof(target) - 1);
		if (tl > 0) {
			const char *base;

			target[tl] = 0;
			base = strrchr(target, '/');
			base = base ? base + 1 : target;
			if (!strncmp(base, "virtio", 6))
				(*virtio_ifs)++;
		}
	}
	closedir(d);
	qsort(names, (size_t)n, IFNAMSIZ, cmp_name);
	return n;
}

int agent_wait_netdev(int timeout_ms, char *out, size_t outlen, char *why, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	char names[MAX_IFACES][IFNAMSIZ];
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int sk, n, want, have, e = 0;
	size_t o = 0;

	/* Subscribe first, then look: an interface that appears in between
	 * still wakes the poll below. */
	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (sk < 0 || bind(sk, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = -errno;
		snprintf(why, len, "rtnetlink socket: %s", strerror(errno));
		if (sk >= 0)
			close(sk);
		return e;
	}
	for (;;) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		uint64_t now;
		char drain[8192];

		want = count_virtio_net();
		n = scan_ifaces(names, &have);
		if (have >= want)
			break;
		if (access("/sys/bus/virtio/drivers/virtio_net", F_OK)) {
			/* nothing will ever bind them: say so now, not after the timeout */
			snprintf(why, len, "%d virtio network device(s) but no virtio_net driver loaded",
				 want);
			e = -ENODEV;
			break;
		}
		now = now_ns();
		if (now >= deadline) {
			snprintf(why, len, "%d virtio network device(s) but %d interface(s) after %d ms",
				 want, have, timeout_ms);
			e = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)((deadline - now) / 1000000ULL) + 1) < 0 && errno != EINTR) {
			e = -errno;
			snprintf(why, len, "poll: %s", strerror(errno));
			break;
		}
		while (recv(sk, drain, sizeof(drain), 0) > 0)
			;
	}
	close(sk);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		int w = snprintf(out + o, outlen - o, "%s%s", i ? " " : "", names[i]);

		if (w < 0 || (size_t)w >= outlen - o)
			break;
		o += (size_t)w;
	}
	return e ? e : n;
}

int agent_boot(struct agent_boot *b)
{
	char why[512];
	int e, first = 0;

	memset(b, 0, sizeof(*b));
	if ((e = agent_mount_all(why, sizeof(why)))) {
		fprintf(stderr, "voidbox agent: %s\n", why);
		first = e;
	}
	if ((e = agent_read_cmdline(b->cmdline, sizeof(b->cmdline))) < 0) {
		fprintf(stderr, "voidbox agent: /proc/cmdline: %s\n", strerror(-e));
		b->cmdline[0] = 0;
		first = first ? first : e;
	}
	e = agent_load_modules(INITRAMFS_MODULES_LOAD, b->cmdline, why, sizeof(why));
	if (e < 0) {
		/* each failed module was reported already */
		first = first ? first : e;
	} else {
		b->n_modules = e;
	}
	/* the root may change here: before anything writes /etc */
	if ((e = agent_fs_setup(b->cmdline, why, sizeof(why))) < 0) {
		fprintf(stderr, "voidbox agent: %s\n", why);
		b->fs_failed = true;
		first = first ? first : e;
	}
	e = agent_wait_netdev(AGENT_NETDEV_TIMEOUT_MS, b->ifnames, sizeof(b->ifnames), why,
			      sizeof(why));
	if (e < 0) {
		fprintf(stderr, "voidbox agent: waiting for network interfaces: %s\n", why);
		first = first ? first : e;
	} else {
		b->n_ifaces = e;
		/* Only now (virtio_net loaded, eth0 present): lo, eth0, /etc. */
		e = agent_net_setup(b->cmdline);
		b->net_up = e > 0;
		first = first ? first : (e < 0 ? e : 0);
	}
	b->failed = first != 0;
	printf("%s %s\n", AGENT_READY_PREFIX, b->ifnames);
	fflush(stdout);
	return first;
}

void agent_poweroff(void)
{
	fflush(NULL);
	sync();
	reboot(RB_POWER_OFF);
	/* only reached when reboot() is refused (not PID 1 / no privilege) */
	for (;;)
		pause();
}
