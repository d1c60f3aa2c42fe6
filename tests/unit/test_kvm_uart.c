/* The COM1 UART model as Linux's 8250 driver probes and drives it: the
 * autoconfig register tests (IER, scratch, loopback MSR, no FIFO -> 16450),
 * the divisor latch, the transmitter-empty interrupt (raised on enabling
 * THRI and after each byte, cleared by reading IIR), line-buffered output to
 * an fd, and the ring buffer kept for a failed boot (wrapping). */
#include <fcntl.h>
#include <unistd.h>

#include "base/util.h"
#include "kvm/uart.h"
#include "t.h"

#define IER 1
#define IIR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static int pulses;
static void irq(void *ctx) { (void)ctx; pulses++; }

static void test_probe(void)
{
	struct uart u;

	uart_init(&u, -1, NULL, irq, NULL);
	/* IER test of autoconfig(): 0 reads 0, 0x0f reads 0x0f */
	uart_write(&u, IER, 0);
	T_CHECK((uart_read(&u, IER) & 0x0f) == 0, "IER 0");
	uart_write(&u, IER, 0x0f);
	T_CHECK((uart_read(&u, IER) & 0x0f) == 0x0f, "IER 0x0f");
	uart_write(&u, IER, 0);
	/* FIFO enable: IIR bits 7:6 stay 0 (no FIFO: 8250/16450) */
	uart_write(&u, IIR, 0x01);
	T_CHECK((uart_read(&u, IIR) >> 6) == 0, "FIFO reported");
	/* scratch register (16450 vs 8250) */
	uart_write(&u, SCR, 0xa5);
	T_CHECK(uart_read(&u, SCR) == 0xa5, "scratch");
	/* loopback: MSR follows MCR (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD) */
	uart_write(&u, MCR, 0x10 | 0x0a);
	T_CHECK((uart_read(&u, MSR) & 0xf0) == 0x90, "loopback MSR %x", uart_read(&u, MSR));
	uart_write(&u, MCR, 0x10 | 0x05);
	T_CHECK((uart_read(&u, MSR) & 0xf0) == 0x60, "loopback MSR %x", uart_read(&u, MSR));
	uart_write(&u, 0, 'x'); /* loopback: not transmitted */
	T_CHECK(u.ring_total == 0, "loopback byte transmitted");
	uart_write(&u, MCR, 0x0b);
	/* divisor latch */
	uart_write(&u, LCR, 0x83);
	uart_write(&u, 0, 0x01);
	uart_write(&u, IER, 0x00);
	T_CHECK(uart_read(&u, 0) == 0x01 && uart_read(&u, IER) == 0, "divisor latch");
	uart_write(&u, LCR, 0x03);
	T_CHECK(uart_read(&u, LCR) == 0x03, "LCR");
	T_CHECK(uart_read(&u, LSR) == 0x60, "LSR: THRE|TEMT, no data");
	uart_fini(&u);
}

static void test_thri(void)
{
	struct uart u;

	pulses = 0;
	uart_init(&u, -1, NULL, irq, NULL);
	T_CHECK(uart_read(&u, IIR) == 0x01, "no interrupt at first");
	uart_write(&u, IER, 0x02); /* THRI on: THR is empty, so it fires */
	T_CHECK(pulses == 1, "pulses %d on enabling THRI", pulses);
	T_CHECK(uart_read(&u, IIR) == 0x02, "IIR THRI");
	T_CHECK(uart_read(&u, IIR) == 0x01, "IIR read did not clear THRI");
	uart_write(&u, 0, 'a');
	T_CHECK(pulses == 2 && uart_read(&u, IIR) == 0x02, "THRI after a byte");
	uart_write(&u, IER, 0);
	uart_write(&u, 0, 'b');
	T_CHECK(pulses == 2 && uart_read(&u, IIR) == 0x01, "interrupt with THRI off");
	uart_fini(&u);
}

static void test_output(void)
{
	struct uart u;
	int p[2];
	char buf[UART_RING * 2];
	ssize_t n;

	T_REQUIRE(pipe(p) == 0, "pipe");
	uart_init(&u, p[1], NULL, NULL, NULL);
	for (const char *s = "hello\nwor"; *s; s++)
		uart_write(&u, 0, (uint8_t)*s);
	uart_fini(&u); /* flushes the partial line */
	close(p[1]);
	n = read_full(p[0], buf, sizeof(buf));
	close(p[0]);
	T_CHECK(n == 9 && !memcmp(buf, "hello\nwor", 9), "fd got %zd bytes", n);
	/* the ring keeps the last UART_RING bytes, oldest first */
	uart_init(&u, -1, NULL, NULL, NULL);
	for (unsigned i = 0; i < UART_RING + 100; i++)
		uart_write(&u, 0, (uint8_t)('A' + i % 26));
	T_REQUIRE(pipe(p) == 0, "pipe");
	uart_dump_ring(&u, p[1]);
	close(p[1]);
	n = read_full(p[0], buf, sizeof(buf));
	close(p[0]);
	T_CHECK(n == UART_RING, "ring gave %zd bytes", n);
	T_CHECK(buf[0] == 'A' + 100 % 26 && buf[n - 1] == 'A' + (UART_RING + 99) % 26, "ring order");
	uart_fini(&u);
}

/* A console reader that stops reading must not hold the writer: with the
 * pipe full, output waits until *stop is set, then goes to the ring only;
 * a closed reader drops output without SIGPIPE. */
static void test_stuck_reader(void)
{
	static char junk[4096];
	struct uart u;
	int p[2], stop = 1;
	uint64_t t0;

	T_REQUIRE(pipe(p) == 0, "pipe");
	/* fill the pipe, as a reader that stopped reading leaves it */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	uart_init(&u, p[1], &stop, NULL, NULL);
	t0 = now_ns();
	for (int i = 0; i < 64; i++)
		uart_write(&u, 0, (uint8_t)(i == 63 ? '\n' : 'y'));
	T_CHECK(now_ns() - t0 < 2000000000ULL, "a full pipe held the writer %llu ms after stop",
		(unsigned long long)((now_ns() - t0) / 1000000));
	T_CHECK(u.ring_total == 64, "ring %llu", (unsigned long long)u.ring_total);
	close(p[0]);
	stop = 0;
	for (int i = 0; i < 64; i++) /* reader gone: no SIGPIPE, no hang */
		uart_write(&u, 0, (uint8_t)(i == 63 ? '\n' : 'z'));
	uart_fini(&u);
	close(p[1]);
}

int main(void)
{
	T_RUN(test_probe);
	T_RUN(test_thri);
	T_RUN(test_output);
	T_RUN(test_stuck_reader);
	T_EXIT();
}
