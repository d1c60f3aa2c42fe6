/* Starting one command for the agent's command server: pipes or a pty, a
 * new session and process group, the requested user (setgroups, setgid,
 * setuid), working folder (created for the user when missing) and
 * environment (defaults: PATH, HOME, USER, LOGNAME, then the request's). */
#ifndef VOIDBOX_AGENT_EXEC_H
#define VOIDBOX_AGENT_EXEC_H

#include <stddef.h>
#include <sys/types.h>

#include "proto/proto.h"

struct agent_child {
	pid_t pid;
	int in_fd;   /* write end of the command's stdin (pty: a dup of the master) */
	int out_fd;  /* read end of its stdout (pty: the master) */
	int err_fd;  /* read end of its stderr, -1 on a pty */
	int pty_fd;  /* the pty master for TIOCSWINSZ, or -1 */
};

/* Runs e's command. Our ends are non-blocking and close-on-exec. Returns 0,
 * or the exit code the host should report (125 setup failure, 126 cannot
 * execute, 127 not found) with a one-line reason in msg. */
int agent_exec(const struct proto_exec *e, struct agent_child *c, char *msg, size_t len);

#endif
