/* --dump-boot: what the KVM monitor would hand the guest, written to a
 * folder for inspection (iasl -d on the tables, a hex dump of the zero
 * page) on any machine, /dev/kvm or not. It fills guest memory exactly as
 * kvm_vm_create() does (kvm_vm_map_ram + kvm_vm_load), then copies out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "kvm/layout.h"
#include "kvm/vm.h"

/* Writes len bytes to dir/name. Returns 0 or -errno. */
static int dump_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write_full(fd, p, len);
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

static const char *e820_name(uint32_t t)
{
	return t == E820_RAM ? "System RAM" : t == E820_RESERVED ? "Reserved" : "Unknown";
}

/* e820.txt (as /sys/firmware/memmap shows it: inclusive ends) and
 * layout.txt. Returns 0 or -errno. */
static int dump_text(struct kvm_vm *vm, const char *dir)
{
	const struct boot_info *b = &vm->boot;
	char buf[2048];
	size_t n = 0;
	int r;

	for (unsigned i = 0; i < b->n_e820; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "E820 0x%llx 0x%llx %s\n",
				      (unsigned long long)b->e820[i].addr,
				      (unsigned long long)(b->e820[i].addr + b->e820[i].size - 1),
				      e820_name(b->e820[i].type));
	if ((r = dump_file(dir, "e820.txt", buf, n)))
		return r;
	n = (size_t)snprintf(buf, sizeof(buf),
			     "kernel %s protocol %x at 0x%llx, init_size 0x%x, entry 0x%llx\n"
			     "zero_page 0x%llx\ncmdline 0x%llx (%llu bytes)\ninitrd 0x%llx (%llu bytes)\n"
			     "rsdp 0x%llx\ncpus %u\nmemory %llu\n",
			     vm->bz.version, vm->bz.protocol, (unsigned long long)b->kernel_addr,
			     vm->bz.init_size, (unsigned long long)b->entry, (unsigned long long)b->zero_page,
			     (unsigned long long)KVM_CMDLINE_ADDR, (unsigned long long)b->cmdline_len,
			     (unsigned long long)b->initrd_addr, (unsigned long long)b->initrd_size,
			     (unsigned long long)b->acpi.rsdp_gpa, vm->cfg.cpus,
			     (unsigned long long)vm->cfg.mem_size);
	for (unsigned i = 0; i < vm->cfg.n_devs && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "virtio-mmio %u 0x%llx+0x%llx gsi %u\n", i,
				      (unsigned long long)KVM_MMIO_ADDR(i),
				      (unsigned long long)KVM_MMIO_SIZE, KVM_MMIO_GSI_BASE + i);
	return dump_file(dir, "layout.txt", buf, MIN(n, sizeof(buf) - 1));
}

/* Every dump file into dir (created). Returns 0 or -errno. */
static int dump_all(struct kvm_vm *vm, const char *dir)
{
	const struct boot_info *b = &vm->boot;
	char line[4200];
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((r = dump_file(dir, "zero_page.bin", gmem_get(&vm->mem, b->zero_page, 4096), 4096)))
		return r;
	snprintf(line, sizeof(line), "%s\n", vm->cmdline);
	if ((r = dump_file(dir, "cmdline.txt", line, strlen(line))) || (r = dump_text(vm, dir)))
		return r;
	for (unsigned i = 0; i < b->acpi.n; i++) {
		const struct acpi_table *t = &b->acpi.t[i];
		char name[16];
		/* the RSDP is a structure, not a table with a header: iasl -d
		 * takes every .dat, so it gets its own name */
		snprintf(name, sizeof(name), strcmp(t->sig, "RSDP") ? "%s.dat" : "rsdp.bin", t->sig);
		if ((r = dump_file(dir, name, gmem_get(&vm->mem, t->gpa, t->len), t->len)))
			return r;
	}
	return 0;
}

int kvm_dump_boot(const struct kvm_vm_cfg *cfg, const char *dir, char *why, size_t why_len)
{
	struct kvm_vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->stop_fd = -1;
	r = kvm_vm_map_ram(vm, -1);
	if (!r)
		r = kvm_vm_load(vm);
	if (!r && (r = dump_all(vm, dir)))
		snprintf(vm->why, sizeof(vm->why), "writing %s: %s", dir, strerror(-r));
	if (r)
		snprintf(why, why_len, "%s", vm->why);
	gmem_clear(&vm->mem);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	free(vm);
	return r;
}
