/* One host folder served to the guest over FUSE (virtio-fs): the host side
 * of a share. It holds the share's root, the inode table (every host file
 * the guest has looked up, found again by (st_dev, st_ino) so each has one
 * node id, with the directory and name it was found by and an O_PATH,
 * O_NOFOLLOW descriptor: kept by directories, a bounded cache for the
 * rest, fs/inode.c), the table of open file and directory handles, and
 * the limits. Every name the guest
 * sends is one path component, resolved with openat() relative to the
 * descriptor of its parent directory, never as a path string; symlinks are
 * never followed on the host (O_NOFOLLOW everywhere; a symlink inode cannot
 * be opened, only read with readlinkat); "." and ".." and names with '/'
 * are refused, so the guest can only ever reach what lies beneath the root.
 * Files are opened for I/O by re-opening an inode's own descriptor through
 * /proc/self/fd (a link to that very inode, which cannot be swapped).
 * A read-only share refuses every modifying request with EROFS here, on the
 * host. Everything the guest creates belongs to the user running voidbox
 * (no chown; setuid and setgid bits are dropped, device nodes refused).
 * The guest sees the owner of the share's files, the host user, as
 * guest_uid:guest_gid (docs/fs.md: the owner mapping).
 *
 * Tables are allocated once, at open; requests allocate nothing. The FUSE
 * operations themselves live in fs/fuse.c (dispatch) and fs/ops_*.c. */
#ifndef VOIDBOX_FS_SHARE_H
#define VOIDBOX_FS_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FS_NAME_MAX 255                /* longest name (one component) */
#define FS_SYMLINK_MAX 4095            /* longest symlink target */
#define FS_DEFAULT_MAX_INODES 262144   /* host files the guest may hold at once */
#define FS_DEFAULT_MAX_HANDLES 4096    /* open files + directories at once */
#define FS_DEFAULT_MAX_FDS 65536       /* inode descriptors open at once */
#define FS_NAME_INLINE 40              /* names up to 39 bytes live in the inode */
#define FS_OVERFLOW_ID 65534           /* shown for a host id the mapping hides */
#define FS_TTL_S 1                     /* entry and attribute cache time, seconds */
#define FS_DIRBUF 32768                /* getdents64 scratch per share */

struct fs_share_cfg {
	const char *path;         /* the host folder */
	bool ro;                  /* refuse every write (EROFS) */
	uint32_t guest_uid;       /* the host user appears as this uid ... */
	uint32_t guest_gid;       /* ... and gid in the guest */
	uint32_t max_inodes;      /* 0: FS_DEFAULT_MAX_INODES */
	uint32_t max_handles;     /* 0: FS_DEFAULT_MAX_HANDLES */
	uint32_t max_fds;         /* inode descriptors; 0: FS_DEFAULT_MAX_FDS (at least 16) */
};

/* A host file the guest holds a node id for. */
struct fs_inode {
	uint64_t dev, ino;        /* identity on the host */
	uint64_t nlookup;         /* lookups the guest has not forgotten */
	int fd;                   /* O_PATH | O_NOFOLLOW, or -1 (re-opened by name) */
	uint32_t gen;             /* bumped at each reuse of the slot */
	uint32_t hnext;           /* hash chain / free list: slot + 1, 0 ends */
	uint32_t mode;            /* S_IFMT bits */
	uint32_t parent;          /* slot + 1 of the directory it was found in; 0: root */
	uint32_t refs;            /* children naming it parent + open handles */
	uint32_t prev, next;      /* LRU of non-directories with a descriptor */
	int64_t btime_sec;        /* birth time when the descriptor was closed */
	uint32_t btime_nsec;
	bool has_btime;           /* ... if the file system keeps one */
	bool used;
	char *long_name;          /* the name when it does not fit name[] */
	char name[FS_NAME_INLINE];
};

