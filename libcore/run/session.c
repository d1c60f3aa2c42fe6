/* The command session of `voidbox run`; see run/session.h. */
#include "run/session.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/util.h"

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH,
				       SIGUSR1, SIGUSR2 };

static void on_signal(struct loop_watch *w, uint32_t ev)
{
	struct run_session *s = w->ctx;
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGWINCH) {
			struct winsize ws;
			if (s->cl_on && s->o->tty && ioctl(0, TIOCGWINSZ, &ws) == 0)
				client_resize(&s->cl, ws.ws_row, ws.ws_col);
			continue;
		}
		/* forwarded once; the same signal again (or any before the
		 * command started) ends run */
		if (s->cl_on && !s->cl.done && sig != s->last_sig) {
			s->last_sig = sig;
			client_signal(&s->cl, sig);
			continue;
		}
		if (s->o->verbose)
			run_session_end(s, RUN_END_INTERRUPTED, sig, "%s: stopping", strsignal(sig));
		else
			run_session_end(s, RUN_END_INTERRUPTED, sig, NULL);
	}
}

static void on_timer(struct loop_watch *w, uint32_t ev)
{
	struct run_session *s = w->ctx;
	uint64_t n;

	if (read(w->fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: spurious */
	}
	run_session_end(s, RUN_END_TIMEOUT, 0, "timed out after %u s", s->o->timeout_s);
}

int run_session_init(struct run_session *s, const struct run_opts *o)
{
	sigset_t set;
	int r;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->sig_fd = s->timer_fd = -1;
	s->loop.epfd = -1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(handled_signals); i++)
		sigaddset(&set, handled_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = loop_init(&s->loop)))
		return r;
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sig_fd < 0)
		return -errno;
	s->w_sig = (struct loop_watch){ .fd = s->sig_fd, .cb = on_signal, .ctx = s };
	if ((r = loop_add(&s->loop, &s->w_sig, EPOLLIN)))
		return r;
	s->w_timer = (struct loop_watch){ .fd = -1, .cb = on_timer, .ctx = s };
	if (o->tty && isatty(0) && tcgetattr(0, &s->saved) == 0) {
		struct termios raw = s->saved;
		cfmakeraw(&raw);
		if (tcsetattr(0, TCSAFLUSH, &raw) == 0)
			s->raw = true;
	}
	return 0;
}

int run_session_start(struct run_session *s, int sock)
{
	const struct run_opts *o = s->o;
	char *env[RUN_MAX_ENV + 1];
	char term[256];
	struct proto_exec e = {
		.version = PROTO_VERSION,
		.uid = o->uid, .gid = o->gid,
		.workdir = o->workdir ? o->workdir : "",
		.argc = (uint32_t)o->argc, .argv = o->argv,
		.envp = env,
	};
	struct winsize ws;
	const char *t = getenv("TERM");
	int r;

	if (o->tty) {
		e.flags |= PROTO_EXEC_PTY;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
			e.rows = ws.ws_row;
			e.cols = ws.ws_col;
		}
		snprintf(term, sizeof(term), "TERM=%s", t && *t ? t : "xterm");
		env[e.envc++] = term;
	}
	if (s->poweroff_after)
		e.flags |= PROTO_EXEC_POWEROFF;
	for (unsigned i = 0; i < o->n_env && e.envc < RUN_MAX_ENV; i++)
		env[e.envc++] = (char *)o->env[i];
	env[e.envc] = NULL;
	r = client_start(&s->cl, &s->loop, sock, &e, o->interactive || !o->tty || isatty(0), &s->end);
	if (r)
		return r;
	s->cl_on = true;
	/* --timeout counts from the command's start, not the VM's boot */
	if (o->timeout_s) {
		struct itimerspec it = { .it_value.tv_sec = o->timeout_s };
		s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (s->timer_fd < 0 || timerfd_settime(s->timer_fd, 0, &it, NULL) < 0)
			return -errno;
		s->w_timer.fd = s->timer_fd;
		if ((r = loop_add(&s->loop, &s->w_timer, EPOLLIN)))
			return r;
	}
	return 0;
}

void run_session_end(struct run_session *s, enum run_end_kind kind, int value, const char *fmt, ...)
{
	char why[sizeof(s->end.why)];
	va_list ap;

	why[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	run_end_set(&s->end, kind, value, "%s", why);
	loop_stop(&s->loop, run_end_code(&s->end));
}

int run_session_wait(struct run_session *s)
{
	int r = loop_run(&s->loop);

	if (r < 0)
		run_end_set(&s->end, RUN_END_SETUP, 0, "main loop: %s", strerror(-r));
	return run_end_code(&s->end);
}

void run_session_fini(struct run_session *s)
{
	if (s->raw) {
		tcsetattr(0, TCSAFLUSH, &s->saved);
		s->raw = false;
	}
	if (s->cl_on)
		client_fini(&s->cl);
	s->cl_on = false;
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	s->timer_fd = s->sig_fd = -1;
	loop_fini(&s->loop);
}
