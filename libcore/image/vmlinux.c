/* An uncompressed x86-64 Linux kernel, the ELF `vmlinux` a kernel build
 * leaves (and `make kernel` installs), read into the same struct bzimage a
 * bzImage fills, so the KVM monitor boots either the same way. Its PT_LOAD
 * segments go to their physical addresses and the vCPU enters at e_entry
 * (startup_64, "directly from a 64-bit bootloader" as head_64.S puts it);
 * nothing is decompressed in the guest. Such a kernel has no setup header,
 * so one is written here with what the 64-bit boot protocol reads from it.
 * Its PVH note (XEN_ELFNOTE_PHYS32_ENTRY), when present, is what qemu boots
 * it through. Nothing in the file is trusted: every offset and size is
 * checked against the file, every address against the 32-bit physical
 * space, and segments may not overlap. */
#include "image/bzimage.h"

#include <errno.h>
#include <string.h>

#include "base/bytes.h"

#define EH_SIZE 64
#define PH_SIZE 56
#define PT_LOAD 1
#define PT_NOTE 4
#define PF_X 1
#define EM_X86_64 62
#define ET_EXEC 2
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define VMLINUX_MIN_ADDR 0x100000ULL    /* above the BIOS area */
#define VMLINUX_MAX_END 0xc0000000ULL   /* below the 32-bit MMIO hole */
#define SYNTH_CMDLINE_SIZE 2047         /* x86's COMMAND_LINE_SIZE - 1 */
#define SYNTH_ALIGN 0x200000

void vmlinux_version(struct bzimage *bz)
{
	const uint8_t *d = bz->data;
	size_t n = bz->size;
	static const char tag[] = "Linux version ";
	const size_t tl = sizeof(tag) - 1;
	const uint8_t *p = d, *end = d + n;

	while (end - p > (ptrdiff_t)tl && (p = memchr(p, 'L', (size_t)(end - p - tl)))) {
		if (memcmp(p, tag, tl)) {
			p++;
			continue;
		}
		const uint8_t *v = p + tl;
		size_t i = 0, j = 0;
		while (v + i < end && i < sizeof(bz->version) - 1 && v[i] > ' ' && v[i] < 0x7f)
			i++;
		if (i == 0 || v + i == end || v[i] != ' ') { /* not the banner: a format string */
			p++;
			continue;
		}
		memcpy(bz->version, v, i);
		bz->version[i] = 0;
		while (p + j < end && j < sizeof(bz->version_full) - 1 && p[j] >= ' ' && p[j] < 0x7f)
			j++;
		memcpy(bz->version_full, p, j);
		bz->version_full[j] = 0;
		return;
	}
}

/* Walks one PT_NOTE segment for Xen's PHYS32_ENTRY note. Returns 1 when
 * found, 0 otherwise. */
static int has_pvh_note(const uint8_t *p, size_t len)
{
	struct cursor c = cur_init(p, len);
	const uint8_t *h, *name;

	while ((h = cur_take(&c, 12))) { /* namesz, descsz, type; name, desc */
		uint32_t nl = ld_le32(h), dl = ld_le32(h + 4), type = ld_le32(h + 8);
		size_t nsz = ((size_t)nl + 3) & ~(size_t)3, dsz = ((size_t)dl + 3) & ~(size_t)3;
		if (!(name = cur_take(&c, nsz)) || !cur_skip(&c, dsz))
			return 0;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && nl == 4 && !memcmp(name, "Xen", 4))
			return 1;
	}
	return 0;
}

/* The setup header (from offset 0x1f1 of a zero page) the 64-bit boot
 * protocol expects to find, for a kernel that brings none. */
static void synth_header(struct bzimage *bz)
{
	uint8_t *h = bz->elf_hdr; /* h[k] is zero-page offset 0x1f1 + k */
#define AT(off) (h + ((off) - BZ_SETUP_HDR_OFF))
	memset(bz->elf_hdr, 0, sizeof(bz->elf_hdr));
	st_le16(AT(0x1fe), 0xaa55);                   /* boot_flag */
	AT(0x201)[0] = 0x290 - 0x202;               /* the header's own length */
	memcpy(AT(0x202), "HdrS", 4);
	st_le16(AT(0x206), bz->protocol);             /* version */
	AT(0x211)[0] = BZ_LOADED_HIGH;              /* loadflags */
	st_le32(AT(0x214), (uint32_t)bz->pref_address); /* code32_start */
	st_le32(AT(0x22c), bz->initrd_addr_max);
	st_le32(AT(0x230), bz->kernel_alignment);
	AT(0x234)[0] = 0;                           /* relocatable_kernel */
	st_le16(AT(0x236), bz->xloadflags);
	st_le32(AT(0x238), bz->cmdline_size);
	st_le64(AT(0x258), bz->pref_address);
	st_le32(AT(0x260), bz->init_size);
#undef AT
}

