/* The x86-64 boot protocol as the monitor lays it out, checked in fake
 * guest memory with Debian's real bzImage (and the test guest's image
 * where that one is missing): the zero page (header copy, loader fields,
 * command line, initrd, e820, RSDP), the kernel bytes at the load address,
 * initrd placement rules, identity page tables (walked), the GDT, and each
 * bad input's error. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "base/bytes.h"
#include "kvm/boot.h"
#include "kvm/layout.h"
#include "kvm_guest.h"
#include "t.h"

static uint8_t *img;
static size_t img_len;


struct fake {
	struct gmem m;
	uint64_t size;
};

/* Fake guest RAM of size bytes, laid out as the VM would map it. */
static int fake_init(struct fake *f, uint64_t size)
{
	uint64_t gpa[2], sz[2];
	unsigned n = boot_ram_ranges(size, gpa, sz);

	memset(f, 0, sizeof(*f));
	f->size = size;
	for (unsigned i = 0; i < n; i++) {
		void *p = mmap(NULL, sz[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		struct gmem_region r = { .gpa = gpa[i], .size = sz[i], .hva = p, .map_base = p, .map_len = sz[i] };
		if (p == MAP_FAILED || gmem_add(&f->m, &r))
			return -ENOMEM;
	}
	return 0;
}

/* Walks the identity page tables for virtual address va. Returns the
 * physical address, or ~0 when unmapped. */
static uint64_t walk(const struct gmem *m, uint64_t va)
{
	const uint8_t *pml4 = gmem_get(m, KVM_PML4_ADDR, 4096);
	uint64_t e = ld_le64(pml4 + 8 * ((va >> 39) & 511));
	const uint8_t *t;

	if (!(e & 1) || !(t = gmem_get(m, e & ~0xfffULL & ((1ULL << 52) - 1), 4096)))
		return ~0ULL;
	e = ld_le64(t + 8 * ((va >> 30) & 511)); /* PDPT */
	if (!(e & 1))
		return ~0ULL;
	if (e & 0x80)
		return (e & ~((1ULL << 30) - 1) & ((1ULL << 52) - 1)) | (va & ((1ULL << 30) - 1));
	if (!(t = gmem_get(m, e & ~0xfffULL & ((1ULL << 52) - 1), 4096)))
		return ~0ULL;
	e = ld_le64(t + 8 * ((va >> 21) & 511)); /* PD */
	if (!(e & 1) || !(e & 2))
		return ~0ULL;
	if (e & 0x80)
		return (e & ~((1ULL << 21) - 1) & ((1ULL << 52) - 1)) | (va & ((1ULL << 21) - 1));
	return ~0ULL; /* we only make 2 MiB pages */
}

static void test_layout(void)
{
	struct bzimage bz;
	struct boot_info bi;
	struct acpi_window w = { KVM_MMIO_BASE, KVM_MMIO_SIZE, KVM_MMIO_GSI_BASE };
	struct boot_cfg c = { .bz = &bz, .mem_size = 256ULL << 20, .cmdline = "console=ttyS0 quiet",
			      .acpi = { .cpus = 2, .win = &w, .n_win = 1 } };
	static uint8_t initrd[3 << 20];
	const char *why = "";
	struct fake f;
	const uint8_t *zp;

	T_REQUIRE(bzimage_parse(img, img_len, &bz, &why) == 0, "parse: %s", why);
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7);
	c.initrd = initrd;
	c.initrd_size = sizeof(initrd) - 123; /* not a page multiple */
	T_REQUIRE(fake_init(&f, c.mem_size) == 0, "fake memory");
	T_REQUIRE(boot_load(&f.m, &c, &bi, &why) == 0, "boot_load: %s", why);
	zp = gmem_get(&f.m, KVM_ZERO_PAGE_ADDR, 4096);
	/* entry and kernel */
	T_CHECK(bi.zero_page == KVM_ZERO_PAGE_ADDR, "RSI");
	T_CHECK(bi.kernel_addr % bz.kernel_alignment == 0 && bi.kernel_addr >= 0x100000, "load address %llx",
		(unsigned long long)bi.kernel_addr);
	T_CHECK(bi.entry == bi.kernel_addr + 0x200, "entry is startup_64");
	T_CHECK(!memcmp(gmem_get(&f.m, bi.kernel_addr, bz.kernel_size), bz.kernel, bz.kernel_size), "kernel bytes");
	/* zero page: the header copy and the loader's fields */
	T_CHECK(ld_le16(zp + BP_BOOT_FLAG) == 0xaa55 && !memcmp(zp + BP_HEADER, "HdrS", 4), "boot_flag/HdrS");
	T_CHECK(ld_le16(zp + 0x206) == bz.protocol, "protocol copied");
	T_CHECK(ld_le32(zp + 0x260) == bz.init_size && ld_le32(zp + 0x230) == bz.kernel_alignment, "init_size/alignment copied");
	T_CHECK(zp[BP_TYPE_OF_LOADER] == 0xff, "type_of_loader");
	T_CHECK(zp[0x211] & 1, "LOADED_HIGH");
	T_CHECK(ld_le32(zp + BP_CMD_LINE_PTR) == KVM_CMDLINE_ADDR && ld_le32(zp + BP_EXT_CMD_LINE_PTR) == 0, "cmd_line_ptr");
	T_CHECK(!strcmp(gmem_get(&f.m, KVM_CMDLINE_ADDR, 64), "console=ttyS0 quiet"), "command line bytes");
	T_CHECK(ld_le64(zp + BP_ACPI_RSDP) == KVM_ACPI_ADDR, "acpi_rsdp_addr");
	T_CHECK(!memcmp(gmem_get(&f.m, KVM_ACPI_ADDR, 8), "RSD PTR ", 8), "RSDP in memory");
	/* the reset stub a "BIOS reboot" lands on: mov al,0x42; mov dx,0x602;
	 * out dx,al (the FADT reset register) */
	T_CHECK(!memcmp(gmem_get(&f.m, KVM_RESET_STUB_ADDR, 6), "\xb0\x42\xba\x02\x06\xee", 6), "reset stub");
	/* initrd: page aligned, above the kernel's init_size, below
	 * initrd_addr_max and the end of RAM, bytes intact */
	uint64_t ia = ld_le32(zp + BP_RAMDISK_IMAGE) | (uint64_t)ld_le32(zp + BP_EXT_RAMDISK_IMAGE) << 32;
	uint64_t is = ld_le32(zp + BP_RAMDISK_SIZE) | (uint64_t)ld_le32(zp + BP_EXT_RAMDISK_SIZE) << 32;
	T_CHECK(ia == bi.initrd_addr && is == c.initrd_size, "ramdisk fields");
	T_CHECK(ia % 4096 == 0 && ia >= bi.kernel_addr + bz.init_size, "initrd at %llx overlaps the kernel",
		(unsigned long long)ia);
	T_CHECK(ia + is <= c.mem_size && ia + is - 1 <= bz.initrd_addr_max, "initrd past the limits");
	T_CHECK(c.mem_size - (ia + is) < 4096, "initrd not placed as high as possible");
	T_CHECK(!memcmp(gmem_get(&f.m, ia, is), initrd, is), "initrd bytes");
	/* e820 in the zero page */
	T_CHECK(zp[BP_E820_ENTRIES] == 4, "%u e820 entries", zp[BP_E820_ENTRIES]);
	static const uint64_t want[4][3] = {
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xe0000, 0x20000, 2 }, { 0x100000, (256 << 20) - 0x100000, 1 },
	};
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		T_CHECK(ld_le64(e) == want[i][0] && ld_le64(e + 8) == want[i][1] && ld_le32(e + 16) == want[i][2],
			"e820[%u] = %llx+%llx type %u", i, (unsigned long long)ld_le64(e), (unsigned long long)ld_le64(e + 8),
			ld_le32(e + 16));
	}
	/* page tables: identity for everything the kernel touches early, and
	 * for the whole first 4 GiB */
	const uint64_t vas[] = { 0, KVM_ZERO_PAGE_ADDR, KVM_CMDLINE_ADDR, bi.entry, ia, ia + is - 1, KVM_ACPI_ADDR,
				 KVM_MMIO_BASE + 0x50, KVM_IOAPIC_ADDR, KVM_LAPIC_ADDR, 0xffffffff };
	for (unsigned i = 0; i < ARRAY_SIZE(vas); i++)
		T_CHECK(walk(&f.m, vas[i]) == vas[i], "va %llx maps to %llx", (unsigned long long)vas[i],
			(unsigned long long)walk(&f.m, vas[i]));
	T_CHECK(walk(&f.m, 0x100000000ULL) == ~0ULL, "beyond 4 GiB should be unmapped");
	/* GDT: __BOOT_CS 64-bit code, __BOOT_DS writable data, both present */
	const uint8_t *gdt = gmem_get(&f.m, KVM_GDT_ADDR, 40);
	uint64_t cs = ld_le64(gdt + 0x10), ds = ld_le64(gdt + 0x18);
	T_CHECK(((cs >> 40) & 0x9a) == 0x9a && (cs >> 53 & 1) && !(cs >> 54 & 1), "__BOOT_CS %016llx", (unsigned long long)cs);
	T_CHECK(((ds >> 40) & 0x92) == 0x92 && !((ds >> 43) & 1), "__BOOT_DS %016llx", (unsigned long long)ds);
	T_CHECK(ld_le64(gdt) == 0, "null descriptor");
	gmem_clear(&f.m);
}

