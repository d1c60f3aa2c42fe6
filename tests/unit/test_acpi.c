/* ACPI tables: checksums, the RSDP -> XSDT -> FADT/MADT -> DSDT chain,
 * the hardware-reduced FADT's registers, one MADT local APIC per vCPU, and
 * one LNRO0005 device per virtio-mmio window in the DSDT with its memory
 * range and interrupt (found as the exact resource bytes). iasl decompiles
 * the same tables in tests/kvm-acpi.sh. */
#include <errno.h>

#include "base/bytes.h"
#include "kvm/acpi.h"
#include "kvm/layout.h"
#include "t.h"

#define GPA 0xe0000
static uint8_t buf[0x20000];


/* The table at guest address gpa, or NULL. */
static const uint8_t *at(uint64_t gpa)
{
	return gpa >= GPA && gpa - GPA < sizeof(buf) ? buf + (gpa - GPA) : NULL;
}

static size_t count(const uint8_t *p, size_t len, const void *pat, size_t plen)
{
	size_t n = 0;
	for (size_t i = 0; i + plen <= len; i++)
		n += !memcmp(p + i, pat, plen);
	return n;
}

static void check_tables(unsigned cpus, unsigned n_win)
{
	struct acpi_window win[KVM_MMIO_MAX];
	struct acpi_cfg cfg = { .cpus = cpus, .win = win, .n_win = n_win };
	struct acpi_tables t;
	const uint8_t *rsdp, *xsdt, *fadt = NULL, *madt = NULL, *dsdt;

	for (unsigned i = 0; i < n_win; i++)
		win[i] = (struct acpi_window){ KVM_MMIO_ADDR(i), KVM_MMIO_SIZE, KVM_MMIO_GSI_BASE + i };
	T_REQUIRE(acpi_build(buf, sizeof(buf), GPA, &cfg, &t) == 0, "build cpus=%u windows=%u", cpus, n_win);
	T_CHECK(t.n == 5 && t.rsdp_gpa == GPA, "%u tables, rsdp %llx", t.n, (unsigned long long)t.rsdp_gpa);
	for (unsigned i = 0; i < t.n; i++) {
		T_CHECK(t.t[i].gpa % 16 == 0, "%s not 16-byte aligned", t.t[i].sig);
		if (strcmp(t.t[i].sig, "RSDP"))
			T_CHECK(acpi_sum(buf + t.t[i].off, t.t[i].len) == 0, "%s checksum", t.t[i].sig);
		if (strcmp(t.t[i].sig, "RSDP"))
			T_CHECK(ld_le32(buf + t.t[i].off + 4) == t.t[i].len, "%s length", t.t[i].sig);
	}
	rsdp = buf;
	T_REQUIRE(!memcmp(rsdp, "RSD PTR ", 8), "RSDP signature");
	T_CHECK(acpi_sum(rsdp, 20) == 0 && acpi_sum(rsdp, 36) == 0, "RSDP checksums");
	T_CHECK(rsdp[15] == 2 && ld_le32(rsdp + 20) == 36, "RSDP revision/length");
	xsdt = at(ld_le64(rsdp + 24));
	T_REQUIRE(xsdt && !memcmp(xsdt, "XSDT", 4), "XSDT");
	T_REQUIRE(ld_le32(xsdt + 4) == 36 + 16, "XSDT has 2 entries");
	for (unsigned i = 0; i < 2; i++) {
		const uint8_t *e = at(ld_le64(xsdt + 36 + 8 * i));
		T_REQUIRE(e, "XSDT entry %u outside the tables", i);
		if (!memcmp(e, "FACP", 4))
			fadt = e;
		if (!memcmp(e, "APIC", 4))
			madt = e;
	}
	T_REQUIRE(fadt && madt, "XSDT lacks FACP or APIC");
	/* FADT: hardware-reduced, reset register, sleep registers, DSDT */
	T_CHECK(ld_le32(fadt + 4) == 268 && fadt[8] == 5, "FADT length/revision");
	T_CHECK(ld_le32(fadt + 112) & (1u << 20), "FADT not HW_REDUCED_ACPI");
	T_CHECK(ld_le32(fadt + 112) & (1u << 10), "FADT not RESET_REG_SUP");
	T_CHECK(fadt[116] == 1 && ld_le64(fadt + 120) == KVM_PORT_RESET && fadt[128] == KVM_RESET_VALUE, "reset register");
	T_CHECK(fadt[244] == 1 && ld_le64(fadt + 248) == KVM_PORT_SLEEP_CTL, "sleep control register");
	T_CHECK(fadt[256] == 1 && ld_le64(fadt + 260) == KVM_PORT_SLEEP_STS, "sleep status register");
	dsdt = at(ld_le64(fadt + 140));
	T_REQUIRE(dsdt && !memcmp(dsdt, "DSDT", 4) && ld_le32(fadt + 40) == ld_le64(fadt + 140), "FADT -> DSDT");
	/* MADT: one enabled local APIC per vCPU with APIC ID = index, IOAPIC */
	unsigned lapics = 0, ioapics = 0;
	for (const uint8_t *e = madt + 44; e < madt + ld_le32(madt + 4); e += e[1]) {
		T_REQUIRE(e[1] >= 2, "MADT entry length 0");
		if (e[0] == 0) {
			T_CHECK(e[2] == lapics && e[3] == lapics && ld_le32(e + 4) == 1, "local APIC %u", lapics);
			lapics++;
		} else if (e[0] == 1) {
			T_CHECK(ld_le32(e + 4) == KVM_IOAPIC_ADDR && ld_le32(e + 8) == 0, "IOAPIC");
			ioapics++;
		}
	}
	T_CHECK(lapics == cpus && ioapics == 1, "MADT: %u local APICs for %u CPUs, %u IOAPICs", lapics, cpus, ioapics);
	T_CHECK(ld_le32(madt + 36) == KVM_LAPIC_ADDR, "MADT local APIC address");
	/* DSDT: LNRO0005 devices with their exact resources, COM1, _S5 */
	size_t dl = ld_le32(dsdt + 4);
	T_CHECK(count(dsdt, dl, "LNRO0005", 8) == n_win, "%zu LNRO0005 for %u windows", count(dsdt, dl, "LNRO0005", 8), n_win);
	for (unsigned i = 0; i < n_win; i++) {
		uint8_t res[21] = { 0x86, 9, 0, 1 };
		uint32_t base = (uint32_t)win[i].base;
		memcpy(res + 4, &base, 4);
		memcpy(res + 8, &win[i].size, 4);
		res[12] = 0x89, res[13] = 6, res[14] = 0, res[15] = 3, res[16] = 1;
		memcpy(res + 17, &win[i].gsi, 4);
		T_CHECK(count(dsdt, dl, res, sizeof(res)) == 1, "window %u resources not in the DSDT", i);
	}
	T_CHECK(count(dsdt, dl, "\x41\xd0\x05\x01", 4) == 1, "COM1 PNP0501");
	T_CHECK(count(dsdt, dl, "_S5_", 4) == 1, "_S5");
}