/* An open file or directory of the guest. Free slots have fd -1. */
struct fs_handle {
	int fd;
	uint32_t gen;
	uint32_t next_free;       /* free list: index + 1, 0 ends */
	uint32_t ino;             /* slot + 1 of its inode (holds a reference) */
	bool dir;
	uint64_t pos;             /* directories: getdents position (d_off) */
};

/* Counters; all monotonic. */
struct fs_stats {
	uint64_t requests;        /* requests answered or consumed */
	uint64_t errors;          /* replies with an error */
	uint64_t bad_requests;    /* malformed: short, inconsistent lengths */
	uint64_t bad_names;       /* names refused: "", ".", "..", '/', too long */
	uint64_t bad_ids;         /* unknown node ids or handles */
	uint64_t erofs;           /* writes refused on a read-only share */
	uint64_t table_full;      /* ENFILE: inode or handle table full */
	uint64_t fds_recycled;    /* inode descriptors closed to make room */
	uint64_t fds_reopened;    /* ... and opened again by name */
	uint64_t bytes_read, bytes_written;
};

struct fs_share {
	int root_fd;              /* O_PATH of the root; also inode slot 0's */
	int proc_fd;              /* /proc/self/fd, for re-opening inodes */
	bool ro;
	uint32_t host_uid, host_gid;   /* who runs voidbox */
	uint32_t guest_uid, guest_gid; /* how they appear in the guest */
	mode_t umask;             /* the process umask, undone after creating */
	struct fs_inode *ino;
	uint32_t max_inodes, n_inodes;
	uint32_t ino_free;        /* free list head (index + 1) */
	uint32_t ino_top;         /* slots [0, ino_top) have been used */
	uint32_t *hash;           /* buckets: slot + 1, 0 empty */
	uint32_t hash_mask;
	uint32_t max_fds, n_fds;  /* inode descriptors: the limit, open now */
	uint32_t lru_head, lru_tail; /* most and least recently used (slot + 1) */
	struct fs_handle *fh;
	uint32_t max_handles, n_handles;
	uint32_t fh_free, fh_top;
	struct fs_stats st;
	uint8_t dirbuf[FS_DIRBUF];
};

/* Raises the soft open-files limit to the hard one (each inode the guest
 * holds is a descriptor) and returns it. */
uint64_t fs_share_fd_budget(void);
/* Opens the share: the root folder, /proc/self/fd, the tables (and raises
 * the open-files limit as fs_share_fd_budget() does).
 * Returns 0 or -errno with one line in why. */
int fs_share_open(struct fs_share *s, const struct fs_share_cfg *cfg, char *why, size_t len);
/* Closes every descriptor and frees the tables. Safe after a failed open
 * and twice. */
void fs_share_close(struct fs_share *s);
/* Forgets every inode but the root and every handle (FUSE DESTROY, device
 * reset): the guest starts over. */
void fs_share_reset(struct fs_share *s);

/* --- inode table (fs/inode.c) --- */
/* The inode of node id id, or NULL (unknown, stale). */
struct fs_inode *fs_ino_get(struct fs_share *s, uint64_t id);
/* The node id of inode i. */
uint64_t fs_ino_id(const struct fs_share *s, const struct fs_inode *i);
/* Records one more lookup of the host file open as fd (O_PATH) with stat
 * st, found as name in directory dir: an inode already held for
 * (st_dev, st_ino) gets nlookup + 1 (and fd, if it had none; else fd is
 * closed); else fd becomes a new inode's. Returns the inode, or NULL with
 * fd closed and -ENFILE (table full) in *err. */
struct fs_inode *fs_ino_add(struct fs_share *s, int fd, const struct stat *st,
			    struct fs_inode *dir, const char *name, int *err);
/* The inode held for st's (st_dev, st_ino), or NULL. */
struct fs_inode *fs_ino_find(struct fs_share *s, const struct stat *st);
/* Inode i's O_PATH descriptor, re-opened by its name when it had none.
 * Returns the fd (the inode's: do not close) or -ESTALE (the name no
 * longer leads to it), -ENFILE, -errno. */
