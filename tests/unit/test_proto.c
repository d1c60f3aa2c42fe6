/* Unit tests for proto/ (EXEC encoding, frame parsing from hostile bytes)
 * and the agent's command server fed malformed and oversized frames over a
 * Unix socket (it must answer ERROR and keep serving, never crash). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/serve.h"
#include "base/usock.h"
#include "base/util.h"
#include "proto/proto.h"
#include "run/client.h"
#include "t.h"

static uint8_t buf[PROTO_MAX_EXEC];
static char *vec[PROTO_MAX_STRINGS + 2];

static int encode_basic(void)
{
	char *argv[] = { "sh", "-c", "echo hi", NULL };
	char *env[] = { "A=1", "B=", NULL };
	struct proto_exec e = { .version = PROTO_VERSION, .flags = PROTO_EXEC_PTY, .uid = 1000,
				.gid = 1001, .rows = 24, .cols = 80, .workdir = "/w",
				.argc = 3, .envc = 2, .argv = argv, .envp = env };
	return proto_exec_encode(&e, buf, sizeof(buf));
}

static void test_exec_roundtrip(void)
{
	struct proto_exec d;
	int n = encode_basic();

	T_REQUIRE(n > 24, "encode %d", n);
	T_REQUIRE(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == 0, "decode");
	T_CHECK(d.uid == 1000 && d.gid == 1001 && d.rows == 24 && d.cols == 80, "fields");
	T_CHECK(d.flags == PROTO_EXEC_PTY && !strcmp(d.workdir, "/w"), "flags/workdir");
	T_CHECK(d.argc == 3 && !strcmp(d.argv[2], "echo hi") && !d.argv[3], "argv");
	T_CHECK(d.envc == 2 && !strcmp(d.envp[1], "B=") && !d.envp[2], "env");
}

static void test_exec_malformed(void)
{
	struct proto_exec d;
	int n = encode_basic();

	T_REQUIRE(n > 0, "encode");
	/* every truncation is refused */
	for (int len = 0; len < n; len++)
		T_CHECK(proto_exec_decode(buf, (uint32_t)len, &d, vec, ARRAY_SIZE(vec)) != 0,
			"truncated to %d accepted", len);
	n = encode_basic();
	buf[n] = 'x';
	buf[n + 1] = 0;
	T_CHECK(proto_exec_decode(buf, (uint32_t)n + 2, &d, vec, ARRAY_SIZE(vec)) == -EPROTO, "trailing string");
	n = encode_basic();
	buf[0] = 9;
	T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == -EPROTONOSUPPORT, "version");
	n = encode_basic();
	buf[2] = 0x80;
	T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == -EPROTO, "flags");
	n = encode_basic();
	st_le32(buf + 16, 0);
	T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == -EPROTO, "argc 0");
	n = encode_basic();
	st_le32(buf + 16, 0xffffffff);
	T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == -EPROTO, "huge argc");
	n = encode_basic();
	st_le32(buf + 20, 0xfffffffe);
	T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == -EPROTO, "argc+envc wrap");
	n = encode_basic();
	T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, 4) == -E2BIG, "small vec");
	/* an env entry without '=' */
	{
		char *argv[] = { "x", NULL }, *env[] = { "NOEQUALS", NULL };
		struct proto_exec e = { .version = PROTO_VERSION, .workdir = "", .argc = 1,
					.envc = 1, .argv = argv, .envp = env };
		n = proto_exec_encode(&e, buf, sizeof(buf));
		T_CHECK(proto_exec_decode(buf, (uint32_t)n, &d, vec, ARRAY_SIZE(vec)) == -EPROTO, "env");
	}
	/* too big to encode */
	{
		static char big[PROTO_MAX_EXEC];
		char *argv[] = { big, NULL };
		struct proto_exec e = { .version = PROTO_VERSION, .workdir = "", .argc = 1, .argv = argv };
		memset(big, 'a', sizeof(big) - 1);
		T_CHECK(proto_exec_encode(&e, buf, sizeof(buf)) == -EMSGSIZE, "oversized encode");
	}
}

