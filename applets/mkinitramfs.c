/* `voidbox mkinitramfs`: builds the guest's initramfs (cpio newc + gzip),
 * or lists / extracts an existing one. Thin: options are parsed here, the
 * work is libcore/image/initramfs.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/applet.h"
#include "base/util.h"
#include "image/initramfs.h"

#define MAX_ARGS 256

static const char usage[] =
	"usage: voidbox mkinitramfs (--kernel FILE | --kver VERSION) [OPTIONS] -o FILE|-\n"
	"       voidbox mkinitramfs --list IMAGE [-v]\n"
	"       voidbox mkinitramfs --extract IMAGE DIR\n"
	"Writes a cpio newc archive, gzip-compressed, that a stock Linux kernel\n"
	"boots: /init is this voidbox binary (the guest agent), with the kernel\n"
	"modules for virtio-mmio, virtio-net and virtio-vsock. Same inputs, same bytes\n"
	"(mtime from $SOURCE_DATE_EPOCH, or 0).\n"
	"  -k, --kernel FILE        bzImage whose header gives the kernel version\n"
	"  -K, --kver VERSION       kernel version (without --kernel)\n"
	"  -M, --modules-dir DIR    modules tree (DIR or DIR/VERSION); default:\n"
	"                           modules/VERSION beside --kernel, else /lib/modules/VERSION\n"
	"  -m, --module NAME        another module (with its dependencies); repeatable\n"
	"  -N, --no-modules         no kernel modules at all\n"
	"  -a, --add SRC:DST[:MODE] copy a file or directory into the image; repeatable\n"
	"  -b, --add-binary PATH    copy a program (absolute path, or a name looked up in\n"
	"                           $PATH) with its ELF interpreter and shared libraries,\n"
	"                           each at its host path; repeatable\n"
	"  -B, --busybox PATH       install a static busybox as /bin/busybox with its links\n"
	"  -s, --self PATH          program to use as /init (default: this binary)\n"
	"  -o, --output FILE        where to write the image; - for stdout\n"
	"  -l, --level N            gzip level 1-9 (default 6); 0 writes plain cpio\n"
	"  -L, --list IMAGE         list the entries of a cpio or cpio.gz image\n"
	"  -v, --verbose            with --list: mode, owner, size, date, link target\n"
	"  -x, --extract IMAGE DIR  unpack an image into DIR (nothing may escape DIR)\n"
	"  -h, --help               this text\n";

static int mkinitramfs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "kver", required_argument, NULL, 'K' },
		{ "modules-dir", required_argument, NULL, 'M' },
		{ "module", required_argument, NULL, 'm' },
		{ "no-modules", no_argument, NULL, 'N' },
		{ "add", required_argument, NULL, 'a' },
		{ "add-binary", required_argument, NULL, 'b' },
		{ "busybox", required_argument, NULL, 'B' },
		{ "self", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "level", required_argument, NULL, 'l' },
		{ "list", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "extract", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *modules[MAX_ARGS], *bins[MAX_ARGS];
	struct initramfs_add adds[MAX_ARGS];
	const char *out = NULL, *list = NULL, *extract = NULL;
	struct initramfs_spec spec;
	char err[1024] = "";
	int c, verbose = 0, e;
	uint64_t v;

	initramfs_spec_init(&spec);
	spec.modules = modules;
	spec.binaries = bins;
	spec.adds = adds;
	while ((c = getopt_long(argc, argv, "k:K:M:m:Na:b:B:s:o:l:L:vx:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': spec.kernel = optarg; break;
		case 'K': spec.kver = optarg; break;
		case 'M': spec.modules_dir = optarg; break;
		case 'N': spec.no_modules = 1; break;
		case 'B': spec.busybox = optarg; break;
		case 's': spec.self = optarg; break;
		case 'o': out = optarg; break;
		case 'L': list = optarg; break;
		case 'v': verbose = 1; break;
		case 'x': extract = optarg; break;
		case 'm':
		case 'b':
		case 'a':
			if (spec.n_modules == MAX_ARGS || spec.n_binaries == MAX_ARGS ||
			    spec.n_adds == MAX_ARGS) {
				vb_err("mkinitramfs", 0, "more than %d of -%c", MAX_ARGS, c);
				return 2;
			}
			if (c == 'm')
				modules[spec.n_modules++] = optarg;
			else if (c == 'b')
				bins[spec.n_binaries++] = optarg;
			else if (initramfs_parse_add(optarg, &adds[spec.n_adds++], err, sizeof(err))) {
				vb_err("mkinitramfs", 0, "%s", err);
				return 2;
			}
			break;
		case 'l':
			if (parse_uint(optarg, 0, 9, &v)) {
				vb_err("mkinitramfs", 0, "--level %s: want 0 to 9", optarg);
				return 2;
			}
			spec.level = (int)v;
			break;
		case 'h':
			return applet_help("mkinitramfs");
		default:
			return 2; /* getopt printed the one-line reason */
		}
	}
	if (list || extract) {
		if (list && extract) {
			vb_err("mkinitramfs", 0, "--list and --extract together");
			return 2;
		}
		if (list ? optind != argc : optind != argc - 1) {
			vb_err("mkinitramfs", 0, list ? "--list IMAGE takes no other argument" :
			       "--extract IMAGE DIR: want exactly one DIR");
			return 2;
		}
		e = list ? initramfs_list(list, stdout, verbose, err, sizeof(err)) :
			   initramfs_extract(extract, argv[optind], err, sizeof(err));
		if (e) {
			vb_err("mkinitramfs", 0, "%s", err);
			return 1;
		}
		return 0;
	}
	if (optind != argc) {
		vb_err("mkinitramfs", 0, "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!out) {
		vb_err("mkinitramfs", 0, "no output: give -o FILE (or -o - for stdout)");
		return 2;
	}
	if (!spec.no_modules && !spec.kernel && !spec.kver) {
		vb_err("mkinitramfs", 0, "no kernel: give --kernel FILE, --kver VERSION or --no-modules");
		return 2;
	}
	if ((e = initramfs_build_file(&spec, out, err, sizeof(err)))) {
		vb_err("mkinitramfs", 0, "%s", err);
		return 1;
	}
	return 0;
}

APPLET(mkinitramfs, mkinitramfs_main, "build, list or extract the guest's initramfs", usage);
