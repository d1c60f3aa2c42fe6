/* run_attach: runs the command through an agent that already listens, with
 * no VM of our own: "unix:PATH" is `voidbox agent --listen unix:PATH` (the
 * host tests use it), "vsock:PATH" a running VM's control socket (the
 * vsock device's CONNECT protocol to the agent's port). Once the command
 * is sent, the process takes the main thread's seccomp list: from then on
 * it only streams (the agent at the other end is the guest's). */
#include "run/run.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/seccomp.h"
#include "base/util.h"
#include "run/session.h"

int run_attach(const struct run_opts *o)
{
	struct run_session s;
	int fd, r, code;

	if (!strncmp(o->attach, "unix:", 5))
		fd = client_connect_unix(o->attach + 5);
	else if (!strncmp(o->attach, "vsock:", 6))
		fd = client_connect_vsock(o->attach + 6, PROTO_VSOCK_PORT, 10000);
	else {
		vb_err("run", 0, "--attach %s: expected unix:PATH or vsock:PATH", o->attach);
		return RUN_EXIT_SETUP;
	}
	if (fd < 0) {
		vb_err("run", fd, "connecting to the agent at %s", o->attach);
		return RUN_EXIT_SETUP;
	}
	r = run_session_init(&s, o);
	if (!r)
		r = run_session_start(&s, fd);
	else
		close(fd);
	if (!r && !(r = seccomp_harden_process()))
		r = seccomp_install(SECCOMP_MAIN, &(struct seccomp_params){ .child = 0 });
	if (r) {
		vb_err("run", r, "starting the command");
		run_session_fini(&s);
		return RUN_EXIT_SETUP;
	}
	code = run_session_wait(&s);
	run_end_report(&s.end);
	run_session_fini(&s);
	return code;
}
