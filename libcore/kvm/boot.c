/* The x86-64 Linux boot protocol; see kvm/boot.h. Every write into guest
 * memory goes through gmem_get(), so a configuration that does not fit the
 * RAM fails with a message instead of writing past it. */
#include "kvm/boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "base/bytes.h"
#include "base/util.h"
#include "kvm/layout.h"


#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL
#define PAGE 0x1000ULL
#define BOOT_ENTRY_64 0x200  /* startup_64 from the protected-mode start */
#define LOADER_UNDEFINED 0xff
#define ZERO_PAGE_LEN 0x1000


unsigned boot_ram_ranges(uint64_t mem_size, uint64_t gpa[2], uint64_t size[2])
{
	gpa[0] = 0;
	size[0] = MIN(mem_size, KVM_LOW_RAM_END);
	if (mem_size <= KVM_LOW_RAM_END)
		return 1;
	gpa[1] = KVM_HIGH_RAM_START;
	size[1] = mem_size - KVM_LOW_RAM_END;
	return 2;
}

unsigned boot_e820(uint64_t mem_size, struct e820_entry *e)
{
	uint64_t gpa[2], size[2];
	unsigned n = 0, nr = boot_ram_ranges(mem_size, gpa, size);

	e[n++] = (struct e820_entry){ 0, KVM_EBDA_ADDR, E820_RAM };
	e[n++] = (struct e820_entry){ KVM_EBDA_ADDR, 0xa0000 - KVM_EBDA_ADDR, E820_RESERVED };
	e[n++] = (struct e820_entry){ KVM_ACPI_ADDR, KVM_HIGH_MEM - KVM_ACPI_ADDR, E820_RESERVED };
	e[n++] = (struct e820_entry){ KVM_HIGH_MEM, size[0] - KVM_HIGH_MEM, E820_RAM };
	if (nr == 2)
		e[n++] = (struct e820_entry){ gpa[1], size[1], E820_RAM };
	return n;
}

int boot_cmdline(char *buf, size_t cap, const char *user, const struct acpi_cfg *a)
{
	size_t n = 0;
	int r = snprintf(buf, cap, "%s", user ? user : "");

	if (r < 0 || (size_t)r >= cap)
		return -E2BIG;
	n = (size_t)r;
	for (unsigned i = 0; i < a->n_win; i++) {
		r = snprintf(buf + n, cap - n, "%svirtio_mmio.device=%u@0x%llx:%u", n ? " " : "",
			     a->win[i].size, (unsigned long long)a->win[i].base, a->win[i].gsi);
		if (r < 0 || (size_t)r >= cap - n)
			return -E2BIG;
		n += (size_t)r;
	}
	return (int)n;
}

/* Copies len bytes to guest address gpa. Returns 0 or -EFBIG when the
 * range is not RAM. */
static int put_guest(const struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_get(m, gpa, len);

	if (!p)
		return -EFBIG;
	memcpy(p, src, len);
	return 0;
}

#define COPY_CHUNK (2u << 20)

/* Copies len bytes of a file mapping to guest address gpa in 2 MiB pieces,
 * releasing each piece's whole pages from the mapping once copied when
 * release is set (a later read faults them back from the file, so sharing
 * a page with another piece is harmless). Returns 0 or -EFBIG. */
