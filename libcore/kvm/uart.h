/* The guest's console: an 8250/16450 UART on COM1 (0x3f8, IRQ 4), enough
 * of one for Linux's 8250 driver to detect and drive it (divisor latch,
 * IER/IIR with the transmitter-empty interrupt, LCR, MCR, LSR, MSR,
 * scratch). What the guest transmits goes to an fd (the host's stderr with
 * --console, line-buffered) and always into a ring buffer of the last
 * UART_RING bytes, which the monitor prints when the boot fails. Input is
 * not emulated: the guest talks to the host over vsock. */
#ifndef VOIDBOX_KVM_UART_H
#define VOIDBOX_KVM_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define UART_RING 16384
#define UART_LINE 256

struct uart {
	pthread_mutex_t lock;
	int out_fd;               /* -1: ring buffer only */
	const int *stop;          /* when *stop is set, output waiting for out_fd is dropped */
	void (*irq)(void *ctx);   /* pulses the interrupt line */
	void *irq_ctx;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool thri_pending;        /* "transmitter empty" interrupt pending */
	uint8_t line[UART_LINE];  /* output not yet written to out_fd */
	unsigned line_len;
	uint8_t ring[UART_RING];
	uint64_t ring_total;      /* bytes ever written */
};

/* stop (may be NULL) is polled while out_fd cannot take more: once it is
 * set, pending output goes only to the ring, so a reader that has stopped
 * reading cannot hold a vCPU (and the VM's teardown) in write(). */
void uart_init(struct uart *u, int out_fd, const int *stop, void (*irq)(void *), void *irq_ctx);
void uart_fini(struct uart *u);
/* A guest access to port offset off (0..7) of the UART, one byte. */
uint8_t uart_read(struct uart *u, unsigned off);
void uart_write(struct uart *u, unsigned off, uint8_t v);
/* Writes pending line output to out_fd. */
void uart_flush(struct uart *u);
/* Copies the ring's contents, oldest first, to fd. */
void uart_dump_ring(struct uart *u, int fd);

#endif
