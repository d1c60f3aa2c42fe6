/* Shared-library closure of a program; see image/ldso.h. Work list: every
 * object (program or library) is read once, its DT_NEEDED names resolved
 * against its own search path, and each new library queued in turn. */
#include "image/ldso.h"

#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "image/elf.h"

#define LDSO_MAX_FILE (1u << 30)
#define LDSO_MAX_DIRS 256

static const char *const default_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
	"/lib", "/usr/lib",
};

struct dirs {
	char *d[LDSO_MAX_DIRS];
	size_t n;
};

static void dirs_add(struct dirs *ds, const char *dir, size_t len)
{
	if (!len || ds->n == LDSO_MAX_DIRS)
		return;
	for (size_t i = 0; i < ds->n; i++)
		if (strlen(ds->d[i]) == len && !memcmp(ds->d[i], dir, len))
			return;
	if ((ds->d[ds->n] = strndup(dir, len)))
		ds->n++;
}

static void dirs_free(struct dirs *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->d[i]);
	ds->n = 0;
}

/* Reads one ld.so.conf file into ds, following "include" lines (glob
 * patterns, relative to /etc) up to a small depth. */
static void read_ldso_conf(const char *path, struct dirs *ds, int depth)
{
	uint8_t *txt;
	size_t len;
	char *line, *save = NULL;

	if (depth > 8 || read_file(path, 1u << 20, &txt, &len))
		return;
	for (line = strtok_r((char *)txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *h = strchr(line, '#');
		size_t l;

		if (h)
			*h = 0;
		line += strspn(line, " \t");
		l = strlen(line);
		while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
			line[--l] = 0;
		if (!l || !strncmp(line, "hwcap ", 6))
			continue;
		if (!strncmp(line, "include", 7) && (line[7] == ' ' || line[7] == '\t')) {
			char pat[4096];
			glob_t g;
			char *arg = line + 8 + strspn(line + 8, " \t");

			snprintf(pat, sizeof(pat), "%s%s", *arg == '/' ? "" : "/etc/", arg);
			if (glob(pat, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++)
					read_ldso_conf(g.gl_pathv[i], ds, depth + 1);
				globfree(&g);
			}
			continue;
		}
		dirs_add(ds, line, l);
	}
	free(txt);
}

/* Adds the entries of a colon-separated DT_RUNPATH/DT_RPATH list to ds,
 * with $ORIGIN and ${ORIGIN} replaced by the directory of obj. */
static void add_pathlist(struct dirs *ds, const char *list, const char *obj)
{
	char origin[4096], one[4096];
	const char *slash = strrchr(obj, '/');

	snprintf(origin, sizeof(origin), "%.*s", slash ? (int)(slash - obj) : 1,
		 slash ? obj : ".");
	while (*list) {
		size_t n = strcspn(list, ":"), o = 0;

		for (size_t i = 0; i < n && o + 1 < sizeof(one);) {
			if (!strncmp(list + i, "$ORIGIN", 7) || !strncmp(list + i, "${ORIGIN}", 9)) {
				o += (size_t)snprintf(one + o, sizeof(one) - o, "%s", origin);
				if (o >= sizeof(one))
					o = sizeof(one) - 1;
				i += list[i + 1] == '{' ? 9 : 7;
			} else {
				one[o++] = list[i++];
			}
		}
		one[o] = 0;
		dirs_add(ds, one, o);
		list += n;
		if (*list == ':')
			list++;
	}
}

int ldso_is_dynamic(const char *path)
{
	uint8_t *d;
	size_t n;
	struct elf_file ef;
	struct elf_dyn dyn;
	int e, r = 0;

	if ((e = read_file(path, LDSO_MAX_FILE, &d, &n)))
		return e;
	if (!elf_open(d, n, &ef, NULL) && !elf_dynamic(&ef, &dyn, NULL))
		r = dyn.interp[0] != 0;
	free(d);
	return r;
}

static int set_has(const struct ldso_set *s, const char *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->paths[i], p))
			return 1;
	return 0;
}

static int set_add(struct ldso_set *s, const char *p)
{
	if (set_has(s, p))
		return 0;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 32;
		char **np = realloc(s->paths, nc * sizeof(*np));
		if (!np)
			return -ENOMEM;
		s->paths = np;
		s->cap = nc;
	}
	if (!(s->paths[s->n] = strdup(p)))
		return -ENOMEM;
	s->n++;
	return 0;
}

void ldso_set_free(struct ldso_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->paths[i]);
	free(s->paths);
	memset(s, 0, sizeof(*s));
}

