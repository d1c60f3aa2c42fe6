/* What every `voidbox run` does around one command, VM or not: the main
 * loop, signals (forwarded to the command; a repeat ends run), --timeout,
 * the host terminal in raw mode for -t (restored on every exit path: all
 * signals arrive through a signalfd, so run never dies asynchronously), and
 * the EXEC request built from the options. */
#ifndef VOIDBOX_RUN_SESSION_H
#define VOIDBOX_RUN_SESSION_H

#include <stdbool.h>
#include <termios.h>

#include "base/loop.h"
#include "run/client.h"
#include "run/end.h"
#include "run/run.h"

struct run_session {
	const struct run_opts *o;
	struct loop loop;        /* the main thread's loop */
	struct client cl;
	bool cl_on;
	int sig_fd, timer_fd;
	struct loop_watch w_sig, w_timer;
	int last_sig;
	struct termios saved;
	bool raw;                /* the host terminal is in raw mode */
	bool poweroff_after;     /* ask the agent to power off after the command */
	struct run_end end;      /* how the run ended (run/end.h) */
};

/* Blocks the signals run handles (call before any thread starts), sets up
 * the loop, timer and terminal. Returns 0 or -errno. */
int run_session_init(struct run_session *s, const struct run_opts *o);
/* Sends the command on the agent connection sock. Returns 0 or -errno. */
int run_session_start(struct run_session *s, int sock);
/* Records how the run ended (the first end wins: run_end_set()) and stops
 * the loop; for the caller's own watches (the VMM, the boot timer). fmt may
 * be NULL. */
void run_session_end(struct run_session *s, enum run_end_kind kind, int value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Runs the loop until the command, the timer, a signal or a caller's watch
 * ends it (s->end says how). Returns the exit code (run_end_code()). */
int run_session_wait(struct run_session *s);
/* Restores the terminal, closes everything. */
void run_session_fini(struct run_session *s);

#endif
