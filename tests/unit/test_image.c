/* libcore/image: cpio newc writer and reader (round trip, every truncation,
 * corrupt fields, escaping names), gzip round trip and corruption, the
 * image tree's path rules, module dependency order on the real modules
 * tree and on made-up ones (modules.dep, built-ins, a cycle, a missing
 * dependency), and ELF/ld.so parsing of Debian's /usr/bin/curl; ELF
 * headers whose table offsets are wild while their counts are zero. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <elf.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "image/cpio.h"
#include "image/elf.h"
#include "image/gz.h"
#include "image/initramfs.h"
#include "image/kmod.h"
#include "image/ldso.h"
#include "image/tree.h"
#include "t.h"

struct mbuf {
	uint8_t *p;
	size_t len, cap;
};

static int mbuf_sink(void *ctx, const void *buf, size_t len)
{
	struct mbuf *m = ctx;

	if (m->len + len > m->cap) {
		size_t nc = (m->len + len) * 2;
		uint8_t *np = realloc(m->p, nc);
		if (!np)
			return -ENOMEM;
		m->p = np;
		m->cap = nc;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

/* Writes a small archive of three entries into m. */
static void write_sample(struct mbuf *m)
{
	struct cpio_writer w;
	struct cpio_entry d = { .name = "dir", .mode = S_IFDIR | 0755, .nlink = 2, .ino = 1 };
	struct cpio_entry f = { .name = "dir/file", .mode = S_IFREG | 0644, .nlink = 1, .ino = 2,
				.uid = 1000, .gid = 1000, .mtime = 12345, .size = 5 };
	struct cpio_entry n = { .name = "dev/null", .mode = S_IFCHR | 0666, .nlink = 1, .ino = 3,
				.rdev_major = 1, .rdev_minor = 3 };

	cpio_writer_init(&w, mbuf_sink, m);
	cpio_write_header(&w, &d);
	cpio_write_header(&w, &f);
	cpio_write_data(&w, "he", 2);
	cpio_write_data(&w, "llo", 3);
	cpio_write_header(&w, &n);
	cpio_write_trailer(&w);
}

static void test_cpio_roundtrip(void)
{
	struct mbuf m = { 0 };
	struct cpio_reader r;
	struct cpio_entry e;
	const uint8_t *data;
	char err[256];
	int rc;

	write_sample(&m);
	T_REQUIRE(m.len % 512 == 0, "archive length %zu not padded to 512", m.len);
	T_CHECK(!memcmp(m.p, "070701", 6), "magic");
	cpio_reader_init(&r, m.p, m.len);
	rc = cpio_next(&r, &e, &data, err, sizeof(err));
	T_REQUIRE(rc == 1 && !strcmp(e.name, "dir") && S_ISDIR(e.mode) && e.nlink == 2, "dir: %d", rc);
	rc = cpio_next(&r, &e, &data, err, sizeof(err));
	T_REQUIRE(rc == 1, "file: %s", err);
	T_CHECK(!strcmp(e.name, "dir/file") && e.size == 5 && !memcmp(data, "hello", 5), "file data");
	T_CHECK(e.uid == 1000 && e.gid == 1000 && e.mtime == 12345 && (e.mode & 07777) == 0644, "attrs");
	T_CHECK(((size_t)(data - m.p)) % 4 == 0, "data not 4-aligned");
	rc = cpio_next(&r, &e, &data, err, sizeof(err));
	T_REQUIRE(rc == 1 && S_ISCHR(e.mode) && e.rdev_major == 1 && e.rdev_minor == 3, "node");
	T_CHECK(cpio_next(&r, &e, &data, err, sizeof(err)) == 0, "trailer");
	free(m.p);
}

