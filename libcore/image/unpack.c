/* Reading images back: `mkinitramfs --list` and `--extract`; see
 * image/initramfs.h. The image is read whole into memory; gzip parts are
 * inflated as the walk reaches them. Extraction walks each path component with
 * openat(O_NOFOLLOW | O_DIRECTORY) from the target directory, so neither
 * "..", an absolute name nor a symlink planted by an earlier entry can make
 * an entry land outside it. */
#include "image/initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "image/cpio.h"
#include "image/gz.h"

#define MAX_IMAGE (1u << 30)

/* Reads image (or stdin for "-") into memory. Returns 0 or -errno. */
static int load_image(const char *image, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	uint8_t *raw = NULL;
	size_t rlen = 0;
	int e;

	if (!strcmp(image, "-")) {
		size_t cap = 1 << 20;

		if (!(raw = malloc(cap + 1)))
			return -ENOMEM;
		for (;;) {
			ssize_t n;

			if (rlen == cap) {
				uint8_t *nr = cap >= MAX_IMAGE ? NULL : realloc(raw, cap * 2 + 1);
				if (!nr) {
					free(raw);
					snprintf(err, errlen, "stdin: image too large");
					return -EFBIG;
				}
				raw = nr;
				cap *= 2;
			}
			n = read(0, raw + rlen, cap - rlen);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				e = -errno;
				free(raw);
				snprintf(err, errlen, "stdin: %s", strerror(-e));
				return e;
			}
			if (!n)
				break;
			rlen += (size_t)n;
		}
	} else if ((e = read_file(image, MAX_IMAGE, &raw, &rlen))) {
		snprintf(err, errlen, "%s: %s", image, strerror(-e));
		return e;
	}
	*out = raw;
	*len = rlen;
	return 0;
}

