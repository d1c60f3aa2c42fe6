/* ACPI tables for a hardware-reduced x86 guest, the way qemu's microvm
 * describes itself to Linux: RSDP -> XSDT -> FADT (hardware-reduced, with
 * reset and sleep registers on I/O ports) -> DSDT, plus a MADT listing every
 * vCPU's local APIC and the in-kernel IOAPIC. The DSDT (AML built here byte
 * by byte) has the COM1 UART and one LNRO0005 device per virtio-mmio window,
 * each with its memory range and interrupt: that is how a stock distro
 * kernel without virtio_mmio.device= finds the devices. */
#ifndef VOIDBOX_KVM_ACPI_H
#define VOIDBOX_KVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_TABLES 5 /* RSDP, XSDT, FACP, APIC, DSDT */

struct acpi_window {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

struct acpi_cfg {
	unsigned cpus;
	const struct acpi_window *win;
	unsigned n_win;
};

/* Where each table was put: for --dump-boot and the tests. */
struct acpi_table {
	char sig[5];     /* "RSDP", "XSDT", "FACP", "APIC", "DSDT" */
	uint64_t gpa;
	uint32_t off;    /* from the start of the buffer */
	uint32_t len;
};

struct acpi_tables {
	unsigned n;
	struct acpi_table t[ACPI_MAX_TABLES];
	uint64_t rsdp_gpa;
	uint32_t used; /* bytes of the buffer used */
};

/* Builds every table into buf (cap bytes, zeroed here), which the guest will
 * see at guest-physical gpa (16-byte aligned). Returns 0, -EINVAL for a bad
 * cfg (no CPUs, more than 255 CPUs), -ENOSPC when cap is too small. */
int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_cfg *cfg,
	       struct acpi_tables *out);

/* The 8-bit sum of len bytes (0 for a table with a correct checksum). */
uint8_t acpi_sum(const uint8_t *p, size_t len);

#endif