static void test_rx_frames(void)
{
	struct proto_rx rx;
	struct proto_tx tx;
	struct proto_msg m;
	int sv[2];

	T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
	T_REQUIRE(proto_rx_init(&rx, 100) == 0 && proto_tx_init(&tx, 1000) == 0, "init");
	T_CHECK(proto_tx_frame(&tx, PT_STDOUT, "hello", 5) == 0, "frame");
	T_CHECK(proto_tx_u32s(&tx, PT_EXIT, 3, 0, 2) == 0, "exit frame");
	T_CHECK(proto_tx_frame(&tx, PT_STDOUT, buf, 990) == -ENOBUFS, "over room");
	T_CHECK(proto_tx_flush(&tx, sv[0]) == 0 && tx.len == 0, "flush");
	/* one byte at a time: frames appear only once whole */
	uint8_t all[64];
	ssize_t n = read(sv[1], all, sizeof(all));
	T_REQUIRE(n == 8 + 5 + 8 + 8, "bytes %zd", n);
	int sv2[2];
	T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2) == 0, "socketpair2");
	int got = 0;
	for (ssize_t i = 0; i < n; i++) {
		T_REQUIRE(write(sv2[0], all + i, 1) == 1, "write");
		T_REQUIRE(proto_rx_fill(&rx, sv2[1]) == 1, "fill");
		while (proto_rx_next(&rx, &m) == 1) {
			if (got == 0)
				T_CHECK(m.type == PT_STDOUT && m.len == 5 && !memcmp(m.data, "hello", 5), "f1");
			else
				T_CHECK(m.type == PT_EXIT && m.len == 8 && ld_le32(m.data) == 3, "f2");
			got++;
		}
	}
	T_CHECK(got == 2, "frames %d", got);
	/* hostile headers */
	uint8_t h[8];
	proto_put_hdr(h, 77, 0);
	T_REQUIRE(write(sv2[0], h, 8) == 8 && proto_rx_fill(&rx, sv2[1]) == 8, "w");
	T_CHECK(proto_rx_next(&rx, &m) == -EPROTO, "unknown type");
	proto_rx_free(&rx);
	T_REQUIRE(proto_rx_init(&rx, 100) == 0, "init");
	proto_put_hdr(h, PT_STDIN, PROTO_MAX_DATA + 1);
	T_REQUIRE(write(sv2[0], h, 8) == 8 && proto_rx_fill(&rx, sv2[1]) == 8, "w");
	T_CHECK(proto_rx_next(&rx, &m) == -EMSGSIZE, "oversized");
	proto_rx_free(&rx);
	T_REQUIRE(proto_rx_init(&rx, 100) == 0, "init");
	proto_put_hdr(h, PT_SIGNAL, 200);
	T_REQUIRE(write(sv2[0], h, 8) == 8 && proto_rx_fill(&rx, sv2[1]) == 8, "w");
	T_CHECK(proto_rx_next(&rx, &m) == -EMSGSIZE, "SIGNAL with 200 bytes");
	proto_rx_free(&rx);
	proto_tx_free(&tx);
	close(sv[0]); close(sv[1]); close(sv2[0]); close(sv2[1]);
}

/* Reads frames from fd until one of type want (or ERROR/EOF), up to 10 s.
 * Returns the type seen, 0 at EOF, -1 on timeout; the payload's first u32
 * goes to *code. */
static int wait_frame(int fd, int want, uint32_t *code)
{
	struct proto_rx rx;
	struct proto_msg m;
	int ret = -1;

	if (proto_rx_init(&rx, PROTO_MAX_DATA + 2048))
		return -1;
	for (;;) {
		int r = proto_rx_next(&rx, &m);
		if (r == 1) {
			if (m.type == want || m.type == PT_ERROR) {
				*code = m.len >= 4 ? ld_le32(m.data) : 0;
				ret = m.type;
				break;
			}
			continue;
		}
		if (r < 0)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10000) != 1)
			break;
		ssize_t n = proto_rx_fill(&rx, fd);
		if (n == 0) {
			ret = 0;
			break;
		}
		if (n < 0 && n != -EAGAIN)
			break;
	}
	proto_rx_free(&rx);
	return ret;
}

static void send_raw(int fd, uint16_t type, const void *p, uint32_t len)
{
	uint8_t h[8];

	proto_put_hdr(h, type, len);
	if (write_full(fd, h, 8) || (len && write_full(fd, p, len))) {
		/* the server may close first: seen by wait_frame */
	}
}

