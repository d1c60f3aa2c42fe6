/* bzImage setup-header parser: Debian's real kernel, and damaged copies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/bzimage.h"
#include "t.h"

static uint8_t *img;
static size_t img_len;

static void test_real_kernel(void)
{
	struct bzimage bz;
	const char *why = NULL;
	char kver[128] = "";
	const char *gd = getenv("GUEST_DIR");
	char path[512];
	uint8_t *k;
	size_t kl;

	if (!img)
		T_SKIP("no guest kernel (run make guest)");
	T_REQUIRE(bzimage_parse(img, img_len, &bz, &why) == 0, "parse: %s", why);
	snprintf(path, sizeof(path), "%s/kver", gd ? gd : "build/guest");
	if (read_file(path, 100, &k, &kl) == 0) {
		snprintf(kver, sizeof(kver), "%.*s", (int)strcspn((char *)k, "\n"), (char *)k);
		free(k);
	}
	T_CHECK(!strcmp(bz.version, kver), "version %s, package says %s", bz.version, kver);
	T_CHECK(bz.protocol >= 0x020f, "protocol %x", bz.protocol);
	T_CHECK(bz.xloadflags & BZ_XLF_KERNEL_64, "xlf");
	T_CHECK(bz.relocatable, "relocatable");
	T_CHECK(bz.kernel_alignment == 0x200000, "alignment %x", bz.kernel_alignment);
	T_CHECK(bz.init_size > bz.kernel_size, "init_size");
	T_CHECK(bz.setup_size + bz.kernel_size == img_len, "sizes");
}

static void test_damaged(void)
{
	struct bzimage bz;
	const char *why;
	uint8_t *c;

	if (!img)
		T_SKIP("no guest kernel (run make guest)");
	c = malloc(img_len);
	for (size_t cut = 0; cut < 0x300; cut += 7) /* truncated everywhere early */
		T_CHECK(bzimage_parse(img, cut, &bz, &why) != 0 || cut >= 0x268, "cut %zu", cut);
	memcpy(c, img, img_len);
	memcpy(c + 0x202, "HdrX", 4);
	T_CHECK(bzimage_parse(c, img_len, &bz, &why) == -ENOEXEC, "bad magic");
	memcpy(c, img, img_len);
	c[0x206] = 0x0b;
	c[0x207] = 0x02;
	T_CHECK(bzimage_parse(c, img_len, &bz, &why) == -EPROTO, "old protocol");
	memcpy(c, img, img_len);
	c[0x236] &= (uint8_t)~BZ_XLF_KERNEL_64;
	T_CHECK(bzimage_parse(c, img_len, &bz, &why) == -EPROTO, "no 64-bit entry");
	memcpy(c, img, img_len);
	c[0x1f1] = 0xff; /* setup sects beyond a small file */
	T_CHECK(bzimage_parse(c, 0x10000, &bz, &why) == -ENOEXEC, "setup past end");
	memcpy(c, img, img_len);
	c[0x20e] = 0xff;
	c[0x20f] = 0xff; /* version pointer past the end of the header */
	T_CHECK(bzimage_parse(c, 0x8000, &bz, &why) != 0 || bz.version[0], "wild version pointer");
	free(c);
	/* all zeroes and random text */
	c = calloc(1, 4096);
	T_CHECK(bzimage_parse(c, 4096, &bz, &why) == -ENOEXEC, "zeroes");
	free(c);
}

/* A synthetic vmlinux: ELF64 x86-64 ET_EXEC with a text segment at 16 MiB
 * (entry at its start), a data segment with a bss tail right after it, a
 * PVH note, and the banner in the text. Returns its length. */
static size_t fake_vmlinux(uint8_t *b, size_t cap, int with_note)
{
	static const char banner[] = "Linux version 6.1.99-voidbox (x@y) #1 SMP\n";
	const size_t phoff = 64, text_off = 0x1000, data_off = 0x2000, note_off = 0x3000;
	uint8_t *ph;

	memset(b, 0, cap);
	memcpy(b, "\177ELF", 4);
	b[4] = 2; b[5] = 1; b[6] = 1;
	b[16] = 2;                                  /* ET_EXEC */
	b[18] = 62;                                 /* EM_X86_64 */
	*(uint64_t *)(b + 24) = 0x1000000;          /* e_entry */
	*(uint64_t *)(b + 32) = phoff;
	*(uint16_t *)(b + 54) = 56;
	*(uint16_t *)(b + 56) = with_note ? 3 : 2;
	ph = b + phoff;                             /* text */
	*(uint32_t *)ph = 1; *(uint32_t *)(ph + 4) = 5;
	*(uint64_t *)(ph + 8) = text_off; *(uint64_t *)(ph + 24) = 0x1000000;
	*(uint64_t *)(ph + 32) = 0x1000; *(uint64_t *)(ph + 40) = 0x1000;
	ph += 56;                                   /* data + bss */
	*(uint32_t *)ph = 1; *(uint32_t *)(ph + 4) = 6;
	*(uint64_t *)(ph + 8) = data_off; *(uint64_t *)(ph + 24) = 0x1001000;
	*(uint64_t *)(ph + 32) = 0x1000; *(uint64_t *)(ph + 40) = 0x5000;
	if (with_note) {
		ph += 56;
		*(uint32_t *)ph = 4;
		*(uint64_t *)(ph + 8) = note_off; *(uint64_t *)(ph + 32) = 20;
		*(uint32_t *)(b + note_off) = 4; *(uint32_t *)(b + note_off + 4) = 4;
		*(uint32_t *)(b + note_off + 8) = 18; memcpy(b + note_off + 12, "Xen", 4);
	}
	memcpy(b + text_off + 0x100, banner, sizeof(banner) - 1);
	return 0x4000;
}

