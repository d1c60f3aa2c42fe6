/* Unit tests of the virtio-fs back end's FUSE operations (fs/fuse.c,
 * fs/ops_*.c, fs/share.c) driven through the device with a fake virtiofs
 * driver (fs_fake.h) on a real temporary folder: the session (INIT first,
 * versions, DESTROY), files written and read back byte-exact across split
 * buffers, directories listed whole through small buffers (plain and
 * plus), rename/link/unlink, setattr (no setuid, no giving files away),
 * the owner mapping, and the hostile side: names that try to leave the
 * share, symlinks the guest plants (never followed on the host), hard
 * links to what the guest cannot name, stale and forged ids, a read-only
 * share refusing every write with EROFS, and the table limits (ENFILE);
 * inode descriptors as a bounded cache (closed least recently used first,
 * re-opened by name, refused as stale when the name leads elsewhere). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "fs_fake.h"

static void test_fs_init_first(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 30 };
	struct fuse_init_out o;

	T_REQUIRE(fx_boot(false) == 0, "boot");
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "x", NULL) == -EIO, "LOOKUP before INIT not EIO");
	T_CHECK(fx(FUSE_INIT, 0, &in, sizeof(in)) == -EPROTO, "minor 30 accepted");
	in.major = 8;
	T_CHECK(fx(FUSE_INIT, 0, &in, sizeof(in)) == 0 && X.used_len == FS_OUT_HDR + 8,
		"major 8: want our major alone (len %u)", X.used_len);
	T_CHECK(fx(FUSE_INIT, 0, &in, 8) == -EINVAL, "8-byte INIT accepted");
	T_REQUIRE(fx_init() == 0, "INIT 7.37");
	memcpy(&o, X.body, sizeof(o));
	T_CHECK(o.major == 7 && o.minor == 37, "version %u.%u", o.major, o.minor);
	T_CHECK(o.max_write == FS_MAX_IO && o.max_pages == FS_MAX_PAGES, "max_write %u pages %u",
		o.max_write, o.max_pages);
	T_CHECK((o.flags & FUSE_MAX_PAGES) && (o.flags & FUSE_DO_READDIRPLUS) &&
		!(o.flags & (FUSE_WRITEBACK_CACHE | FUSE_POSIX_LOCKS | FUSE_EXPORT_SUPPORT)),
		"flags %#x", o.flags);
	T_CHECK(fx_init() == -EPROTO, "second INIT accepted");
	T_CHECK(fx(FUSE_GETXATTR, FUSE_ROOT_ID, "\0\0\0\0\0\0\0\0user.x", 15) == -ENOSYS,
		"xattr not ENOSYS");
	T_CHECK(fx(9999, FUSE_ROOT_ID, NULL, 0) == -ENOSYS, "unknown opcode");
	/* DESTROY forgets everything: INIT again */
	T_CHECK(fx(FUSE_DESTROY, 0, NULL, 0) == 0, "DESTROY");
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "x", NULL) == -EIO, "LOOKUP after DESTROY not EIO");
	T_CHECK(fx_init() == 0, "INIT after DESTROY");
}

