/* The guest-physical memory map of a voidbox KVM guest, in one place: where
 * the boot structures, the kernel, the ACPI tables, the virtio-mmio windows
 * and the interrupt controllers sit, and which I/O ports the monitor
 * emulates. boot.c, acpi.c, vm.c and the tests all read these constants;
 * nothing else in the tree may assume an address.
 *
 *   0x0000_0500  GDT (null, null, __BOOT_CS 0x10, __BOOT_DS 0x18)
 *   0x0000_7000  zero page (struct boot_params), RSI at entry
 *   0x0000_9000  page tables: PML4, PDPT, 4 PDs (identity map of 4 GiB)
 *   0x0002_0000  kernel command line
 *   0x0009_fc00  EBDA (reserved, as firmware leaves it)
 *   0x000e_0000  ACPI: RSDP, then XSDT, FADT, MADT, DSDT (reserved)
 *   0x000f_fff0  the reset stub: what a "BIOS reboot" jumps to (F000:FFF0)
 *   0x0100_0000  kernel (pref_address, 16 MiB) ... init_size
 *   ...          initrd, as high as initrd_addr_max and low RAM allow
 *   0xc000_0000  end of low RAM; RAM beyond 3 GiB continues at 4 GiB
 *   0xfeb0_0000  virtio-mmio windows, 0x200 bytes apart (as qemu's microvm)
 *   0xfec0_0000  IOAPIC (in-kernel), 0xfee0_0000 local APIC
 */
#ifndef VOIDBOX_KVM_LAYOUT_H
#define VOIDBOX_KVM_LAYOUT_H

#define KVM_GDT_ADDR 0x500ULL
#define KVM_ZERO_PAGE_ADDR 0x7000ULL
#define KVM_PML4_ADDR 0x9000ULL
#define KVM_PDPT_ADDR 0xa000ULL
#define KVM_PD_ADDR 0xb000ULL /* 4 pages: 0xb000..0xefff */
#define KVM_CMDLINE_ADDR 0x20000ULL
#define KVM_CMDLINE_MAX 0x10000ULL /* bytes, NUL included */
#define KVM_EBDA_ADDR 0x9fc00ULL
#define KVM_ACPI_ADDR 0xe0000ULL   /* RSDP here; Linux also scans here */
#define KVM_ACPI_SIZE 0x1f000ULL   /* up to the stub's page */
#define KVM_RESET_STUB_ADDR 0xffff0ULL /* real-mode F000:FFF0, the BIOS reset entry */
#define KVM_HIGH_MEM 0x100000ULL
#define KVM_KERNEL_ADDR 0x1000000ULL /* 16 MiB, Linux's LOAD_PHYSICAL_ADDR */
#define KVM_LOW_RAM_END 0xc0000000ULL
#define KVM_HIGH_RAM_START 0x100000000ULL
#define KVM_MMIO_BASE 0xfeb00000ULL
#define KVM_MMIO_STRIDE 0x200ULL
#define KVM_MMIO_SIZE 0x200ULL     /* registers + config space, as declared */
#define KVM_MMIO_MAX 16            /* windows */
#define KVM_MMIO_GSI_BASE 5        /* GSI of window 0; IOAPIC pins 5..20 */
#define KVM_MMIO_ADDR(i) (KVM_MMIO_BASE + (uint64_t)(i) * KVM_MMIO_STRIDE)
#define KVM_IOAPIC_ADDR 0xfec00000ULL
#define KVM_LAPIC_ADDR 0xfee00000ULL
#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

/* I/O ports */
#define KVM_PORT_COM1 0x3f8
#define KVM_COM1_IRQ 4
#define KVM_PORT_SLEEP_CTL 0x600   /* ACPI hw-reduced sleep control (FADT) */
#define KVM_PORT_SLEEP_STS 0x601   /* ACPI sleep status (FADT) */
#define KVM_PORT_RESET 0x602       /* ACPI reset register (FADT) */
#define KVM_PORT_PM_TIMER 0x608    /* ACPI PM timer, 32 bits at 3.579545 MHz (FADT) */
#define KVM_PM_TIMER_HZ 3579545ULL
#define KVM_RESET_VALUE 0x42
#define KVM_SLP_TYP_S5 5           /* _S5 package value; SLP_TYP field */
#define KVM_PORT_I8042_CMD 0x64    /* 0xfe written here: CPU reset */

#endif
