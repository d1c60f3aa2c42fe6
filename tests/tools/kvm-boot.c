/* Test helper for the KVM monitor without `voidbox run`:
 *   kvm-boot --dump DIR KERNEL [CPUS [MEMORY [WINDOWS [INITRD [CMDLINE]]]]]
 *     writes the --dump-boot files (zero page, command line, e820, ACPI
 *     tables) for WINDOWS virtio-mmio windows; needs no /dev/kvm;
 *   kvm-boot KERNEL [CPUS [MEMORY [VSOCK [INITRD [CMDLINE]]]]]
 *     boots KERNEL on /dev/kvm with the console on stdout and, when VSOCK is
 *     1, a virtio-vsock device (guest CID 3) on a socket in $TMPDIR; exits 0
 *     when the guest powers off or reboots, 1 for any other end (the reason
 *     on stderr).
 *   kvm-boot --image DIR KERNEL [CPUS [MEMORY [WINDOWS [INITRD [CMDLINE]]]]]
 *     writes guest memory as the monitor fills it, for another machine to
 *     load (tests/kvm-boot-tcg.sh boots it under qemu): low.bin (guest
 *     0..0xf0000: GDT, zero page, page tables, command line, ACPI),
 *     kernel.bin, initrd.bin and addr.txt ("kernel ADDR", "initrd ADDR",
 *     "entry ADDR").
 * Setup errors: one line on stderr, exit 125. Wrap boots in timeout(1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "kvm/vm.h"
#include "virtio/vsock.h"

static int boot(struct kvm_vm_cfg *cfg, bool vsock)
{
	static struct kvm_vm vm;
	struct vsock_dev vs;
	struct vdev *devs[1];
	struct loop loop;
	char sock[108];
	enum kvm_exit e;
	int r;

	if ((r = loop_init(&loop))) {
		vb_err("kvm-boot", r, "epoll");
		return 125;
	}
	cfg->loop = &loop;
	cfg->console_fd = 1;
	if (vsock) {
		const char *dir = getenv("TMPDIR");
		snprintf(sock, sizeof(sock), "%s/vb-kvm-boot-%d.sock", dir && dir[0] ? dir : "/tmp", (int)getpid());
		if ((r = vsock_dev_init(&vs, &loop, 3, sock))) {
			vb_err("kvm-boot", r, "vsock on %s", sock);
			return 125;
		}
		devs[0] = vsock_dev_vdev(&vs);
		cfg->devs = devs;
		cfg->n_devs = 1;
	}
	r = kvm_vm_create(&vm, cfg);
	if (!r)
		r = kvm_vm_start(&vm);
	if (r) {
		vb_err("kvm-boot", 0, "%s", vm.why);
		kvm_vm_destroy(&vm);
		return 125;
	}
	e = kvm_vm_wait(&vm);
	if (e != KVM_VM_POWEROFF && e != KVM_VM_REBOOT)
		fprintf(stderr, "kvm-boot: guest ended: %s%s%s\n", kvm_exit_name(e), vm.why[0] ? ": " : "", vm.why);
	kvm_vm_destroy(&vm);
	if (vsock)
		vsock_dev_fini(&vs);
	loop_fini(&loop);
	return e == KVM_VM_POWEROFF || e == KVM_VM_REBOOT ? 0 : 1;
}

/* Writes len bytes from p to dir/name. Returns 0 or -errno. */
static int write_to(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!p || !(f = fopen(path, "we")))
		return -EINVAL;
	if (len && fwrite(p, len, 1, f) != 1)
		r = -EIO;
	if (fclose(f))
		r = -EIO;
	return r;
}

static int image(const struct kvm_vm_cfg *cfg, const char *dir)
{
	static struct kvm_vm vm;
	const struct boot_info *b = &vm.boot;
	char addr[256];
	int r;

	vm.cfg = *cfg;
	vm.mem_fd = -1;
	mkdir(dir, 0755);
	if ((r = kvm_vm_map_ram(&vm, -1)) || (r = kvm_vm_load(&vm))) {
		vb_err("kvm-boot", 0, "%s", vm.why);
		return 125;
	}
	snprintf(addr, sizeof(addr), "kernel 0x%llx\ninitrd 0x%llx\nentry 0x%llx\n",
		 (unsigned long long)b->kernel_addr, (unsigned long long)b->initrd_addr,
		 (unsigned long long)b->entry);
	if (write_to(dir, "low.bin", gmem_get(&vm.mem, 0, 0xf0000), 0xf0000) ||
	    write_to(dir, "kernel.bin", gmem_get(&vm.mem, b->kernel_addr, vm.bz.kernel_size), vm.bz.kernel_size) ||
	    write_to(dir, "initrd.bin", gmem_get(&vm.mem, b->initrd_addr, b->initrd_size), b->initrd_size) ||
	    write_to(dir, "addr.txt", addr, strlen(addr))) {
		vb_err("kvm-boot", 0, "cannot write %s", dir);
		return 125;
	}
	gmem_clear(&vm.mem);
	close(vm.mem_fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct kvm_vm_cfg cfg = { .cpus = 1, .mem_size = 256ULL << 20, .cmdline = "console=ttyS0", .console_fd = -1 };
	const char *dump = NULL;
	uint8_t *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	uint64_t v, nwin = 0;
	char why[256];
	int r, a = 1;
	bool img_mode = false;

	if (argc > 2 && (!strcmp(argv[1], "--dump") || !strcmp(argv[1], "--image"))) {
		dump = argv[2];
		img_mode = argv[1][2] == 'i';
		a = 3;
	}
	if (argc <= a) {
		fprintf(stderr, "usage: kvm-boot [--dump DIR | --image DIR] KERNEL [CPUS [MEMORY [WINDOWS [INITRD [CMDLINE]]]]]\n");
		return 2;
	}
	if ((r = read_file(argv[a], 256 << 20, &kernel, &klen))) {
		vb_err("kvm-boot", r, "%s", argv[a]);
		return 125;
	}
	if (argc > a + 1 && !parse_uint(argv[a + 1], 0, 1000, &v))
		cfg.cpus = (unsigned)v;
	if (argc > a + 2 && !parse_size(argv[a + 2], &v))
		cfg.mem_size = v;
	if (argc > a + 3)
		parse_uint(argv[a + 3], 0, 1000, &nwin);
	if (argc > a + 4 && argv[a + 4][0] && (r = read_file(argv[a + 4], 1ULL << 32, &initrd, &ilen))) {
		vb_err("kvm-boot", r, "%s", argv[a + 4]);
		return 125;
	}
	if (argc > a + 5)
		cfg.cmdline = argv[a + 5];
	cfg.kernel = kernel;
	cfg.kernel_size = klen;
	cfg.initrd = initrd;
	cfg.initrd_size = ilen;
	if (dump && img_mode) {
		cfg.n_devs = (unsigned)nwin;
		r = image(&cfg, dump);
	} else if (dump) {
		cfg.n_devs = (unsigned)nwin;
		r = kvm_dump_boot(&cfg, dump, why, sizeof(why)) ? 125 : 0;
		if (r)
			vb_err("kvm-boot", 0, "%s", why);
	} else {
		r = boot(&cfg, nwin > 0);
	}
	free(kernel);
	free(initrd);
	return r;
}
