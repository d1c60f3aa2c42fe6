/* How a `voidbox run` ended, as a type. Whatever ends a run (the agent's
 * EXIT frame, --timeout, a repeated signal, the VMM dying, the agent never
 * listening, the connection breaking, a failed set-up) records one end with
 * run_end_set(): the first wins. The exit status comes from the end's kind
 * (run_end_code()), never from matching message text, and the one line run
 * prints for its own failures is the end's why. This is the error
 * convention of libcore in small: functions return -errno or a result, a
 * context keeps one message buffer (why) for the first thing that went
 * wrong, and the caller that decides reads the type, not the words. */
#ifndef VOIDBOX_RUN_END_H
#define VOIDBOX_RUN_END_H

#include <stdbool.h>

#define RUN_EXIT_TIMEOUT 124
#define RUN_EXIT_SETUP 125

enum run_end_kind {
	RUN_END_NONE = 0,     /* still running */
	RUN_END_EXITED,       /* the command's status arrived: value, 0..255 as the agent
			       * reports it (126/127 cannot execute / not found, 128+N
			       * killed by signal N in the guest) */
	RUN_END_REFUSED,      /* the agent refused the command (an ERROR frame): value */
	RUN_END_TIMEOUT,      /* --timeout: 124 */
	RUN_END_INTERRUPTED,  /* run itself got signal value again: 128 + value */
	RUN_END_SETUP,        /* run could not set the VM or the command up: 125 */
	RUN_END_VMM_FAILED,   /* the VMM or a device back end died: 125 */
	RUN_END_NOT_READY,    /* the agent was not listening in time: 125 */
	RUN_END_POWERED_OFF,  /* the guest powered off before the exit status: 125 */
	RUN_END_LOST,         /* the agent's connection broke before the exit status: 125 */
	RUN_END_PROTOCOL,     /* the agent broke the protocol: 125 */
};

struct run_end {
	enum run_end_kind kind;
	int value;
	char why[400];        /* one line, for kinds run reports itself ("" for EXITED) */
};

/* Records how the run ended, unless an end is already recorded. fmt may be
 * NULL. Returns true when this call recorded it. */
bool run_end_set(struct run_end *e, enum run_end_kind kind, int value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Replaces a recorded LOST end with what the caller found out since (the
 * VM died, or powered off: the better reason). fmt may be NULL. */
void run_end_explain_lost(struct run_end *e, enum run_end_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The exit status for e: the command's own, 124, 128+N, or 125. */
int run_end_code(const struct run_end *e);
/* Whether e is one of voidbox's own failures (the guest's kept console
 * helps explain it). */
bool run_end_is_failure(const struct run_end *e);
/* Prints e's why, if any, as run's one line ("voidbox run: why"). */
void run_end_report(const struct run_end *e);

#endif
