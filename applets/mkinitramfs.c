/* `voidbox mkinitramfs`: builds the guest's initramfs (cpio newc + gzip),
 * or lists / extracts an existing one. Thin: the option table (base/opts.h,
 * which also gives --help) and the checks between options are here, the
 * work is libcore/image/initramfs.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/applet.h"
#include "base/opts.h"
#include "base/util.h"
#include "image/initramfs.h"

#define MAX_ARGS 256

struct mk_opts {
	struct initramfs_spec spec;
	const char *modules[MAX_ARGS];
	unsigned n_modules;
	const char *bins[MAX_ARGS];
	unsigned n_bins;
	struct initramfs_add adds[MAX_ARGS];
	unsigned n_adds;
	const char *out, *list, *extract;
	bool verbose;
};

static void mk_init(void *obj)
{
	initramfs_spec_init(&((struct mk_opts *)obj)->spec);
}

/* --add SRC:DST[:MODE]. The entry points into arg (argv, which
 * initramfs_parse_add cuts at the colons). */
static int add_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct mk_opts *o = obj;

	if (o->n_adds == MAX_ARGS) {
		snprintf(why, len, "more than %d given", MAX_ARGS);
		return -EINVAL;
	}
	if (initramfs_parse_add((char *)arg, &o->adds[o->n_adds], why, len))
		return -EINVAL;
	o->n_adds++;
	return 0;
}

#define M(field) OPT_AT(struct mk_opts, field)
static const struct opt mk_opt_list[] = {
	{ "kernel", 'k', OPT_STR, M(spec.kernel), .meta = "FILE",
	  .help = "bzImage whose header gives the kernel version" },
	{ "kver", 'K', OPT_STR, M(spec.kver), .meta = "VERSION",
	  .help = "kernel version (without --kernel)" },
	{ "modules-dir", 'M', OPT_STR, M(spec.modules_dir), .meta = "DIR",
	  .help = "modules tree (DIR or DIR/VERSION); default: modules/VERSION beside --kernel, "
		  "else /lib/modules/VERSION" },
	{ "module", 'm', OPT_LIST_AT(struct mk_opts, modules, n_modules), .meta = "NAME",
	  .help = "another module, with its dependencies" },
	{ "no-modules", 'N', OPT_FLAG, M(spec.no_modules), .help = "no kernel modules at all" },
	{ "add", 'a', OPT_CALL, .parse = add_parse, .flags = OPT_REPEAT, .meta = "SRC:DST[:MODE]",
	  .help = "copy a file or directory into the image" },
	{ "add-binary", 'b', OPT_LIST_AT(struct mk_opts, bins, n_bins), .meta = "PATH",
	  .help = "copy a program (absolute path, or a name looked up in $PATH) with its ELF "
		  "interpreter and shared libraries, each at its host path" },
	{ "busybox", 'B', OPT_STR, M(spec.busybox), .meta = "PATH",
	  .help = "install a static busybox as /bin/busybox with its links" },
	{ "self", 's', OPT_STR, M(spec.self), .meta = "PATH",
	  .help = "program to use as /init (default: this binary)" },
	{ "output", 'o', OPT_STR, M(out), .meta = "FILE",
	  .help = "where to write the image; - for stdout" },
	{ "level", 'l', OPT_UINT, M(spec.level), .min = 0, .max = 9, .def = "6", .meta = "N",
	  .help = "gzip level; 0 writes plain cpio" },
	{ "list", 'L', OPT_STR, M(list), .meta = "IMAGE",
	  .help = "list the entries of a cpio or cpio.gz image" },
	{ "verbose", 'v', OPT_FLAG, M(verbose),
	  .help = "with --list: mode, owner, size, date, link target" },
	{ "extract", 'x', OPT_STR, M(extract), .meta = "IMAGE",
	  .help = "unpack IMAGE into the folder DIR given after it (nothing may escape DIR)" },
	{ .kind = OPT_END },
};
#undef M

static const struct opts_table mk_table = { .init = mk_init, .opts = mk_opt_list };

static const struct opts_spec mk_spec = {
	.applet = "mkinitramfs",
	.usage = "(--kernel FILE | --kver VERSION) [OPTIONS] -o FILE|-\n"
		 "--list IMAGE [-v]\n"
		 "--extract IMAGE DIR",
	.about = "Writes a cpio newc archive, gzip-compressed, that a stock Linux kernel\n"
		 "boots: /init is this voidbox binary (the guest agent), with the kernel\n"
		 "modules for virtio-mmio, virtio-net and virtio-vsock. Same inputs, same bytes\n"
		 "(mtime from $SOURCE_DATE_EPOCH, or 0).\n",
	.bad_value_exit = 2,
	.size = sizeof(struct mk_opts),
	.table = &mk_table,
};

static int mkinitramfs_main(int argc, char **argv)
{
	static struct mk_opts o; /* 256 adds, modules and programs: not on the stack */
	struct initramfs_spec *spec = &o.spec;
	const char *list, *extract;
	struct opts_result r;
	char err[1024] = "";
	int e, next;

	e = opts_parse(&mk_spec, &o, argc, argv, &r);
	if (e != OPTS_GO_ON)
		return e;
	next = r.next;
	list = o.list;
	extract = o.extract;
	spec->modules = o.modules;
	spec->n_modules = o.n_modules;
	spec->binaries = o.bins;
	spec->n_binaries = o.n_bins;
	spec->adds = o.adds;
	spec->n_adds = o.n_adds;
	if (list || extract) {
		if (list && extract) {
			vb_err("mkinitramfs", 0, "--list and --extract together");
			return 2;
		}
		if (list ? next != argc : next != argc - 1) {
			vb_err("mkinitramfs", 0, list ? "--list IMAGE takes no other argument" :
			       "--extract IMAGE DIR: want exactly one DIR");
			return 2;
		}
		e = list ? initramfs_list(list, stdout, o.verbose, err, sizeof(err)) :
			   initramfs_extract(extract, argv[next], err, sizeof(err));
		if (e) {
			vb_err("mkinitramfs", 0, "%s", err);
			return 1;
		}
		return 0;
	}
	if (next != argc) {
		vb_err("mkinitramfs", 0, "unexpected argument '%s'", argv[next]);
		return 2;
	}
	if (!o.out) {
		vb_err("mkinitramfs", 0, "no output: give -o FILE (or -o - for stdout)");
		return 2;
	}
	if (!spec->no_modules && !spec->kernel && !spec->kver) {
		vb_err("mkinitramfs", 0, "no kernel: give --kernel FILE, --kver VERSION or --no-modules");
		return 2;
	}
	if ((e = initramfs_build_file(spec, o.out, err, sizeof(err)))) {
		vb_err("mkinitramfs", 0, "%s", err);
		return 1;
	}
	return 0;
}

APPLET(mkinitramfs, mkinitramfs_main, "build, list or extract the guest's initramfs");