static void test_agent_hostile(void)
{
	char dir[] = "/tmp/vb-run-unit.XXXXXX", path[128];
	uint32_t code = 0;
	pid_t pid;
	int fd, lfd;

	T_REQUIRE(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	lfd = usock_listen(path, 16);
	T_REQUIRE(lfd >= 0, "listen: %s", strerror(-lfd));
	pid = fork();
	if (pid == 0)
		_exit(agent_serve(lfd) == AGENT_POWEROFF ? 0 : 1);
	close(lfd);

	/* unknown frame type */
	fd = client_connect_unix(path);
	T_REQUIRE(fd >= 0, "connect");
	send_raw(fd, 99, NULL, 0);
	T_CHECK(wait_frame(fd, PT_ERROR, &code) == PT_ERROR && code == 125, "unknown type");
	close(fd);
	/* oversized length */
	fd = client_connect_unix(path);
	send_raw(fd, PT_EXEC, NULL, 0);
	{
		uint8_t h[8];
		proto_put_hdr(h, PT_EXEC, 0xfffffff0u);
		write_full(fd, h, 8);
	}
	T_CHECK(wait_frame(fd, PT_ERROR, &code) == PT_ERROR && code == 125, "oversized");
	close(fd);
	/* STDIN before EXEC, malformed EXEC, bad version */
	fd = client_connect_unix(path);
	send_raw(fd, PT_STDIN, "x", 1);
	T_CHECK(wait_frame(fd, PT_ERROR, &code) == PT_ERROR, "stdin before exec");
	close(fd);
	fd = client_connect_unix(path);
	send_raw(fd, PT_EXEC, "garbage-garbage-garbage-garbage", 31);
	T_CHECK(wait_frame(fd, PT_ERROR, &code) == PT_ERROR && code == 125, "malformed exec");
	close(fd);
	int n = encode_basic();
	buf[0] = 7;
	fd = client_connect_unix(path);
	send_raw(fd, PT_EXEC, buf, (uint32_t)n);
	T_CHECK(wait_frame(fd, PT_ERROR, &code) == PT_ERROR && code == 125, "bad version");
	close(fd);
	/* a client that vanishes mid-command: its command is killed, server lives */
	{
		char *argv[] = { "sleep", "100", NULL }, *env[] = { NULL };
		struct proto_exec e = { .version = PROTO_VERSION, .workdir = "/", .argc = 2,
					.argv = argv, .envp = env, .uid = getuid(), .gid = getgid() };
		n = proto_exec_encode(&e, buf, sizeof(buf));
		fd = client_connect_unix(path);
		send_raw(fd, PT_EXEC, buf, (uint32_t)n);
		T_CHECK(wait_frame(fd, PT_STARTED, &code) == PT_STARTED && code > 0, "started");
		close(fd);
		/* the sleep's process group gets SIGKILL once the agent sees EOF */
		for (int i = 0; i < 200 && kill((pid_t)code, 0) == 0; i++)
			poll(NULL, 0, 10);
		T_CHECK(kill((pid_t)code, 0) < 0, "orphaned command still running");
	}
	/* still serving: a good command works */
	{
		char *argv[] = { "sh", "-c", "exit 7", NULL }, *env[] = { NULL };
		struct proto_exec e = { .version = PROTO_VERSION, .workdir = "/", .argc = 3,
					.argv = argv, .envp = env, .uid = getuid(), .gid = getgid() };
		n = proto_exec_encode(&e, buf, sizeof(buf));
		fd = client_connect_unix(path);
		send_raw(fd, PT_EXEC, buf, (uint32_t)n);
		T_CHECK(wait_frame(fd, PT_EXIT, &code) == PT_EXIT && code == 7, "exit 7 -> %u", code);
		close(fd);
	}
	/* power-off ends the server with 0 */
	fd = client_connect_unix(path);
	send_raw(fd, PT_POWEROFF, NULL, 0);
	int st = -1;
	T_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		"server did not stop cleanly (status %d)", st);
	close(fd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	T_RUN(test_exec_roundtrip);
	T_RUN(test_exec_malformed);
	T_RUN(test_rx_frames);
	T_RUN(test_agent_hostile);
	T_EXIT();
}
