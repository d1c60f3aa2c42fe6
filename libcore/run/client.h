/* The host side of one command (docs/protocol.md): sends EXEC on a connected
 * agent socket, forwards stdin (EOF included), signals and window-size
 * changes, writes STDOUT/STDERR frames to fds 1 and 2 as they arrive, and
 * ends by recording how the command ended in the caller's struct run_end
 * (run/end.h: its status, the agent's refusal, a broken connection or
 * protocol). It runs on the caller's loop (the caller also watches its VMM,
 * timer and signals there) and stops that loop when the command is over. */
#ifndef VOIDBOX_RUN_CLIENT_H
#define VOIDBOX_RUN_CLIENT_H

#include <stdbool.h>

#include "base/loop.h"
#include "proto/proto.h"
#include "run/end.h"

struct client {
	struct loop *loop;
	int sock;
	bool forward_stdin;
	struct loop_watch w_sock, w_in;
	uint32_t ev_sock;
	bool in_watched;      /* stdin is on the loop (pollable) */
	bool in_file;         /* stdin cannot be polled (file, /dev/null): read when there is room */
	bool in_done;         /* EOF sent (or stdin not forwarded) */
	bool done;            /* an end is recorded */
	struct run_end *end;  /* the caller's: how the command ended */
	uint32_t guest_pid;   /* from STARTED, 0 before */
	bool out_gone[2];     /* our stdout / stderr reader went away */
	struct proto_rx rx;
	struct proto_tx tx;
	uint8_t *scratch;
};

/* Sends e on sock (connected, made non-blocking here) and joins loop l.
 * With forward_stdin, fd 0 is streamed to the command. How it ends goes to
 * end. sock is the client's from here on: client_fini closes it, and so
 * does a failed start, which also frees what it took. Returns 0 or -errno. */
int client_start(struct client *c, struct loop *l, int sock, const struct proto_exec *e,
		 bool forward_stdin, struct run_end *end);
/* Forwards signal sig to the command's process group. */
void client_signal(struct client *c, int sig);
/* Tells the guest pty its new size. */
void client_resize(struct client *c, unsigned rows, unsigned cols);
/* Asks the agent to power off (best effort, not waited for). */
void client_poweroff(struct client *c);
/* Leaves the loop and frees buffers (closes sock). */
void client_fini(struct client *c);

/* Connects to a Unix socket path. Returns the fd or -errno. */
int client_connect_unix(const char *path);
/* Connects through a vsock device's Unix socket (Firecracker style):
 * "CONNECT port\n", waits up to timeout_ms for "OK n\n". Returns the fd or
 * -errno (-ECONNREFUSED when the guest refused or closed). */
int client_connect_vsock(const char *uds, unsigned port, int timeout_ms);

#endif