static int put_file(const struct gmem *m, uint64_t gpa, const uint8_t *src, size_t len, bool release)
{
	uint8_t *p = gmem_get(m, gpa, len);

	if (!p)
		return -EFBIG;
	for (size_t off = 0; off < len; off += COPY_CHUNK) {
		size_t n = MIN(COPY_CHUNK, len - off);
		uintptr_t a = ((uintptr_t)src + off + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
		uintptr_t b = ((uintptr_t)src + off + n) & ~(uintptr_t)(PAGE - 1);

		memcpy(p + off, src + off, n);
		if (release && b > a)
			madvise((void *)a, b - a, MADV_DONTNEED);
	}
	return 0;
}

/* Identity-maps the first 4 GiB with 2 MiB pages: PML4[0] -> PDPT,
 * PDPT[0..3] -> four page directories. */
static int write_page_tables(const struct gmem *m)
{
	uint8_t *pml4 = gmem_get(m, KVM_PML4_ADDR, PAGE);
	uint8_t *pdpt = gmem_get(m, KVM_PDPT_ADDR, PAGE);
	uint8_t *pd = gmem_get(m, KVM_PD_ADDR, 4 * PAGE);

	if (!pml4 || !pdpt || !pd)
		return -EFBIG;
	memset(pml4, 0, PAGE);
	memset(pdpt, 0, PAGE);
	st_le64(pml4, KVM_PDPT_ADDR | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++)
		st_le64(pdpt + 8 * i, (KVM_PD_ADDR + i * PAGE) | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4 * 512; i++)
		st_le64(pd + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS);
	return 0;
}

/* GDT: null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data), and a
 * TSS descriptor for TR. */
static int write_gdt(const struct gmem *m)
{
	static const uint64_t gdt[5] = {
		0,
		0,
		0x00af9b000000ffffULL, /* 0x10: code, L=1, P, DPL0, G */
		0x00cf93000000ffffULL, /* 0x18: data, D/B=1, P, DPL0, G */
		0x00008b0000000067ULL, /* 0x20: 64-bit TSS (busy), base 0 */
	};
	uint8_t *p = gmem_get(m, KVM_GDT_ADDR, sizeof(gdt));

	if (!p)
		return -EFBIG;
	for (unsigned i = 0; i < 5; i++)
		st_le64(p + 8 * i, gdt[i]);
	return 0;
}

/* Where the kernel goes: its preferred address if it cannot be moved,
 * else 16 MiB rounded up to its alignment. */
static uint64_t kernel_load_addr(const struct bzimage *bz)
{
	uint64_t a = KVM_KERNEL_ADDR, al = bz->kernel_alignment;

	if (bz->elf) /* an ELF vmlinux goes where its segments say */
		return bz->pref_address;
	if (!bz->relocatable && bz->pref_address)
		return bz->pref_address;
	return (a + al - 1) & ~(al - 1);
}

/* Places the initrd as high as initrd_addr_max and low RAM allow, above
 * the kernel's init_size. Returns 0 or -EFBIG. */
static int place_initrd(const struct boot_cfg *c, uint64_t low_end, struct boot_info *bi,
			const char **why)
{
	uint64_t top = MIN(low_end, (uint64_t)c->bz->initrd_addr_max + 1);

	bi->initrd_addr = bi->initrd_size = 0;
	if (!c->initrd_size)
		return 0;
	if (c->initrd_size > top || ((top - c->initrd_size) & ~(PAGE - 1)) < bi->kernel_end) {
		*why = "initrd too large for --memory (must fit between the kernel's init_size and initrd_addr_max)";
		return -EFBIG;
	}
	bi->initrd_addr = (top - c->initrd_size) & ~(PAGE - 1);
	bi->initrd_size = c->initrd_size;
	return 0;
}

/* Fills the zero page: the bzImage's setup header, then what the loader
 * owns. */
static void fill_zero_page(uint8_t *zp, const struct boot_cfg *c, const struct boot_info *bi)
{
	const struct bzimage *bz = c->bz;
	/* a bzImage's own setup header, or the one written for a vmlinux */
	const uint8_t *hdr = bz->elf ? bz->elf_hdr : bz->data + BP_HDR; /* zero-page offset 0x1f1 */
	size_t hdr_end = 0x202 + (size_t)hdr[0x201 - BP_HDR]; /* setup header's own length */

	memset(zp, 0, ZERO_PAGE_LEN);
	if (hdr_end > 0x290)
		hdr_end = 0x290;
	if (!bz->elf && hdr_end > bz->size)
		hdr_end = bz->size;
	memcpy(zp + BP_HDR, hdr, hdr_end - BP_HDR);
	zp[BP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	st_le32(zp + BP_CODE32_START, (uint32_t)bi->kernel_addr);
	st_le32(zp + BP_RAMDISK_IMAGE, (uint32_t)bi->initrd_addr);
	st_le32(zp + BP_RAMDISK_SIZE, (uint32_t)bi->initrd_size);
	st_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(bi->initrd_addr >> 32));
	st_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(bi->initrd_size >> 32));
	st_le32(zp + BP_CMD_LINE_PTR, (uint32_t)KVM_CMDLINE_ADDR);
	st_le32(zp + BP_EXT_CMD_LINE_PTR, 0);
	st_le64(zp + BP_ACPI_RSDP, bi->acpi.rsdp_gpa);
	zp[BP_E820_ENTRIES] = (uint8_t)bi->n_e820;
	for (unsigned i = 0; i < bi->n_e820; i++) {
		uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		st_le64(e, bi->e820[i].addr);
		st_le64(e + 8, bi->e820[i].size);
		st_le32(e + 16, bi->e820[i].type);
	}
}

