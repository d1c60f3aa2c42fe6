/* Fuzz target: the agent -> host direction as `voidbox run` takes it
 * (run/client.c): a fake agent on a socket pair sends the input as its
 * byte stream (STARTED, STDOUT/STDERR, EXIT, ERROR frames, or anything)
 * and hangs up; the client runs on its loop until it is done. Its stdout
 * and stderr go to /dev/null meanwhile. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "fuzz.h"
#include "run/client.h"
#include "run/end.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct client c;
	char *argv[] = { "true", NULL }, *envp[] = { NULL };
	struct proto_exec e = { .version = PROTO_VERSION, .workdir = "", .argc = 1, .argv = argv,
				.envp = envp };
	struct run_end end = { 0 };
	struct loop l;
	int sv[2], null, o1, o2;
	size_t off = 0;
	char sink[4096];

	fz_no_sigpipe();
	if (loop_init(&l))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		loop_fini(&l);
		return 0;
	}
	fflush(NULL);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	o1 = dup(1);
	o2 = dup(2);
	dup2(null, 1);
	dup2(null, 2);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if (client_start(&c, &l, sv[0], &e, false, &end) == 0) {
		for (int i = 0; i < 10000 && !c.done; i++) {
			ssize_t w = off < size ? write(sv[1], data + off, size - off) : 0;

			if (w > 0)
				off += (size_t)w;
			if (off >= size && sv[1] >= 0) {
				close(sv[1]); /* the agent hangs up */
				sv[1] = -1;
			}
			while (sv[1] >= 0 && read(sv[1], sink, sizeof(sink)) > 0)
				; /* the EXEC and whatever else the client sends */
			if (loop_once(&l, 0) == 0 && sv[1] < 0)
				loop_once(&l, 10);
			if (l.stop)
				break;
		}
		client_fini(&c);
	} else {
		close(sv[0]);
	}
	if (sv[1] >= 0)
		close(sv[1]);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	close(null);
	loop_fini(&l);
	return 0;
}
