/* Module index and dependency walk; see image/kmod.h. The index is a sorted
 * array of (name, path) searched by bsearch; a module's dependencies are
 * read when the walk first reaches it, so only the modules an image needs
 * are ever opened. The walk is a depth-first post-order: a module is
 * emitted after everything it depends on. */
#include "image/kmod.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "image/elf.h"
#include "image/gz.h"

#define KMOD_MAX_FILE (256u << 20)
#define KMOD_MAX_DEPTH 64

enum { ST_NEW, ST_VISITING, ST_DONE };

struct kmod_mod {
	char *name;          /* normalised: '_' for '-' */
	char *path;          /* relative to the tree */
	char **deps;         /* dependency names, once known */
	size_t n_deps;
	int deps_known;
	int state;
};

struct kmod_db {
	char *dir;
	struct kmod_mod *mods;
	size_t n, cap;
	char **builtin;      /* sorted names */
	size_t n_builtin, cap_builtin;
	int have_dep;
};

static const char *const kmod_exts[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

int kmod_name_of(const char *path, char *out, size_t outlen)
{
	const char *base = strrchr(path, '/');
	size_t len, el;

	base = base ? base + 1 : path;
	len = strlen(base);
	for (size_t i = 0; i < ARRAY_SIZE(kmod_exts); i++) {
		el = strlen(kmod_exts[i]);
		if (len > el && !strcmp(base + len - el, kmod_exts[i])) {
			if (len - el >= outlen)
				return -EINVAL;
			for (size_t j = 0; j < len - el; j++)
				out[j] = base[j] == '-' ? '_' : base[j];
			out[len - el] = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* Copies name normalised ('-' -> '_') into out. */
static void norm_name(const char *name, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < outlen; i++)
		out[i] = name[i] == '-' ? '_' : name[i];
	out[i] = 0;
}

/* Appends a module (path relative to the tree). Returns 0 or -errno. */
static int db_add(struct kmod_db *db, const char *rel)
{
	char name[256];
	struct kmod_mod *m;

	if (kmod_name_of(rel, name, sizeof(name)))
		return 0;
	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 1024;
		struct kmod_mod *nm = realloc(db->mods, nc * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		db->mods = nm;
		db->cap = nc;
	}
	m = &db->mods[db->n];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->path = strdup(rel);
	if (!m->name || !m->path) {
		free(m->name);
		free(m->path);
		return -ENOMEM;
	}
	db->n++;
	return 0;
}

/* Adds every module file under dir/rel, recursively (symlinks not followed). */
static int db_walk(struct kmod_db *db, const char *rel)
{
	char path[4096], sub[4096];
	struct dirent *de;
	DIR *d;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s", db->dir, rel);
	if (!(d = opendir(path)))
		return -errno;
	/* The entry type from getdents spares a stat per file (4000 of them);
	 * only file systems that do not fill d_type need lstat. */
	while (!err && (de = readdir(d))) {
		const char *nm = de->d_name;
		unsigned char type = de->d_type;
		struct stat st;

		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", nm) >= sizeof(sub) ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", db->dir, sub) >= sizeof(path)) {
			err = -ENAMETOOLONG;
			break;
		}
		if (type == DT_UNKNOWN && lstat(path, &st) == 0)
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
		if (type == DT_DIR)
			err = db_walk(db, sub);
		else if (type == DT_REG)
			err = db_add(db, sub);
	}
	closedir(d);
	return err;
}

/* depmod's default "search updates built-in": a module under updates/
 * wins over one of the same name elsewhere. */
static int path_rank(const char *path)
{
	return strncmp(path, "updates/", 8) != 0;
}

static int cmp_mod(const void *a, const void *b)
{
	const struct kmod_mod *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (!c)
		c = path_rank(x->path) - path_rank(y->path);
	return c ? c : strcmp(x->path, y->path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_key_mod(const void *key, const void *m)
{
	return strcmp(key, ((const struct kmod_mod *)m)->name);
}

/* Returns the module called name (normalised), or NULL. When a name occurs
 * twice the first in cmp_mod order wins: updates/ first, then by path. */
static struct kmod_mod *db_find(struct kmod_db *db, const char *name)
{
	struct kmod_mod *m = bsearch(name, db->mods, db->n, sizeof(*m), cmp_key_mod);

	while (m && m > db->mods && !strcmp(m[-1].name, name))
		m--;
	return m;
}

static int db_is_builtin(const struct kmod_db *db, const char *name)
{
	return db->n_builtin &&
	       bsearch(&name, db->builtin, db->n_builtin, sizeof(char *), cmp_str) != NULL;
}

/* Splits s at any of seps into names appended to m->deps. Returns 0 or -ENOMEM. */
static int set_deps(struct kmod_mod *m, const char *s, size_t len, const char *seps, int from_path)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		char word[256], name[256];
		char **nd;

		while (j < len && !strchr(seps, s[j]))
			j++;
		if (j > i && j - i < sizeof(word)) {
			memcpy(word, s + i, j - i);
			word[j - i] = 0;
			if (from_path) {
				if (kmod_name_of(word, name, sizeof(name)))
					goto next;
			} else {
				norm_name(word, name, sizeof(name));
			}
			nd = realloc(m->deps, (m->n_deps + 1) * sizeof(*nd));
			if (!nd)
				return -ENOMEM;
			m->deps = nd;
			if (!(m->deps[m->n_deps] = strdup(name)))
				return -ENOMEM;
			m->n_deps++;
		}
next:
		i = j + 1;
	}
	m->deps_known = 1;
	return 0;
}

/* Splits the next modules.dep line off *p: its module path into rel and
 * the text after the colon into *deps and *dlen. Returns 1 for such a line, 0
 * for a line without one, -1 at the end of the text. */
static int dep_line(const char **p, const char *end, char *rel, size_t rellen,
		    const char **deps, size_t *dlen)
{
	const char *nl, *colon;
	int ok;

	if (*p >= end)
		return -1;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		nl = end;
	colon = memchr(*p, ':', (size_t)(nl - *p));
	ok = colon && (size_t)(colon - *p) < rellen;
	if (ok) {
		memcpy(rel, *p, (size_t)(colon - *p));
		rel[colon - *p] = 0;
		*deps = colon + 1;
		*dlen = (size_t)(nl - colon - 1);
	}
	*p = nl + 1;
	return ok;
}

/* Loads modules.dep: "kernel/a.ko: kernel/b.ko kernel/c.ko" per line. Two
 * passes: every module first (sorted, for lookups), then their deps. */
static int db_load_depfile(struct kmod_db *db, const uint8_t *txt, size_t len)
{
	const char *end = (const char *)txt + len, *p, *deps;
	char rel[4096], name[256];
	struct kmod_mod *m;
	size_t dlen;
	int r, err;

	for (p = (const char *)txt; (r = dep_line(&p, end, rel, sizeof(rel), &deps, &dlen)) >= 0;)
		if (r && (err = db_add(db, rel)))
			return err;
	qsort(db->mods, db->n, sizeof(*db->mods), cmp_mod);
	for (p = (const char *)txt; (r = dep_line(&p, end, rel, sizeof(rel), &deps, &dlen)) >= 0;)
		if (r && !kmod_name_of(rel, name, sizeof(name)) && (m = db_find(db, name)) &&
		    !strcmp(m->path, rel) && (err = set_deps(m, deps, dlen, " \t", 1)))
			return err;
	for (size_t i = 0; i < db->n; i++)
		db->mods[i].deps_known = 1;
	return 0;
}

/* Loads modules.builtin (one "kernel/x/y.ko" per line), if present. */
static int db_load_builtin(struct kmod_db *db)
{
	char path[4096];
	uint8_t *txt;
	size_t len;
	const char *p, *end;
	int err = 0;

	snprintf(path, sizeof(path), "%s/modules.builtin", db->dir);
	if (read_file(path, 16u << 20, &txt, &len))
		return 0;
	for (p = (const char *)txt, end = p + len; p < end && !err;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char line[4096], name[256];

		if (!nl)
			nl = end;
		if ((size_t)(nl - p) < sizeof(line)) {
			memcpy(line, p, (size_t)(nl - p));
			line[nl - p] = 0;
			if (!kmod_name_of(line, name, sizeof(name))) {
				if (db->n_builtin == db->cap_builtin) {
					size_t nc = db->cap_builtin ? db->cap_builtin * 2 : 256;
					char **nb = realloc(db->builtin, nc * sizeof(*nb));
					if (!nb) {
						err = -ENOMEM;
						break;
					}
					db->builtin = nb;
					db->cap_builtin = nc;
				}
				if (!(db->builtin[db->n_builtin] = strdup(name)))
					err = -ENOMEM;
				else
					db->n_builtin++;
			}
		}
		p = nl + 1;
	}
	free(txt);
	if (!err)
		qsort(db->builtin, db->n_builtin, sizeof(char *), cmp_str);
	return err;
}

int kmod_open(const char *dir, struct kmod_db **out, char *err, size_t errlen)
{
	struct kmod_db *db = calloc(1, sizeof(*db));
	char path[4096];
	uint8_t *dep;
	size_t dlen;
	struct stat st;
	int e;

	*out = NULL;
	if (!db || !(db->dir = strdup(dir))) {
		free(db);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		e = stat(dir, &st) < 0 ? -errno : -ENOTDIR;
		snprintf(err, errlen, "modules directory %s: %s", dir, strerror(-e));
		kmod_close(db);
		return e;
	}
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	e = read_file(path, 64u << 20, &dep, &dlen);
	if (e == 0) {
		db->have_dep = 1;
		e = db_load_depfile(db, dep, dlen);
		free(dep);
	} else if (e == -ENOENT) {
		e = db_walk(db, "");
		qsort(db->mods, db->n, sizeof(*db->mods), cmp_mod);
	}
	if (!e)
		e = db_load_builtin(db);
	if (e) {
		snprintf(err, errlen, "reading modules in %s: %s", dir, strerror(-e));
		kmod_close(db);
		return e;
	}
	*out = db;
	return 0;
}

void kmod_close(struct kmod_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++) {
		for (size_t j = 0; j < db->mods[i].n_deps; j++)
			free(db->mods[i].deps[j]);
		free(db->mods[i].deps);
		free(db->mods[i].name);
		free(db->mods[i].path);
	}
	for (size_t i = 0; i < db->n_builtin; i++)
		free(db->builtin[i]);
	free(db->builtin);
	free(db->mods);
	free(db->dir);
	free(db);
}

