/* Setup-header parser for x86 bzImages; see image/bzimage.h. Offsets are
 * those of Documentation/arch/x86/boot.rst, "The real-mode kernel header". */
#include "image/bzimage.h"

#include <errno.h>
#include <string.h>

#include "base/bytes.h"

/* Fails with reason w. */
static int bz_bad(const char **why, const char *w, int err)
{
	if (why)
		*why = w;
	return err;
}

int bzimage_parse(const uint8_t *d, size_t size, struct bzimage *bz, const char **why)
{
	uint16_t ver_off;
	size_t vo, n;

	if (size >= 4 && !memcmp(d, "\177ELF", 4))
		return vmlinux_parse(d, size, bz, why ? why : &(const char *){ NULL });
	memset(bz, 0, sizeof(*bz));
	if (size < 0x268)
		return bz_bad(why, "too short for a bzImage", -ENOEXEC);
	if (ld_le16(d + 0x1fe) != 0xaa55 || memcmp(d + 0x202, "HdrS", 4))
		return bz_bad(why, "no Linux boot header (HdrS)", -ENOEXEC);
	bz->data = d;
	bz->size = size;
	bz->protocol = ld_le16(d + 0x206);
	bz->setup_sects = d[0x1f1] ? d[0x1f1] : 4;
	bz->setup_size = ((size_t)bz->setup_sects + 1) * 512;
	bz->loadflags = d[0x211];
	if (bz->protocol < 0x020c)
		return bz_bad(why, "boot protocol older than 2.12", -EPROTO);
	if (!(bz->loadflags & BZ_LOADED_HIGH))
		return bz_bad(why, "not a bzImage (zImage loads low)", -ENOEXEC);
	if (bz->setup_size >= size)
		return bz_bad(why, "setup larger than the file", -ENOEXEC);
	bz->kernel = d + bz->setup_size;
	bz->kernel_size = size - bz->setup_size;
	bz->initrd_addr_max = ld_le32(d + 0x22c);
	bz->kernel_alignment = ld_le32(d + 0x230);
	bz->relocatable = d[0x234];
	bz->xloadflags = ld_le16(d + 0x236);
	bz->cmdline_size = ld_le32(d + 0x238);
	bz->pref_address = ld_le64(d + 0x258);
	bz->init_size = ld_le32(d + 0x260);
	if (!(bz->xloadflags & BZ_XLF_KERNEL_64))
		return bz_bad(why, "kernel has no 64-bit entry point (XLF_KERNEL_64)", -EPROTO);
	if (bz->kernel_alignment == 0 || (bz->kernel_alignment & (bz->kernel_alignment - 1)))
		return bz_bad(why, "kernel_alignment is not a power of two", -ENOEXEC);
	if (bz->init_size < bz->kernel_size / 2)
		return bz_bad(why, "init_size smaller than the kernel", -ENOEXEC);
	ver_off = ld_le16(d + 0x20e);
	vo = (size_t)ver_off + 0x200;
	if (ver_off && vo < size) {
		for (n = 0; vo + n < size && n + 1 < sizeof(bz->version_full) && d[vo + n]; n++)
			bz->version_full[n] = (char)d[vo + n];
		bz->version_full[n] = 0;
		for (n = 0; bz->version_full[n] && bz->version_full[n] != ' ' && n + 1 < sizeof(bz->version); n++)
			bz->version[n] = bz->version_full[n];
		bz->version[n] = 0;
	}
	if (!bz->version[0])
		return bz_bad(why, "no kernel version string in the header", -ENOEXEC);
	return 0;
}
