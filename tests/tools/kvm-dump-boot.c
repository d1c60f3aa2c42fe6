/* Test helper: writes what the KVM monitor would give a guest (the
 * --dump-boot files: zero page, command line, e820, ACPI tables) for a
 * kernel, initrd, CPU count, memory size and number of virtio-mmio
 * windows, without /dev/kvm. tests/kvm-acpi.sh decompiles the tables with
 * iasl. Usage: kvm-dump-boot KERNEL DIR [CPUS [MEMORY [WINDOWS [INITRD
 * [CMDLINE]]]]]. Exit 0, or 125 with one line on stderr. */
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "kvm/vm.h"

int main(int argc, char **argv)
{
	struct kvm_vm_cfg cfg = { .cpus = 1, .mem_size = 256ULL << 20, .cmdline = "console=ttyS0", .console_fd = -1 };
	uint8_t *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	uint64_t v;
	char why[256];
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: kvm-dump-boot KERNEL DIR [CPUS [MEMORY [WINDOWS [INITRD [CMDLINE]]]]]\n");
		return 2;
	}
	if ((r = read_file(argv[1], 256 << 20, &kernel, &klen))) {
		vb_err("kvm-dump-boot", r, "%s", argv[1]);
		return 125;
	}
	if (argc > 3 && !parse_uint(argv[3], 0, 1000, &v))
		cfg.cpus = (unsigned)v;
	if (argc > 4 && !parse_size(argv[4], &v))
		cfg.mem_size = v;
	if (argc > 5 && !parse_uint(argv[5], 0, 1000, &v))
		cfg.n_devs = (unsigned)v;
	if (argc > 6 && argv[6][0] && (r = read_file(argv[6], 1ULL << 32, &initrd, &ilen))) {
		vb_err("kvm-dump-boot", r, "%s", argv[6]);
		return 125;
	}
	if (argc > 7)
		cfg.cmdline = argv[7];
	cfg.kernel = kernel;
	cfg.kernel_size = klen;
	cfg.initrd = initrd;
	cfg.initrd_size = ilen;
	if ((r = kvm_dump_boot(&cfg, argv[2], why, sizeof(why)))) {
		vb_err("kvm-dump-boot", 0, "%s", why);
		return 125;
	}
	free(kernel);
	free(initrd);
	return 0;
}
