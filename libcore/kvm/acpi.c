/* ACPI table builder; see kvm/acpi.h. Table layouts follow the ACPI 6.x
 * specification (5.2.5 RSDP, 5.2.8 XSDT, 5.2.9 FADT, 5.2.12 MADT) and the
 * DSDT is AML (chapter 20) written by a tiny emitter: each named object with
 * a PkgLength is opened with 4 bytes reserved for its length and closed
 * once its body is known, when the length is encoded in as few bytes as it
 * needs and the body moved down. The I/O ports and addresses come from
 * kvm/layout.h, so the tables always describe what vm.c emulates. */
#include "kvm/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "kvm/layout.h"

#define ACPI_HDR_LEN 36
#define FADT_LEN 268     /* revision 5: ends with the sleep status register */
#define FADT_REV 5
#define FADT_F_TMR_VAL_EXT (1u << 8)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED (1u << 20)
#define FADT_BOOT_NO_VGA (1u << 2)
#define FADT_BOOT_NO_CMOS_RTC (1u << 5)
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_EXT 0x5b
#define AML_DEVICE 0x82
#define AML_ROOT '\\'

uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}


/* Writes a standard table header; length and checksum are set by
 * table_finish(). */
static void table_header(uint8_t *t, const char *sig, uint8_t rev)
{
	memcpy(t, sig, 4);
	t[8] = rev;
	memcpy(t + 10, "VOIDBX", 6);
	memcpy(t + 16, "VOIDBOX ", 8);
	st_le32(t + 24, 1);
	memcpy(t + 28, "VDBX", 4);
	st_le32(t + 32, 1);
}

/* Sets the table's length and makes its bytes sum to zero. */
static void table_finish(uint8_t *t, uint32_t len)
{
	st_le32(t + 4, len);
	t[9] = 0;
	t[9] = (uint8_t)(0 - acpi_sum(t, len));
}

/* A Generic Address Structure for one byte-wide I/O port. */
static void gas_port(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;  /* register bit width */
	g[2] = 0;  /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	st_le64(g + 4, port);
}

/* ---- AML emitter ------------------------------------------------------ */

struct aml {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

/* Appends n bytes; past the capacity nothing more is written and the
 * emitter reports overflow. */
static void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->overflow || a->cap - a->len < n) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b) { aml_bytes(a, &b, 1); }

/* An integer in the shortest encoding (ZeroOp, OneOp, Byte..QWordConst). */
static void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[9];
	unsigned n;

	if (v <= 1) {
		aml_byte(a, (uint8_t)v);
		return;
	}
	if (v <= 0xff)
		b[0] = AML_BYTE, n = 1;
	else if (v <= 0xffff)
		b[0] = AML_WORD, n = 2;
	else if (v <= 0xffffffff)
		b[0] = AML_DWORD, n = 4;
	else
		b[0] = AML_QWORD, n = 8;
	st_le64(b + 1, v); /* the low n bytes are the value */
	aml_bytes(a, b, n + 1);
}

/* A String constant (NUL-terminated ASCII). */
static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

/* Name(seg, ...): the value is emitted by the caller next. seg is a 4-char
 * name segment, optionally preceded by '\\'. */
static void aml_name(struct aml *a, const char *seg)
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, seg, strlen(seg));
}

/* Emits op (1 or 2 bytes) and reserves a 4-byte PkgLength. Returns the
 * offset of the reservation for aml_close(). */
static size_t aml_open(struct aml *a, const uint8_t *op, size_t oplen)
{
	static const uint8_t zero4[4];
	size_t pos;

	aml_bytes(a, op, oplen);
	pos = a->len;
	aml_bytes(a, zero4, 4);
	return pos;
}

/* Encodes the PkgLength of everything written since aml_open() in as few
 * bytes as it takes, moving the body down over the unused bytes. */
