/* agent-listen unix:PATH: the agent's command server on a Unix socket on the
 * host, not as PID 1 (what `voidbox agent --listen` does once the agent
 * applet lands). The run tests drive it with `voidbox run --attach`. Exits 0
 * when a client asks for power-off. */
#include <stdio.h>
#include <string.h>

#include "agent/serve.h"
#include "base/util.h"

int main(int argc, char **argv)
{
	int fd, r;

	if (argc != 2 || strncmp(argv[1], "unix:", 5)) {
		fprintf(stderr, "usage: agent-listen unix:PATH\n");
		return 2;
	}
	fd = agent_listen_unix(argv[1] + 5);
	if (fd < 0) {
		vb_err("agent-listen", fd, "listening on %s", argv[1] + 5);
		return 1;
	}
	r = agent_serve(fd);
	return r == AGENT_POWEROFF ? 0 : 1;
}
