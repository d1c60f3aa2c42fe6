/* vCPUs: creation (CPUID from KVM_GET_SUPPORTED_CPUID with this vCPU's APIC
 * ID and the CPU count, the MSRs and FPU state Linux expects, LINT0/LINT1
 * of the local APIC as ExtINT/NMI, and for the boot CPU the 64-bit entry
 * state of the Linux boot protocol), and the run loop that serves the
 * exits: port I/O (UART, ACPI sleep and reset registers, 8042 reset),
 * MMIO (virtio-mmio windows), shutdown, system events and failures.
 * Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "base/seccomp.h"
#include "base/util.h"
#include "kvm/layout.h"
#include "kvm/vm.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MISC_ENABLE_FAST_STRING 1
#define MTRR_ENABLE_WB ((1u << 11) | 6)

#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_ET 0x10
#define CR0_NE 0x20
#define CR0_WP 0x10000
#define CR0_AM 0x40000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define EFER_LME 0x100
#define EFER_LMA 0x400

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_STACK 0x8ff0

/* KVM's paravirtual CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst):
 * the signature leaf, the feature leaf, and the timing leaf that VMware
 * defined and qemu gives KVM guests too (TSC and APIC bus in kHz). */
#define CPUID_HYPERVISOR_BIT (1u << 31) /* leaf 1 ECX: running under a hypervisor */
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_80000001_ECX_SVM (1u << 2)
#define KVM_LEAF_SIGNATURE 0x40000000u
#define KVM_LEAF_FEATURES 0x40000001u
#define KVM_LEAF_TIMING 0x40000010u
#define KVM_APIC_BUS_KHZ 1000000u      /* KVM's local APIC timer ticks at 1 GHz */
/* Feature bits of leaf 0x40000001 EAX left out: both need a VMM that takes
 * part (KVM_EXIT_HYPERCALL for page-encryption status, live migration), which
 * this one does not; qemu leaves them out by default too. */
#define KVM_FEATURE_HC_MAP_GPA_RANGE_BIT 16
#define KVM_FEATURE_MIGRATION_CONTROL_BIT 17

/* Returns the entry for (function, index) in id, adding a zeroed one when
 * missing and room allows (cap entries). NULL when full. */
static struct kvm_cpuid_entry2 *cpuid_entry(struct kvm_cpuid2 *id, unsigned cap, uint32_t function,
					    uint32_t index)
{
	for (unsigned i = 0; i < id->nent; i++)
		if (id->entries[i].function == function && id->entries[i].index == index)
			return &id->entries[i];
	if (id->nent >= cap)
		return NULL;
	memset(&id->entries[id->nent], 0, sizeof(id->entries[0]));
	id->entries[id->nent].function = function;
	id->entries[id->nent].index = index;
	return &id->entries[id->nent++];
}

/* Tells the guest it runs on KVM, the way KVM and qemu do: the hypervisor
 * bit in leaf 1, "KVMKVMKVM" at 0x40000000 (max leaf 0x40000010), KVM's
 * paravirtual features at 0x40000001 (kvm-clock, PV EOI, ...), and the TSC
 * and APIC bus rates at 0x40000010. Linux then uses kvm-clock instead of
 * calibrating its TSC against timers, and skips the IO-APIC timer check as
 * it does under any KVM. tsc_khz is 0 when unknown (the leaf is still
 * there, with the APIC rate). Returns 0 or -ENOSPC. */
static int cpuid_kvm_leaves(struct kvm_cpuid2 *id, unsigned cap, uint32_t tsc_khz)
{
	static const char sig[12] = "KVMKVMKVM\0\0\0";
	struct kvm_cpuid_entry2 *e;

	if (!(e = cpuid_entry(id, cap, 1, 0)))
		return -ENOSPC;
	e->ecx |= CPUID_HYPERVISOR_BIT;
	e->ecx &= ~CPUID_1_ECX_VMX;
	if ((e = cpuid_entry(id, cap, 0x80000001u, 0)))
		e->ecx &= ~CPUID_80000001_ECX_SVM;
	if (!(e = cpuid_entry(id, cap, KVM_LEAF_SIGNATURE, 0)))
		return -ENOSPC;
	e->eax = KVM_LEAF_TIMING;
	memcpy(&e->ebx, sig, 4);
	memcpy(&e->ecx, sig + 4, 4);
	memcpy(&e->edx, sig + 8, 4);
	if (!(e = cpuid_entry(id, cap, KVM_LEAF_FEATURES, 0)))
		return -ENOSPC;
	e->eax &= ~((1u << KVM_FEATURE_HC_MAP_GPA_RANGE_BIT) | (1u << KVM_FEATURE_MIGRATION_CONTROL_BIT));
	if (!(e = cpuid_entry(id, cap, KVM_LEAF_TIMING, 0)))
		return -ENOSPC;
	e->eax = tsc_khz;
	e->ebx = KVM_APIC_BUS_KHZ;
	e->ecx = e->edx = 0;
	return 0;
}

