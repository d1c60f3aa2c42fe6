/* The event loop: one epoll instance, watches whose storage the caller owns
 * (so adding a watch never allocates), and a dispatch step. Devices, front
 * ends and SLIRP all hang their file descriptors here; the I/O thread of a
 * VM runs loop_run() until loop_stop(). */
#ifndef VOIDBOX_LOOP_H
#define VOIDBOX_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop_watch;
/* Called with the epoll events that fired on w->fd. */
typedef void (*loop_cb)(struct loop_watch *w, uint32_t events);

struct loop_watch {
	int fd;
	loop_cb cb;
	void *ctx;
};

/* Work put off for a short while: it runs once its deadline has passed,
 * after the events that came in the meantime (which may have made it moot:
 * its owner then cancels it). The loop's wait is shortened to the nearest
 * deadline (to the nanosecond with epoll_pwait2), so no timer fd or system
 * call is spent on it. */
struct loop_defer {
	void (*cb)(struct loop_defer *d);
	void *ctx;
	uint64_t due;             /* CLOCK_MONOTONIC ns */
	struct loop_defer *next;  /* l->defer, while armed */
	bool armed;
};

struct loop {
	int epfd;
	bool stop;
	int exit_code; /* set by whoever calls loop_stop */
	/* the events loop_once() is dispatching, so loop_del() can drop a
	 * watch's pending event before its owner frees it */
	struct epoll_event *batch;
	int batch_n;
	struct loop_defer *defer; /* armed deferrals, unordered */
	bool no_pwait2;           /* the kernel lacks epoll_pwait2 */
};

/* Creates the epoll instance. Returns 0 or -errno. */
int loop_init(struct loop *l);
void loop_fini(struct loop *l);
/* Starts watching w->fd for events (EPOLLIN, ...). Returns 0 or -errno. */
int loop_add(struct loop *l, struct loop_watch *w, uint32_t events);
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Stops watching w->fd (before the caller closes it). An event for w still
 * pending in the dispatch in progress is dropped, so a callback may delete
 * and free other watches. */
void loop_del(struct loop *l, struct loop_watch *w);
/* Runs d->cb about delay_ns from now, unless it is armed already (the
 * earlier deadline stands) or cancelled first. */
void loop_defer(struct loop *l, struct loop_defer *d, uint64_t delay_ns);
void loop_defer_cancel(struct loop *l, struct loop_defer *d);
/* Waits up to timeout_ms (-1: forever) and dispatches what fired.
 * Returns the number of callbacks run, or -errno. */
int loop_once(struct loop *l, int timeout_ms);
/* Dispatches until loop_stop(). Returns l->exit_code. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l, int exit_code);

#endif
