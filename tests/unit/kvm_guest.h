/* Shared by the KVM unit tests: a fake bzImage around a tiny 64-bit test
 * guest, and an "echo" virtio back end for it to drive. The guest is
 * assembled here (top-level asm, position-independent) and entered exactly
 * as a Linux kernel is: 64-bit mode at load address + 0x200, RSI = zero
 * page. It
 *   1. checks the zero page (boot_flag 0xAA55, "HdrS") and prints the
 *      command line it points to, then the e820 entry count, to COM1;
 *   2. sets up an IDT, masks the 8259s, enables its local APIC and routes IOAPIC pin
 *      TG_GSI to vector 0x30;
 *   3. probes the virtio-mmio window at TG_MMIO (magic, version 2, device
 *      id), negotiates VERSION_1, sets up queue 0 (8 entries), DRIVER_OK;
 *   4. posts "ping" + a 16-byte writable buffer, notifies, halts until the
 *      interrupt (whose handler reads InterruptStatus, acks it and EOIs);
 *   5. prints "<isr>:" and the reply, then powers off through the ACPI
 *      sleep-control port, as Linux does. Any failed check prints "FAIL<n>"
 *      first.
 * Other modes (a byte in the image) end it at once instead: a triple fault,
 * a reset through the 8042, or through the FADT reset register, or a jump
 * into the virtio-mmio window (code KVM can neither run nor emulate). */
#ifndef VOIDBOX_TEST_KVM_GUEST_H
#define VOIDBOX_TEST_KVM_GUEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "virtio/device.h"

#define TG_MMIO 0xfeb00000 /* KVM_MMIO_BASE: window 0 */
#define TG_GSI 5           /* KVM_MMIO_GSI_BASE */
#define TG_DEVID 0x7e
#define TG_STR_(x) #x
#define TG_STR(x) TG_STR_(x)

