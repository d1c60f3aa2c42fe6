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

int main(void)
{
	const char *gd = getenv("GUEST_DIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/vmlinuz", gd ? gd : "build/guest");
	if (read_file(path, 64 << 20, &img, &img_len) < 0)
		img = NULL;
	T_RUN(test_real_kernel);
	T_RUN(test_damaged);
	free(img);
	T_EXIT();
}
