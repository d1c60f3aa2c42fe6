/* epoll event loop; see base/loop.h. */
#include "base/loop.h"

#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

int loop_init(struct loop *l)
{
	l->stop = false;
	l->exit_code = 0;
	l->batch = NULL;
	l->batch_n = 0;
	l->defer = NULL;
	l->no_pwait2 = false;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void loop_fini(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static int loop_ctl(struct loop *l, int op, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, op, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_add(struct loop *l, struct loop_watch *w, uint32_t events)
{
	return loop_ctl(l, EPOLL_CTL_ADD, w, events);
}

int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	return loop_ctl(l, EPOLL_CTL_MOD, w, events);
}

void loop_del(struct loop *l, struct loop_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = 0; i < l->batch_n; i++)
		if (l->batch[i].data.ptr == w)
			l->batch[i].data.ptr = NULL;
}

void loop_defer(struct loop *l, struct loop_defer *d, uint64_t delay_ns)
{
	if (d->armed)
		return;
	d->due = now_ns() + delay_ns;
	d->armed = true;
	d->next = l->defer;
	l->defer = d;
}

void loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
	struct loop_defer **p = &l->defer;

	if (!d->armed)
		return;
	while (*p && *p != d)
		p = &(*p)->next;
	if (*p)
		*p = d->next;
	d->armed = false;
}

/* The wait that lets the nearest deferral run on time, ns: timeout_ms
 * (-1: none) or less. */
static uint64_t defer_timeout(const struct loop *l, int timeout_ms)
{
	uint64_t now = now_ns(), first = UINT64_MAX, ns;

	for (const struct loop_defer *d = l->defer; d; d = d->next)
		first = MIN(first, d->due);
	ns = first <= now ? 0 : first - now;
	return timeout_ms >= 0 ? MIN(ns, (uint64_t)timeout_ms * 1000000) : ns;
}

/* epoll_wait with a timeout in nanoseconds: epoll_pwait2 (Linux 5.11+), or
 * epoll_wait rounded up to whole milliseconds where the kernel lacks it. */
static int loop_wait_ns(struct loop *l, struct epoll_event *ev, int n, uint64_t ns)
{
	if (!l->no_pwait2) {
		struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
		int r = (int)syscall(SYS_epoll_pwait2, l->epfd, ev, n, &ts, NULL, 0);

		if (r >= 0 || errno != ENOSYS)
			return r;
		l->no_pwait2 = true;
	}
	return epoll_wait(l->epfd, ev, n, (int)MIN((ns + 999999) / 1000000, 60000));
}

/* Runs (and disarms) the deferrals whose deadline has passed; their
 * callbacks may arm or cancel others. Returns how many ran. */
static int defer_run(struct loop *l)
{
	uint64_t now = now_ns();
	int ran = 0;

	for (struct loop_defer **p = &l->defer; *p;) {
		struct loop_defer *d = *p;

		if (d->due > now) {
			p = &d->next;
			continue;
		}
		*p = d->next;
		d->armed = false;
		d->cb(d);
		ran++;
		p = &l->defer; /* the callback may have changed the list */
	}
	return ran;
}

int loop_once(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[64], *outer = l->batch;
	int outer_n = l->batch_n, n;

	if (l->defer)
		n = loop_wait_ns(l, ev, 64, defer_timeout(l, timeout_ms));
	else
		n = epoll_wait(l->epfd, ev, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->batch = ev;
	l->batch_n = n;
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = ev[i].data.ptr;
		if (w) /* NULL: deleted by an earlier callback of this batch */
			w->cb(w, ev[i].events);
	}
	l->batch = outer;
	l->batch_n = outer_n;
	if (l->defer)
		n += defer_run(l);
	return n;
}

int loop_run(struct loop *l)
{
	while (!l->stop) {
		int r = loop_once(l, -1);
		if (r < 0)
			return r;
	}
	return l->exit_code;
}

void loop_stop(struct loop *l, int exit_code)
{
	l->stop = true;
	l->exit_code = exit_code;
}