__asm__(
	".pushsection .rodata.vb_test_guest,\"a\"\n"
	".globl vb_tg_start\n"
	".globl vb_tg_end\n"
	"vb_tg_start:\n"
	"	cli\n"
	"	mov $0x220000, %rsp\n"
	/* the end it was built for (tg_bzimage's mode): 0 the full run */
	"	movzbl vb_tg_mode(%rip), %eax\n"
	"	cmp $1, %al\n"
	"	je 12f\n"
	"	cmp $2, %al\n"
	"	je 13f\n"
	"	cmp $3, %al\n"
	"	je 14f\n"
	"	cmp $4, %al\n"
	"	je 15f\n"
	"	mov %rsi, %r15\n"
	"	mov $49, %r14b\n"
	"	cmpw $0xaa55, 0x1fe(%r15)\n"
	"	jne 9f\n"
	"	cmpl $0x53726448, 0x202(%r15)\n"
	"	jne 9f\n"
	"	mov 0x228(%r15), %ebx\n"           /* cmd_line_ptr */
	"1:	movzbl (%rbx), %eax\n"
	"	test %al, %al\n"
	"	jz 2f\n"
	"	call 8f\n"
	"	inc %rbx\n"
	"	jmp 1b\n"
	"2:	mov $10, %al\n"
	"	call 8f\n"
	"	movzbl 0x1e8(%r15), %eax\n"        /* e820_entries */
	"	add $48, %al\n"
	"	call 8f\n"
	"	mov $10, %al\n"
	"	call 8f\n"
	/* IDT at 0x200000, vector 0x30 -> handler */
	"	lea 7f(%rip), %rax\n"
	"	mov $0x200300, %edi\n"
	"	mov %ax, (%rdi)\n"
	"	movw $0x10, 2(%rdi)\n"
	"	movw $0x8e00, 4(%rdi)\n"
	"	shr $16, %rax\n"
	"	mov %ax, 6(%rdi)\n"
	"	shr $16, %rax\n"
	"	mov %eax, 8(%rdi)\n"
	"	movl $0, 12(%rdi)\n"
	"	movw $0xfff, 0x201000\n"
	"	movq $0x200000, 0x201002\n"
	"	lidt 0x201000\n"
	/* mask the 8259s (their timer input would arrive through LINT0) */
	"	mov $0xff, %al\n"
	"	out %al, $0x21\n"
	"	out %al, $0xa1\n"
	/* local APIC on; IOAPIC pin TG_GSI -> vector 0x30, edge, CPU 0 */
	"	mov $0xfee000f0, %eax\n"
	"	movl $0x1ff, (%rax)\n"
	"	mov $0xfec00000, %eax\n"
	"	movl $(0x10 + 2 * " TG_STR(TG_GSI) "), (%rax)\n"
	"	movl $0x30, 0x10(%rax)\n"
	"	movl $(0x11 + 2 * " TG_STR(TG_GSI) "), (%rax)\n"
	"	movl $0, 0x10(%rax)\n"
	/* virtio-mmio probe and set-up */
	"	mov $50, %r14b\n"
	"	mov $" TG_STR(TG_MMIO) ", %edi\n"
	"	cmpl $0x74726976, 0x0(%rdi)\n"
	"	jne 9f\n"
	"	cmpl $2, 0x4(%rdi)\n"
	"	jne 9f\n"
	"	cmpl $" TG_STR(TG_DEVID) ", 0x8(%rdi)\n"
	"	jne 9f\n"
	"	movl $0, 0x70(%rdi)\n"
	"	movl $1, 0x70(%rdi)\n"
	"	movl $3, 0x70(%rdi)\n"
	"	mov $51, %r14b\n"
	"	movl $1, 0x14(%rdi)\n"
	"	testl $1, 0x10(%rdi)\n"
	"	jz 9f\n"
	"	movl $1, 0x24(%rdi)\n"
	"	movl $1, 0x20(%rdi)\n"
	"	movl $0, 0x24(%rdi)\n"
	"	movl $0, 0x20(%rdi)\n"
	"	movl $0xb, 0x70(%rdi)\n"
	"	testl $8, 0x70(%rdi)\n"
	"	jz 9f\n"
	"	mov $52, %r14b\n"
	"	movl $0, 0x30(%rdi)\n"
	"	cmpl $8, 0x34(%rdi)\n"
	"	jb 9f\n"
	"	movl $8, 0x38(%rdi)\n"
	"	movl $0x210000, 0x80(%rdi)\n"
	"	movl $0, 0x84(%rdi)\n"
	"	movl $0x210100, 0x90(%rdi)\n"
	"	movl $0, 0x94(%rdi)\n"
	"	movl $0x210200, 0xa0(%rdi)\n"
	"	movl $0, 0xa4(%rdi)\n"
	"	movl $1, 0x44(%rdi)\n"
	"	movl $0xf, 0x70(%rdi)\n"
	"	mov $53, %r14b\n"
	"	testl $4, 0x70(%rdi)\n"
	"	jz 9f\n"
	/* chain: desc0 "ping" (next 1), desc1 16 writable bytes */
	"	movl $0x676e6970, 0x211000\n"
	"	movq $0x211000, 0x210000\n"
	"	movl $4, 0x210008\n"
	"	movw $1, 0x21000c\n"
	"	movw $1, 0x21000e\n"
	"	movq $0x212000, 0x210010\n"
	"	movl $16, 0x210018\n"
	"	movw $2, 0x21001c\n"
	"	movw $0, 0x21001e\n"
	"	movw $0, 0x210104\n"               /* avail ring[0] = 0 */
	"	movw $1, 0x210102\n"               /* avail idx = 1 */
	"	movl $0, 0x50(%rdi)\n"             /* QueueNotify(0) */
	"3:	cmpb $0, 0x213000\n"
	"	jne 4f\n"
	"	sti\n"
	"	hlt\n"
	"	cli\n"
	"	jmp 3b\n"
	"4:	mov $54, %r14b\n"
	"	cmpw $1, 0x210202\n"               /* used idx */
	"	jne 9f\n"
	"	mov 0x213004, %eax\n"              /* isr seen by the handler */
	"	add $48, %al\n"
	"	call 8f\n"
	"	mov $58, %al\n"
	"	call 8f\n"
	"	mov $0x212000, %ebx\n"
	"5:	movzbl (%rbx), %eax\n"
	"	test %al, %al\n"
	"	jz 6f\n"
	"	call 8f\n"
	"	inc %rbx\n"
	"	jmp 5b\n"
	"6:	mov $10, %al\n"
	"	call 8f\n"
	"	jmp 10f\n"
	/* interrupt handler */
	"7:	push %rax\n"
	"	push %rdi\n"
	"	mov $" TG_STR(TG_MMIO) ", %edi\n"
	"	mov 0x60(%rdi), %eax\n"
	"	mov %eax, 0x64(%rdi)\n"
	"	mov %eax, 0x213004\n"
	"	movb $1, 0x213000\n"
	"	mov $0xfee000b0, %eax\n"
	"	movl $0, (%rax)\n"
	"	pop %rdi\n"
	"	pop %rax\n"
	"	iretq\n"
	/* putc(al) */
	"8:	push %rdx\n"
	"	mov $0x3f8, %dx\n"
	"	out %al, %dx\n"
	"	pop %rdx\n"
	"	ret\n"
	/* failure: FAIL<step> */
	"9:	mov $70, %al\n"
	"	call 8b\n"
	"	mov $65, %al\n"
	"	call 8b\n"
	"	mov $73, %al\n"
	"	call 8b\n"
	"	mov $76, %al\n"
	"	call 8b\n"
	"	mov %r14b, %al\n"
	"	call 8b\n"
	"	mov $10, %al\n"
	"	call 8b\n"
	/* poweroff: SLP_TYP 5 | SLP_EN to the sleep-control port */
	"10:	mov $0x34, %al\n"
	"	mov $0x600, %dx\n"
	"	out %al, %dx\n"
	"11:	hlt\n"
	"	jmp 11b\n"
	/* mode 1: a page fault with no IDT: double, then triple fault */
	"12:	mov $0x100000000, %rax\n"
	"	mov (%rax), %eax\n"
	"	jmp 11b\n"
	/* mode 2: reset through the 8042 (0xfe to port 0x64) */
	"13:	mov $0xfe, %al\n"
	"	out %al, $0x64\n"
	"	jmp 11b\n"
	/* mode 3: reset through the FADT reset register */
	"14:	mov $0x42, %al\n"
	"	mov $0x602, %dx\n"
	"	out %al, %dx\n"
	"	jmp 11b\n"
	/* mode 4: execute from the virtio-mmio window: no memory there to
	 * fetch from, so KVM cannot run or emulate it (a vCPU fault) */
	"15:	mov $" TG_STR(TG_MMIO) ", %eax\n"
	"	jmp *%rax\n"
	"vb_tg_mode:\n"
	"	.byte 0\n"
	"vb_tg_end:\n"
	".popsection\n");