/* Fills buf with a pattern that tells offsets apart. */
static void pattern(uint8_t *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

static void test_fs_write_read(void)
{
	static uint8_t data[300000], back[300000];
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh, fh2;
	uint32_t n, off;
	int fd;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	T_REQUIRE(fx_create(FUSE_ROOT_ID, "a.bin", O_RDWR | O_CREAT, 0640, &e, &fh) == 0,
		  "CREATE: %d", X.oh.error);
	T_CHECK(S_ISREG(e.attr.mode) && (e.attr.mode & 0777) == 0640, "mode %o", e.attr.mode);
	T_CHECK(e.attr.uid == FX_GUEST_UID && e.attr.gid == FX_GUEST_UID, "guest sees uid %u gid %u",
		e.attr.uid, e.attr.gid);
	T_REQUIRE(stat(fx_host("a.bin"), &st) == 0, "not on the host");
	T_CHECK(st.st_uid == geteuid() && st.st_gid == getegid(), "host owner %u:%u, want %u:%u",
		st.st_uid, st.st_gid, geteuid(), getegid());
	T_CHECK((st.st_mode & 07777) == 0640, "host mode %o", st.st_mode & 07777);
	pattern(data, sizeof(data), 7);
	for (off = 0; off < sizeof(data); off += n) {
		uint32_t chunk = MIN((uint32_t)sizeof(data) - off, (uint32_t)FS_MAX_IO);
		T_REQUIRE(fx_write(e.nodeid, fh, off, data + off, chunk, &n) == 0 && n == chunk,
			  "WRITE at %u: %d, %u", off, X.oh.error, n);
	}
	/* what the host holds */
	fd = open(fx_host("a.bin"), O_RDONLY);
	T_REQUIRE(fd >= 0 && read(fd, back, sizeof(back)) == (ssize_t)sizeof(back), "host read");
	close(fd);
	T_CHECK(memcmp(back, data, sizeof(data)) == 0, "host bytes differ");
	/* read back through a second handle, the room cut in pieces */
	T_REQUIRE(fx_open(e.nodeid, O_RDONLY, &fh2, false) == 0, "OPEN");
	memset(back, 0, sizeof(back));
	for (off = 0; off < sizeof(data); off += n) {
		T_REQUIRE(fx_read(e.nodeid, fh2, off, FS_MAX_IO, 1 + off % 7, &n) == 0 && n > 0,
			  "READ at %u: %d", off, X.oh.error);
		memcpy(back + off, X.body, n);
	}
	T_CHECK(off == sizeof(data), "read %u bytes", off);
	T_CHECK(memcmp(back, data, sizeof(data)) == 0, "read bytes differ");
	T_CHECK(fx_read(e.nodeid, fh2, sizeof(data), 4096, 0, &n) == 0 && n == 0, "EOF read %u", n);
	/* the read-only handle cannot write: the host says so */
	T_CHECK(fx_write(e.nodeid, fh2, 0, "x", 1, NULL) == -EBADF, "write via O_RDONLY handle");
	T_CHECK(fx_release(e.nodeid, fh2, false) == 0, "RELEASE");
	T_CHECK(fx_read(e.nodeid, fh2, 0, 10, 0, &n) == -EBADF, "READ after RELEASE");
	T_CHECK(fx_release(e.nodeid, fh2, false) == -EBADF, "double RELEASE");
	{
		struct fuse_fsync_in fi = { .fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC };
		struct fuse_flush_in fl = { .fh = fh };
		T_CHECK(fx(FUSE_FSYNC, e.nodeid, &fi, sizeof(fi)) == 0, "FSYNC");
		/* ENOSYS: the guest stops sending FLUSH (a round trip per close) */
		T_CHECK(fx(FUSE_FLUSH, e.nodeid, &fl, sizeof(fl)) == -ENOSYS, "FLUSH not ENOSYS");
	}
	T_CHECK(fx_release(e.nodeid, fh, false) == 0, "RELEASE writer");
	T_CHECK(X.f.share.n_handles == 0, "%u handles left", X.f.share.n_handles);
	/* O_APPEND goes to the host: two appenders never overwrite */
	T_REQUIRE(fx_open(e.nodeid, O_WRONLY | O_APPEND, &fh, false) == 0 &&
		  fx_open(e.nodeid, O_WRONLY | O_APPEND, &fh2, false) == 0, "OPEN O_APPEND");
	T_CHECK(fx_write(e.nodeid, fh, 0, "one\n", 4, &n) == 0 && fx_write(e.nodeid, fh2, 0, "two\n", 4, &n) == 0,
		"appends");
	T_CHECK(stat(fx_host("a.bin"), &st) == 0 && st.st_size == (off_t)sizeof(data) + 8, "size %lld",
		(long long)st.st_size);
	fx_release(e.nodeid, fh, false);
	fx_release(e.nodeid, fh2, false);
	/* O_TRUNC on open (ATOMIC_O_TRUNC) */
	T_CHECK(fx_open(e.nodeid, O_WRONLY | O_TRUNC, &fh, false) == 0 &&
		stat(fx_host("a.bin"), &st) == 0 && st.st_size == 0, "O_TRUNC");
	fx_release(e.nodeid, fh, false);
}

/* Lists directory node with READDIR(PLUS) through buffers of size bytes;
 * counts names and checks each appears once. Returns names seen or -1. */
static int list_dir(uint64_t node, uint32_t size, bool plus, char seen[][16], int max)
{
	struct fuse_read_in in = { .size = size };
	uint64_t fh;
	int n = 0;

	if (fx_open(node, O_RDONLY, &fh, true))
		return -1;
	in.fh = fh;
	for (int rounds = 0; rounds < 10000; rounds++) {
		struct fx_shape sh = { .reply_cap = FS_OUT_HDR + size };
		uint32_t off = 0, len;

		if (fx_send(plus ? FUSE_READDIRPLUS : FUSE_READDIR, node, &in, sizeof(in), NULL, 0, &sh))
			return -1;
		len = X.used_len - FS_OUT_HDR;
		if (!len)
			break;
		while (off < len) {
			struct fuse_dirent d;
			uint32_t base = off + (plus ? (uint32_t)sizeof(struct fuse_entry_out) : 0);
			memcpy(&d, X.body + base, sizeof(d));
			if (n < max) {
				memset(seen[n], 0, 16);
				memcpy(seen[n], X.body + base + FUSE_NAME_OFFSET, MIN(d.namelen, 15u));
			}
			n++;
			in.offset = d.off;
			off += plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + d.namelen)
				    : FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + d.namelen);
		}
	}
	fx_release(node, fh, true);
	return n;
}

static void test_fs_readdir_small_buffers(void)
{
	static char seen[300][16];
	struct fuse_entry_out d;
	int n;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	T_REQUIRE(fx_mkdir(FUSE_ROOT_ID, "d", 0755, &d) == 0, "MKDIR");
	for (int i = 0; i < 200; i++) {
		char name[16];
		uint64_t fh;
		snprintf(name, sizeof(name), "f%03d", i);
		T_REQUIRE(fx_create(d.nodeid, name, O_WRONLY, 0644, NULL, &fh) == 0, "CREATE %s", name);
		fx_release(0, fh, false);
	}
	for (int plus = 0; plus < 2; plus++) {
		uint32_t sizes[] = { 200, 4096 };
		for (unsigned k = 0; k < 2; k++) {
			n = list_dir(d.nodeid, sizes[k], plus, seen, 300);
			T_CHECK(n == 202, "%s through %u bytes: %d names", plus ? "plus" : "plain", sizes[k], n);
			for (int i = 0; i < 200 && n == 202; i++) {
				char name[16];
				int hits = 0;
				snprintf(name, sizeof(name), "f%03d", i);
				for (int j = 0; j < n; j++)
					hits += !strcmp(seen[j], name);
				T_CHECK(hits == 1, "%s seen %d times", name, hits);
			}
		}
	}
	/* READDIRPLUS counted a lookup per entry: forgetting them frees them */
	T_CHECK(X.f.share.n_inodes > 200, "plus entries not looked up (%u inodes)", X.f.share.n_inodes);
	/* a buffer too small for any entry is an error, not an empty list */
	{
		struct fuse_read_in in = { .size = 20 };
		uint64_t fh;
		T_REQUIRE(fx_open(d.nodeid, O_RDONLY, &fh, true) == 0, "OPENDIR");
		in.fh = fh;
		T_CHECK(fx(FUSE_READDIR, d.nodeid, &in, sizeof(in)) == -EINVAL, "20-byte READDIR");
		T_CHECK(fx(FUSE_READ, d.nodeid, &in, sizeof(in)) == -EBADF, "READ on a dir handle");
		fx_release(d.nodeid, fh, true);
	}
}

