/* 8250/16450 UART; see kvm/uart.h. A 16450 (no FIFO: IIR bits 7:6 read
 * as 0) keeps the model small; the transmitter is infinitely fast, so THR
 * is always empty and LSR always says so. */
#include "kvm/uart.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

#define R_RBR_THR 0
#define R_IER 1
#define R_IIR_FCR 2
#define R_LCR 3
#define R_MCR 4
#define R_LSR 5
#define R_MSR 6
#define R_SCR 7
#define LCR_DLAB 0x80
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80
#define MCR_LOOP 0x10

void uart_init(struct uart *u, int out_fd, const int *stop, void (*irq)(void *), void *irq_ctx)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->stop = stop;
	u->irq = irq;
	u->irq_ctx = irq_ctx;
	u->lcr = 0x03;
}

void uart_fini(struct uart *u)
{
	uart_flush(u);
	pthread_mutex_destroy(&u->lock);
}

/* Writes the line buffer to out_fd. A line (<= UART_LINE < PIPE_BUF bytes)
 * is written once poll() says the fd can take it; while it cannot, *stop is
 * checked every 100 ms and, once set, the line is dropped (it is in the
 * ring). A reader that went away (POLLERR) drops it too, without SIGPIPE. */
static void flush_locked(struct uart *u)
{
	size_t off = 0;

	while (u->out_fd >= 0 && off < u->line_len) {
		struct pollfd p = { .fd = u->out_fd, .events = POLLOUT };
		int r = poll(&p, 1, 100);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (u->stop && __atomic_load_n(u->stop, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		if (r < 0 || (p.revents & (POLLERR | POLLNVAL)))
			break;
		n = write(u->out_fd, u->line + off, u->line_len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EINTR && errno != EAGAIN)
			break;
	}
	u->line_len = 0;
}

void uart_flush(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	flush_locked(u);
	pthread_mutex_unlock(&u->lock);
}

/* One transmitted byte: into the ring, and the line buffer. */
static void transmit(struct uart *u, uint8_t c)
{
	u->ring[u->ring_total++ % UART_RING] = c;
	if (u->out_fd < 0)
		return;
	u->line[u->line_len++] = c;
	if (c == '\n' || u->line_len == UART_LINE)
		flush_locked(u);
}

uint8_t uart_read(struct uart *u, unsigned off)
{
	uint8_t v = 0;

	pthread_mutex_lock(&u->lock);
	switch (off) {
	case R_RBR_THR:
		v = (u->lcr & LCR_DLAB) ? u->dll : 0;
		break;
	case R_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case R_IIR_FCR:
		if (u->thri_pending && (u->ier & IER_THRI)) {
			v = IIR_THRI;
			u->thri_pending = false; /* reading IIR clears THRI */
		} else {
			v = IIR_NO_INT;
		}
		break;
	case R_LCR:
		v = u->lcr;
		break;
	case R_MCR:
		v = u->mcr;
		break;
	case R_LSR:
		v = LSR_THRE | LSR_TEMT;
		break;
	case R_MSR:
		/* in loopback the modem inputs follow MCR's outputs */
		v = (u->mcr & MCR_LOOP) ? (uint8_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 1) << 5) | ((u->mcr & 2) << 3))
					: (MSR_DCD | MSR_DSR | MSR_CTS);
		break;
	case R_SCR:
		v = u->scr;
		break;
	}
	pthread_mutex_unlock(&u->lock);
	return v;
}

void uart_write(struct uart *u, unsigned off, uint8_t v)
{
	bool pulse = false;

	pthread_mutex_lock(&u->lock);
	switch (off) {
	case R_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			break;
		}
		if (!(u->mcr & MCR_LOOP))
			transmit(u, v);
		u->thri_pending = true; /* sent at once: THR empty again */
		pulse = u->ier & IER_THRI;
		break;
	case R_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		if ((v & IER_THRI) && !(u->ier & IER_THRI)) {
			u->thri_pending = true;
			pulse = true;
		}
		u->ier = v & 0x0f;
		break;
	case R_IIR_FCR:
		break; /* no FIFO */
	case R_LCR:
		u->lcr = v;
		break;
	case R_MCR:
		u->mcr = v & 0x1f;
		break;
	case R_SCR:
		u->scr = v;
		break;
	}
	pthread_mutex_unlock(&u->lock);
	if (pulse && u->irq)
		u->irq(u->irq_ctx);
}

void uart_dump_ring(struct uart *u, int fd)
{
	uint64_t n, start;

	pthread_mutex_lock(&u->lock);
	n = MIN(u->ring_total, (uint64_t)UART_RING);
	start = u->ring_total - n;
	for (uint64_t i = 0; i < n;) {
		uint64_t at = (start + i) % UART_RING;
		uint64_t chunk = MIN(n - i, UART_RING - at);
		write_full(fd, u->ring + at, chunk);
		i += chunk;
	}
	pthread_mutex_unlock(&u->lock);
}