/* Writes the `ls -l` style type and permission letters of mode into s. */
static void mode_str(uint32_t mode, char s[11])
{
	static const char rwx[] = "rwxrwxrwx";

	s[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISCHR(mode) ? 'c' :
	       S_ISBLK(mode) ? 'b' : S_ISFIFO(mode) ? 'p' : S_ISSOCK(mode) ? 's' : '-';
	for (int i = 0; i < 9; i++)
		s[1 + i] = mode & (1u << (8 - i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		s[3] = s[3] == 'x' ? 's' : 'S';
	if (mode & S_ISGID)
		s[6] = s[6] == 'x' ? 's' : 'S';
	if (mode & S_ISVTX)
		s[9] = s[9] == 'x' ? 't' : 'T';
	s[10] = 0;
}

typedef int (*entry_fn)(void *ctx, const struct cpio_entry *e, const uint8_t *data,
			char *err, size_t errlen);

/* Walks the archives in buf, calling fn for each entry. Like the kernel
 * (and lsinitramfs) it takes several archives one after another, with NUL
 * padding between them, and a gzip stream (of more archives) after them,
 * as in an initrd with an uncompressed early part. Returns 0 or -errno. */
static int walk(const char *image, const uint8_t *buf, size_t len, entry_fn fn, void *ctx,
		char *err, size_t errlen, int depth)
{
	struct cpio_reader r;
	struct cpio_entry e;
	const uint8_t *data;
	char why[300];
	int rc = 0;

	cpio_reader_init(&r, buf, len);
	while (r.off < len) {
		if (gz_is_gzip(buf + r.off, len - r.off) && !depth) {
			uint8_t *plain;
			size_t plen;

			rc = gz_inflate_all(buf + r.off, len - r.off, MAX_IMAGE, &plain, &plen, err, errlen);
			if (rc) {
				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "%s: %s", image, rc == -EBADMSG ? why : strerror(-rc));
				return rc;
			}
			rc = walk(image, plain, plen, fn, ctx, err, errlen, depth + 1);
			free(plain);
			return rc;
		}
		if (r.off && (len - r.off < 6 || (memcmp(buf + r.off, "070701", 6) &&
						    memcmp(buf + r.off, "070702", 6)))) {
			snprintf(err, errlen, "%s: data at offset %zu after the archive is neither cpio "
				 "nor gzip", image, r.off);
			return -EBADMSG;
		}
		while ((rc = cpio_next(&r, &e, &data, err, errlen)) == 1)
			if ((rc = fn(ctx, &e, data, err, errlen)))
				return rc;
		if (rc == -EBADMSG) {
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s: not a valid cpio archive: %s", image, why);
		}
		if (rc)
			return rc;
		while (r.off < len && !buf[r.off]) /* padding after a trailer */
			r.off++;
	}
	return 0;
}

struct list_ctx {
	FILE *out;
	int verbose;
};

static int list_one(void *ctx, const struct cpio_entry *e, const uint8_t *data,
		    char *err, size_t errlen)
{
	struct list_ctx *l = ctx;
	char ms[11], when[32];
	time_t t = e->mtime;
	struct tm tm;

	if (!l->verbose) {
		fprintf(l->out, "%s\n", e->name);
		return 0;
	}
	mode_str(e->mode, ms);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		fprintf(l->out, "%s %4u %5u %5u %5u,%4u %s %s", ms, e->nlink, e->uid, e->gid,
			e->rdev_major, e->rdev_minor, when, e->name);
	else
		fprintf(l->out, "%s %4u %5u %5u %10u %s %s", ms, e->nlink, e->uid, e->gid,
			e->size, when, e->name);
	if (S_ISLNK(e->mode))
		fprintf(l->out, " -> %.*s", (int)e->size, (const char *)data);
	fputc('\n', l->out);
	return 0;
}

int initramfs_list(const char *image, FILE *out, int verbose, char *err, size_t errlen)
{
	struct list_ctx l = { out, verbose };
	uint8_t *buf;
	size_t len;
	int e;

	if ((e = load_image(image, &buf, &len, err, errlen)))
		return e;
	e = walk(image, buf, len, list_one, &l, err, errlen, 0);
	free(buf);
	if (!e && (fflush(out) || ferror(out))) {
		e = -EIO;
		snprintf(err, errlen, "writing the listing: %s", strerror(errno));
	}
	return e;
}

#define MAX_HARDLINKS 4096

/* A regular file with nlink > 1 already extracted: later entries with the
 * same (inode, device) become hard links to it. */
struct hardlink {
	uint32_t ino, maj, min;
	char *name;
};

struct extract_ctx {
	int dirfd;
	const char *dir;
	int root;            /* running as root: keep owners, make device nodes */
	struct hardlink *links;
	size_t n_links;
};

/* Opens the directory that holds name's last component, walking from
 * x->dirfd without following symlinks; *last gets the last component.
 * Returns an fd or -errno. */
static int open_parent(struct extract_ctx *x, const char *name, char *buf, size_t buflen,
		       const char **last)
{
	int fd = dup(x->dirfd);
	char *p = buf, *slash;

	snprintf(buf, buflen, "%s", name);
	while (fd >= 0 && (slash = strchr(p, '/'))) {
		int nfd;

		*slash = 0;
		if (*p && strcmp(p, ".")) {
			nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			close(fd);
			if (nfd < 0)
				return errno == ELOOP || errno == ENOTDIR ? -ELOOP : -errno;
			fd = nfd;
		}
		p = slash + 1;
		while (*p == '/')
			p++;
	}
	*last = p;
	return fd < 0 ? -errno : fd;
}

/* Grows the hard-link table to n entries (frees it on failure). */
static struct hardlink *realloc_links(struct hardlink *l, size_t n)
{
	struct hardlink *nl = realloc(l, n * sizeof(*l));

	if (!nl)
		free(l);
	return nl;
}

/* For a regular file with nlink > 1: if an earlier entry had the same
 * inode, makes pfd/last a hard link to it and returns 1; else remembers
 * this one and returns 0. Returns -errno on failure. */
static int link_to_earlier(struct extract_ctx *x, const struct cpio_entry *e, int pfd,
			   const char *last)
{
	char buf[CPIO_MAX_NAME];
	const char *olast = NULL;
	struct hardlink *h;
	int ofd, r = 0;

	if (e->nlink < 2)
		return 0;
	for (size_t i = 0; i < x->n_links; i++) {
		h = &x->links[i];
		if (h->ino != e->ino || h->maj != e->dev_major || h->min != e->dev_minor)
			continue;
		ofd = open_parent(x, h->name, buf, sizeof(buf), &olast);
		if (ofd < 0)
			return ofd;
		if (linkat(ofd, olast, pfd, last, 0) < 0)
			r = -errno;
		close(ofd);
		return r ? r : 1;
	}
	if (x->n_links == MAX_HARDLINKS)
		return -EMLINK;
	if (!(x->links = realloc_links(x->links, x->n_links + 1)))
		return -ENOMEM;
	h = &x->links[x->n_links];
	*h = (struct hardlink){ e->ino, e->dev_major, e->dev_minor, strdup(e->name) };
	if (!h->name)
		return -ENOMEM;
	x->n_links++;
	return 0;
}

static int extract_one(void *ctx, const struct cpio_entry *e, const uint8_t *data,
		       char *err, size_t errlen)
{
	struct extract_ctx *x = ctx;
	char buf[CPIO_MAX_NAME];
	const char *last = NULL;
	int pfd, fd, r = 0;
	uint32_t perm = e->mode & 07777;

	if (!cpio_name_is_safe(e->name)) {
		snprintf(err, errlen, "entry '%s' would land outside %s: refused", e->name, x->dir);
		return -EPERM;
	}
	pfd = open_parent(x, e->name, buf, sizeof(buf), &last);
	if (pfd < 0) {
		snprintf(err, errlen, "entry '%s': %s", e->name, pfd == -ELOOP ?
			 "a parent is a symlink or not a directory: refused" : strerror(-pfd));
		return pfd == -ELOOP ? -EPERM : pfd;
	}
	if (!*last || !strcmp(last, ".")) { /* the directory itself */
		close(pfd);
		return 0;
	}
	if (S_ISDIR(e->mode)) {
		struct stat st;

		if (mkdirat(pfd, last, 0700) < 0 && errno != EEXIST)
			r = -errno;
		else if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		else if (!S_ISDIR(st.st_mode))
			r = -EEXIST;
		else if (fchmodat(pfd, last, perm, 0) < 0)
			r = -errno;
	} else {
		if (unlinkat(pfd, last, 0) < 0 && errno != ENOENT)
			r = -errno;
		if (!r && S_ISREG(e->mode)) {
			r = link_to_earlier(x, e, pfd, last);
			/* the data may come with any of the links (the kernel takes the
			 * first, GNU cpio writes the last): write it wherever it is */
			fd = r < 0 ? -1 : openat(pfd, last, O_WRONLY | O_NOFOLLOW | O_CLOEXEC |
						 (r ? 0 : O_CREAT | O_EXCL), 0600);
			if (r >= 0 && fd < 0)
				r = -errno;
			else if (fd >= 0) {
				r = 0;
				if (e->size && ftruncate(fd, 0) < 0)
					r = -errno;
				if (!r)
					r = write_full(fd, data, e->size);
				if (!r && fchmod(fd, perm) < 0)
					r = -errno;
				if (close(fd) < 0 && !r)
					r = -errno;
			}
		} else if (!r && S_ISLNK(e->mode)) {
			char target[4096];

			if (e->size == 0 || e->size >= sizeof(target) || memchr(data, 0, e->size)) {
				snprintf(err, errlen, "entry '%s': bad symlink target", e->name);
				close(pfd);
				return -EBADMSG;
			}
			memcpy(target, data, e->size);
			target[e->size] = 0;
			if (symlinkat(target, pfd, last) < 0)
				r = -errno;
		} else if (!r && (S_ISCHR(e->mode) || S_ISBLK(e->mode) || S_ISFIFO(e->mode))) {
			if (!x->root && !S_ISFIFO(e->mode)) {
				close(pfd); /* unprivileged: device nodes are skipped */
				return 0;
			}
			if (mknodat(pfd, last, (e->mode & S_IFMT) | perm,
				    makedev(e->rdev_major, e->rdev_minor)) < 0 ||
			    fchmodat(pfd, last, perm, 0) < 0) /* past the umask */
				r = -errno;
		} else if (!r) {
			snprintf(err, errlen, "entry '%s': unsupported file type 0%o", e->name,
				 e->mode & S_IFMT);
			close(pfd);
			return -EBADMSG;
		}
	}
	if (!r && x->root && fchownat(pfd, last, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	close(pfd);
	if (r)
		snprintf(err, errlen, "extracting '%s': %s", e->name, strerror(-r));
	return r;
}

/* Checks every name before anything is written. */
static int check_one(void *ctx, const struct cpio_entry *e, const uint8_t *data,
		     char *err, size_t errlen)
{
	struct extract_ctx *x = ctx;

	if (cpio_name_is_safe(e->name))
		return 0;
	snprintf(err, errlen, "entry '%s' would land outside %s: refused", e->name, x->dir);
	return -EPERM;
}

int initramfs_extract(const char *image, const char *dir, char *err, size_t errlen)
{
	struct extract_ctx x = { .dirfd = -1, .dir = dir, .root = geteuid() == 0 };
	uint8_t *buf;
	size_t len;
	int e;

	if ((e = load_image(image, &buf, &len, err, errlen)))
		return e;
	if ((e = walk(image, buf, len, check_one, &x, err, errlen, 0)))
		goto out;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	x.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.dirfd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	e = walk(image, buf, len, extract_one, &x, err, errlen, 0);
	close(x.dirfd);
	for (size_t i = 0; i < x.n_links; i++)
		free(x.links[i].name);
	free(x.links);
out:
	free(buf);
	return e;
}
