/* The initramfs builder; see image/initramfs.h and docs/image.md. Inputs
 * are gathered into a tree (image/tree.h) in a fixed order — the skeleton,
 * kernel modules, busybox links, programs with their libraries, then the
 * caller's files, so a later one replaces an earlier one at the same path —
 * and only then written, through gzip, as one cpio newc archive. */
#include "image/initramfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "image/bzimage.h"
#include "image/cpio.h"
#include "image/embedded.h"
#include "image/gz.h"
#include "image/kmod.h"
#include "image/ldso.h"
#include "image/tree.h"

#define MAX_KERNEL (256u << 20)
#define MAX_LIST (1u << 20)
#define ADD_MAX_DEPTH 64

#define MAX_DEFAULT_MODULES 64

const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name)
{
	for (; table->name; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

/* Splits the next line of text[*off, len) into at most max whitespace-
 * separated words (copied into buf, NUL-terminated), skipping blank lines
 * and # comments. Returns the number of words, 0 at the end. */
static int next_line(const char *text, size_t len, size_t *off, char *buf, size_t cap, char **w,
		     int max, unsigned *lineno)
{
	while (*off < len) {
		size_t s = *off, e = s, o = 0;
		int n = 0;

		while (e < len && text[e] != '\n')
			e++;
		*off = e + (e < len);
		(*lineno)++;
		for (size_t i = s; i < e && o + 1 < cap;) {
			while (i < e && (text[i] == ' ' || text[i] == '\t'))
				i++;
			if (i == e || text[i] == '#')
				break;
			if (n == max)
				return -1;
			w[n++] = buf + o;
			while (i < e && text[i] != ' ' && text[i] != '\t' && o + 1 < cap)
				buf[o++] = text[i++];
			buf[o++] = 0;
		}
		if (n)
			return n;
	}
	return 0;
}

/* Parses an octal mode or id word. Returns 0 or -EINVAL. */
static int parse_num(const char *w, int base, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(w, &end, base);

	if (!*w || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int tree_err(int e, const char *path, char *err, size_t errlen);

/* The default image's fixed tree: initramfs/skeleton.list (gen_init_cpio's
 * format) and the files it names, built into the binary. Returns 0 or
 * -errno with why filled. */
static int add_skeleton_list(struct tree *t, char *why, size_t why_len)
{
	const struct embedded_file *list = embedded_find(initramfs_files, "skeleton.list"), *f;
	char buf[512], *w[9];
	size_t off = 0;
	unsigned line = 0;
	uint32_t mode, uid, gid, maj, min;
	int n, e = 0;

	if (!list) {
		snprintf(why, why_len, "initramfs/skeleton.list is not built in");
		return -ENOENT;
	}
	while (!e && (n = next_line((const char *)list->data, list->len, &off, buf, sizeof(buf), w, 9, &line))) {
		const char *path = n > 1 && w[1][0] == '/' ? w[1] + 1 : NULL;

		if (n < 0 || !path) {
			e = -EINVAL;
		} else if (!strcmp(w[0], "dir") && n == 5) {
			e = parse_num(w[2], 8, 07777, &mode) ?: parse_num(w[3], 10, 0xfffffffe, &uid) ?:
			    parse_num(w[4], 10, 0xfffffffe, &gid) ?: tree_dir(t, path, mode, uid, gid);
		} else if (!strcmp(w[0], "nod") && n == 8 && (w[5][0] == 'c' || w[5][0] == 'b') && !w[5][1]) {
			e = parse_num(w[2], 8, 07777, &mode) ?: parse_num(w[6], 10, 4095, &maj) ?:
			    parse_num(w[7], 10, 1048575, &min) ?:
			    tree_node(t, path, w[5][0] == 'c' ? S_IFCHR : S_IFBLK, mode, maj, min);
		} else if (!strcmp(w[0], "slink") && n == 6) {
			e = tree_symlink(t, path, w[2]);
		} else if (!strcmp(w[0], "file") && n == 6 && (f = embedded_find(initramfs_files, w[2]))) {
			e = parse_num(w[3], 8, 07777, &mode) ?: tree_data(t, path, mode, f->data, f->len);
		} else {
			e = -EINVAL;
		}
	}
	if (e == -EINVAL)
		snprintf(why, why_len, "initramfs/skeleton.list line %u: not a dir/nod/slink/file entry this "
			 "builder knows (or its file is not in initramfs/)", line);
	else if (e)
		tree_err(e, "skeleton", why, why_len);
	return e;
}

/* The default module names of initramfs/modules.list, copied into buf
 * (cap bytes) and pointed to by names (at most max). Returns how many, or
 * -errno with why filled. */
static int default_modules(char *buf, size_t cap, const char **names, int max, char *why, size_t why_len)
{
	const struct embedded_file *list = embedded_find(initramfs_files, "modules.list");
	char line[128], *w[1];
	size_t off = 0, used = 0;
	unsigned lineno = 0;
	int n, k = 0;

	if (!list) {
		snprintf(why, why_len, "initramfs/modules.list is not built in");
		return -ENOENT;
	}
	while ((n = next_line((const char *)list->data, list->len, &off, line, sizeof(line), w, 1, &lineno))) {
		size_t l = strlen(w[0]) + 1;
		if (n < 0 || k == max || used + l > cap) {
			snprintf(why, why_len, "initramfs/modules.list line %u: one module name a line, at most %d",
				 lineno, max);
			return -EINVAL;
		}
		memcpy(buf + used, w[0], l);
		names[k++] = buf + used;
		used += l;
	}
	return k;
}

void initramfs_spec_init(struct initramfs_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->level = 6;
	spec->mtime = -1;
}

int initramfs_parse_add(char *buf, struct initramfs_add *add, char *err, size_t errlen)
{
	char *c1 = strchr(buf, ':'), *c2;

	add->mode = -1;
	if (!c1 || c1 == buf) {
		snprintf(err, errlen, "want SRC:DST[:MODE]");
		return -EINVAL;
	}
	*c1 = 0;
	add->src = buf;
	add->dst = c1 + 1;
	if ((c2 = strchr(c1 + 1, ':'))) {
		char *end;
		long m;

		*c2 = 0;
		errno = 0;
		m = strtol(c2 + 1, &end, 8);
		if (!c2[1] || *end || errno || m < 0 || m > 07777) {
			snprintf(err, errlen, "MODE must be octal, 0 to 7777");
			return -EINVAL;
		}
		add->mode = (int)m;
	}
	if (add->dst[0] != '/') {
		snprintf(err, errlen, "DST must be an absolute path");
		return -EINVAL;
	}
	return 0;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int initramfs_modules_dir(const struct initramfs_spec *spec, const char *kver,
			  char *out, size_t outlen, char *err, size_t errlen)
{
	if (spec->modules_dir) {
		snprintf(out, outlen, "%s/%s", spec->modules_dir, kver);
		if (!is_dir(out))
			snprintf(out, outlen, "%s", spec->modules_dir);
		if (is_dir(out))
			return 0;
		snprintf(err, errlen, "modules directory %s: not a directory", spec->modules_dir);
		return -ENOENT;
	}
	if (spec->kernel) {
		const char *slash = strrchr(spec->kernel, '/');

		snprintf(out, outlen, "%.*s/modules/%s", slash ? (int)(slash - spec->kernel) : 1,
			 slash ? spec->kernel : ".", kver);
		if (is_dir(out))
			return 0;
	}
	snprintf(out, outlen, "/lib/modules/%s", kver);
	if (is_dir(out))
		return 0;
	snprintf(err, errlen, "no modules for kernel %s: neither %s nor modules/%s beside the "
		 "kernel exists (use --modules-dir)", kver, out, kver);
	return -ENOENT;
}

/* Reads the kernel version from spec->kernel's header, or takes spec->kver. */
static int get_kver(const struct initramfs_spec *spec, char *kver, size_t len,
		    char *err, size_t errlen)
{
	struct bzimage bz;
	const char *why = "";
	struct stat st;
	void *img = MAP_FAILED;
	int fd, e;

	if (!spec->kernel) {
		if (!spec->kver || !*spec->kver || strchr(spec->kver, '/')) {
			snprintf(err, errlen, "no kernel version: give --kernel FILE or --kver VERSION");
			return -EINVAL;
		}
		snprintf(kver, len, "%s", spec->kver);
		return 0;
	}
	/* mapped, not read: only the header pages are ever touched */
	e = 0;
	fd = open(spec->kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		e = -errno;
	else if (S_ISDIR(st.st_mode))
		e = -EISDIR;
	else if (!S_ISREG(st.st_mode) || st.st_size == 0)
		e = -ENOEXEC;
	else if (st.st_size > MAX_KERNEL)
		e = -EFBIG;
	else if ((img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		e = -errno;
	if (fd >= 0)
		close(fd);
	if (e) {
		snprintf(err, errlen, "kernel %s: %s", spec->kernel, e == -ENOEXEC ?
			 "not a usable bzImage: empty or not a regular file" : strerror(-e));
		return e;
	}
	e = bzimage_parse(img, (size_t)st.st_size, &bz, &why);
	if (!e && bz.elf)
		vmlinux_version(&bz); /* reads the file: before it is unmapped */
	munmap(img, (size_t)st.st_size);
	if (e) {
		snprintf(err, errlen, "kernel %s: not a usable bzImage or vmlinux: %s", spec->kernel, why);
		return e;
	}
	if (!bz.version[0]) {
		snprintf(err, errlen, "kernel %s: no version banner in the vmlinux", spec->kernel);
		return -ENOEXEC;
	}
	if (spec->kver && strcmp(spec->kver, bz.version)) {
		snprintf(err, errlen, "kernel %s is version %s, but --kver says %s", spec->kernel,
			 bz.version, spec->kver);
		return -EINVAL;
	}
	snprintf(kver, len, "%s", bz.version);
	return 0;
}

/* Checks that path is a readable regular file; *st gets its status. */
static int check_file(const char *what, const char *path, struct stat *st, char *err, size_t errlen)
{
	int e = 0;

	if (stat(path, st) < 0 || access(path, R_OK) < 0)
		e = -errno;
	else if (!S_ISREG(st->st_mode))
		e = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	if (e)
		snprintf(err, errlen, "%s %s: %s", what, path,
			 e == -EINVAL ? "not a regular file" : strerror(-e));
	return e;
}

/* Reports a failed tree_* call on path. */
static int tree_err(int e, const char *path, char *err, size_t errlen)
{
	if (e)
		snprintf(err, errlen, "%s: %s", path, e == -EINVAL ? "bad path in the image" :
			 strerror(-e));
	return e;
}

/* The fixed part: initramfs/skeleton.list's tree, then /init (this
 * binary, which must be static). */
static int add_skeleton(struct tree *t, const char *self, char *err, size_t errlen)
{
	struct stat st;
	int e = 0, dyn;

	if ((e = check_file("voidbox binary", self, &st, err, errlen)))
		return e;
	dyn = ldso_is_dynamic(self);
	if (dyn == 1) {
		snprintf(err, errlen, "voidbox binary %s is dynamically linked: /init must be static",
			 self);
		return -ENOEXEC;
	}
	if ((e = add_skeleton_list(t, err, errlen)))
		return e;
	return tree_err(tree_file(t, "init", 0755, self), "skeleton", err, errlen);
}

/* The kernel modules and /etc/voidbox/modules.load. */
static int add_modules(struct tree *t, const struct initramfs_spec *spec, char *err, size_t errlen)
{
	const char **names = NULL, **paths = NULL;
	char kver[128], dir[4096], path[4096], dst[4096], defaults[2048];
	struct kmod_db *db = NULL;
	size_t nn = 0, np = 0, cap = 4096, used = 0;
	char *load = NULL;
	int e;

	if ((e = get_kver(spec, kver, sizeof(kver), err, errlen)) ||
	    (e = initramfs_modules_dir(spec, kver, dir, sizeof(dir), err, errlen)) ||
	    (e = kmod_open(dir, &db, err, errlen)))
		return e;
	names = malloc((MAX_DEFAULT_MODULES + spec->n_modules) * sizeof(*names));
	load = malloc(cap);
	if (!names || !load) {
		e = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((e = default_modules(defaults, sizeof(defaults), names, MAX_DEFAULT_MODULES, err, errlen)) < 0)
		goto out;
	nn = (size_t)e;
	for (size_t i = 0; i < spec->n_modules; i++)
		names[nn++] = spec->modules[i];
	if ((e = kmod_resolve(db, names, nn, &paths, &np, err, errlen)))
		goto out;
	used = (size_t)snprintf(load, cap, "# voidbox: kernel modules for %s, in load order\n", kver);
	for (size_t i = 0; i < np; i++) {
		struct stat st;
		size_t l;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, paths[i]) >= sizeof(path) ||
		    (size_t)snprintf(dst, sizeof(dst), "/lib/modules/%s/%s", kver, paths[i]) >= sizeof(dst)) {
			e = -ENAMETOOLONG;
			snprintf(err, errlen, "module %s: path too long", paths[i]);
			goto out;
		}
		if ((e = check_file("module", path, &st, err, errlen)))
			goto out;
		if ((e = tree_file(t, dst, 0644, path))) {
			tree_err(e, dst, err, errlen);
			goto out;
		}
		l = strlen(dst) + 1;
		if (used + l + 1 > cap) {
			char *nl = realloc(load, cap * 2 + l);
			if (!nl) {
				e = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			load = nl;
			cap = cap * 2 + l;
		}
		used += (size_t)snprintf(load + used, cap - used, "%s\n", dst);
	}
	e = tree_err(tree_data(t, INITRAMFS_MODULES_LOAD, 0644, load, used),
		     INITRAMFS_MODULES_LOAD, err, errlen);
out:
	free(paths);
	free(names);
	free(load);
	kmod_close(db);
	return e;
}

/* Adds prog as dst with its interpreter and libraries (at their host
 * paths); what names the option in messages. */
static int add_binary(struct tree *t, const char *what, const char *prog, const char *dst,
		      uint32_t perm, char *err, size_t errlen)
{
	struct ldso_set libs = { 0 };
	struct stat st;
	char why[768];
	int e;

	if ((e = check_file(what, prog, &st, err, errlen)))
		return e;
	if ((e = ldso_collect(prog, &libs, why, sizeof(why)))) {
		snprintf(err, errlen, "%s: %s", what, why);
		ldso_set_free(&libs);
		return e;
	}
	e = tree_err(tree_file(t, dst, perm ? perm : st.st_mode & 07777, prog), dst, err, errlen);
	for (size_t i = 0; i < libs.n && !e; i++) {
		if ((e = check_file("library", libs.paths[i], &st, err, errlen)))
			break;
		e = tree_err(tree_file(t, libs.paths[i], st.st_mode & 07777, libs.paths[i]),
			     libs.paths[i], err, errlen);
	}
	ldso_set_free(&libs);
	return e;
}

/* Resolves an --add-binary argument: an absolute path as it is, a bare
 * name through $PATH (as the shell would). Returns 0 or -ENOENT/-EINVAL. */
static int find_program(const char *arg, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *path = getenv("PATH");

	if (arg[0] == '/') {
		snprintf(out, outlen, "%s", arg);
		return 0;
	}
	if (strchr(arg, '/') || !arg[0]) {
		snprintf(err, errlen, "--add-binary %s: give an absolute path or a program name", arg);
		return -EINVAL;
	}
	for (path = path ? path : "/usr/bin:/bin"; *path;) {
		size_t n = strcspn(path, ":");

		if (n && path[0] == '/' &&
		    (size_t)snprintf(out, outlen, "%.*s/%s", (int)n, path, arg) < outlen &&
		    access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	snprintf(err, errlen, "--add-binary %s: not found in $PATH", arg);
	return -ENOENT;
}

/* Runs "bb --list-full" and returns its output (malloc'd) in *out. */
static int busybox_list(const char *bb, char **out, char *err, size_t errlen)
{
	char *buf = malloc(MAX_LIST + 1);
	size_t used = 0;
	int pfd[2], status;
	pid_t pid;

	if (!buf || pipe2(pfd, O_CLOEXEC) < 0) {
		free(buf);
		snprintf(err, errlen, "busybox %s: %s", bb, strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 2);
		}
		execl(bb, bb, "--list-full", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (pid > 0 && used < MAX_LIST) {
		ssize_t n = read(pfd[0], buf + used, MAX_LIST - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(pfd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || used == 0 || used >= MAX_LIST) {
		snprintf(err, errlen, "busybox %s: `%s --list-full` failed (not a runnable busybox?)",
			 bb, bb);
		free(buf);
		return -ENOEXEC;
	}
	buf[used] = 0;
	*out = buf;
	return 0;
}

/* Installs busybox as /bin/busybox with a symlink for each applet. */
static int add_busybox(struct tree *t, const char *bb, char *err, size_t errlen)
{
	char *list = NULL, *line, *save = NULL;
	int e;

	if ((e = add_binary(t, "--busybox", bb, "/bin/busybox", 0755, err, errlen)) ||
	    (e = busybox_list(bb, &list, err, errlen)))
		return e;
	for (line = strtok_r(list, "\n", &save); line && !e; line = strtok_r(NULL, "\n", &save)) {
		char norm[CPIO_MAX_NAME];

		if (!cpio_name_is_safe(line) || tree_norm_path(line, norm, sizeof(norm))) {
			snprintf(err, errlen, "busybox %s: odd applet path '%s'", bb, line);
			e = -EINVAL;
		} else if (strcmp(norm, "bin/busybox")) {
			e = tree_err(tree_symlink(t, norm, "/bin/busybox"), norm, err, errlen);
		}
	}
	free(list);
	return e;
}

/* Adds host path src (file, symlink or directory, recursively) as dst. */
static int add_path(struct tree *t, const char *src, const char *dst, int mode, int depth,
		    char *err, size_t errlen)
{
	struct stat st;
	int e = 0;

	if (depth > ADD_MAX_DEPTH) {
		snprintf(err, errlen, "%s: directories nested too deep", src);
		return -ELOOP;
	}
	if ((depth ? lstat(src, &st) : stat(src, &st)) < 0) {
		e = -errno;
		snprintf(err, errlen, "--add %s: %s", src, strerror(errno));
		return e;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0) {
			snprintf(err, errlen, "--add %s: %s", src, strerror(errno));
			return -errno;
		}
		target[n] = 0;
		return tree_err(tree_symlink(t, dst, target), dst, err, errlen);
	}
	if (S_ISREG(st.st_mode)) {
		if ((e = check_file("--add", src, &st, err, errlen)))
			return e;
		return tree_err(tree_file(t, dst, mode >= 0 ? (uint32_t)mode : st.st_mode & 07777,
					  src), dst, err, errlen);
	}
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		int n = scandir(src, &ents, NULL, alphasort);

		if (n < 0) {
			snprintf(err, errlen, "--add %s: %s", src, strerror(errno));
			return -errno;
		}
		e = tree_err(tree_dir(t, dst, mode >= 0 ? (uint32_t)mode : st.st_mode & 07777, 0, 0),
			     dst, err, errlen);
		for (int i = 0; i < n; i++) {
			const char *nm = ents[i]->d_name;
			char s2[4096], d2[4096];

			if (!e && strcmp(nm, ".") && strcmp(nm, "..")) {
				snprintf(s2, sizeof(s2), "%s/%s", src, nm);
				snprintf(d2, sizeof(d2), "%s/%s", dst, nm);
				e = add_path(t, s2, d2, -1, depth + 1, err, errlen);
			}
			free(ents[i]);
		}
		free(ents);
		return e;
	}
	snprintf(err, errlen, "--add %s: not a file, directory or symlink", src);
	return -EINVAL;
}

/* Returns the archive mtime: spec's, $SOURCE_DATE_EPOCH, or 0. */
static int get_mtime(const struct initramfs_spec *spec, uint32_t *mt, char *err, size_t errlen)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	uint64_t v = 0;

	if (spec->mtime >= 0) {
		v = (uint64_t)spec->mtime;
	} else if (sde && *sde && parse_uint(sde, 0, UINT32_MAX, &v)) {
		snprintf(err, errlen, "SOURCE_DATE_EPOCH=%s: not a time in seconds (0 to %u)",
			 sde, UINT32_MAX);
		return -EINVAL;
	}
	*mt = (uint32_t)MIN(v, (uint64_t)UINT32_MAX);
	return 0;
}

/* Fills t from spec: every input is checked here, nothing is written. */
static int gather(struct tree *t, const struct initramfs_spec *spec, char *err, size_t errlen)
{
	int e;

	if ((e = add_skeleton(t, spec->self ? spec->self : "/proc/self/exe", err, errlen)))
		return e;
	if (!spec->no_modules && (e = add_modules(t, spec, err, errlen)))
		return e;
	if (spec->busybox && (e = add_busybox(t, spec->busybox, err, errlen)))
		return e;
	for (size_t i = 0; i < spec->n_binaries; i++) {
		char prog[4096];

		if ((e = find_program(spec->binaries[i], prog, sizeof(prog), err, errlen)) ||
		    (e = add_binary(t, "--add-binary", prog, prog, 0, err, errlen)))
			return e;
	}
	for (size_t i = 0; i < spec->n_adds; i++) {
		const struct initramfs_add *a = &spec->adds[i];
		char dst[4096];
		const char *base = strrchr(a->src, '/');
		size_t l = strlen(a->dst);

		if (!l || a->dst[0] != '/') {
			snprintf(err, errlen, "--add %s: DST must be an absolute path", a->src);
			return -EINVAL;
		}
		/* "DIR/" puts the source under its own name in DIR */
		snprintf(dst, sizeof(dst), "%s%s", a->dst, a->dst[l - 1] == '/' ?
			 (base ? base + 1 : a->src) : "");
		if ((e = add_path(t, a->src, dst, a->mode, 0, err, errlen)))
			return e;
	}
	return tree_finish(t, err, errlen);
}

int initramfs_build(const struct initramfs_spec *spec, int out_fd, char *err, size_t errlen)
{
	struct tree t;
	struct gz_writer *gz = NULL;
	struct cpio_writer w;
	uint32_t mt;
	int e;

	if (spec->level < 0 || spec->level > 9) {
		snprintf(err, errlen, "compression level %d: want 0 to 9", spec->level);
		return -EINVAL;
	}
	if ((e = get_mtime(spec, &mt, err, errlen)))
		return e;
	tree_init(&t);
	if ((e = gather(&t, spec, err, errlen)))
		goto out;
	if (!(gz = malloc(sizeof(*gz))) || (e = gz_writer_init(gz, out_fd, spec->level))) {
		e = e ? e : -ENOMEM;
		snprintf(err, errlen, "starting the compressor: %s", strerror(-e));
		goto out;
	}
	cpio_writer_init(&w, gz_write, gz);
	if ((e = tree_write(&t, &w, mt, err, errlen)))
		goto out;
	if ((e = gz_finish(gz)))
		snprintf(err, errlen, "writing the image: %s", strerror(-e));
out:
	if (gz)
		gz_abort(gz);
	free(gz);
	tree_free(&t);
	return e;
}

int initramfs_build_file(const struct initramfs_spec *spec, const char *path,
			 char *err, size_t errlen)
{
	char tmp[4096];
	const char *step = "writing";
	int fd, e;

	err[0] = 0;
	if (!strcmp(path, "-"))
		return initramfs_build(spec, 1, err, errlen);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s", path,
			 strerror(errno));
		return e;
	}
	e = initramfs_build(spec, fd, err, errlen);
	if (!e && fchmod(fd, 0644) < 0) {
		e = -errno;
		step = "setting the mode of";
	}
	if (close(fd) < 0 && !e) {
		e = -errno;
		step = "writing";
	}
	if (!e && rename(tmp, path) < 0) {
		e = -errno;
		step = "renaming the temporary file to";
	}
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "%s %s: %s", step, path, strerror(-e));
		unlink(tmp);
	}
	return e;
}
