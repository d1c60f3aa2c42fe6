/* run/client: the agent connection is the client's from client_start on.
 * A start that fails (here: an exec frame that cannot be encoded) must
 * close the socket and free its buffers (LeakSanitizer checks the latter
 * at exit), and a started client closes it in client_fini. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "proto/proto.h"
#include "run/client.h"
#include "run/end.h"
#include "t.h"

/* Whether fd is still an open descriptor. */
static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static void start_and_check(uint32_t argc, int want_ok)
{
	static char *argv[PROTO_MAX_STRINGS + 2];
	struct proto_exec e = { .version = PROTO_VERSION, .uid = 1000, .gid = 1000, .argv = argv };
	struct run_end end = { 0 };
	struct client c;
	struct loop l;
	int sv[2], r;

	for (uint32_t i = 0; i < argc; i++)
		argv[i] = "x";
	e.argc = argc;
	T_REQUIRE(loop_init(&l) == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
		  "setup");
	r = client_start(&c, &l, sv[0], &e, false, &end);
	if (want_ok) {
		T_CHECK(r == 0, "start: %d", r);
		T_CHECK(fd_open(sv[0]), "a started client lost its socket");
		client_fini(&c);
	} else {
		T_CHECK(r == -EMSGSIZE, "start with %u arguments: %d, want -EMSGSIZE", argc, r);
	}
	T_CHECK(!fd_open(sv[0]), "socket %d still open after %s", sv[0],
		want_ok ? "client_fini" : "a failed start");
	close(sv[1]);
	loop_fini(&l);
}

static void test_start_ok(void)
{
	start_and_check(1, 1);
}

static void test_start_fails_cleanly(void)
{
	start_and_check(PROTO_MAX_STRINGS + 1, 0);
}

int main(void)
{
	T_RUN(test_start_ok);
	T_RUN(test_start_fails_cleanly);
	T_EXIT();
}
