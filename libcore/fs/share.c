/* Opening, resetting and closing a share (see fs/share.h). */
#include "fs/share.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/util.h"

/* The process umask, read without changing it (/proc/self/status), else
 * 022. */
static mode_t read_umask(void)
{
	uint8_t *buf;
	size_t n;
	mode_t m = 022;

	if (read_file("/proc/self/status", 1 << 16, &buf, &n))
		return m;
	const char *p = strstr((char *)buf, "\nUmask:");
	if (p)
		m = (mode_t)strtoul(p + 7, NULL, 8) & 0777;
	free(buf);
	return m;
}

uint64_t fs_share_fd_budget(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return 1024;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			getrlimit(RLIMIT_NOFILE, &r);
	}
	return r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)r.rlim_cur;
}

int fs_share_open(struct fs_share *s, const struct fs_share_cfg *cfg, char *why, size_t len)
{
	struct stat st;
	uint32_t buckets = 1024;
	int e;

	memset(s, 0, offsetof(struct fs_share, dirbuf));
	s->root_fd = s->proc_fd = -1;
	s->root_fd = open(cfg->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0 || fstat(s->root_fd, &st) < 0) {
		e = -errno;
		snprintf(why, len, "%s: %s", cfg->path, strerror(-e));
		fs_share_close(s);
		return e;
	}
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		e = -errno;
		snprintf(why, len, "/proc/self/fd (shared folders need /proc): %s", strerror(-e));
		fs_share_close(s);
		return e;
	}
	s->ro = cfg->ro;
	s->host_uid = (uint32_t)geteuid();
	s->host_gid = (uint32_t)getegid();
	s->guest_uid = cfg->guest_uid;
	s->guest_gid = cfg->guest_gid;
	s->umask = read_umask();
	s->max_inodes = cfg->max_inodes ? cfg->max_inodes : FS_DEFAULT_MAX_INODES;
	s->max_handles = cfg->max_handles ? cfg->max_handles : FS_DEFAULT_MAX_HANDLES;
	s->max_fds = cfg->max_fds ? MAX(cfg->max_fds, 16u) : FS_DEFAULT_MAX_FDS;
	while (buckets < s->max_inodes && buckets < (1u << 24))
		buckets <<= 1;
	s->hash_mask = buckets - 1;
	s->ino = calloc(s->max_inodes, sizeof(*s->ino));
	s->hash = calloc(buckets, sizeof(*s->hash));
	s->fh = calloc(s->max_handles, sizeof(*s->fh));
	if (!s->ino || !s->hash || !s->fh) {
		snprintf(why, len, "%s: out of memory for the tables", cfg->path);
		fs_share_close(s);
		return -ENOMEM;
	}
	fs_share_fd_budget();
	/* slot 0: the root, node id 1, never forgotten */
	s->ino[0] = (struct fs_inode){ .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino,
				       .nlookup = 1, .fd = s->root_fd, .mode = S_IFDIR,
				       .used = true };
	s->ino_top = 1;
	s->n_inodes = 1;
	s->n_fds = 1;
	fs_ino_hash_root(s);
	return 0;
}

void fs_share_reset(struct fs_share *s)
{
	if (!s->ino)
		return;
	fs_fh_reset(s);
	fs_ino_reset(s);
}

void fs_share_close(struct fs_share *s)
{
	fs_share_reset(s);
	if (s->ino)
		s->ino[0].fd = -1; /* root_fd, closed below */
	if (s->root_fd >= 0)
		close(s->root_fd);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	s->root_fd = s->proc_fd = -1;
	free(s->ino);
	free(s->hash);
	free(s->fh);
	s->ino = NULL;
	s->hash = NULL;
	s->fh = NULL;
}