static void test_fs_rename_link_unlink(void)
{
	struct fuse_entry_out a, b, c, l;
	uint8_t buf[600];
	uint64_t fh;
	struct stat st;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	T_REQUIRE(fx_create(FUSE_ROOT_ID, "a", O_WRONLY, 0644, &a, &fh) == 0, "CREATE a");
	fx_release(a.nodeid, fh, false);
	T_REQUIRE(fx_create(FUSE_ROOT_ID, "b", O_WRONLY, 0644, &b, &fh) == 0, "CREATE b");
	fx_release(b.nodeid, fh, false);
	{
		struct fuse_rename2_in in = { .newdir = FUSE_ROOT_ID, .flags = RENAME_NOREPLACE };
		T_CHECK(fx(FUSE_RENAME2, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "a", "b")) == -EEXIST,
			"NOREPLACE over b");
		in.flags = RENAME_EXCHANGE;
		T_CHECK(fx(FUSE_RENAME2, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "a", "b")) == 0,
			"EXCHANGE");
		T_CHECK(fx_lookup(FUSE_ROOT_ID, "a", &c) == 0 && c.nodeid == b.nodeid, "a is b's inode now");
		in.flags = 1u << 2; /* RENAME_WHITEOUT */
		T_CHECK(fx(FUSE_RENAME2, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "a", "b")) == -EINVAL,
			"WHITEOUT accepted");
	}
	{
		struct fuse_rename_in in = { .newdir = FUSE_ROOT_ID };
		T_CHECK(fx(FUSE_RENAME, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "a", "z")) == 0,
			"RENAME a z");
		T_CHECK(access(fx_host("z"), F_OK) == 0 && access(fx_host("a"), F_OK) != 0, "host rename");
		in.newdir = 0x12345;
		T_CHECK(fx(FUSE_RENAME, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "z", "y")) == -ESTALE,
			"RENAME into a forged directory id");
	}
	{
		struct fuse_link_in in = { .oldnodeid = b.nodeid };
		T_CHECK(fx(FUSE_LINK, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "hard", NULL)) == 0,
			"LINK");
		memcpy(&l, X.body, sizeof(l));
		T_CHECK(l.nodeid == b.nodeid && l.attr.nlink == 2, "link: node %llx nlink %u",
			(unsigned long long)l.nodeid, l.attr.nlink);
	}
	T_CHECK(fx(FUSE_UNLINK, FUSE_ROOT_ID, "hard", 5) == 0 && stat(fx_host("z"), &st) == 0 &&
		st.st_nlink == 1, "UNLINK hard");
	T_CHECK(fx_mkdir(FUSE_ROOT_ID, "dd", 0700, &c) == 0, "MKDIR");
	T_CHECK(fx_create(c.nodeid, "in", O_WRONLY, 0600, NULL, &fh) == 0, "CREATE in dd");
	fx_release(0, fh, false);
	T_CHECK(fx(FUSE_RMDIR, FUSE_ROOT_ID, "dd", 3) == -ENOTEMPTY, "RMDIR non-empty");
	T_CHECK(fx(FUSE_UNLINK, c.nodeid, "in", 3) == 0 && fx(FUSE_RMDIR, FUSE_ROOT_ID, "dd", 3) == 0,
		"RMDIR");
	T_CHECK(fx(FUSE_UNLINK, FUSE_ROOT_ID, "nope", 5) == -ENOENT, "UNLINK missing");
	T_CHECK(fx(FUSE_UNLINK, a.nodeid, "x", 2) == -ENOTDIR, "UNLINK in a file");
}