static void test_cpio_writer_misuse(void)
{
	struct mbuf m = { 0 };
	struct cpio_writer w;
	struct cpio_entry f = { .name = "f", .mode = S_IFREG | 0644, .size = 3 };
	struct cpio_entry g = { .name = "g", .mode = S_IFREG | 0644 };
	char longname[CPIO_MAX_NAME + 10];

	cpio_writer_init(&w, mbuf_sink, &m);
	T_CHECK(cpio_write_header(&w, &f) == 0, "header");
	T_CHECK(cpio_write_header(&w, &g) == -EINVAL, "header while data owed");
	T_CHECK(cpio_write_data(&w, "abcd", 4) == -EOVERFLOW, "too much data");
	T_CHECK(cpio_write_data(&w, "abc", 3) == 0, "data");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	g.name = longname;
	T_CHECK(cpio_write_header(&w, &g) == -ENAMETOOLONG, "long name");
	free(m.p);
}

/* Reads the whole archive; returns the last cpio_next() result. */
static int read_all(const uint8_t *p, size_t len, unsigned *count)
{
	struct cpio_reader r;
	struct cpio_entry e;
	const uint8_t *data;
	char err[256];
	int rc;

	cpio_reader_init(&r, p, len);
	*count = 0;
	while ((rc = cpio_next(&r, &e, &data, err, sizeof(err))) == 1) {
		T_CHECK(data + e.size <= p + len, "data past the end");
		(*count)++;
	}
	if (rc < 0)
		T_CHECK(err[0] != 0, "no reason given");
	return rc;
}

static void test_cpio_truncated_and_corrupt(void)
{
	struct mbuf m = { 0 };
	unsigned count;
	uint8_t *c;
	size_t trailer_end;

	write_sample(&m);
	/* The trailer header ends before the padding: every cut before it fails. */
	trailer_end = (size_t)((uint8_t *)memmem(m.p, m.len, CPIO_TRAILER, 10) - m.p) + 11;
	for (size_t cut = 0; cut < trailer_end; cut++) {
		c = malloc(cut ? cut : 1); /* exact size, so ASan sees any overread */
		memcpy(c, m.p, cut);
		T_CHECK(read_all(c, cut, &count) == -EBADMSG, "cut at %zu accepted", cut);
		free(c);
	}
	T_CHECK(read_all(m.p, trailer_end, &count) == 0 && count == 3, "unpadded end");
	c = malloc(m.len);
	memcpy(c, m.p, m.len);
	for (uint8_t *h = c; (h = memmem(h, m.len - (size_t)(h - c), "070701", 6)); h += 6)
		h[5] = '2'; /* 070702: the check field (0) does not match "hello" */
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "crc format, bad sum");
	memcpy(c, m.p, m.len);
	c[3] = '2'; /* 070201 */
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "bad magic");
	memcpy(c, m.p, m.len);
	c[6 + 8 * 6] = 'z'; /* size field not hex */
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "bad hex");
	memcpy(c, m.p, m.len);
	memcpy(c + 6 + 8 * 6, "7FFFFFFF", 8); /* size far past the end */
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "huge size");
	memcpy(c, m.p, m.len);
	memcpy(c + 6 + 8 * 11, "00000000", 8); /* name size 0 */
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "zero name size");
	memcpy(c, m.p, m.len);
	memcpy(c + 6 + 8 * 11, "00000002", 8); /* "di" without its NUL */
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "unterminated name");
	memcpy(c, m.p, m.len);
	memcpy(c + 6 + 8 * 11, "FFFFFFFF", 8);
	T_CHECK(read_all(c, m.len, &count) == -EBADMSG, "huge name size");
	/* random bytes everywhere: never a crash */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		memcpy(c, m.p, m.len);
		c[rand() % (int)m.len] = (uint8_t)rand();
		read_all(c, m.len, &count);
	}
	free(c);
	free(m.p);
}