static void aml_close(struct aml *a, size_t pos)
{
	size_t body, total;
	unsigned n;

	if (a->overflow)
		return;
	body = a->len - pos - 4;
	if (body + 1 < 0x40)
		n = 1;
	else if (body + 2 < (1u << 12))
		n = 2;
	else if (body + 3 < (1u << 20))
		n = 3;
	else
		n = 4;
	total = body + n;
	memmove(a->p + pos + n, a->p + pos + 4, body);
	if (n == 1) {
		a->p[pos] = (uint8_t)total;
	} else {
		a->p[pos] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			a->p[pos + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	a->len -= 4 - n;
}

/* Name(_CRS, ResourceTemplate() { res[0..n) EndTag }) */
static void aml_crs(struct aml *a, const uint8_t *res, size_t n)
{
	static const uint8_t op = AML_BUFFER, end[2] = { 0x79, 0x00 };
	size_t pos;

	aml_name(a, "_CRS");
	pos = aml_open(a, &op, 1);
	aml_int(a, n + sizeof(end));
	aml_bytes(a, res, n);
	aml_bytes(a, end, sizeof(end));
	aml_close(a, pos);
}

/* Device(COM1): the 8250 the monitor emulates, IRQ 4. */
static void aml_com1(struct aml *a)
{
	static const uint8_t op[2] = { AML_EXT, AML_DEVICE };
	uint8_t res[8 + 3] = {
		0x47, 0x01, /* IO(Decode16, min, max, align 0, len 8) */
		KVM_PORT_COM1 & 0xff, KVM_PORT_COM1 >> 8,
		KVM_PORT_COM1 & 0xff, KVM_PORT_COM1 >> 8, 0x00, 0x08,
		0x22, (1u << KVM_COM1_IRQ) & 0xff, (1u << KVM_COM1_IRQ) >> 8, /* IRQNoFlags */
	};
	size_t pos = aml_open(a, op, 2);

	aml_bytes(a, "COM1", 4);
	aml_name(a, "_HID");
	aml_byte(a, AML_DWORD); /* EisaId("PNP0501") */
	aml_bytes(a, "\x41\xd0\x05\x01", 4);
	aml_name(a, "_UID");
	aml_int(a, 1);
	aml_name(a, "_STA");
	aml_int(a, 0x0f);
	aml_crs(a, res, sizeof(res));
	aml_close(a, pos);
}

/* Device(VRnn): one virtio-mmio window, LNRO0005, edge-triggered active-high
 * interrupt (delivered through a KVM irqfd, which pulses the line). */
static void aml_virtio(struct aml *a, unsigned i, const struct acpi_window *w)
{
	static const uint8_t op[2] = { AML_EXT, AML_DEVICE };
	uint8_t res[12 + 9];
	char name[8];
	size_t pos;

	res[0] = 0x86; /* Memory32Fixed(ReadWrite, base, size) */
	st_le16(res + 1, 9);
	res[3] = 1;
	st_le32(res + 4, (uint32_t)w->base);
	st_le32(res + 8, w->size);
	res[12] = 0x89; /* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) */
	st_le16(res + 13, 6);
	res[15] = 0x01 | 0x02;
	res[16] = 1;
	st_le32(res + 17, w->gsi);

	pos = aml_open(a, op, 2);
	snprintf(name, sizeof(name), "VR%02u", i % 100);
	aml_bytes(a, name, 4);
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_UID");
	aml_int(a, i);
	aml_name(a, "_CCA");
	aml_int(a, 1);
	aml_crs(a, res, sizeof(res));
	aml_close(a, pos);
}

/* The DSDT body: Scope(\_SB) { COM1, VR00.. } and Name(\_S5, Package(4)
 * {5, 0, 0, 0}), which makes Linux use the FADT sleep register for
 * poweroff. Returns bytes written, or 0 when cap is too small. */
static size_t dsdt_body(uint8_t *p, size_t cap, const struct acpi_cfg *cfg)
{
	static const uint8_t scope = AML_SCOPE, pkg = AML_PACKAGE;
	struct aml a = { .p = p, .cap = cap };
	size_t pos;

	pos = aml_open(&a, &scope, 1);
	aml_bytes(&a, "\\_SB_", 5);
	aml_com1(&a);
	for (unsigned i = 0; i < cfg->n_win; i++)
		aml_virtio(&a, i, &cfg->win[i]);
	aml_close(&a, pos);

	aml_name(&a, "\\_S5_");
	pos = aml_open(&a, &pkg, 1);
	aml_byte(&a, 4);
	aml_int(&a, KVM_SLP_TYP_S5);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_close(&a, pos);
	return a.overflow ? 0 : a.len;
}

/* ---- tables ------------------------------------------------------------ */

struct builder {
	uint8_t *buf;
	size_t cap, used;
	uint64_t gpa;
	struct acpi_tables *out;
};

/* Reserves len bytes, 16-byte aligned, for table sig. Returns a pointer
 * into the buffer or NULL when it is full. */
static uint8_t *table_alloc(struct builder *b, const char *sig, size_t len)
{
	size_t off = (b->used + 15) & ~(size_t)15;
	struct acpi_table *t;

	if (off > b->cap || b->cap - off < len || b->out->n >= ACPI_MAX_TABLES)
		return NULL;
	b->used = off + len;
	t = &b->out->t[b->out->n++];
	memcpy(t->sig, sig, 4);
	t->sig[4] = 0;
	t->off = (uint32_t)off;
	t->gpa = b->gpa + off;
	t->len = (uint32_t)len;
	return b->buf + off;
}

/* The guest-physical address of table t in the buffer. */
static uint64_t table_gpa(const struct builder *b, const uint8_t *t)
{
	return b->gpa + (uint64_t)(t - b->buf);
}

/* Each build_*() places its table and returns it, or NULL when it does not
 * fit. */
static uint8_t *build_dsdt(struct builder *b, const struct acpi_cfg *cfg)
{
	uint8_t tmp[4096];
	size_t n = dsdt_body(tmp, sizeof(tmp), cfg);
	uint8_t *t;

	if (!n || !(t = table_alloc(b, "DSDT", ACPI_HDR_LEN + n)))
		return NULL;
	table_header(t, "DSDT", 2);
	memcpy(t + ACPI_HDR_LEN, tmp, n);
	table_finish(t, (uint32_t)(ACPI_HDR_LEN + n));
	return t;
}

static uint8_t *build_fadt(struct builder *b, uint64_t dsdt)
{
	uint8_t *t = table_alloc(b, "FACP", FADT_LEN);

	if (!t)
		return NULL;
	table_header(t, "FACP", FADT_REV);
	st_le32(t + 40, (uint32_t)dsdt);
	st_le16(t + 109, FADT_BOOT_NO_VGA | FADT_BOOT_NO_CMOS_RTC);
	/* The PM timer: a clock a guest that does not know it runs on KVM
	 * (no kvm-clock: `nopv`, or a kernel without KVM_GUEST) calibrates its
	 * TSC against; the machine has no PIT interrupt (hardware-reduced) and
	 * no HPET. */
	st_le32(t + 76, KVM_PORT_PM_TIMER);
	t[91] = 4; /* PM_TMR_LEN */
	gas_port(t + 208, KVM_PORT_PM_TIMER);
	t[209] = 32; /* its register is 32 bits wide */
	t[211] = 3;  /* dword access */
	st_le32(t + 112, FADT_F_HW_REDUCED | FADT_F_RESET_REG_SUP | FADT_F_TMR_VAL_EXT);
	gas_port(t + 116, KVM_PORT_RESET);
	t[128] = KVM_RESET_VALUE;
	t[131] = 1; /* FADT minor version: 5.1 */
	st_le64(t + 140, dsdt);
	gas_port(t + 244, KVM_PORT_SLEEP_CTL);
	gas_port(t + 256, KVM_PORT_SLEEP_STS);
	table_finish(t, FADT_LEN);
	return t;
}

static uint8_t *build_madt(struct builder *b, const struct acpi_cfg *cfg)
{
	size_t len = ACPI_HDR_LEN + 8 + 8 * (size_t)cfg->cpus + 12 + 6;
	uint8_t *t = table_alloc(b, "APIC", len), *e;

	if (!t)
		return NULL;
	table_header(t, "APIC", 1);
	st_le32(t + 36, (uint32_t)KVM_LAPIC_ADDR);
	st_le32(t + 40, 1); /* PCAT_COMPAT: the in-kernel 8259 pair is there */
	e = t + 44;
	for (unsigned i = 0; i < cfg->cpus; i++, e += 8) {
		e[0] = 0; /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC ID, as vcpu.c sets it */
		st_le32(e + 4, 1);   /* enabled */
	}
	e[0] = 1; /* I/O APIC, GSIs from 0 */
	e[1] = 12;
	e[2] = 0;
	st_le32(e + 4, (uint32_t)KVM_IOAPIC_ADDR);
	st_le32(e + 8, 0);
	e += 12;
	e[0] = 4; /* Local APIC NMI on LINT1 of every processor */
	e[1] = 6;
	e[2] = 0xff;
	st_le16(e + 3, 0);
	e[5] = 1;
	table_finish(t, (uint32_t)len);
	return t;
}

static uint8_t *build_xsdt(struct builder *b, const uint8_t *const *tabs, unsigned n)
{
	size_t len = ACPI_HDR_LEN + 8 * (size_t)n;
	uint8_t *t = table_alloc(b, "XSDT", len);

	if (!t)
		return NULL;
	table_header(t, "XSDT", 1);
	for (unsigned i = 0; i < n; i++)
		st_le64(t + ACPI_HDR_LEN + 8 * i, table_gpa(b, tabs[i]));
	table_finish(t, (uint32_t)len);
	return t;
}

int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_cfg *cfg,
	       struct acpi_tables *out)
{
	struct builder b = { .buf = buf, .cap = cap, .gpa = gpa, .out = out };
	uint8_t *rsdp, *dsdt, *fadt, *madt, *xsdt;
	const uint8_t *list[2];

	memset(out, 0, sizeof(*out));
	if (cfg->cpus == 0 || cfg->cpus > 255 || (gpa & 15))
		return -EINVAL;
	for (unsigned i = 0; i < cfg->n_win; i++)
		if (cfg->win[i].base + cfg->win[i].size > 0x100000000ULL)
			return -EINVAL;
	memset(buf, 0, cap);
	/* The RSDP first, at the 16-byte-aligned start Linux scans from. */
	if (!(rsdp = table_alloc(&b, "RSDP", 36)) || !(dsdt = build_dsdt(&b, cfg)) ||
	    !(fadt = build_fadt(&b, table_gpa(&b, dsdt))) || !(madt = build_madt(&b, cfg)))
		return -ENOSPC;
	list[0] = fadt;
	list[1] = madt;
	if (!(xsdt = build_xsdt(&b, list, 2)))
		return -ENOSPC;
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "VOIDBX", 6);
	rsdp[15] = 2; /* revision: ACPI 2.0+, XSDT */
	st_le32(rsdp + 20, 36);
	st_le64(rsdp + 24, table_gpa(&b, xsdt));
	rsdp[8] = (uint8_t)(0 - acpi_sum(rsdp, 20));
	rsdp[32] = (uint8_t)(0 - acpi_sum(rsdp, 36));
	out->rsdp_gpa = gpa;
	out->used = (uint32_t)b.used;
	return 0;
}