static void test_high_memory(void)
{
	struct e820_entry e[BOOT_MAX_E820];
	unsigned n = boot_e820(5ULL << 30, e);

	T_CHECK(n == 5, "%u entries", n);
	T_CHECK(e[3].addr == 0x100000 && e[3].addr + e[3].size == KVM_LOW_RAM_END, "low RAM ends at 3 GiB");
	T_CHECK(e[4].addr == 1ULL << 32 && e[4].size == 2ULL << 30 && e[4].type == E820_RAM, "high RAM");
	T_CHECK(KVM_MMIO_BASE >= KVM_LOW_RAM_END && KVM_MMIO_ADDR(KVM_MMIO_MAX) <= KVM_IOAPIC_ADDR,
		"windows between RAM and the IOAPIC");
}

static void test_bad_inputs(void)
{
	struct bzimage bz;
	struct boot_info bi;
	struct boot_cfg c = { .bz = &bz, .acpi = { .cpus = 1 } };
	const char *why = "";
	char *longcl;
	struct fake f;

	T_REQUIRE(bzimage_parse(img, img_len, &bz, &why) == 0, "parse");
	/* memory too small for init_size */
	c.mem_size = ((0x1000000 + bz.init_size) & ~0xfffULL) - 4096;
	T_REQUIRE(fake_init(&f, c.mem_size) == 0, "fake memory");
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == -EFBIG && strstr(why, "kernel too large"), "small memory: %s", why);
	gmem_clear(&f.m);
	/* initrd that does not fit above the kernel */
	c.mem_size = 0x1000000 + bz.init_size + (4ULL << 20);
	c.mem_size &= ~0xfffULL;
	T_REQUIRE(fake_init(&f, c.mem_size) == 0, "fake memory");
	c.initrd = img;
	c.initrd_size = 5 << 20;
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == -EFBIG && strstr(why, "initrd too large"), "big initrd: %s", why);
	c.initrd_size = 3 << 20;
	c.initrd = calloc(1, c.initrd_size);
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == 0, "initrd that fits: %s", why);
	free((void *)c.initrd);
	c.initrd = NULL;
	c.initrd_size = 0;
	/* command line longer than cmdline_size */
	longcl = malloc(bz.cmdline_size + 2);
	memset(longcl, 'x', bz.cmdline_size + 1);
	longcl[bz.cmdline_size + 1] = 0;
	c.cmdline = longcl;
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == -E2BIG, "long command line: %s", why);
	longcl[bz.cmdline_size] = 0;
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == 0, "command line of exactly cmdline_size: %s", why);
	free(longcl);
	c.cmdline = NULL;
	/* odd memory sizes */
	c.mem_size = (256ULL << 20) + 1;
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == -EINVAL, "unaligned memory size");
	c.mem_size = 8 << 20;
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == -EINVAL, "8 MiB");
	/* too many CPUs for the MADT */
	c.mem_size = f.size;
	c.acpi.cpus = 300;
	T_CHECK(boot_load(&f.m, &c, &bi, &why) == -EINVAL, "300 CPUs: %s", why);
	gmem_clear(&f.m);
}