static void test_fs_setattr_owner_mode(void)
{
	struct fuse_setattr_in in = { 0 };
	struct fuse_attr_out o;
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	T_REQUIRE(fx_create(FUSE_ROOT_ID, "s", O_WRONLY, 0755, &e, &fh) == 0, "CREATE");
	fx_release(e.nodeid, fh, false);
	in.valid = FATTR_MODE;
	in.mode = 06755;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0, "chmod");
	T_CHECK(stat(fx_host("s"), &st) == 0 && (st.st_mode & 07777) == 0755,
		"setuid/setgid reached the host: %o", st.st_mode & 07777);
	in.valid = FATTR_SIZE;
	in.size = 12345;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0 && stat(fx_host("s"), &st) == 0 &&
		st.st_size == 12345, "truncate without a handle");
	memcpy(&o, X.body, sizeof(o));
	T_CHECK(o.attr.size == 12345, "reply size %llu", (unsigned long long)o.attr.size);
	in.valid = FATTR_MTIME | FATTR_ATIME;
	in.mtime = 1000000000;
	in.mtimensec = 5;
	in.atime = 999;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0 && stat(fx_host("s"), &st) == 0 &&
		st.st_mtim.tv_sec == 1000000000 && st.st_mtim.tv_nsec == 5 && st.st_atim.tv_sec == 999,
		"utimens");
	in.mtimensec = 2000000000;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EINVAL, "nsec 2e9 accepted");
	in.valid = FATTR_UID;
	in.uid = 0;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EPERM, "chown to root accepted");
	in.uid = FX_GUEST_UID;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0, "chown to the same owner refused");
	T_CHECK(stat(fx_host("s"), &st) == 0 && st.st_uid == geteuid(), "host owner changed to %u",
		st.st_uid);
	in.valid = FATTR_SIZE | FATTR_FH;
	in.fh = 0xdead00000001ULL;
	T_CHECK(fx(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EBADF, "forged fh");
	/* the owner mapping of other host users (needs chown: root only) */
	if (geteuid() == 0) {
		struct fuse_entry_out o;
		int fd = open(fx_host("other"), O_WRONLY | O_CREAT, 0644);
		close(fd);
		T_CHECK(chown(fx_host("other"), FX_GUEST_UID, 4242) == 0, "chown");
		T_CHECK(fx_lookup(FUSE_ROOT_ID, "other", &o) == 0 && o.attr.uid == FS_OVERFLOW_ID &&
			o.attr.gid == 4242, "host 1000:4242 shows as %u:%u", o.attr.uid, o.attr.gid);
	}
	/* the umask does not decide modes: mkdir 0777 is 0777 on the host */
	T_CHECK(fx_mkdir(FUSE_ROOT_ID, "open", 0777, &e) == 0 && stat(fx_host("open"), &st) == 0 &&
		(st.st_mode & 07777) == 0777, "mkdir 0777 gave %o", st.st_mode & 07777);
	{
		struct fuse_mknod_in mk = { .mode = S_IFCHR | 0666, .rdev = 0x0103 };
		uint8_t buf[64];
		T_CHECK(fx(FUSE_MKNOD, FUSE_ROOT_ID, buf, fx_args(buf, &mk, sizeof(mk), "null", NULL)) == -EPERM,
			"device node accepted");
		mk.mode = S_IFIFO | 0600;
		T_CHECK(fx(FUSE_MKNOD, FUSE_ROOT_ID, buf, fx_args(buf, &mk, sizeof(mk), "fifo", NULL)) == 0 &&
			stat(fx_host("fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "FIFO");
		memcpy(&e, X.body, sizeof(e));
		T_CHECK(fx_open(e.nodeid, O_RDONLY, NULL, false) == -ENXIO, "FIFO opened on the host");
	}
	{
		struct fuse_statfs_out so;
		struct fuse_access_in ai = { .mask = R_OK | W_OK };
		T_CHECK(fx(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0) == 0, "STATFS");
		memcpy(&so, X.body, sizeof(so));
		T_CHECK(so.st.bsize > 0 && so.st.namelen == 255, "statfs bsize %u namelen %u", so.st.bsize,
			so.st.namelen);
		T_CHECK(fx(FUSE_ACCESS, FUSE_ROOT_ID, &ai, sizeof(ai)) == 0, "ACCESS");
	}
}

/* The guest plants symlinks that point out of the share: none is ever
 * followed on the host. */
static void test_fs_symlinks_not_followed(void)
{
	struct fuse_entry_out root_l, up_l, e;
	uint8_t buf[600];
	uint64_t fh;
	char target[64];
	int fd;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	T_REQUIRE(fx(FUSE_SYMLINK, FUSE_ROOT_ID, buf, fx_args(buf, NULL, 0, "root", "/")) == 0, "SYMLINK /");
	memcpy(&root_l, X.body, sizeof(root_l));
	T_CHECK(S_ISLNK(root_l.attr.mode), "not a link: %o", root_l.attr.mode);
	T_REQUIRE(fx(FUSE_SYMLINK, FUSE_ROOT_ID, buf, fx_args(buf, NULL, 0, "up", "../outside/secret")) == 0,
		  "SYMLINK ..");
	memcpy(&up_l, X.body, sizeof(up_l));
	T_CHECK(fx(FUSE_READLINK, root_l.nodeid, NULL, 0) == 0 && X.used_len == FS_OUT_HDR + 1 &&
		X.body[0] == '/', "READLINK");
	/* opening, listing, creating through them: refused */
	T_CHECK(fx_open(up_l.nodeid, O_RDONLY, &fh, false) == -ELOOP, "OPEN through a symlink");
	T_CHECK(fx_open(up_l.nodeid, O_WRONLY | O_TRUNC, &fh, false) == -ELOOP, "O_TRUNC through a symlink");
	T_CHECK(fx_open(root_l.nodeid, O_RDONLY, &fh, true) == -ENOTDIR, "OPENDIR of a symlink");
	T_CHECK(fx_lookup(root_l.nodeid, "etc", NULL) == -ENOTDIR, "LOOKUP under a symlink");
	T_CHECK(fx_mkdir(root_l.nodeid, "x", 0755, NULL) == -ENOTDIR, "MKDIR under a symlink");
	T_CHECK(fx_create(root_l.nodeid, "x", O_WRONLY, 0644, NULL, &fh) == -ENOTDIR,
		"CREATE under a symlink");
	T_CHECK(fx_create(FUSE_ROOT_ID, "up", O_WRONLY | O_TRUNC, 0644, NULL, &fh) == -ELOOP,
		"CREATE onto a symlink (followed?)");
	{
		struct fuse_setattr_in in = { .valid = FATTR_SIZE, .size = 0 };
		T_CHECK(fx(FUSE_SETATTR, up_l.nodeid, &in, sizeof(in)) == -ELOOP, "truncate through a symlink");
		in.valid = FATTR_MODE;
		in.mode = 0777;
		T_CHECK(fx(FUSE_SETATTR, up_l.nodeid, &in, sizeof(in)) == -EOPNOTSUPP, "chmod through a symlink");
		in.valid = FATTR_MTIME;
		in.mtime = 5;
		T_CHECK(fx(FUSE_SETATTR, up_l.nodeid, &in, sizeof(in)) == 0, "utimens of the link itself");
	}
	{
		/* a hard link of the symlink links the symlink, not the secret */
		struct fuse_link_in in = { .oldnodeid = up_l.nodeid };
		T_CHECK(fx(FUSE_LINK, FUSE_ROOT_ID, buf, fx_args(buf, &in, sizeof(in), "up2", NULL)) == 0,
			"LINK of a symlink");
		memcpy(&e, X.body, sizeof(e));
		T_CHECK(S_ISLNK(e.attr.mode) && e.nodeid == up_l.nodeid, "link of a link is %o",
			e.attr.mode);
	}
	/* a host symlink already in the share is no door either */
	T_CHECK(symlink("../outside/secret", fx_host("hostlink")) == 0, "host symlink");
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "hostlink", &e) == 0 && S_ISLNK(e.attr.mode), "LOOKUP hostlink");
	T_CHECK(fx_open(e.nodeid, O_RDONLY, &fh, false) == -ELOOP, "OPEN hostlink");
	fd = readlink(fx_host("root"), target, sizeof(target));
	T_CHECK(fd == 1 && target[0] == '/', "the host holds the link as written");
	T_CHECK(fx_outside_untouched(), "the folder outside the share changed");
}

static void test_fs_names_refused(void)
{
	static const char *bad[] = { "..", ".", "a/b", "/", "../outside", "" };
	char longname[300];
	uint8_t buf[600];
	uint64_t before;
	struct fuse_link_in li = { .oldnodeid = 0x77 };

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	before = X.f.share.st.bad_names;
	for (unsigned k = 0; k < ARRAY_SIZE(bad); k++) {
		T_CHECK(fx_lookup(FUSE_ROOT_ID, bad[k], NULL) == -EINVAL, "LOOKUP '%s'", bad[k]);
		T_CHECK(fx_mkdir(FUSE_ROOT_ID, bad[k], 0755, NULL) == -EINVAL, "MKDIR '%s'", bad[k]);
		T_CHECK(fx_create(FUSE_ROOT_ID, bad[k], O_WRONLY, 0644, NULL, NULL) == -EINVAL, "CREATE '%s'",
			bad[k]);
		T_CHECK(fx(FUSE_SYMLINK, FUSE_ROOT_ID, buf, fx_args(buf, NULL, 0, bad[k], "x")) == -EINVAL,
			"SYMLINK '%s'", bad[k]);
	}
	T_CHECK(X.f.share.st.bad_names >= before + 4 * ARRAY_SIZE(bad), "bad names not counted");
	memset(longname, 'n', sizeof(longname));
	longname[256] = 0;
	T_CHECK(fx_lookup(FUSE_ROOT_ID, longname, NULL) == -ENAMETOOLONG, "256-byte name");
	longname[255] = 0;
	T_CHECK(fx_lookup(FUSE_ROOT_ID, longname, NULL) == -ENOENT, "255-byte name");
	/* a name without its NUL */
	T_CHECK(fx(FUSE_LOOKUP, FUSE_ROOT_ID, "abc", 3) == -EINVAL, "unterminated name");
	T_CHECK(fx(FUSE_RENAME, FUSE_ROOT_ID, "\1\0\0\0\0\0\0\0a\0b", 11) == -EINVAL,
		"RENAME second name unterminated");
	/* a symlink target of PATH_MAX */
	{
		static char t[5000];
		memset(t, 't', sizeof(t));
		t[4096] = 0;
		T_CHECK(fx(FUSE_SYMLINK, FUSE_ROOT_ID, buf, 0) == -EINVAL, "empty SYMLINK args");
		uint32_t n = fx_args((uint8_t *)X.body, NULL, 0, "l", t);
		T_CHECK(fx(FUSE_SYMLINK, FUSE_ROOT_ID, X.body, n) == -ENAMETOOLONG, "4096-byte target");
	}
	/* a hard link to what the guest cannot name: forged, stale, a dir */
	T_CHECK(fx(FUSE_LINK, FUSE_ROOT_ID, buf, fx_args(buf, &li, sizeof(li), "h", NULL)) == -ESTALE,
		"LINK of a forged node");
	li.oldnodeid = FUSE_ROOT_ID;
	T_CHECK(fx(FUSE_LINK, FUSE_ROOT_ID, buf, fx_args(buf, &li, sizeof(li), "h", NULL)) == -EPERM,
		"LINK of a directory");
	T_CHECK(fx_lookup(0x100000002ULL, "x", NULL) == -ESTALE, "forged parent");
	T_CHECK(fx_lookup(0, "x", NULL) == -ESTALE, "node 0");
	T_CHECK(fx_outside_untouched(), "the folder outside the share changed");
}

static void test_fs_read_only(void)
{
	struct fuse_entry_out e, d;
	uint8_t buf[600];
	uint64_t fh;
	uint32_t n;
	struct stat st;
	int fd;

	fx_dirs();
	T_REQUIRE(fx_boot(true) == 0 && fx_init() == 0, "boot");
	fd = open(fx_host("f"), O_WRONLY | O_CREAT, 0644);
	T_REQUIRE(fd >= 0 && write(fd, "host\n", 5) == 5, "host file");
	close(fd);
	mkdir(fx_host("d"), 0755);
	T_REQUIRE(fx_lookup(FUSE_ROOT_ID, "f", &e) == 0 && fx_lookup(FUSE_ROOT_ID, "d", &d) == 0, "LOOKUP");
	T_CHECK(fx_create(FUSE_ROOT_ID, "new", O_WRONLY, 0644, NULL, &fh) == -EROFS, "CREATE");
	T_CHECK(fx_mkdir(FUSE_ROOT_ID, "nd", 0755, NULL) == -EROFS, "MKDIR");
	{
		struct fuse_mknod_in mk = { .mode = S_IFREG | 0644 };
		T_CHECK(fx(FUSE_MKNOD, FUSE_ROOT_ID, buf, fx_args(buf, &mk, sizeof(mk), "n", NULL)) == -EROFS,
			"MKNOD");
	}
	T_CHECK(fx(FUSE_SYMLINK, FUSE_ROOT_ID, buf, fx_args(buf, NULL, 0, "l", "f")) == -EROFS, "SYMLINK");
	T_CHECK(fx(FUSE_UNLINK, FUSE_ROOT_ID, "f", 2) == -EROFS, "UNLINK");
	T_CHECK(fx(FUSE_RMDIR, FUSE_ROOT_ID, "d", 2) == -EROFS, "RMDIR");
	{
		struct fuse_rename_in r = { .newdir = FUSE_ROOT_ID };
		struct fuse_rename2_in r2 = { .newdir = FUSE_ROOT_ID };
		struct fuse_link_in l = { .oldnodeid = e.nodeid };
		T_CHECK(fx(FUSE_RENAME, FUSE_ROOT_ID, buf, fx_args(buf, &r, sizeof(r), "f", "g")) == -EROFS,
			"RENAME");
		T_CHECK(fx(FUSE_RENAME2, FUSE_ROOT_ID, buf, fx_args(buf, &r2, sizeof(r2), "f", "g")) == -EROFS,
			"RENAME2");
		T_CHECK(fx(FUSE_LINK, FUSE_ROOT_ID, buf, fx_args(buf, &l, sizeof(l), "h", NULL)) == -EROFS,
			"LINK");
	}
	{
		struct fuse_setattr_in s = { .valid = FATTR_SIZE };
		T_CHECK(fx(FUSE_SETATTR, e.nodeid, &s, sizeof(s)) == -EROFS, "SETATTR size");
		s.valid = FATTR_MODE;
		s.mode = 0777;
		T_CHECK(fx(FUSE_SETATTR, e.nodeid, &s, sizeof(s)) == -EROFS, "SETATTR mode");
		s.valid = FATTR_MTIME;
		T_CHECK(fx(FUSE_SETATTR, e.nodeid, &s, sizeof(s)) == -EROFS, "SETATTR mtime");
	}
	T_CHECK(fx_open(e.nodeid, O_WRONLY, &fh, false) == -EROFS, "OPEN O_WRONLY");
	T_CHECK(fx_open(e.nodeid, O_RDWR, &fh, false) == -EROFS, "OPEN O_RDWR");
	T_CHECK(fx_open(e.nodeid, O_RDONLY | O_TRUNC, &fh, false) == -EROFS, "OPEN O_TRUNC");
	T_REQUIRE(fx_open(e.nodeid, O_RDONLY, &fh, false) == 0, "OPEN O_RDONLY refused");
	T_CHECK(fx_write(e.nodeid, fh, 0, "x", 1, &n) == -EROFS, "WRITE on a read handle");
	{
		struct fuse_fallocate_in fa = { .fh = fh, .length = 4096 };
		struct fuse_access_in ai = { .mask = W_OK };
		T_CHECK(fx(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa)) == -EROFS, "FALLOCATE");
		T_CHECK(fx(FUSE_ACCESS, e.nodeid, &ai, sizeof(ai)) == -EROFS, "ACCESS W_OK");
	}
	T_CHECK(fx_read(e.nodeid, fh, 0, 100, 0, &n) == 0 && n == 5 && !memcmp(X.body, "host\n", 5),
		"READ");
	T_CHECK(X.f.share.st.erofs >= 15, "EROFS not counted (%llu)",
		(unsigned long long)X.f.share.st.erofs);
	T_CHECK(stat(fx_host("f"), &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0644,
		"the host file changed");
	T_CHECK(access(fx_host("new"), F_OK) && access(fx_host("nd"), F_OK) && access(fx_host("g"), F_OK),
		"something was created");
}

static void test_fs_limits(void)
{
	struct fs_share_cfg cfg = { .guest_uid = 1000, .guest_gid = 1000, .max_inodes = 4,
				    .max_handles = 2 };
	struct fuse_entry_out e[4];
	uint64_t fh[3];
	char name[16];

	fx_dirs();
	cfg.path = X.share;
	T_REQUIRE(fx_boot_cfg(&cfg, FX_ACKED) == 0 && fx_init() == 0, "boot");
	for (int i = 0; i < 4; i++) {
		int fd;
		snprintf(name, sizeof(name), "f%d", i);
		fd = open(fx_host(name), O_WRONLY | O_CREAT, 0644);
		close(fd);
	}
	/* root + 3 inodes */
	for (int i = 0; i < 3; i++)
		T_CHECK(fx_lookup(FUSE_ROOT_ID, (snprintf(name, sizeof(name), "f%d", i), name), &e[i]) == 0,
			"LOOKUP %s", name);
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "f3", NULL) == -ENFILE, "4th inode: not ENFILE");
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "f0", NULL) == 0, "a held inode must still resolve");
	T_CHECK(fx_create(FUSE_ROOT_ID, "new", O_WRONLY, 0644, NULL, &fh[0]) == -ENFILE, "CREATE when full");
	T_CHECK(access(fx_host("new"), F_OK) != 0, "CREATE refused yet created the file");
	{
		struct fuse_forget_in fg = { .nlookup = 1 };
		struct fx_shape hi = { .use_queue = true, .queue = FS_HIPRIO_Q, .no_reply_room = true };
		T_CHECK(fx_send(FUSE_FORGET, e[1].nodeid, &fg, sizeof(fg), NULL, 0, &hi) == 1 &&
			X.used_len == 0, "FORGET answered");
	}
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "f3", &e[3]) == 0, "slot not freed by FORGET");
	T_CHECK(e[3].nodeid != e[1].nodeid && (uint32_t)e[3].nodeid == (uint32_t)e[1].nodeid,
		"reused slot keeps its id: %llx vs %llx", (unsigned long long)e[3].nodeid,
		(unsigned long long)e[1].nodeid);
	T_CHECK(fx(FUSE_GETATTR, e[1].nodeid, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == -ESTALE,
		"stale id of a reused slot resolved");
	/* handles */
	T_CHECK(fx_open(e[0].nodeid, O_RDONLY, &fh[0], false) == 0 &&
		fx_open(e[0].nodeid, O_RDONLY, &fh[1], false) == 0, "two handles");
	T_CHECK(fx_open(e[0].nodeid, O_RDONLY, &fh[2], false) == -ENFILE, "3rd handle: not ENFILE");
	T_CHECK(fx_open(FUSE_ROOT_ID, O_RDONLY, &fh[2], true) == -ENFILE, "3rd dir handle: not ENFILE");
	T_CHECK(fx_release(e[0].nodeid, fh[0], false) == 0 && fx_open(e[0].nodeid, O_RDONLY, &fh[2], false) == 0,
		"handle not freed");
	T_CHECK(fh[2] != fh[0], "handle id reused as is");
	T_CHECK(X.f.share.st.table_full >= 4, "ENFILE not counted");
}

