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

struct loop {
	int epfd;
	bool stop;
	int exit_code; /* set by whoever calls loop_stop */
	/* the events loop_once() is dispatching, so loop_del() can drop a
	 * watch's pending event before its owner frees it */
	struct epoll_event *batch;
	int batch_n;
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
/* Waits up to timeout_ms (-1: forever) and dispatches what fired.
 * Returns the number of callbacks run, or -errno. */
int loop_once(struct loop *l, int timeout_ms);
/* Dispatches until loop_stop(). Returns l->exit_code. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l, int exit_code);

#endif