int vmlinux_parse(const uint8_t *d, size_t n, struct bzimage *bz, const char **why)
{
	uint64_t lo = UINT64_MAX, hi = 0, entry, phoff;
	uint16_t phnum, phentsize;
	int entry_ok = 0;

	memset(bz, 0, sizeof(*bz));
	if (n < EH_SIZE || memcmp(d, "\177ELF", 4)) {
		*why = "not an ELF file";
		return -ENOEXEC;
	}
	if (d[4] != 2 || d[5] != 1 || ld_le16(d + 18) != EM_X86_64 || ld_le16(d + 16) != ET_EXEC) {
		*why = "not an x86-64 executable ELF (a vmlinux is ELF64, ET_EXEC, EM_X86_64)";
		return -ENOEXEC;
	}
	entry = ld_le64(d + 24);
	phoff = ld_le64(d + 32);
	phentsize = ld_le16(d + 54);
	phnum = ld_le16(d + 56);
	if (phentsize != PH_SIZE || phnum == 0 || phnum > 64 || phoff > n || (n - phoff) / PH_SIZE < phnum) {
		*why = "ELF program headers missing or outside the file";
		return -ENOEXEC;
	}
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = d + phoff + (size_t)i * PH_SIZE;
		uint32_t type = ld_le32(ph), flags = ld_le32(ph + 4);
		uint64_t off = ld_le64(ph + 8), paddr = ld_le64(ph + 24), filesz = ld_le64(ph + 32), memsz = ld_le64(ph + 40);

		if (off > n || filesz > n - off) {
			*why = "an ELF segment lies outside the file";
			return -ENOEXEC;
		}
		if (type == PT_NOTE) {
			bz->pvh_entry |= has_pvh_note(d + off, filesz);
			continue;
		}
		if (type != PT_LOAD || memsz == 0)
			continue;
		if (filesz > memsz || paddr < VMLINUX_MIN_ADDR || paddr > VMLINUX_MAX_END ||
		    memsz > VMLINUX_MAX_END - paddr) {
			*why = "an ELF segment's physical range is not between 1 MiB and 3 GiB";
			return -ENOEXEC;
		}
		for (unsigned j = 0; j < bz->n_seg; j++)
			if (paddr < bz->seg[j].paddr + bz->seg[j].memsz && bz->seg[j].paddr < paddr + memsz) {
				*why = "ELF segments overlap";
				return -ENOEXEC;
			}
		if (bz->n_seg == BZ_MAX_SEG) {
			*why = "too many ELF segments";
			return -ENOEXEC;
		}
		bz->seg[bz->n_seg++] = (struct bz_seg){ d + off, (size_t)filesz, paddr, memsz };
		lo = paddr < lo ? paddr : lo;
		hi = paddr + memsz > hi ? paddr + memsz : hi;
		if ((flags & PF_X) && entry >= paddr && entry < paddr + filesz)
			entry_ok = 1;
	}
	if (!bz->n_seg) {
		*why = "no loadable ELF segment";
		return -ENOEXEC;
	}
	if (!entry_ok) {
		*why = "the ELF entry point is not in an executable segment (a vmlinux's is startup_64's physical address)";
		return -ENOEXEC;
	}
	bz->elf = 1;
	bz->data = d;
	bz->size = n;
	bz->protocol = 0x020f;
	bz->loadflags = BZ_LOADED_HIGH;
	bz->xloadflags = BZ_XLF_KERNEL_64;
	bz->kernel_alignment = SYNTH_ALIGN;
	bz->relocatable = 0;
	bz->initrd_addr_max = 0x7fffffff;
	bz->cmdline_size = SYNTH_CMDLINE_SIZE;
	bz->pref_address = lo;
	bz->init_size = (uint32_t)(hi - lo);
	bz->entry = entry;
	synth_header(bz);
	return 0;
}