/* Sets this vCPU's CPUID: the host's supported set with its APIC ID and
 * topology (one thread per core, cpus cores in one package) and the KVM
 * leaves (cpuid_kvm_leaves). */
static int set_cpuid(struct kvm_vcpu *c)
{
	struct kvm_vm *vm = c->vm;
	unsigned cap = vm->cpuid->nent + 4;
	size_t sz = sizeof(struct kvm_cpuid2) + cap * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *id = calloc(1, sz);
	unsigned cpus = vm->cfg.cpus, shift = 0;
	int r, khz;

	if (!id)
		return -ENOMEM;
	while ((1u << shift) < cpus)
		shift++;
	memcpy(id, vm->cpuid, sizeof(struct kvm_cpuid2) + vm->cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	for (unsigned i = 0; i < id->nent; i++) {
		struct kvm_cpuid_entry2 *e = &id->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (c->id << 24) | ((cpus & 0xff) << 16);
			e->ebx = (e->ebx & ~0xff00u) | (8 << 8); /* CLFLUSH line: 64 bytes */
			if (cpus > 1)
				e->edx |= 1u << 28; /* HTT: the count above is valid */
			break;
		case 4:
			e->eax = (e->eax & 0x3ffffff) | ((cpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			e->edx = c->id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1 << 8) | 0;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = cpus;
				e->ecx = (2 << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		}
	}
	khz = ioctl(c->fd, KVM_GET_TSC_KHZ, 0);
	r = cpuid_kvm_leaves(id, cap, khz > 0 ? (uint32_t)khz : 0);
	if (!r && ioctl(c->fd, KVM_SET_CPUID2, id) < 0)
		r = -errno;
	free(id);
	return r;
}

/* The MSRs Linux expects a firmware to leave: syscall/sysenter MSRs clear,
 * fast strings on, MTRRs enabled with write-back as the default type.
 * Returns 0 or -errno (vm->why names a refused MSR). */
static int set_msrs(struct kvm_vcpu *c)
{
	static const struct { uint32_t idx; uint64_t v; } set[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 }, { MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 }, { MSR_CSTAR, 0 }, { MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 }, { MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING }, { MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB },
	};
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[ARRAY_SIZE(set)];
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = ARRAY_SIZE(set);
	for (unsigned i = 0; i < ARRAY_SIZE(set); i++) {
		m.e[i].index = set[i].idx;
		m.e[i].data = set[i].v;
	}
	r = ioctl(c->fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return -errno;
	if ((unsigned)r != ARRAY_SIZE(set)) {
		snprintf(c->vm->why, sizeof(c->vm->why), "KVM_SET_MSRS: MSR 0x%x refused", set[r].idx);
		return -EINVAL;
	}
	return 0;
}

/* x87 and SSE control words at their reset values. */
static int set_fpu(struct kvm_vcpu *c)
{
	struct kvm_fpu f;

	memset(&f, 0, sizeof(f));
	f.fcw = 0x37f;
	f.mxcsr = 0x1f80;
	return ioctl(c->fd, KVM_SET_FPU, &f) < 0 ? -errno : 0;
}

/* LINT0 as ExtINT (the 8259's output), LINT1 as NMI, as firmware leaves
 * them. */
static int set_lapic(struct kvm_vcpu *c)
{
	struct kvm_lapic_state la;
	uint32_t v;

	if (ioctl(c->fd, KVM_GET_LAPIC, &la) < 0)
		return -errno;
	memcpy(&v, la.regs + APIC_LVT_LINT0, 4);
	v = (v & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(la.regs + APIC_LVT_LINT0, &v, 4);
	memcpy(&v, la.regs + APIC_LVT_LINT1, 4);
	v = (v & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(la.regs + APIC_LVT_LINT1, &v, 4);
	return ioctl(c->fd, KVM_SET_LAPIC, &la) < 0 ? -errno : 0;
}

/* The boot CPU's entry state: 64-bit mode, identity paging, __BOOT_CS and
 * __BOOT_DS, interrupts off, RIP at startup_64 and RSI at the zero page. */
static int set_boot_state(struct kvm_vcpu *c)
{
	struct kvm_segment cs = {
		.base = 0, .limit = 0xffffffff, .selector = BOOT_CS, .type = 0xb,
		.present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment ds = cs;
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	ds.selector = BOOT_DS;
	ds.type = 0x3;
	ds.l = 0;
	ds.db = 1;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.gdt.base = KVM_GDT_ADDR;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s.cr3 = KVM_PML4_ADDR;
	s.cr4 = CR4_PAE;
	s.efer = EFER_LME | EFER_LMA;
	if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rip = c->vm->boot.entry;
	r.rsi = c->vm->boot.zero_page;
	r.rsp = BOOT_STACK;
	r.rflags = 2;
	return ioctl(c->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

int kvm_vcpu_create(struct kvm_vcpu *c, struct kvm_vm *vm, unsigned id)
{
	static const struct { int (*fn)(struct kvm_vcpu *); const char *what; } steps[] = {
		{ set_cpuid, "KVM_SET_CPUID2" }, { set_msrs, "KVM_SET_MSRS" },
		{ set_fpu, "KVM_SET_FPU" }, { set_lapic, "KVM_SET_LAPIC" },
	};
	int r;

	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->id = id;
	c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (c->fd < 0) {
		r = -errno;
		snprintf(vm->why, sizeof(vm->why), "KVM_CREATE_VCPU %u: %s", id, strerror(-r));
		return r;
	}
	c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		r = -errno;
		c->run = NULL;
		snprintf(vm->why, sizeof(vm->why), "mmap of vCPU %u's kvm_run: %s", id, strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(steps); i++) {
		if ((r = steps[i].fn(c))) {
			if (!vm->why[0])
				snprintf(vm->why, sizeof(vm->why), "%s (vCPU %u): %s", steps[i].what, id, strerror(-r));
			return r;
		}
	}
	if (id == 0 && (r = set_boot_state(c))) {
		snprintf(vm->why, sizeof(vm->why), "KVM_SET_SREGS/REGS (boot CPU): %s", strerror(-r));
		return r;
	}
	return 0;
}

/* ---- exits ---------------------------------------------------------- */

/* The ACPI PM timer's count: 3.579545 MHz since the VM was created,
 * wrapping at 32 bits (FADT TMR_VAL_EXT). */
static uint32_t pm_timer_now(const struct kvm_vm *vm)
{
	uint64_t ns = now_ns() - vm->t0_ns;

	return (uint32_t)((ns / 1000000000ULL) * KVM_PM_TIMER_HZ +
			  (ns % 1000000000ULL) * KVM_PM_TIMER_HZ / 1000000000ULL);
}

/* One port access of size bytes (1, 2 or 4). */
static void pio(struct kvm_vcpu *c, uint16_t port, uint8_t *data, unsigned size, bool out)
{
	struct kvm_vm *vm = c->vm;

	if (port >= KVM_PORT_COM1 && port < KVM_PORT_COM1 + 8) {
		if (out)
			uart_write(&vm->uart, port - KVM_PORT_COM1, data[0]);
		else
			data[0] = uart_read(&vm->uart, port - KVM_PORT_COM1);
		return;
	}
	if (out) {
		if (port == KVM_PORT_SLEEP_CTL && (data[0] & 0x20) && ((data[0] >> 2) & 7) == KVM_SLP_TYP_S5)
			kvm_vm_stop(vm, KVM_VM_POWEROFF, NULL);
		else if (port == KVM_PORT_RESET && data[0] == KVM_RESET_VALUE)
			kvm_vm_stop(vm, KVM_VM_REBOOT, NULL);
		else if (port == KVM_PORT_I8042_CMD && data[0] == 0xfe)
			kvm_vm_stop(vm, KVM_VM_REBOOT, NULL);
		else if (port != 0x80) /* POST codes are not worth counting */
			__atomic_add_fetch(&vm->n_unknown_pio, 1, __ATOMIC_RELAXED);
		return;
	}
	if (port == KVM_PORT_SLEEP_STS) {
		memset(data, 0, size);
		return;
	}
	if (port == KVM_PORT_PM_TIMER && size == 4) {
		uint32_t v = pm_timer_now(vm);
		memcpy(data, &v, 4);
		return;
	}
	memset(data, 0xff, size); /* nothing there: a floating bus */
	__atomic_add_fetch(&vm->n_unknown_pio, 1, __ATOMIC_RELAXED);
}

/* KVM_EXIT_IO: each of run->io.count accesses (string I/O) in turn. */
static void exit_io(struct kvm_vcpu *c)
{
	struct kvm_run *run = c->run;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;

	c->n_pio++;
	if (size != 1 && size != 2 && size != 4)
		return;
	if ((size_t)run->io.data_offset + (size_t)size * run->io.count > c->vm->run_size)
		return;
	for (unsigned i = 0; i < run->io.count; i++, p += size)
		pio(c, run->io.port, p, size, run->io.direction == KVM_EXIT_IO_OUT);
}

/* KVM_EXIT_MMIO: a virtio-mmio window, or nothing (reads all ones). */
static void exit_mmio(struct kvm_vcpu *c)
{
	struct kvm_run *run = c->run;
	unsigned len = run->mmio.len;

	c->n_mmio++;
	if (len > 8)
		return;
	if (!mmio_bus_access(&c->vm->bus, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write)) {
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, len);
		__atomic_add_fetch(&c->vm->n_unknown_mmio, 1, __ATOMIC_RELAXED);
	}
}

/* Serves one exit. Returns false when the vCPU should stop. */
static bool handle_exit(struct kvm_vcpu *c)
{
	struct kvm_run *run = c->run;
	struct kvm_vm *vm = c->vm;

	c->n_exits++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		exit_io(c);
		return true;
	case KVM_EXIT_MMIO:
		exit_mmio(c);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		kvm_vm_stop(vm, KVM_VM_POWEROFF, NULL);
		return false;
	case KVM_EXIT_SHUTDOWN: {
		struct kvm_regs r;
		struct kvm_sregs sr;
		if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 || ioctl(c->fd, KVM_GET_SREGS, &sr) < 0) {
			memset(&r, 0, sizeof(r));
			memset(&sr, 0, sizeof(sr));
		}
		/* AMD's KVM reinitialises the vCPU after a shutdown intercept
		 * (its VMCB is undefined then): the registers are the reset
		 * state, not where the guest died */
		if (r.rip == 0xfff0 && sr.cs.selector == 0xf000)
			kvm_vm_stop(vm, KVM_VM_TRIPLE_FAULT,
				    "vCPU %u: triple fault (this KVM resets the vCPU on it: where is unknown)", c->id);
		else
			kvm_vm_stop(vm, KVM_VM_TRIPLE_FAULT, "vCPU %u: triple fault at RIP 0x%llx RSP 0x%llx", c->id,
				    (unsigned long long)r.rip, (unsigned long long)r.rsp);
		return false;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			kvm_vm_stop(vm, KVM_VM_REBOOT, NULL);
		else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			kvm_vm_stop(vm, KVM_VM_POWEROFF, NULL);
		else
			kvm_vm_stop(vm, KVM_VM_ERROR, "guest system event %u (crash)", run->system_event.type);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		kvm_vm_stop(vm, KVM_VM_ERROR, "KVM_RUN: vCPU %u: entry failed, hardware reason 0x%llx", c->id,
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		kvm_vm_stop(vm, KVM_VM_ERROR, "KVM_RUN: vCPU %u: internal error, suberror %u%s", c->id,
			    run->internal.suberror,
			    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)" : "");
		return false;
	default:
		kvm_vm_stop(vm, KVM_VM_ERROR, "KVM_RUN: vCPU %u: unexpected exit reason %u", c->id, run->exit_reason);
		return false;
	}
}

/* The vCPU loop: KVM_RUN and serve exits until the VM stops. */
void *kvm_vcpu_thread(void *arg)
{
	struct kvm_vcpu *c = arg;
	struct kvm_vm *vm = c->vm;
	int r = seccomp_install(SECCOMP_VCPU, NULL); /* base/seccomp.h */

	if (r < 0) {
		kvm_vm_stop(vm, KVM_VM_ERROR, "vCPU %u: seccomp: %s", c->id, strerror(-r));
		return NULL;
	}
	while (!__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				c->run->immediate_exit = 0;
				continue;
			}
			kvm_vm_stop(vm, KVM_VM_ERROR, "KVM_RUN: vCPU %u: %s", c->id, strerror(errno));
			break;
		}
		if (!handle_exit(c))
			break;
	}
	return NULL;
}
