/* Fuzz target: the host -> agent direction of the protocol as the agent
 * parses it (agent/serve.c): the byte stream through proto_rx (framing,
 * types, per-type limits) and every EXEC through proto_exec_decode() with
 * the agent's vector size. (The agent's own dispatch runs commands, so it
 * is not driven here; test_proto's hostile frames cover it.) */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "proto/proto.h"

#define VEC_CAP (PROTO_MAX_STRINGS + 2)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *vec[VEC_CAP];
	static struct proto_rx rx; /* one buffer for the process (1 MiB) */
	struct proto_msg m;
	int p[2];
	size_t off = 0;

	if (!rx.buf && proto_rx_init(&rx, PROTO_MAX_FRAME))
		return 0;
	rx.off = rx.end = 0;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return 0;
	for (;;) {
		ssize_t w = off < size ? write(p[1], data + off, size - off) : 0;
		int r;

		if (w > 0)
			off += (size_t)w;
		if (off >= size && p[1] >= 0) {
			close(p[1]);
			p[1] = -1;
		}
		if (proto_rx_fill(&rx, p[0]) == 0 && !proto_rx_pending(&rx))
			break;
		while ((r = proto_rx_next(&rx, &m)) == 1) {
			if (m.type == PT_EXEC) {
				struct proto_exec e;

				if (proto_exec_decode(m.data, m.len, &e, vec, VEC_CAP) == 0) {
					/* each a whole string, the lists NULL-ended */
					for (uint32_t i = 0; i < e.argc; i++)
						(void)strlen(e.argv[i]);
					for (uint32_t i = 0; i < e.envc; i++)
						(void)strlen(e.envp[i]);
					(void)strlen(e.workdir);
					if (e.argv[e.argc] || e.envp[e.envc])
						abort();
				}
			}
		}
		if (r < 0 || (off >= size && r == 0 && proto_rx_fill(&rx, p[0]) <= 0))
			break;
	}
	if (p[1] >= 0)
		close(p[1]);
	close(p[0]);
	return 0;
}
