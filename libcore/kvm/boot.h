/* The x86-64 Linux boot protocol, monitor side (Documentation/arch/x86/
 * boot.rst, "64-bit boot protocol"): lays a bzImage's protected-mode kernel,
 * an initrd and the command line into guest RAM, fills the zero page
 * (struct boot_params: setup header, e820 map, initrd, command line, RSDP),
 * builds identity page tables for the first 4 GiB and a GDT with __BOOT_CS
 * (0x10) and __BOOT_DS (0x18), and writes the ACPI tables. The vCPU is then
 * entered in 64-bit mode at the kernel's load address + 0x200 with RSI
 * pointing at the zero page (vcpu.c). Nothing here needs /dev/kvm: the same
 * code fills fake memory in the tests and in --dump-boot. */
#ifndef VOIDBOX_KVM_BOOT_H
#define VOIDBOX_KVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/mem.h"
#include "image/bzimage.h"
#include "kvm/acpi.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define BOOT_MAX_E820 8
#define BOOT_MIN_MEM (16ULL << 20)

/* zero page offsets used by the monitor, its tests and dumps */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER 0x202
#define BP_TYPE_OF_LOADER 0x210
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

struct boot_cfg {
	const struct bzimage *bz;
	const uint8_t *initrd;     /* may be NULL */
	size_t initrd_size;
	const char *cmdline;       /* as given; may be NULL */
	uint64_t mem_size;         /* guest RAM bytes */
	/* The kernel's and initrd's bytes are a file mapping: release each
	 * piece once copied (MADV_DONTNEED), so copying a kernel and an initrd
	 * in costs no resident memory beyond guest RAM's. */
	bool release_source;
	struct acpi_cfg acpi;      /* CPUs and virtio-mmio windows */
};

/* What boot_load() placed where. */
struct boot_info {
	uint64_t entry;            /* RIP at entry: kernel_addr + 0x200 */
	uint64_t zero_page;        /* RSI at entry */
	uint64_t kernel_addr, kernel_end; /* [load, load + init_size) */
	uint64_t initrd_addr;
	uint64_t initrd_size;
	uint64_t cmdline_len;      /* without the NUL */
	unsigned n_e820;
	struct e820_entry e820[BOOT_MAX_E820];
	struct acpi_tables acpi;
};

/* Fills the e820 map for mem_size bytes of RAM (low RAM up to 3 GiB, the
 * rest from 4 GiB). Returns the number of entries. */
unsigned boot_e820(uint64_t mem_size, struct e820_entry *e);
/* The guest-physical ranges of RAM for mem_size: low and (maybe) high.
 * Returns how many (1 or 2). */
unsigned boot_ram_ranges(uint64_t mem_size, uint64_t gpa[2], uint64_t size[2]);
/* Composes the command line the guest gets: user's, then one
 * virtio_mmio.device=SIZE@BASE:GSI per window (for kernels built with
 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES; others find them in the DSDT and
 * ignore it). Returns its length, or -E2BIG when cap is too small. */
int boot_cmdline(char *buf, size_t cap, const char *user, const struct acpi_cfg *a);
/* Loads everything into guest memory m (which must cover the RAM ranges
 * of c->mem_size). Returns 0, or -errno with *why naming the problem:
 * -EFBIG (kernel or initrd too large for the memory), -E2BIG (command line
 * too long), -EINVAL (bad configuration). */
int boot_load(const struct gmem *m, const struct boot_cfg *c, struct boot_info *out,
	      const char **why);

#endif