extern const uint8_t vb_tg_start[], vb_tg_end[], vb_tg_mode[];

enum tg_mode { TG_FULL, TG_TRIPLE_FAULT, TG_RESET_8042, TG_RESET_ACPI, TG_EXEC_MMIO };

/* Wraps the guest code in a bzImage (protocol 2.15, 64-bit, relocatable,
 * loaded at 16 MiB, init_size 1 MiB) that ends as mode says. Returns a
 * malloc'd image. */
static inline uint8_t *tg_bzimage_mode(size_t *len, enum tg_mode mode)
{
	size_t code = (size_t)(vb_tg_end - vb_tg_start), setup = 2 * 512;
	size_t n = setup + 0x200 + code;
	uint8_t *b = calloc(1, n);
	static const char ver[] = "0.0.0-voidbox-test-guest (test@voidbox)";

	b[0x1f1] = 1;           /* setup_sects */
	b[0x1fe] = 0x55;
	b[0x1ff] = 0xaa;
	b[0x200] = 0xeb;        /* jmp: the header runs to 0x202 + 0x6a */
	b[0x201] = 0x6a;
	memcpy(b + 0x202, "HdrS", 4);
	b[0x206] = 0x0f;        /* protocol 2.15 */
	b[0x207] = 0x02;
	b[0x20e] = 0x00;        /* kernel_version at 0x200 + 0x100 */
	b[0x20f] = 0x01;
	memcpy(b + 0x300, ver, sizeof(ver));
	b[0x211] = 0x01;        /* LOADED_HIGH */
	memcpy(b + 0x22c, "\xff\xff\xff\x7f", 4);  /* initrd_addr_max */
	memcpy(b + 0x230, "\x00\x00\x20\x00", 4);  /* kernel_alignment 2 MiB */
	b[0x234] = 1;           /* relocatable */
	b[0x236] = 0x03;        /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	memcpy(b + 0x238, "\xff\x07\x00\x00", 4);  /* cmdline_size 2047 */
	memcpy(b + 0x258, "\x00\x00\x00\x01\x00\x00\x00\x00", 8); /* pref_address */
	memcpy(b + 0x260, "\x00\x00\x10\x00", 4);  /* init_size 1 MiB */
	memset(b + setup, 0xf4, 0x200);           /* startup_32: hlt */
	memcpy(b + setup + 0x200, vb_tg_start, code);
	b[setup + 0x200 + (size_t)(vb_tg_mode - vb_tg_start)] = (uint8_t)mode;
	*len = n;
	return b;
}

static inline uint8_t *tg_bzimage(size_t *len)
{
	return tg_bzimage_mode(len, TG_FULL);
}

/* The echo back end: each chain's readable bytes come back upper-cased in
 * its writable part. */
struct tg_echo {
	struct vdev dev;
	uint64_t kicks, chains, started, resets;
};

static inline uint64_t tg_features(struct vdev *d)
{
	return VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX;
}

static inline int tg_start(struct vdev *d)
{
	((struct tg_echo *)d->priv)->started++;
	return 0;
}

static inline void tg_reset(struct vdev *d)
{
	((struct tg_echo *)d->priv)->resets++;
}

static inline void tg_kick(struct vdev *d, unsigned qi)
{
	struct tg_echo *e = d->priv;
	struct vq *q = &d->vq[qi];
	struct vq_chain c;
	uint8_t buf[256];
	int r;

	e->kicks++;
	while ((r = vq_pop(q, &c)) == 1) {
		uint32_t n = vq_chain_read(&c, 0, buf, sizeof(buf));
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
		n = vq_chain_write(&c, 0, buf, n);
		vq_push(q, c.head, n);
		e->chains++;
	}
	if (r < 0)
		vdev_fail(d, "bad chain");
	vq_signal(q);
}

static inline void tg_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xc0 + off + i);
}

static const struct vdev_ops tg_echo_ops = {
	.device_id = TG_DEVID,
	.num_queues = 1,
	.max_queue_size = 256,
	.config_size = 8,
	.features = tg_features,
	.read_config = tg_read_config,
	.start = tg_start,
	.queue_kick = tg_kick,
	.reset = tg_reset,
};

static inline void tg_echo_init(struct tg_echo *e)
{
	memset(e, 0, sizeof(*e));
	e->dev.ops = &tg_echo_ops;
	e->dev.name = "echo";
	e->dev.priv = e;
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		e->dev.vq[i].kick_fd = e->dev.vq[i].call_fd = -1;
}

#endif
