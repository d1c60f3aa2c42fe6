/* The x86 Linux boot protocol's setup header, read from a bzImage
 * (Documentation/arch/x86/boot.rst). Used by mkinitramfs (the kernel
 * version string) and by the KVM monitor (how to load and enter the
 * kernel). The parser trusts nothing in the file: every offset is checked
 * against the file's size. */
#ifndef VOIDBOX_BZIMAGE_H
#define VOIDBOX_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BZ_SETUP_HDR_OFF 0x1f1
#define BZ_XLF_KERNEL_64 (1 << 0)
#define BZ_XLF_CAN_BE_LOADED_ABOVE_4G (1 << 1)
#define BZ_LOADED_HIGH (1 << 0)

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
};

/* Parses a bzImage held in data[0..size). Returns 0, or -ENOEXEC when it
 * is not a bzImage (with *why set to a short reason), -EPROTO when its boot
 * protocol is older than 2.12 or it cannot be entered in 64-bit mode. */
int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *bz, const char **why);

#endif