/* Returns 1 when path is a readable ELF64 shared object for machine. */
static int lib_fits(const char *path, uint16_t machine)
{
	uint8_t *d;
	size_t n;
	struct elf_file ef;
	int ok;

	if (read_file(path, LDSO_MAX_FILE, &d, &n))
		return 0;
	ok = !elf_open(d, n, &ef, NULL) && ef.machine == machine;
	free(d);
	return ok;
}

/* Searches name in the dirs: found path into out. Returns 0 or -ENOENT. */
static int find_lib(const char *name, const struct dirs *const *lists, size_t nlists,
		    uint16_t machine, char *out, size_t outlen)
{
	for (size_t l = 0; l < nlists; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			snprintf(out, outlen, "%s/%s", lists[l]->d[i], name);
			if (lib_fits(out, machine))
				return 0;
		}
	return -ENOENT;
}

/* Reads the ELF object at path. Returns 0 with *data set, or -errno and err. */
static int load_obj(const char *path, uint8_t **data, struct elf_file *ef, struct elf_dyn *dyn,
		    char *err, size_t errlen)
{
	size_t n;
	const char *why = "";
	int e;

	if ((e = read_file(path, LDSO_MAX_FILE, data, &n))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	if ((e = elf_open(*data, n, ef, &why)) || (e = elf_dynamic(ef, dyn, &why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(*data);
		*data = NULL;
		return e;
	}
	return 0;
}

int ldso_collect(const char *prog, struct ldso_set *set, char *err, size_t errlen)
{
	struct dirs conf = { 0 }, std = { 0 };
	struct ldso_set queue = { 0 }, names = { 0 };
	uint8_t *data = NULL;
	struct elf_file ef;
	struct elf_dyn dyn;
	uint16_t machine;
	char exe_rpath[4096] = "";
	int e;

	if ((e = load_obj(prog, &data, &ef, &dyn, err, errlen)))
		return e;
	machine = ef.machine;
	if (!dyn.interp[0]) { /* static: nothing to add */
		free(data);
		return 0;
	}
	if (access(dyn.interp, R_OK)) {
		e = -errno;
		snprintf(err, errlen, "%s: interpreter %s: %s", prog, dyn.interp, strerror(-e));
		free(data);
		return e;
	}
	if (dyn.rpath && !dyn.runpath)
		snprintf(exe_rpath, sizeof(exe_rpath), "%s", dyn.rpath);
	free(data);
	read_ldso_conf("/etc/ld.so.conf", &conf, 0);
	for (size_t i = 0; i < ARRAY_SIZE(default_dirs); i++)
		dirs_add(&std, default_dirs[i], strlen(default_dirs[i]));
	if ((e = set_add(set, dyn.interp)) || (e = set_add(&queue, prog)))
		goto oom;
	for (size_t qi = 0; qi < queue.n; qi++) {
		const char *obj = queue.paths[qi];
		struct dirs own = { 0 };
		const struct dirs *lists[3] = { &own, &conf, &std };

		if ((e = load_obj(obj, &data, &ef, &dyn, err, errlen)))
			goto out;
		/* DT_RPATH (of this object, then of the program) applies only
		 * where the object has no DT_RUNPATH; DT_RUNPATH comes after. */
		if (!dyn.runpath) {
			if (dyn.rpath)
				add_pathlist(&own, dyn.rpath, obj);
			if (exe_rpath[0])
				add_pathlist(&own, exe_rpath, prog);
		} else {
			add_pathlist(&own, dyn.runpath, obj);
		}
		for (size_t i = 0; i < dyn.n_needed && !e; i++) {
			const char *nm = dyn.needed[i];
			char found[4096];

			if (set_has(&names, nm))
				continue;
			if (strchr(nm, '/')) {
				snprintf(found, sizeof(found), "%s", nm);
				e = lib_fits(found, machine) ? 0 : -ENOENT;
			} else {
				e = find_lib(nm, lists, 3, machine, found, sizeof(found));
			}
			if (e) {
				snprintf(err, errlen, "library %s (needed by %s): not found", nm, obj);
				break;
			}
			if ((e = set_add(&names, nm)) || (e = set_add(set, found)) ||
			    (e = set_add(&queue, found)))
				snprintf(err, errlen, "out of memory");
		}
		dirs_free(&own);
		free(data);
		data = NULL;
		if (e)
			goto out;
	}
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	dirs_free(&conf);
	dirs_free(&std);
	ldso_set_free(&queue);
	ldso_set_free(&names);
	return e;
}