static void test_tables(void)
{
	static const unsigned cpus[] = { 1, 2, 4, 64, 255 }, wins[] = { 0, 1, 2, 16 };
	for (unsigned i = 0; i < 5; i++)
		for (unsigned j = 0; j < 4; j++)
			check_tables(cpus[i], wins[j]);
}

static void test_bad_cfg(void)
{
	struct acpi_window w = { 0xfffff000, 0x2000, 5 };
	struct acpi_cfg cfg = { .cpus = 0 };
	struct acpi_tables t;

	T_CHECK(acpi_build(buf, sizeof(buf), GPA, &cfg, &t) == -EINVAL, "0 CPUs");
	cfg.cpus = 256;
	T_CHECK(acpi_build(buf, sizeof(buf), GPA, &cfg, &t) == -EINVAL, "256 CPUs");
	cfg.cpus = 1;
	T_CHECK(acpi_build(buf, sizeof(buf), GPA + 8, &cfg, &t) == -EINVAL, "unaligned base");
	T_CHECK(acpi_build(buf, 200, GPA, &cfg, &t) == -ENOSPC, "tiny buffer");
	cfg.win = &w;
	cfg.n_win = 1;
	T_CHECK(acpi_build(buf, sizeof(buf), GPA, &cfg, &t) == -EINVAL, "window past 4 GiB");
}

int main(void)
{
	T_RUN(test_tables);
	T_RUN(test_bad_cfg);
	T_EXIT();
}
