/* Names and host access for a share (see fs/share.h): the one place where
 * a guest-supplied name meets the host file system. A name is checked to
 * be a single component and opened relative to its parent's descriptor
 * with O_PATH | O_NOFOLLOW; an inode is re-opened for I/O through
 * /proc/self/fd/N, which names exactly the inode held (no path is walked
 * again, so a rename racing with the request cannot redirect it), and only
 * regular files and directories are re-opened. */
#include "fs/share.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_name_check(struct fs_share *s, const char *name, size_t len)
{
	if (len > FS_NAME_MAX) {
		s->st.bad_names++;
		return -ENAMETOOLONG;
	}
	if (len == 0 || memchr(name, '/', len) || memchr(name, 0, len) ||
	    (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
		s->st.bad_names++;
		return -EINVAL;
	}
	return 0;
}

int fs_child_open(struct fs_share *s, const struct fs_inode *dir, const char *name,
		  struct stat *st)
{
	int fd, e;

	if (dir->mode != S_IFDIR)
		return -ENOTDIR;
	if ((e = fs_ino_fd_room(s)))
		return e;
	fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == EMFILE ? -ENFILE : -errno;
	if (fstat(fd, st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

const char *fs_fd_name(int fd, char buf[16])
{
	char tmp[16];
	unsigned n = 0, v = (unsigned)fd;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	for (unsigned i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return buf;
}

int fs_ino_reopen(struct fs_share *s, struct fs_inode *i, int flags)
{
	char n[16];
	int fd, pfd;

	if (i->mode == S_IFDIR) {
		if (!(flags & O_DIRECTORY))
			return -EISDIR;
	} else if (i->mode == S_IFLNK) {
		return -ELOOP;
	} else if (i->mode != S_IFREG || (flags & O_DIRECTORY)) {
		return i->mode == S_IFREG ? -ENOTDIR : -ENXIO;
	}
	if ((pfd = fs_ino_fd(s, i)) < 0)
		return pfd;
	fd = openat(s->proc_fd, fs_fd_name(pfd, n), flags | O_CLOEXEC);
	if (fd < 0)
		return errno == EMFILE ? -ENFILE : -errno;
	return fd;
}

int fs_ino_stat(struct fs_share *s, struct fs_inode *i, struct stat *st)
{
	int fd = fs_ino_fd(s, i);

	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

mode_t fs_safe_mode(mode_t mode)
{
	mode &= ~(mode_t)S_ISUID;
	if (!S_ISDIR(mode))
		mode &= ~(mode_t)S_ISGID;
	return mode;
}

int fs_fix_mode(struct fs_share *s, int fd, mode_t mode)
{
	char n[16];

	if (!(mode & s->umask & 0777))
		return 0;
	return fchmodat(s->proc_fd, fs_fd_name(fd, n), mode & 07777, 0) < 0 ? -errno : 0;
}

/* The owner mapping of one id: host's own -> guest's; another host id
 * equal to the guest's (not root: root's files stay root's) would pass
 * for the guest user's, so it shows as FS_OVERFLOW_ID. */
static uint32_t map_id(uint32_t h, uint32_t host, uint32_t guest)
{
	if (h == host)
		return guest;
	return h == guest && guest != 0 ? FS_OVERFLOW_ID : h;
}

uint32_t fs_map_uid(const struct fs_share *s, uint32_t h)
{
	return map_id(h, s->host_uid, s->guest_uid);
}

uint32_t fs_map_gid(const struct fs_share *s, uint32_t h)
{
	return map_id(h, s->host_gid, s->guest_gid);
}