int fs_ino_fd(struct fs_share *s, struct fs_inode *i);
/* Closes least recently used inode descriptors until one more may open.
 * Returns 0 or -ENFILE (every descriptor is a directory's). */
int fs_ino_fd_room(struct fs_share *s);
/* Inode i is now called name in directory dir (the guest renamed it). */
void fs_ino_rename(struct fs_share *s, struct fs_inode *i, struct fs_inode *dir, const char *name);
/* Takes (delta 1) or drops (-1) a reference that keeps inode i (an open
 * handle); dropping the last one with no lookups left frees it. */
void fs_ino_ref(struct fs_share *s, struct fs_inode *i, int delta);
/* The name inode i was last found by. */
const char *fs_ino_name(const struct fs_inode *i);
/* Takes n lookups off inode id; frees it (closing its fd) at zero. The
 * root is never freed. Unknown ids are counted and ignored. */
void fs_ino_forget(struct fs_share *s, uint64_t id, uint64_t n);
/* Enters the root (slot 0) in the hash, at open. */
void fs_ino_hash_root(struct fs_share *s);
/* Frees every inode but the root. */
void fs_ino_reset(struct fs_share *s);

/* --- handle table (fs/handle.c) --- */
/* Stores fd, open on inode i, as a new handle (holding a reference on i).
 * Returns the handle id (> 0), or -ENFILE with fd closed. */
int64_t fs_fh_add(struct fs_share *s, int fd, bool dir, struct fs_inode *i);
/* The open handle id of the given kind, or NULL. */
struct fs_handle *fs_fh_get(struct fs_share *s, uint64_t id, bool dir);
/* Closes and frees handle id. Returns 0 or -EBADF. */
int fs_fh_close(struct fs_share *s, uint64_t id, bool dir);
/* Closes every handle. */
void fs_fh_reset(struct fs_share *s);

/* --- names and host access (fs/path.c) --- */
/* Checks that name[0..len) is one path component the guest may use: not
 * empty, not "." or "..", no '/', no NUL, at most FS_NAME_MAX bytes.
 * Returns 0 or -EINVAL / -ENAMETOOLONG (counted in bad_names). */
int fs_name_check(struct fs_share *s, const char *name, size_t len);
/* Opens name inside directory inode dir as O_PATH | O_NOFOLLOW (a symlink
 * yields the link itself) and stats it, making room among the inode
 * descriptors first. Returns the fd or -errno. */
int fs_child_open(struct fs_share *s, const struct fs_inode *dir, const char *name,
		  struct stat *st);
/* Opens inode i for I/O with flags (a regular file or, with O_DIRECTORY, a
 * directory; anything else is refused). Returns the fd or -errno. */
int fs_ino_reopen(struct fs_share *s, struct fs_inode *i, int flags);
/* stat of inode i (the link itself for a symlink). Returns 0 or -errno. */
int fs_ino_stat(struct fs_share *s, struct fs_inode *i, struct stat *st);
/* The path under /proc/self/fd naming fd, for the *at() calls that have
 * no empty-path form: writes the number into buf. Returns buf. */
const char *fs_fd_name(int fd, char buf[16]);
/* The mode bits voidbox lets the guest set on the host: no setuid, and
 * setgid on directories only. */
mode_t fs_safe_mode(mode_t mode);
/* Sets inode fd's permission bits to mode when the process umask took some
 * away at creation. Returns 0 or -errno. */
int fs_fix_mode(struct fs_share *s, int fd, mode_t mode);
/* The guest's view of host id h: the host user becomes the guest id; the
 * guest id itself (a different host user; not root) becomes
 * FS_OVERFLOW_ID; any other id stays. */
uint32_t fs_map_uid(const struct fs_share *s, uint32_t h);
uint32_t fs_map_gid(const struct fs_share *s, uint32_t h);

#endif