static void test_fs_forget_batch(void)
{
	struct fuse_entry_out a, b;
	uint8_t buf[64];
	struct fuse_batch_forget_in bf = { .count = 2 };
	struct fuse_forget_one one[2];
	struct fx_shape hi = { .use_queue = true, .queue = FS_HIPRIO_Q, .no_reply_room = true };
	int fd;

	T_REQUIRE(fx_boot(false) == 0 && fx_init() == 0, "boot");
	fd = open(fx_host("a"), O_WRONLY | O_CREAT, 0644);
	close(fd);
	T_REQUIRE(fx_lookup(FUSE_ROOT_ID, "a", &a) == 0 && fx_lookup(FUSE_ROOT_ID, "a", &b) == 0, "LOOKUP x2");
	T_CHECK(a.nodeid == b.nodeid, "one file, two ids");
	one[0] = (struct fuse_forget_one){ a.nodeid, 1 };
	one[1] = (struct fuse_forget_one){ 0xabcdef, 5 }; /* unknown: ignored */
	memcpy(buf, &bf, sizeof(bf));
	memcpy(buf + sizeof(bf), one, sizeof(one));
	T_CHECK(fx_send(FUSE_BATCH_FORGET, 0, buf, sizeof(bf) + sizeof(one), NULL, 0, &hi) == 1,
		"BATCH_FORGET answered");
	T_CHECK(fx(FUSE_GETATTR, a.nodeid, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "forgot too much");
	/* a count larger than the arguments: only what is there */
	bf.count = 1000;
	memcpy(buf, &bf, sizeof(bf));
	T_CHECK(fx_send(FUSE_BATCH_FORGET, 0, buf, sizeof(bf) + 16, NULL, 0, &hi) == 1, "BATCH_FORGET 1000");
	T_CHECK(fx(FUSE_GETATTR, a.nodeid, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == -ESTALE,
		"not forgotten");
	/* the root is never forgotten */
	one[0] = (struct fuse_forget_one){ FUSE_ROOT_ID, 1000 };
	bf.count = 1;
	memcpy(buf, &bf, sizeof(bf));
	memcpy(buf + sizeof(bf), one, 16);
	fx_send(FUSE_BATCH_FORGET, 0, buf, sizeof(bf) + 16, NULL, 0, &hi);
	T_CHECK(fx_lookup(FUSE_ROOT_ID, "a", NULL) == 0, "root forgotten");
	T_CHECK(X.f.share.n_inodes == 2, "%u inodes", X.f.share.n_inodes);
	/* DESTROY closes all */
	T_CHECK(fx_open(FUSE_ROOT_ID, 0, NULL, true) == 0, "OPENDIR");
	T_CHECK(fx(FUSE_DESTROY, 0, NULL, 0) == 0 && X.f.share.n_inodes == 1 && X.f.share.n_handles == 0,
		"DESTROY left %u inodes %u handles", X.f.share.n_inodes, X.f.share.n_handles);
}

/* GETATTR of node; returns the error. */
static int getattr(uint64_t node)
{
	static const uint8_t in[16];

	return fx(FUSE_GETATTR, node, in, sizeof(in));
}

static void test_fs_fd_cache(void)
{
	struct fs_share_cfg cfg = { .guest_uid = 1000, .guest_gid = 1000, .max_fds = 16 };
	static struct fuse_entry_out f[60];
	struct fuse_entry_out d1, d2, d3, deep;
	uint8_t buf[600];
	uint64_t fh;
	uint32_t n;
	char name[64];
	int bad = 0;

	fx_dirs();
	cfg.path = X.share;
	T_REQUIRE(fx_boot_cfg(&cfg, FX_ACKED) == 0 && fx_init() == 0, "boot");
	for (int i = 0; i < 60; i++) {
		/* names of every length, some longer than the inline buffer */
		snprintf(name, sizeof(name), "f%02d-%.*s", i, i % 30, "abcdefghijklmnopqrstuvwxyzABCD");
		if (i % 3 == 0)
			snprintf(name, sizeof(name), "long-name-%02d-0123456789abcdef", i);
		T_REQUIRE(fx_create(FUSE_ROOT_ID, name, O_WRONLY, 0644, &f[i], &fh) == 0, "CREATE %s", name);
		T_REQUIRE(fx_write(f[i].nodeid, fh, 0, name, (uint32_t)strlen(name), &n) == 0, "WRITE");
		fx_release(f[i].nodeid, fh, false);
		T_CHECK(X.f.share.n_fds <= 16, "%u descriptors held", X.f.share.n_fds);
	}
	T_CHECK(X.f.share.st.fds_recycled >= 44, "recycled %llu",
		(unsigned long long)X.f.share.st.fds_recycled);
	for (int i = 0; i < 60; i++) {
		bad += getattr(f[i].nodeid) != 0;
		/* and read back through a re-opened descriptor */
		if (fx_open(f[i].nodeid, O_RDONLY, &fh, false) == 0) {
			bad += fx_read(f[i].nodeid, fh, 0, 64, 0, &n) != 0 || n < 4 ||
			       (X.body[0] != 'f' && X.body[0] != 'l');
			fx_release(f[i].nodeid, fh, false);
		} else {
			bad++;
		}
	}
	T_CHECK(bad == 0, "%d inodes not usable after their descriptor was closed", bad);
	T_CHECK(X.f.share.st.fds_reopened >= 44 && X.f.share.n_fds <= 16, "reopened %llu, %u held",
		(unsigned long long)X.f.share.st.fds_reopened, X.f.share.n_fds);
	/* renamed by the guest while closed: found under the new name */
	getattr(f[1].nodeid);
	for (int i = 20; i < 60; i++)
		getattr(f[i].nodeid); /* pushes f[0..19] out */
	{
		struct fuse_rename_in ri = { .newdir = FUSE_ROOT_ID };
		char old[32];
		snprintf(old, sizeof(old), "f%02d-%.*s", 2, 2, "ab");
		T_CHECK(fx(FUSE_RENAME, FUSE_ROOT_ID, buf, fx_args(buf, &ri, sizeof(ri), old, "renamed")) == 0,
			"RENAME");
		T_CHECK(getattr(f[2].nodeid) == 0, "renamed inode lost");
	}
	/* renamed or replaced on the host behind the guest's back: stale */
	{
		char old[400], p2[400];
		snprintf(old, sizeof(old), "%s", fx_host("f04-abcd"));
		snprintf(p2, sizeof(p2), "%s", fx_host("moved"));
		for (int i = 20; i < 60; i++)
			getattr(f[i].nodeid);
		T_REQUIRE(rename(old, p2) == 0, "host rename %s", old);
		T_CHECK(getattr(f[4].nodeid) == -ESTALE, "moved on the host, still resolved");
		T_REQUIRE(rename(p2, old) == 0, "host rename back");
		T_CHECK(getattr(f[4].nodeid) == 0, "back in place, not resolved");
		for (int i = 20; i < 60; i++)
			getattr(f[i].nodeid);
		unlink(old);
		close(open(old, O_WRONLY | O_CREAT, 0644)); /* another file by the name */
		T_CHECK(getattr(f[4].nodeid) == -ESTALE, "another file taken for it");
	}
	/* deep directories keep their descriptors; what is in them is re-found */
	T_REQUIRE(fx_mkdir(FUSE_ROOT_ID, "d1", 0755, &d1) == 0 && fx_mkdir(d1.nodeid, "d2", 0755, &d2) == 0 &&
		  fx_mkdir(d2.nodeid, "d3", 0755, &d3) == 0, "MKDIR");
	T_REQUIRE(fx_create(d3.nodeid, "deep", O_WRONLY, 0600, &deep, &fh) == 0, "CREATE deep");
	fx_release(deep.nodeid, fh, false);
	for (int i = 20; i < 60; i++)
		getattr(f[i].nodeid);
	T_CHECK(getattr(deep.nodeid) == 0, "deep file lost");
	/* forgetting frees children first, then their parents */
	{
		uint32_t before = X.f.share.n_inodes;
		fs_ino_forget(&X.f.share, d3.nodeid, 1);
		fs_ino_forget(&X.f.share, d2.nodeid, 1);
		T_CHECK(X.f.share.n_inodes == before, "a parent went while a child is held");
		fs_ino_forget(&X.f.share, deep.nodeid, 1);
		T_CHECK(X.f.share.n_inodes == before - 3, "%u inodes, want %u", X.f.share.n_inodes, before - 3);
		T_CHECK(getattr(d1.nodeid) == 0 && getattr(d2.nodeid) == -ESTALE, "d1/d2");
	}
	/* every descriptor a directory's: ENFILE, clearly */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "dir%02d", i);
		if (fx_mkdir(FUSE_ROOT_ID, name, 0755, NULL))
			break;
	}
	T_CHECK(X.oh.error == -ENFILE && X.f.share.n_fds == 16, "mkdir beyond the descriptors: %d, %u held",
		X.oh.error, X.f.share.n_fds);
}

int main(void)
{
	T_RUN(test_fs_init_first);
	T_RUN(test_fs_write_read);
	T_RUN(test_fs_readdir_small_buffers);
	T_RUN(test_fs_rename_link_unlink);
	T_RUN(test_fs_setattr_owner_mode);
	T_RUN(test_fs_symlinks_not_followed);
	T_RUN(test_fs_names_refused);
	T_RUN(test_fs_read_only);
	T_RUN(test_fs_limits);
	T_RUN(test_fs_forget_batch);
	T_RUN(test_fs_fd_cache);
	fx_done();
	T_EXIT();
}
