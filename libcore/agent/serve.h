/* The agent's command server: accepts host connections (vsock port
 * PROTO_VSOCK_PORT in the guest, or a Unix socket for tests on the host),
 * runs one command per connection (agent/exec.h) and streams its I/O with
 * back-pressure both ways, all on one epoll loop. It reaps every child,
 * orphans too (the agent is PID 1 in the guest). Several connections may
 * be served at once. */
#ifndef VOIDBOX_AGENT_SERVE_H
#define VOIDBOX_AGENT_SERVE_H

#include <stdbool.h>

/* Listens on vsock port (any CID). Returns the fd (non-blocking,
 * close-on-exec) or -errno. For a Unix socket use usock_listen(). */
int agent_listen_vsock(unsigned port);

enum agent_end {
	AGENT_POWEROFF = 1,    /* the host asked for power-off (or the last
				  command with PROTO_EXEC_POWEROFF ended) */
};

/* Serves connections on listen_fd until power-off is asked for. Returns
 * AGENT_POWEROFF or -errno. The caller powers off (when PID 1). */
int agent_serve(int listen_fd);

#endif
