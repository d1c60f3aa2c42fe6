/* The KVM monitor: one VM with in-kernel irqchip and PIT, guest RAM from one
 * memfd, N vCPU threads, an I/O thread running the device loop, the COM1
 * UART and one virtio-mmio window per back end (ioeventfd for notifies,
 * irqfd for interrupts), booted with the x86-64 Linux boot protocol
 * (kvm/boot.h) and described by ACPI tables (kvm/acpi.h).
 *
 * Use: kvm_vm_create() (everything but the threads; fails with a message
 * in vm->why naming the ioctl and errno), kvm_vm_start(), kvm_vm_wait()
 * (returns when the guest powers off, reboots, triple-faults, fails, or
 * kvm_vm_kill() was called; every thread is joined), kvm_vm_destroy()
 * (every fd closed, memory unmapped). kvm_dump_boot() writes what the guest
 * would be given, without /dev/kvm. */
#ifndef VOIDBOX_KVM_VM_H
#define VOIDBOX_KVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"
#include "guest/mem.h"
#include "image/bzimage.h"
#include "kvm/boot.h"
#include "kvm/mmio.h"
#include "kvm/uart.h"
#include "virtio/device.h"

#define KVM_MAX_CPUS 64

struct kvm_vm_cfg {
	const uint8_t *kernel;     /* the bzImage file's bytes */
	size_t kernel_size;
	const uint8_t *initrd;     /* may be NULL */
	size_t initrd_size;
	const char *cmdline;       /* the caller's part; windows are appended */
	unsigned cpus;             /* 1..KVM_MAX_CPUS */
	uint64_t mem_size;         /* bytes */
	int console_fd;            /* guest console written here; -1: ring only */
	struct vdev **devs;        /* back ends, one virtio-mmio window each */
	unsigned n_devs;
	struct loop *loop;         /* the devices' loop; the VM's I/O thread runs it */
	bool release_source;       /* kernel and initrd are file mappings (boot.h) */
	/* Called once, on the thread that saw it, when the guest stops (or
	 * kvm_vm_kill()); why is "" or a one-line reason. May be NULL. */
	void (*on_exit)(void *ctx, int exit, const char *why);
	void *on_exit_ctx;
};

enum kvm_exit {
	KVM_VM_RUNNING = 0,
	KVM_VM_POWEROFF,           /* ACPI S5 */
	KVM_VM_REBOOT,             /* ACPI reset register, 8042 reset */
	KVM_VM_TRIPLE_FAULT,       /* KVM_EXIT_SHUTDOWN */
	KVM_VM_KILLED,             /* kvm_vm_kill() */
	KVM_VM_ERROR,              /* see why */
};

struct kvm_vcpu {
	struct kvm_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t n_exits, n_pio, n_mmio;
};

struct kvm_vm {
	struct kvm_vm_cfg cfg;
	int kvm_fd, vm_fd, mem_fd;
	size_t run_size;
	struct gmem mem;
	struct bzimage bz;
	struct boot_info boot;
	char cmdline[4096];
	struct uart uart;
	bool uart_ready;
	struct mmio_bus bus;
	bool bus_ready;
	struct mmio_dev mmio[KVM_MMIO_MAX];
	unsigned n_mmio;
	int ioeventfd_err;         /* 0, or -errno of KVM_IOEVENTFD (notifies then exit) */
	struct kvm_vcpu vcpu[KVM_MAX_CPUS];
	unsigned n_vcpu;
	struct kvm_cpuid2 *cpuid;  /* KVM_GET_SUPPORTED_CPUID */
	pthread_t io_thread;
	bool io_started;
	int stop_fd;               /* eventfd: stops the I/O thread's loop */
	struct loop_watch stop_w;
	pthread_mutex_t lock;
	int stopping;              /* atomic */
	enum kvm_exit exit;
	uint64_t n_unknown_pio, n_unknown_mmio;
	uint64_t t0_ns;            /* creation time: the PM timer counts from here */
	char why[256];             /* the first error */
};

/* Builds the VM. Returns 0 or -errno; vm->why names what failed (an ioctl
 * and its errno, or a bad input). Call kvm_vm_destroy() either way. */
int kvm_vm_create(struct kvm_vm *vm, const struct kvm_vm_cfg *cfg);
/* Starts the I/O thread and the vCPUs. Returns 0 or -errno (vm->why). */
int kvm_vm_start(struct kvm_vm *vm);
/* Waits for the guest to stop; joins every thread. Returns how it ended. */
enum kvm_exit kvm_vm_wait(struct kvm_vm *vm);
/* Asks the VM to stop (from any thread but a vCPU's own). */
void kvm_vm_kill(struct kvm_vm *vm);
/* Frees everything kvm_vm_create() made. */
void kvm_vm_destroy(struct kvm_vm *vm);
/* Prints the console's ring buffer (after a failed boot). */
void kvm_vm_dump_console(struct kvm_vm *vm, int fd);
/* A short name for an exit: "poweroff", "reboot", ... */
const char *kvm_exit_name(enum kvm_exit e);

/* Writes into dir (created if missing): zero_page.bin, cmdline.txt,
 * e820.txt, layout.txt, rsdp.bin and each ACPI table as <SIG>.dat, exactly as
 * kvm_vm_create() would give them to the guest. Returns 0 or -errno with a
 * message in why. */
int kvm_dump_boot(const struct kvm_vm_cfg *cfg, const char *dir, char *why, size_t why_len);

/* Opens /dev/kvm and checks the API version and the capabilities the
 * monitor needs. Returns the fd, or -errno with the reason in why. */
int kvm_open_checked(char *why, size_t why_len);

/* internal: shared by vm.c, vcpu.c and dump.c */
int kvm_vm_load(struct kvm_vm *vm);
int kvm_vm_map_ram(struct kvm_vm *vm, int vm_fd);
void kvm_vm_stop(struct kvm_vm *vm, enum kvm_exit e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int kvm_vcpu_create(struct kvm_vcpu *c, struct kvm_vm *vm, unsigned id);
void *kvm_vcpu_thread(void *arg);

#endif
