/* slirp-peer: the TCP endpoints the SLIRP tests and benchmark drive through
 * the stack, on both sides of it. One server (echo, or send a pattern, or
 * reset) and several clients: 1-byte request/response latency (rr),
 * connect-request-response (crr), many sequential/concurrent echo
 * connections with half-close (conns), a pattern reader that can stall
 * before reading (read), a pattern sender (send), a client-side reset (rst)
 * and a pattern generator for pipelines (gen). The pattern is a pure function of the byte offset,
 * so either end can check a stream byte for byte without storing it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

#define NAME "slirp-peer"
#define CHUNK (256 * 1024)

static const char usage[] =
	"usage: slirp-peer server ADDR PORT [echo|send:BYTES|rst-after:BYTES|verify]\n"
	"       slirp-peer send HOST PORT BYTES\n"
	"       slirp-peer rr|crr HOST PORT COUNT\n"
	"       slirp-peer conns HOST PORT TOTAL PARALLEL\n"
	"       slirp-peer read HOST PORT [PAUSE_MS]\n"
	"       slirp-peer rst HOST PORT\n"
	"       slirp-peer gen BYTES\n";

static uint64_t pattern_word(uint64_t idx)
{
	uint64_t x = idx * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

/* Fills buf with the pattern bytes at stream offset off: byte k of the
 * little-endian word pattern_word(off / 8). */
static void pattern(uint8_t *buf, size_t len, uint64_t off)
{
	size_t i = 0;

	for (; i < len && (off + i) % 8; i++)
		buf[i] = (uint8_t)(pattern_word((off + i) / 8) >> (8 * ((off + i) % 8)));
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word((off + i) / 8);
		uint8_t b[8];

		for (int k = 0; k < 8; k++)
			b[k] = (uint8_t)(w >> (8 * k));
		memcpy(buf + i, b, 8);
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)(pattern_word((off + i) / 8) >> (8 * ((off + i) % 8)));
}

static int tcp_socket_to(const char *host, const char *port, bool listening)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, fd;
	uint64_t p;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || parse_uint(port, 1, 65535, &p) < 0)
		return -EINVAL;
	a.sin_port = htons((uint16_t)p);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (listening) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0)
			goto fail;
	} else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		goto fail;
	}
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

static void linger0_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Writes count pattern bytes to fd. Returns 0 or -errno. */
static int send_pattern(int fd, uint64_t count)
{
	static __thread uint8_t buf[CHUNK];

	for (uint64_t off = 0; off < count;) {
		size_t n = (size_t)MIN(count - off, CHUNK);
		int err;

		pattern(buf, n, off);
		if ((err = write_full(fd, buf, n)) < 0)
			return err;
		off += n;
	}
	return 0;
}

struct conn_job {
	int fd;
	char mode;      /* 'e'cho, 's'end, 'r'st-after, 'v'erify */
	uint64_t bytes;
};

/* Reads a pattern stream from fd to EOF, checking every byte; prints how it
 * ended. Returns 0 (clean EOF, all bytes right), 3 (reset) or 1. */
static int verify_stream(int fd)
{
	static __thread uint8_t buf[CHUNK], want[CHUNK];
	uint64_t off = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("%s after %llu\n", errno == ECONNRESET ? "reset" : strerror(errno),
			       (unsigned long long)off);
			fflush(stdout);
			return errno == ECONNRESET ? 3 : 1;
		}
		if (n == 0)
			break;
		pattern(want, (size_t)n, off);
		if (memcmp(buf, want, (size_t)n)) {
			printf("mismatch near %llu\n", (unsigned long long)off);
			fflush(stdout);
			return 1;
		}
		off += (uint64_t)n;
	}
	printf("eof after %llu ok\n", (unsigned long long)off);
	fflush(stdout);
	return 0;
}

/* One server connection. Echo mode reports a reset by the client. */
static void *serve_conn(void *arg)
{
	struct conn_job job = *(struct conn_job *)arg;
	uint8_t buf[65536];

	free(arg);
	if (job.mode == 'e') {
		for (;;) {
			ssize_t n = read(job.fd, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == ECONNRESET) {
				printf("reset\n");
				fflush(stdout);
			}
			if (n <= 0 || write_full(job.fd, buf, (size_t)n) < 0)
				break;
		}
		close(job.fd);
	} else if (job.mode == 'v') {
		verify_stream(job.fd);
		close(job.fd);
	} else if (send_pattern(job.fd, job.bytes) == 0 && job.mode == 'r') {
		linger0_close(job.fd);
	} else {
		close(job.fd);
	}
	return NULL;
}