static void test_name_safety(void)
{
	char out[64];

	T_CHECK(cpio_name_is_safe("bin/sh"), "plain");
	T_CHECK(cpio_name_is_safe("."), "dot");
	T_CHECK(cpio_name_is_safe("a/..b/c"), "..b is a name");
	T_CHECK(!cpio_name_is_safe(""), "empty");
	T_CHECK(!cpio_name_is_safe("/etc/passwd"), "absolute");
	T_CHECK(!cpio_name_is_safe(".."), "dotdot");
	T_CHECK(!cpio_name_is_safe("a/../../b"), "inner dotdot");
	T_CHECK(!cpio_name_is_safe("a/.."), "trailing dotdot");
	T_CHECK(!cpio_name_is_safe("a//../b"), "dotdot after //");
	T_CHECK(tree_norm_path("//usr///bin/", out, sizeof(out)) == 0 && !strcmp(out, "usr/bin"),
		"normalise: %s", out);
	T_CHECK(tree_norm_path("/a/../b", out, sizeof(out)) == -EINVAL, "dotdot path");
	T_CHECK(tree_norm_path("/a/./b", out, sizeof(out)) == -EINVAL, "dot path");
	T_CHECK(tree_norm_path("/", out, sizeof(out)) == -EINVAL, "root");
	T_CHECK(tree_norm_path("/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			       out, sizeof(out)) == -EINVAL, "too long");
}

static void test_tree(void)
{
	struct tree t;
	char err[256];
	const struct tree_ent *e;

	tree_init(&t);
	T_CHECK(tree_data(&t, "/x/y/z", 0644, "1", 1) == 0, "add");
	T_CHECK(tree_data(&t, "/x/y/z", 0600, "22", 2) == 0, "add again");
	T_CHECK(tree_dir(&t, "/x", 0700, 5, 6) == 0, "dir");
	T_CHECK(tree_data(&t, "/../z", 0644, "1", 1) == -EINVAL, "bad path");
	T_REQUIRE(tree_finish(&t, err, sizeof(err)) == 0, "%s", err);
	T_REQUIRE(t.n == 3, "entries %zu", t.n);
	T_CHECK(!strcmp(t.e[0].path, "x") && t.e[0].uid == 5 && (t.e[0].mode & 0777) == 0700, "x");
	T_CHECK(!strcmp(t.e[1].path, "x/y") && S_ISDIR(t.e[1].mode), "parent added");
	e = tree_find(&t, "x/y/z");
	T_CHECK(e && e->len == 2 && (e->mode & 0777) == 0600, "later entry wins");
	tree_free(&t);
	tree_init(&t);
	tree_data(&t, "/bin", 0755, "", 0);
	tree_symlink(&t, "/bin/sh", "busybox");
	T_CHECK(tree_finish(&t, err, sizeof(err)) == -ENOTDIR && strstr(err, "/bin"), "%s", err);
	tree_free(&t);
}

static void test_gzip(void)
{
	char path[] = "/tmp/vb-image-gz.XXXXXX";
	int fd = mkstemp(path);
	struct gz_writer *g = malloc(sizeof(*g));
	uint8_t *in = malloc(300000), *raw, *out, *c;
	size_t rlen, olen;
	char err[256];

	T_REQUIRE(fd >= 0 && g && in, "setup");
	for (size_t i = 0; i < 300000; i++)
		in[i] = (uint8_t)(i * 7 + (i >> 9));
	T_REQUIRE(gz_writer_init(g, fd, 9) == 0, "init");
	T_CHECK(gz_write(g, in, 100000) == 0 && gz_write(g, in + 100000, 200000) == 0, "write");
	T_CHECK(gz_finish(g) == 0, "finish");
	close(fd);
	T_REQUIRE(read_file(path, 1 << 24, &raw, &rlen) == 0, "read back");
	unlink(path);
	T_CHECK(gz_is_gzip(raw, rlen) && raw[4] == 0 && raw[5] == 0 && raw[6] == 0 && raw[7] == 0,
		"gzip header with mtime 0");
	T_REQUIRE(gz_inflate_all(raw, rlen, 1 << 24, &out, &olen, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(olen == 300000 && !memcmp(out, in, olen), "round trip");
	free(out);
	T_CHECK(gz_inflate_all(raw, rlen, 1000, &out, &olen, err, sizeof(err)) == -EFBIG, "limit");
	c = calloc(1, rlen * 2 + 100); /* member, zeros, member, zeros */
	memcpy(c, raw, rlen);
	memcpy(c + rlen + 37, raw, rlen);
	T_CHECK(gz_inflate_all(c, rlen * 2 + 100, 1 << 24, &out, &olen, err, sizeof(err)) == 0 &&
		olen == 600000 && !memcmp(out + 300000, in, 300000), "two members: %s", err);
	free(out);
	free(c);
	for (size_t cut = 1; cut < rlen; cut += rlen / 50 + 1) {
		c = malloc(cut);
		memcpy(c, raw, cut);
		T_CHECK(gz_inflate_all(c, cut, 1 << 24, &out, &olen, err, sizeof(err)) == -EBADMSG,
			"truncated at %zu accepted", cut);
		free(c);
	}
	c = malloc(rlen);
	memcpy(c, raw, rlen);
	c[rlen / 2] ^= 0x55;
	c[rlen - 5] ^= 0x55; /* the length/CRC trailer, in case the flip above decodes */
	T_CHECK(gz_inflate_all(c, rlen, 1 << 24, &out, &olen, err, sizeof(err)) == -EBADMSG,
		"corrupt accepted");
	free(c);
	free(raw);
	free(in);
	free(g);
}

static const char *modules_dir(char *buf, size_t len)
{
	const char *gd = getenv("GUEST_DIR");
	uint8_t *k;
	size_t kl;
	char p[512];

	snprintf(p, sizeof(p), "%s/kver", gd ? gd : "build/guest");
	if (read_file(p, 100, &k, &kl))
		return NULL;
	k[strcspn((char *)k, "\n")] = 0;
	snprintf(buf, len, "%s/modules/%s", gd ? gd : "build/guest", (char *)k);
	free(k);
	return buf;
}

/* Returns the position of the module called name in paths, or -1. */
static int pos_of(const char **paths, size_t n, const char *name)
{
	char nm[256];

	for (size_t i = 0; i < n; i++)
		if (!kmod_name_of(paths[i], nm, sizeof(nm)) && !strcmp(nm, name))
			return (int)i;
	return -1;
}

static void test_kmod_real_tree(void)
{
	char dir[512], err[400];
	struct kmod_db *db;
	const char **paths;
	size_t n;
	const char *want[] = { "virtio_mmio", "virtio-net", "vmw_vsock_virtio_transport" };
	const char *missing[] = { "no_such_module_xyz" };

	if (!modules_dir(dir, sizeof(dir)))
		T_SKIP("no guest modules (run make guest)");
	T_REQUIRE(kmod_open(dir, &db, err, sizeof(err)) == 0, "%s", err);
	T_REQUIRE(kmod_resolve(db, want, 3, &paths, &n, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(n == 9, "%zu modules", n);
	T_CHECK(pos_of(paths, n, "virtio_ring") >= 0 &&
		pos_of(paths, n, "virtio_ring") < pos_of(paths, n, "virtio"),
		"virtio_ring must load before virtio");
	T_CHECK(pos_of(paths, n, "virtio") < pos_of(paths, n, "virtio_mmio"), "virtio < mmio");
	T_CHECK(pos_of(paths, n, "failover") < pos_of(paths, n, "net_failover") &&
		pos_of(paths, n, "net_failover") < pos_of(paths, n, "virtio_net"), "failover chain");
	T_CHECK(pos_of(paths, n, "vsock") < pos_of(paths, n, "vmw_vsock_virtio_transport_common") &&
		pos_of(paths, n, "vmw_vsock_virtio_transport_common") <
		pos_of(paths, n, "vmw_vsock_virtio_transport"), "vsock chain");
	T_CHECK(!strcmp(paths[pos_of(paths, n, "virtio_ring")], "kernel/drivers/virtio/virtio_ring.ko"),
		"path %s", paths[0]);
	free(paths);
	T_CHECK(kmod_resolve(db, missing, 1, &paths, &n, err, sizeof(err)) == -ENOENT &&
		strstr(err, "no_such_module_xyz"), "missing: %s", err);
	kmod_close(db);
}

/* Writes text to dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		write_full(fd, text, strlen(text));
		close(fd);
	}
}

/* Copies module rel from the real tree into dir/rel. */
static int copy_mod(const char *from, const char *dir, const char *rel)
{
	char p[512], q[512];
	uint8_t *d;
	size_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", from, rel);
	snprintf(q, sizeof(q), "%s/%s", dir, strrchr(rel, '/') + 1);
	if (read_file(p, 1 << 24, &d, &n))
		return -1;
	fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write_full(fd, d, n);
	close(fd);
	free(d);
	return 0;
}

static void test_kmod_made_up(void)
{
	char dir[] = "/tmp/vb-image-kmod.XXXXXX", real[512], err[400], cmd[600];
	struct kmod_db *db;
	const char **paths;
	size_t n;
	const char *a[] = { "a" }, *x[] = { "x" }, *vn[] = { "virtio_net" };

	T_REQUIRE(mkdtemp(dir), "mkdtemp");
	put(dir, "modules.dep", "kernel/a.ko: kernel/b.ko.zst kernel/c-d.ko.xz\nkernel/b.ko.zst: kernel/c-d.ko.xz\n"
	    "kernel/c-d.ko.xz:\nkernel/x.ko: kernel/y.ko\nkernel/y.ko: kernel/x.ko\n"
	    "kernel/m.ko: kernel/gone.ko\nkernel/a/u.ko:\nupdates/u.ko:\nkernel/z/u.ko:\n");
	put(dir, "modules.builtin", "kernel/drivers/builtin_one.ko\n");
	T_REQUIRE(kmod_open(dir, &db, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(kmod_has_depfile(db), "depfile");
	T_REQUIRE(kmod_resolve(db, a, 1, &paths, &n, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(n == 3 && !strcmp(paths[0], "kernel/c-d.ko.xz") && !strcmp(paths[1], "kernel/b.ko.zst") &&
		!strcmp(paths[2], "kernel/a.ko"), "order, compressed names kept");
	free(paths);
	{
		const char *bi[] = { "builtin-one", "c_d" };
		T_CHECK(kmod_resolve(db, bi, 2, &paths, &n, err, sizeof(err)) == 0 && n == 1,
			"built-in skipped, c_d found as c-d: %s", err);
		free(paths);
	}
	T_CHECK(kmod_resolve(db, x, 1, &paths, &n, err, sizeof(err)) == -ELOOP, "cycle: %s", err);
	{
		const char *u[] = { "u" };
		T_CHECK(kmod_resolve(db, u, 1, &paths, &n, err, sizeof(err)) == 0 && n == 1 &&
			!strcmp(paths[0], "updates/u.ko"), "updates/ wins: %s", n ? paths[0] : err);
		free(paths);
	}
	{
		const char *m[] = { "m" };
		T_CHECK(kmod_resolve(db, m, 1, &paths, &n, err, sizeof(err)) == -ENOENT &&
			strstr(err, "gone (needed by m)"), "dep missing: %s", err);
	}
	kmod_close(db);
	/* .modinfo: real modules without failover.ko */
	if (modules_dir(real, sizeof(real))) {
		unlink(strcat(strcpy(cmd, dir), "/modules.dep"));
		copy_mod(real, dir, "kernel/drivers/net/virtio_net.ko");
		copy_mod(real, dir, "kernel/drivers/net/net_failover.ko");
		copy_mod(real, dir, "kernel/drivers/virtio/virtio.ko");
		copy_mod(real, dir, "kernel/drivers/virtio/virtio_ring.ko");
		put(dir, "broken.ko", "not an elf file");
		T_REQUIRE(kmod_open(dir, &db, err, sizeof(err)) == 0, "%s", err);
		T_CHECK(!kmod_has_depfile(db), "no depfile");
		T_CHECK(kmod_resolve(db, vn, 1, &paths, &n, err, sizeof(err)) == -ENOENT &&
			strstr(err, "failover (needed by net_failover)"), "modinfo dep missing: %s", err);
		{
			const char *b[] = { "broken" };
			T_CHECK(kmod_resolve(db, b, 1, &paths, &n, err, sizeof(err)) == -ENOEXEC &&
				strstr(err, "broken"), "broken module: %s", err);
		}
		kmod_close(db);
		/* compressed modules: .gz is read through zlib, .xz needs modules.dep */
		snprintf(cmd, sizeof(cmd), "cd %s && gzip virtio_ring.ko && cp virtio.ko x.ko && "
			 "xz x.ko", dir);
		T_REQUIRE(system(cmd) == 0, "gzip/xz");
		T_REQUIRE(kmod_open(dir, &db, err, sizeof(err)) == 0, "%s", err);
		{
			const char *v[] = { "virtio" }, *xx[] = { "x" };
			T_CHECK(kmod_resolve(db, v, 1, &paths, &n, err, sizeof(err)) == 0 && n == 2 &&
				!strcmp(paths[0], "virtio_ring.ko.gz"), "gz module: %s", n ? paths[0] : err);
			free(paths);
			T_CHECK(kmod_resolve(db, xx, 1, &paths, &n, err, sizeof(err)) == -EOPNOTSUPP &&
				strstr(err, "x.ko.xz") && strstr(err, "depmod"), "xz without depfile: %s", err);
		}
		kmod_close(db);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_CHECK(system(cmd) == 0, "cleanup");
}

static int has(const struct ldso_set *s, const char *suffix)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t l = strlen(s->paths[i]), k = strlen(suffix);
		if (l >= k && !strcmp(s->paths[i] + l - k, suffix))
			return 1;
	}
	return 0;
}

static void test_elf_curl(void)
{
	uint8_t *d;
	size_t n;
	struct elf_file ef;
	struct elf_dyn dyn;
	struct ldso_set libs = { 0 };
	const char *why = "";
	char err[400];
	int libcurl = 0;

	if (read_file("/usr/bin/curl", 1 << 26, &d, &n))
		T_SKIP("no /usr/bin/curl");
	T_REQUIRE(elf_open(d, n, &ef, &why) == 0, "%s", why);
	T_REQUIRE(elf_dynamic(&ef, &dyn, &why) == 0, "%s", why);
	T_CHECK(!strcmp(dyn.interp, "/lib64/ld-linux-x86-64.so.2"), "interp %s", dyn.interp);
	for (size_t i = 0; i < dyn.n_needed; i++)
		libcurl |= !strcmp(dyn.needed[i], "libcurl.so.4");
	T_CHECK(libcurl && dyn.n_needed >= 3, "DT_NEEDED: %zu, libcurl %d", dyn.n_needed, libcurl);
	/* every truncation: an error or a result, never a crash */
	for (size_t cut = 0; cut < 8192 && cut < n; cut += 13) {
		uint8_t *c = malloc(cut + 8);
		memcpy(c, d, cut);
		if (!elf_open(c, cut, &ef, &why))
			elf_dynamic(&ef, &dyn, &why);
		free(c);
	}
	free(d);
	T_REQUIRE(ldso_collect("/usr/bin/curl", &libs, err, sizeof(err)) == 0, "%s", err);
	T_CHECK(!strcmp(libs.paths[0], "/lib64/ld-linux-x86-64.so.2"), "interp first");
	T_CHECK(has(&libs, "/libcurl.so.4") && has(&libs, "/libc.so.6") &&
		has(&libs, "/libssl.so.3") && has(&libs, "/libcrypto.so.3") &&
		has(&libs, "/libnghttp2.so.14"), "libraries (%zu)", libs.n);
	ldso_set_free(&libs);
	T_CHECK(ldso_is_dynamic("/usr/bin/curl") == 1, "curl dynamic");
	T_CHECK(ldso_collect("/nonexistent/prog", &libs, err, sizeof(err)) == -ENOENT, "missing");
	T_CHECK(ldso_collect("/etc/passwd", &libs, err, sizeof(err)) == -ENOEXEC, "not ELF: %s", err);
	ldso_set_free(&libs);
}

static void test_modinfo_section(void)
{
	char dir[512], p[600];
	uint8_t *d;
	size_t n, len;
	struct elf_file ef;
	const uint8_t *mi;
	const char *why = "";

	if (!modules_dir(dir, sizeof(dir)))
		T_SKIP("no guest modules (run make guest)");
	snprintf(p, sizeof(p), "%s/kernel/drivers/virtio/virtio.ko", dir);
	T_REQUIRE(read_file(p, 1 << 24, &d, &n) == 0, "read %.300s", p);
	T_REQUIRE(elf_open(d, n, &ef, &why) == 0, "%s", why);
	T_REQUIRE(elf_section(&ef, ".modinfo", &mi, &len, &why) == 0, "%s", why);
	T_CHECK(memmem(mi, len, "depends=virtio_ring", 20) != NULL, "depends");
	T_CHECK(elf_section(&ef, ".no_such_section", &mi, &len, &why) == -ENOENT, "absent");
	free(d);
}

/* The API voidbox run uses: build into a memfd, read it back. */
static void test_initramfs_api(void)
{
	const char *gd = getenv("GUEST_DIR"), *b = getenv("B");
	char self[512], kernel[512], err[400];
	struct initramfs_spec spec;
	struct initramfs_add add = { "/etc/hostname", "/etc/from-host", 0600 };
	const char *extra[] = { "virtio_blk" }, *nomod[] = { "no_such_mod" };
	uint8_t *raw, *cp;
	size_t rlen, clen;
	struct cpio_reader r;
	struct cpio_entry e;
	const uint8_t *data;
	int fd, seen = 0;
	struct stat st;

	snprintf(self, sizeof(self), "%s/voidbox", b ? b : "build");
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd ? gd : "build/guest");
	if (access(self, R_OK) || access(kernel, R_OK))
		T_SKIP("needs %.200s and %.200s (make, make guest)", self, kernel);
	initramfs_spec_init(&spec);
	spec.self = self;
	spec.kernel = kernel;
	spec.modules = extra;
	spec.n_modules = 1;
	spec.adds = &add;
	spec.n_adds = access(add.src, R_OK) ? 0 : 1;
	spec.mtime = 1234;
	fd = memfd_create("vb-image-test", MFD_CLOEXEC);
	T_REQUIRE(fd >= 0, "memfd");
	T_REQUIRE(initramfs_build(&spec, fd, err, sizeof(err)) == 0, "%s", err);
	T_REQUIRE(fstat(fd, &st) == 0 && st.st_size > 1000, "size");
	raw = malloc((size_t)st.st_size);
	T_REQUIRE(pread(fd, raw, (size_t)st.st_size, 0) == st.st_size, "read back");
	close(fd);
	rlen = (size_t)st.st_size;
	T_REQUIRE(gz_inflate_all(raw, rlen, 1 << 28, &cp, &clen, err, sizeof(err)) == 0, "%s", err);
	cpio_reader_init(&r, cp, clen);
	while (cpio_next(&r, &e, &data, err, sizeof(err)) == 1) {
		T_CHECK(e.mtime == 1234, "mtime %u on %s", e.mtime, e.name);
		if (!strcmp(e.name, "etc/voidbox/modules.load")) {
			seen |= 1;
			T_CHECK(memmem(data, e.size, "/virtio_blk.ko\n", 15), "extra module listed");
		}
		if (!strcmp(e.name, "etc/from-host")) {
			seen |= 2;
			T_CHECK((e.mode & 07777) == 0600, "add mode");
		}
		if (!strcmp(e.name, "init"))
			seen |= 4;
	}
	T_CHECK((seen & 5) == 5 && (!spec.n_adds || (seen & 2)), "entries seen %x", seen);
	free(cp);
	free(raw);
	/* errors come back as one line, nothing written */
	spec.modules = nomod;
	fd = memfd_create("vb-image-test", MFD_CLOEXEC);
	T_CHECK(initramfs_build(&spec, fd, err, sizeof(err)) == -ENOENT &&
		strstr(err, "no_such_mod") && !strchr(err, '\n'), "missing module: %s", err);
	T_CHECK(fstat(fd, &st) == 0 && st.st_size == 0, "bytes written before the error");
	close(fd);
	spec.modules = extra;
	spec.self = "/proc/self/exe"; /* this test program: ASan, dynamic */
	T_CHECK(initramfs_build_file(&spec, "/tmp/vb-image-never.gz", err, sizeof(err)) == -ENOEXEC &&
		strstr(err, "dynamically linked") && access("/tmp/vb-image-never.gz", F_OK),
		"dynamic self: %s", err);
	spec.self = self;
	spec.level = 12;
	T_CHECK(initramfs_build(&spec, -1, err, sizeof(err)) == -EINVAL, "level");
}

/* --list and --extract on damaged images, under ASan: errors, never a
 * crash, and nothing outside the target directory. */
static void test_unpack_fuzz(void)
{
	char dir[] = "/tmp/vb-image-unpack.XXXXXX", img[600], out[600], cmd[700], err[400];
	struct mbuf m = { 0 };
	FILE *null = fopen("/dev/null", "w");
	int fails = 0;

	T_REQUIRE(mkdtemp(dir) && null, "setup");
	snprintf(img, sizeof(img), "%s/img", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	write_sample(&m);
	srand(11);
	for (int i = 0; i < 300; i++) {
		uint8_t *c = malloc(m.len);
		size_t len = m.len - (size_t)(i % 3 == 0 ? rand() % (int)m.len : 0);
		int fd;

		memcpy(c, m.p, m.len);
		for (int k = 0; k < 1 + i % 4; k++)
			c[rand() % (int)m.len] = (uint8_t)rand();
		fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		write_full(fd, c, len);
		close(fd);
		free(c);
		if (initramfs_list(img, null, i & 1, err, sizeof(err)) < 0) {
			fails++;
			T_CHECK(err[0] && !strchr(err, '\n'), "message: %s", err);
		}
		initramfs_extract(img, out, err, sizeof(err));
	}
	T_CHECK(fails > 50, "only %d of 300 damaged images refused", fails);
	/* nothing may have been written beside out/ */
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) = 2", dir);
	T_CHECK(system(cmd) == 0, "entries beside out/ in %s", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_CHECK(system(cmd) == 0, "cleanup");
	fclose(null);
	free(m.p);
}

/* Finding 7 of issue 13: an ELF header saying "no sections" / "no program
 * headers" with wild table offsets. elf_open() only checks an offset whose
 * count is non-zero, so the readers must not even form d + offset (UBSan
 * reports the pointer overflow and, built with -fno-sanitize-recover,
 * aborts): run them in a child and want it to exit cleanly. */
static void test_elf_wild_offsets(void)
{
	static union {
		Elf64_Ehdr h;
		uint8_t b[256];
	} u;
	struct elf_file ef;
	struct elf_dyn dyn;
	const uint8_t *p;
	const char *why = NULL;
	size_t len;
	int st = -1;
	pid_t pid;

	memcpy(u.h.e_ident, ELFMAG, SELFMAG);
	u.h.e_ident[EI_CLASS] = ELFCLASS64;
	u.h.e_ident[EI_DATA] = ELFDATA2LSB;
	u.h.e_type = ET_DYN;
	u.h.e_shnum = 0;
	u.h.e_shoff = 0x8000000000000000ull;
	u.h.e_phnum = 0;
	u.h.e_phoff = 0x8000000000000000ull;
	T_REQUIRE(elf_open(u.b, sizeof(u.b), &ef, &why) == 0, "open: %s", why);
	fflush(NULL);
	pid = fork();
	T_REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int r1 = elf_section(&ef, ".modinfo", &p, &len, &why);
		int r2 = elf_dynamic(&ef, &dyn, &why);

		_exit(r1 == -ENOENT && r2 == 0 && !dyn.dynamic ? 0 : 3);
	}
	waitpid(pid, &st, 0);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		"the readers' child ended with status 0x%x (3: wrong results; 1: a sanitizer "
		"report, e.g. pointer overflow on a wild offset)", st);
}

int main(void)
{
	T_RUN(test_cpio_roundtrip);
	T_RUN(test_cpio_writer_misuse);
	T_RUN(test_cpio_truncated_and_corrupt);
	T_RUN(test_name_safety);
	T_RUN(test_tree);
	T_RUN(test_gzip);
	T_RUN(test_kmod_real_tree);
	T_RUN(test_kmod_made_up);
	T_RUN(test_modinfo_section);
	T_RUN(test_elf_curl);
	T_RUN(test_elf_wild_offsets);
	T_RUN(test_initramfs_api);
	T_RUN(test_unpack_fuzz);
	T_EXIT();
}
