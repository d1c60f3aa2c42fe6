/* vnet-bench: the two ends of bench/net-vm.sh's measurements, timed with
 * the monotonic clock (busybox date has no sub-second resolution).
 *   vnet-bench serve PORT             host side, one connection at a time:
 *                                     the first byte says what to do:
 *                                     'c' answer one byte and close (CRR),
 *                                     'd' + 8-byte count: send that many bytes,
 *                                     'u' read to EOF, answer 8-byte count
 *   vnet-bench crr HOST PORT N        N connect/1-byte request/response/close
 *                                     rounds; prints "crr_p50_us X crr_p99_us Y"
 *   vnet-bench down HOST PORT BYTES   prints "down_mbps X" (MB/s, 10^6)
 *   vnet-bench up HOST PORT BYTES     prints "up_mbps X"
 * Exits 0, or 1 with one line on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"

#define CHUNK (256 * 1024)
#define MAX_ROUNDS 100000

static uint8_t buf[CHUNK];

static int die(const char *what)
{
	fprintf(stderr, "vnet-bench: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Connects to host:port. Returns the socket or -1. */
static int dial(const char *host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Serves one connection per the protocol above. */
static void serve_one(int c)
{
	uint8_t op;
	uint64_t n = 0;

	if (read_full(c, &op, 1) != 1)
		return;
	if (op == 'c') {
		write_full(c, &op, 1);
	} else if (op == 'd') {
		if (read_full(c, &n, 8) != 8)
			return;
		while (n) {
			size_t k = n < CHUNK ? n : CHUNK;
			if (write_full(c, buf, k))
				return;
			n -= k;
		}
	} else if (op == 'u') {
		ssize_t r;
		while ((r = read(c, buf, CHUNK)) > 0)
			n += (uint64_t)r;
		write_full(c, &n, 8);
	}
}

static int serve(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (s < 0)
		return die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0)
		return die("bind");
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return die("accept");
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve_one(c);
		close(c);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int crr(const char *host, uint16_t port, unsigned n)
{
	static uint64_t t[MAX_ROUNDS];

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		uint8_t b = 'c';
		int fd = dial(host, port);
		if (fd < 0)
			return die("connect");
		if (write_full(fd, &b, 1) || read_full(fd, &b, 1) != 1) {
			close(fd);
			return die("request");
		}
		close(fd);
		t[i] = now_ns() - t0;
	}
	qsort(t, n, sizeof(t[0]), cmp_u64);
	printf("crr_p50_us %llu crr_p99_us %llu\n", (unsigned long long)(t[n / 2] / 1000),
	       (unsigned long long)(t[n * 99 / 100] / 1000));
	return 0;
}

static int bulk(const char *host, uint16_t port, uint64_t bytes, int down)
{
	uint8_t hdr[9] = { down ? 'd' : 'u' };
	uint64_t t0 = now_ns(), got = 0, left = bytes;
	int fd = dial(host, port);

	if (fd < 0)
		return die("connect");
	memcpy(hdr + 1, &bytes, 8);
	if (write_full(fd, hdr, down ? 9 : 1))
		return die("request");
	if (down) {
		ssize_t r;
		while ((r = read(fd, buf, CHUNK)) > 0)
			got += (uint64_t)r;
	} else {
		while (left) {
			size_t k = left < CHUNK ? left : CHUNK;
			if (write_full(fd, buf, k))
				return die("send");
			left -= k;
		}
		shutdown(fd, SHUT_WR);
		if (read_full(fd, &got, 8) != 8)
			return die("count");
	}
	close(fd);
	if (got != bytes) {
		fprintf(stderr, "vnet-bench: moved %llu of %llu bytes\n", (unsigned long long)got,
			(unsigned long long)bytes);
		return 1;
	}
	printf("%s_mbps %.1f\n", down ? "down" : "up", (double)bytes * 1e3 / (double)(now_ns() - t0));
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t port, n;

	if (argc == 3 && !strcmp(argv[1], "serve") && !parse_uint(argv[2], 1, 65535, &port))
		return serve((uint16_t)port);
	if (argc == 5 && !parse_uint(argv[3], 1, 65535, &port)) {
		if (!strcmp(argv[1], "crr") && !parse_uint(argv[4], 1, MAX_ROUNDS, &n))
			return crr(argv[2], (uint16_t)port, (unsigned)n);
		if ((!strcmp(argv[1], "down") || !strcmp(argv[1], "up")) && !parse_size(argv[4], &n))
			return bulk(argv[2], (uint16_t)port, n, argv[1][0] == 'd');
	}
	fprintf(stderr, "usage: vnet-bench serve PORT | crr HOST PORT N | down|up HOST PORT BYTES\n");
	return 2;
}