static int cmd_server(int argc, char **argv)
{
	struct conn_job tmpl = { .mode = 'e' };
	pthread_attr_t attr;
	int lfd;

	if (argc < 3)
		return 2;
	if (argc > 3) {
		if (!strncmp(argv[3], "send:", 5))
			tmpl.mode = 's';
		else if (!strncmp(argv[3], "rst-after:", 10))
			tmpl.mode = 'r';
		else if (!strcmp(argv[3], "verify"))
			tmpl.mode = 'v';
		else if (strcmp(argv[3], "echo"))
			return 2;
		if (strchr("sr", tmpl.mode) && parse_size(strchr(argv[3], ':') + 1, &tmpl.bytes) < 0)
			return 2;
	}
	lfd = tcp_socket_to(argv[1], argv[2], true);
	if (lfd < 0) {
		vb_err(NAME, lfd, "listen on %s:%s", argv[1], argv[2]);
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;
		struct conn_job *job;
		pthread_t th;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		job = malloc(sizeof(*job));
		if (!job) {
			close(fd);
			continue;
		}
		*job = tmpl;
		job->fd = fd;
		if (pthread_create(&th, &attr, serve_conn, job) != 0) {
			close(fd);
			free(job);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One 1-byte request/response on fd. Returns 0 or -errno/-EPIPE. */
static int one_rr(int fd)
{
	uint8_t c = 'x';
	ssize_t n;

	if (write_full(fd, &c, 1) < 0)
		return -errno;
	n = read(fd, &c, 1);
	return n == 1 ? 0 : n < 0 ? -errno : -EPIPE;
}

static int cmd_rr(int argc, char **argv, bool crr)
{
	uint64_t count, *lat, t0 = now_ns(), total;
	int fd = -1, err = 0;

	if (argc != 4 || parse_uint(argv[3], 1, 10000000, &count) < 0)
		return 2;
	lat = calloc(count, sizeof(*lat));
	if (!lat)
		return 1;
	for (uint64_t i = 0; i < count && !err; i++) {
		uint64_t t = now_ns();

		if (fd < 0 && (fd = tcp_socket_to(argv[1], argv[2], false)) < 0)
			err = fd;
		if (!err)
			err = one_rr(fd);
		if (crr && fd >= 0) {
			close(fd);
			fd = -1;
		}
		lat[i] = now_ns() - t;
	}
	total = now_ns() - t0;
	if (err) {
		vb_err(NAME, err, "%s to %s:%s", crr ? "crr" : "rr", argv[1], argv[2]);
		return 1;
	}
	qsort(lat, count, sizeof(*lat), cmp_u64);
	printf("p50_us %.1f p99_us %.1f per_s %.0f\n", lat[count / 2] / 1e3,
	       lat[count * 99 / 100] / 1e3, count * 1e9 / (double)total);
	free(lat);
	return 0;
}

/* Echo connections, par at a time: send a message, half-close, read the
 * echo to EOF and compare. */
static int cmd_conns(int argc, char **argv)
{
	uint64_t total, par, done = 0, ok = 0;
	int fds[1024];
	uint8_t msg[100], buf[200];

	if (argc != 5 || parse_uint(argv[3], 1, 1000000, &total) < 0 ||
	    parse_uint(argv[4], 1, ARRAY_SIZE(fds), &par) < 0)
		return 2;
	pattern(msg, sizeof(msg), 0);
	while (done < total) {
		uint64_t n = MIN(par, total - done);

		for (uint64_t i = 0; i < n; i++) {
			fds[i] = tcp_socket_to(argv[1], argv[2], false);
			if (fds[i] >= 0 && (write_full(fds[i], msg, sizeof(msg)) < 0 ||
					    shutdown(fds[i], SHUT_WR) < 0)) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
		for (uint64_t i = 0; i < n; i++) {
			ssize_t got = fds[i] < 0 ? -1 : read_full(fds[i], buf, sizeof(buf));

			ok += got == sizeof(msg) && !memcmp(buf, msg, sizeof(msg));
			if (fds[i] >= 0)
				close(fds[i]);
		}
		done += n;
	}
	printf("conns %llu ok %llu\n", (unsigned long long)total, (unsigned long long)ok);
	return ok == total ? 0 : 1;
}

/* Reads a pattern stream to its end, optionally after a pause (the
 * guest's window closes meanwhile); prints how it ended. */
static int cmd_read(int argc, char **argv)
{
	uint64_t pause = 0;
	int fd;

	if (argc < 3 || (argc > 3 && parse_uint(argv[3], 0, 600000, &pause) < 0))
		return 2;
	fd = tcp_socket_to(argv[1], argv[2], false);
	if (fd < 0) {
		vb_err(NAME, fd, "connect %s:%s", argv[1], argv[2]);
		return 1;
	}
	if (pause)
		poll(NULL, 0, (int)pause);
	return verify_stream(fd);
}

/* Sends a pattern stream, half-closes, and waits for the peer's EOF. */
static int cmd_send(int argc, char **argv)
{
	uint64_t bytes;
	uint8_t c;
	int fd, err;

	if (argc != 4 || parse_size(argv[3], &bytes) < 0)
		return 2;
	fd = tcp_socket_to(argv[1], argv[2], false);
	if (fd < 0) {
		vb_err(NAME, fd, "connect %s:%s", argv[1], argv[2]);
		return 1;
	}
	err = send_pattern(fd, bytes);
	if (err == 0 && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	if (err == 0 && read(fd, &c, 1) != 0)
		err = -EPROTO;
	if (err < 0)
		vb_err(NAME, err, "send to %s:%s", argv[1], argv[2]);
	close(fd);
	return err < 0;
}

static int cmd_rst(int argc, char **argv)
{
	int fd;

	if (argc != 3)
		return 2;
	fd = tcp_socket_to(argv[1], argv[2], false);
	if (fd < 0 || one_rr(fd) < 0) {
		vb_err(NAME, fd < 0 ? fd : -EPIPE, "connect %s:%s", argv[1], argv[2]);
		return 1;
	}
	linger0_close(fd);
	return 0;
}

static int cmd_gen(int argc, char **argv)
{
	uint64_t bytes;
	int err;

	if (argc != 2 || parse_size(argv[1], &bytes) < 0)
		return 2;
	err = send_pattern(1, bytes);
	return err < 0 && err != -EPIPE ? 1 : 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "server"))
		rc = cmd_server(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "rr") || !strcmp(argv[1], "crr"))
		rc = cmd_rr(argc - 1, argv + 1, argv[1][0] == 'c');
	else if (!strcmp(argv[1], "conns"))
		rc = cmd_conns(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "read"))
		rc = cmd_read(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "send"))
		rc = cmd_send(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "rst"))
		rc = cmd_rst(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "gen"))
		rc = cmd_gen(argc - 1, argv + 1);
	if (rc == 2)
		fprintf(stderr, "voidbox " NAME ": bad usage (see --help)\n");
	return rc;
}