/* The 16 bytes at the BIOS reset entry (F000:FFF0, real mode). Linux on a
 * hardware-reduced ACPI machine reboots "through EFI", and with no EFI falls
 * back to jumping there, as to a PC's firmware (machine_real_restart); a
 * panicking guest (panic=-1) does exactly that. There is no firmware here:
 * the stub writes the FADT reset value to the reset port, which ends the VM
 * as a reboot, and halts should that ever return. */
static const uint8_t reset_stub[16] = {
	0xb0, KVM_RESET_VALUE,                              /* mov al, 0x42 */
	0xba, KVM_PORT_RESET & 0xff, KVM_PORT_RESET >> 8,   /* mov dx, 0x602 */
	0xee,                                               /* out dx, al */
	0xf4,                                               /* hlt */
	0xeb, 0xfd,                                         /* jmp hlt */
};

/* Copies the kernel into guest memory: a bzImage's protected-mode part at
 * addr, or each segment of a vmlinux at its physical address with its
 * zero-filled tail. Returns 0 or -EFBIG. */
static int put_kernel(const struct gmem *m, const struct bzimage *bz, uint64_t addr, bool release)
{
	if (!bz->elf)
		return put_file(m, addr, bz->kernel, bz->kernel_size, release);
	for (unsigned i = 0; i < bz->n_seg; i++) {
		const struct bz_seg *g = &bz->seg[i];
		uint8_t *p = gmem_get(m, g->paddr, g->memsz);

		if (!p || put_file(m, g->paddr, g->src, g->filesz, release))
			return -EFBIG;
		memset(p + g->filesz, 0, g->memsz - g->filesz);
	}
	return 0;
}

int boot_load(const struct gmem *m, const struct boot_cfg *c, struct boot_info *bi,
	      const char **why)
{
	const struct bzimage *bz = c->bz;
	uint64_t gpa[2], size[2], need;
	size_t cl = c->cmdline ? strlen(c->cmdline) : 0;
	uint8_t *acpi, *zp;
	int r;

	memset(bi, 0, sizeof(*bi));
	*why = "bad boot configuration";
	if (c->mem_size < BOOT_MIN_MEM || c->mem_size & (PAGE - 1)) {
		*why = "--memory must be a multiple of 4 KiB and at least 16 MiB";
		return -EINVAL;
	}
	boot_ram_ranges(c->mem_size, gpa, size);
	bi->kernel_addr = kernel_load_addr(bz);
	need = MAX(bz->init_size, bz->kernel_size);
	bi->kernel_end = bi->kernel_addr + need;
	if (bi->kernel_addr < KVM_HIGH_MEM || bi->kernel_end > size[0]) {
		*why = "kernel too large for --memory (its init_size does not fit in RAM)";
		return -EFBIG;
	}
	if (cl > bz->cmdline_size || cl + 1 > KVM_CMDLINE_MAX) {
		*why = "command line longer than the kernel accepts (cmdline_size)";
		return -E2BIG;
	}
	if ((r = place_initrd(c, size[0], bi, why)))
		return r;
	bi->entry = bz->elf ? bz->entry : bi->kernel_addr + BOOT_ENTRY_64;
	bi->zero_page = KVM_ZERO_PAGE_ADDR;
	bi->cmdline_len = cl;
	bi->n_e820 = boot_e820(c->mem_size, bi->e820);

	acpi = gmem_get(m, KVM_ACPI_ADDR, KVM_ACPI_SIZE);
	zp = gmem_get(m, KVM_ZERO_PAGE_ADDR, ZERO_PAGE_LEN);
	if (!acpi || !zp) {
		*why = "guest memory does not cover the boot area";
		return -EFBIG;
	}
	if ((r = acpi_build(acpi, KVM_ACPI_SIZE, KVM_ACPI_ADDR, &c->acpi, &bi->acpi))) {
		*why = r == -ENOSPC ? "ACPI tables do not fit" : "bad ACPI configuration (CPU count or windows)";
		return r;
	}
	if (put_guest(m, KVM_RESET_STUB_ADDR, reset_stub, sizeof(reset_stub)) ||
	    put_kernel(m, bz, bi->kernel_addr, c->release_source) ||
	    (bi->initrd_size && put_file(m, bi->initrd_addr, c->initrd, c->initrd_size, c->release_source)) ||
	    put_guest(m, KVM_CMDLINE_ADDR, c->cmdline ? c->cmdline : "", cl + 1) ||
	    write_page_tables(m) || write_gdt(m)) {
		*why = "guest memory does not cover the kernel, initrd or boot structures";
		return -EFBIG;
	}
	fill_zero_page(zp, c, bi);
	return 0;
}