int kmod_has_depfile(const struct kmod_db *db)
{
	return db->have_dep;
}

/* Reads m's "depends=" from its .modinfo section. Returns 0 or -errno. */
static int read_modinfo_deps(struct kmod_db *db, struct kmod_mod *m, char *err, size_t errlen)
{
	char path[4096];
	uint8_t *raw, *img;
	size_t rlen, ilen;
	struct elf_file ef;
	const uint8_t *mi;
	size_t mlen;
	const char *why = "";
	int e;

	snprintf(path, sizeof(path), "%s/%s", db->dir, m->path);
	if ((e = read_file(path, KMOD_MAX_FILE, &raw, &rlen))) {
		snprintf(err, errlen, "module %s: %s: %s", m->name, path, strerror(-e));
		return e;
	}
	img = raw;
	ilen = rlen;
	if (gz_is_gzip(raw, rlen)) {
		e = gz_inflate_all(raw, rlen, KMOD_MAX_FILE, &img, &ilen, NULL, 0);
		free(raw);
		raw = NULL;
		if (e) {
			snprintf(err, errlen, "module %s: %s: cannot decompress", m->name, path);
			return e;
		}
	} else if (rlen >= 4 && (!memcmp(raw, "\xfd" "7zX", 4) || !memcmp(raw, "\x28\xb5\x2f\xfd", 4))) {
		free(raw);
		snprintf(err, errlen, "module %s: %s is xz/zstd-compressed and %s has no "
			 "modules.dep (run depmod -b on the tree)", m->name, path, db->dir);
		return -EOPNOTSUPP;
	}
	e = elf_open(img, ilen, &ef, &why);
	if (!e) {
		e = elf_section(&ef, ".modinfo", &mi, &mlen, &why);
		if (e == -ENOENT)
			why = "no .modinfo section";
	}
	if (!e) {
		/* .modinfo is a run of NUL-terminated "key=value" strings */
		size_t i = 0;

		while (i < mlen && !e) {
			const uint8_t *z = memchr(mi + i, 0, mlen - i);
			size_t l = z ? (size_t)(z - (mi + i)) : mlen - i;

			if (l >= 8 && !memcmp(mi + i, "depends=", 8))
				e = set_deps(m, (const char *)mi + i + 8, l - 8, ",", 0);
			i += l + 1;
		}
		m->deps_known = 1;
	}
	if (img != raw)
		free(img);
	free(raw);
	if (e && e != -ENOMEM)
		snprintf(err, errlen, "module %s: %s: %s", m->name, path, why);
	return e;
}

