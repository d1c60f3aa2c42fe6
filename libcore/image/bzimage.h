/* A bootable x86-64 Linux kernel: a bzImage's setup header
 * (Documentation/arch/x86/boot.rst), or an uncompressed ELF vmlinux
 * (image/vmlinux.c) given the header the 64-bit boot protocol reads. Used by
 * mkinitramfs (the kernel version string), run (what the VMM is given) and
 * the KVM monitor (how to load and enter the kernel). The parsers trust
 * nothing in the file: every offset is checked against the file's size. */
#ifndef VOIDBOX_BZIMAGE_H
#define VOIDBOX_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BZ_SETUP_HDR_OFF 0x1f1
#define BZ_XLF_KERNEL_64 (1 << 0)
#define BZ_XLF_CAN_BE_LOADED_ABOVE_4G (1 << 1)
#define BZ_LOADED_HIGH (1 << 0)
#define BZ_MAX_SEG 16

/* One loadable piece of an ELF kernel: filesz bytes from src at paddr, then
 * zeroes up to memsz. */
struct bz_seg {
	const uint8_t *src;
	size_t filesz;
	uint64_t paddr, memsz;
};

struct bzimage {
	const uint8_t *data;       /* the whole file */
	size_t size;
	uint16_t protocol;         /* e.g. 0x020f */
	uint8_t setup_sects;       /* 0 is read as 4 */
	size_t setup_size;         /* (setup_sects + 1) * 512 */
	const uint8_t *kernel;     /* the protected-mode part */
	size_t kernel_size;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint32_t init_size;        /* memory the kernel needs from its load address */
	uint64_t pref_address;
	char version[128];         /* "6.1.0-56-amd64" (first word of the string) */
	char version_full[256];    /* the whole kernel_version string */
	/* an ELF vmlinux only: */
	int elf;                   /* set: boot the segments below, not kernel */
	unsigned n_seg;
	struct bz_seg seg[BZ_MAX_SEG];
	uint64_t entry;            /* physical 64-bit entry (startup_64) */
	int pvh_entry;             /* has Xen's PHYS32_ENTRY note (qemu boots it) */
	uint8_t elf_hdr[0x290 - BZ_SETUP_HDR_OFF]; /* zero page 0x1f1..0x290 for it */
};

/* Parses a bzImage, or an ELF vmlinux (vmlinux_parse()), held in
 * data[0..size). Returns 0, or -ENOEXEC when it is neither (with *why set to
 * a short reason), -EPROTO when its boot protocol is older than 2.12 or it
 * cannot be entered in 64-bit mode. */
int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *bz, const char **why);
/* Parses an uncompressed x86-64 vmlinux (ELF, as a kernel build leaves it)
 * into bz: its PT_LOAD segments (between 1 MiB and 3 GiB, not overlapping),
 * the entry (inside an executable segment), whether it has a PVH note, and
 * a setup header written for it. Reads only the headers: the version is
 * vmlinux_version()'s. Returns 0 or -ENOEXEC with *why set. */
int vmlinux_parse(const uint8_t *data, size_t size, struct bzimage *bz, const char **why);
/* Finds the version in a parsed vmlinux's banner ("Linux version X ...")
 * and fills bz->version and version_full (left empty when there is none).
 * Reads the file until it finds it. */
void vmlinux_version(struct bzimage *bz);

#endif