static void test_vmlinux(void)
{
	static uint8_t b[0x4000], d[0x4000];
	struct bzimage bz;
	const char *why = NULL;
	size_t n = fake_vmlinux(b, sizeof(b), 1);

	T_REQUIRE(bzimage_parse(b, n, &bz, &why) == 0, "parse: %s", why);
	T_CHECK(bz.elf && bz.n_seg == 2 && bz.entry == 0x1000000 && bz.pvh_entry, "elf %d seg %u entry %llx pvh %d",
		bz.elf, bz.n_seg, (unsigned long long)bz.entry, bz.pvh_entry);
	T_CHECK(bz.pref_address == 0x1000000 && bz.init_size == 0x6000, "placement %llx+%x",
		(unsigned long long)bz.pref_address, bz.init_size);
	T_CHECK(bz.seg[1].filesz == 0x1000 && bz.seg[1].memsz == 0x5000 && bz.seg[1].src == b + 0x2000, "bss tail");
	T_CHECK(!bz.version[0], "the parse read the whole file for the version");
	vmlinux_version(&bz);
	T_CHECK(!strcmp(bz.version, "6.1.99-voidbox"), "version '%s'", bz.version);
	/* the header written for it: boot flag, HdrS, 64-bit entry */
	T_CHECK(bz.elf_hdr[0x1fe - BZ_SETUP_HDR_OFF] == 0x55 && !memcmp(bz.elf_hdr + 0x202 - BZ_SETUP_HDR_OFF, "HdrS", 4) &&
		(bz.elf_hdr[0x236 - BZ_SETUP_HDR_OFF] & BZ_XLF_KERNEL_64), "setup header");
	n = fake_vmlinux(b, sizeof(b), 0);
	T_REQUIRE(bzimage_parse(b, n, &bz, &why) == 0, "no note: %s", why);
	T_CHECK(!bz.pvh_entry, "PVH note found where there is none");

	/* hostile variants: each refused with a reason, never read outside */
	static const struct { size_t off; unsigned width; uint64_t v; const char *what; } bad[] = {
		{ 18, 2, 3, "i386" },
		{ 56, 2, 60000, "program headers beyond the file" },
		{ 64 + 8, 8, 0x3f00, "segment beyond the file" },
		{ 64 + 24, 8, 0x1000, "segment below 1 MiB" },
		{ 64 + 40, 8, 0xfffffffffffff000ULL, "memsz wrapping" },
		{ 64 + 56 + 24, 8, 0x1000800, "overlapping segments" },
		{ 24, 8, 0x1001800, "entry in a non-executable segment" },
		{ 64 + 32, 8, 0x2000, "filesz > memsz" },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		n = fake_vmlinux(d, sizeof(d), 1);
		for (unsigned k = 0; k < bad[i].width; k++)
			d[bad[i].off + k] = (uint8_t)(bad[i].v >> (8 * k));
		why = NULL;
		T_CHECK(bzimage_parse(d, n, &bz, &why) == -ENOEXEC && why, "%s accepted", bad[i].what);
	}
	/* every truncation */
	n = fake_vmlinux(d, sizeof(d), 1);
	for (size_t len = 0; len < 0x2100; len += 7)
		T_CHECK(bzimage_parse(d, len, &bz, &why) != 0 || len >= 0x3000, "truncated to %zu accepted", len);
}

int main(void)
{
	const char *gd = getenv("GUEST_DIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/vmlinuz", gd ? gd : "build/guest");
	if (read_file(path, 64 << 20, &img, &img_len) < 0)
		img = NULL;
	T_RUN(test_real_kernel);
	T_RUN(test_damaged);
	T_RUN(test_vmlinux);
	free(img);
	T_EXIT();
}