struct walk {
	struct kmod_db *db;
	const char **out;
	size_t n;
	char *err;
	size_t errlen;
};

/* Emits name's dependencies, then name. needed_by names who asked for it
 * (NULL for a top-level name). Returns 0 or -errno. */
static int visit(struct walk *w, const char *name, const char *needed_by, int depth)
{
	char nm[256];
	struct kmod_mod *m;
	int e;

	norm_name(name, nm, sizeof(nm));
	m = db_find(w->db, nm);
	if (!m) {
		if (db_is_builtin(w->db, nm))
			return 0;
		if (needed_by)
			snprintf(w->err, w->errlen, "module %s (needed by %s): not found in %s",
				 nm, needed_by, w->db->dir);
		else
			snprintf(w->err, w->errlen, "module %s: not found in %s", nm, w->db->dir);
		return -ENOENT;
	}
	if (m->state == ST_DONE)
		return 0;
	if (m->state == ST_VISITING || depth > KMOD_MAX_DEPTH) {
		snprintf(w->err, w->errlen, "module %s: dependency cycle (reached again from %s)",
			 nm, needed_by ? needed_by : "the command line");
		return -ELOOP;
	}
	if (!m->deps_known && (e = read_modinfo_deps(w->db, m, w->err, w->errlen)))
		return e;
	m->state = ST_VISITING;
	for (size_t i = 0; i < m->n_deps; i++)
		if ((e = visit(w, m->deps[i], m->name, depth + 1)))
			return e;
	m->state = ST_DONE;
	w->out[w->n++] = m->path;
	return 0;
}

int kmod_resolve(struct kmod_db *db, const char *const *names, size_t n_names,
		 const char ***paths, size_t *n, char *err, size_t errlen)
{
	struct walk w = { db, NULL, 0, err, errlen };
	int e = 0;

	*paths = NULL;
	*n = 0;
	for (size_t i = 0; i < db->n; i++)
		db->mods[i].state = ST_NEW;
	if (!(w.out = malloc((db->n + 1) * sizeof(*w.out)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_names && !e; i++)
		e = visit(&w, names[i], NULL, 0);
	if (e) {
		free(w.out);
		if (e == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		return e;
	}
	*paths = w.out;
	*n = w.n;
	return 0;
}