static void test_cmdline(void)
{
	struct acpi_window w[2] = { { 0xfeb00000, 0x200, 5 }, { 0xfeb00200, 0x200, 6 } };
	struct acpi_cfg a = { .cpus = 1, .win = w, .n_win = 2 };
	char buf[128];

	T_CHECK(boot_cmdline(buf, sizeof(buf), "quiet", &a) > 0 &&
			!strcmp(buf, "quiet virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=512@0xfeb00200:6"),
		"%s", buf);
	T_CHECK(boot_cmdline(buf, sizeof(buf), NULL, &a) > 0 && !strncmp(buf, "virtio_mmio.device=512@", 23), "%s", buf);
	T_CHECK(boot_cmdline(buf, 40, "quiet", &a) == -E2BIG, "too small a buffer");
}

int main(void)
{
	const char *gd = getenv("GUEST_DIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/vmlinuz", gd ? gd : "build/guest");
	if (read_file(path, 64 << 20, &img, &img_len)) {
		printf("# no %s: using the test guest's bzImage\n", path);
		img = tg_bzimage(&img_len);
	}
	T_RUN(test_layout);
	T_RUN(test_high_memory);
	T_RUN(test_bad_inputs);
	T_RUN(test_cmdline);
	free(img);
	T_EXIT();
}
