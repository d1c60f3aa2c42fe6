/* The agent's command server; see agent/serve.h and docs/protocol.md.
 *
 * One struct session per host connection. Data moves without blocking:
 * command output is read only while the session's send queue has room for a
 * whole frame (so a slow host stops the command through its pipe, never
 * through unbounded buffering), and the connection is read only while the
 * previous STDIN payload has been written to the command (so a command that
 * does not read its input stops the host, the same way). EXIT is sent once
 * the command has been reaped AND its output streams reached end of file,
 * so no output is ever lost behind the exit status. */
#include "agent/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent/exec.h"
#include "base/loop.h"
#include "base/usock.h"
#include "proto/proto.h"

#define TX_CAP (4 * (PROTO_MAX_DATA + PROTO_HDR_LEN))
#define VEC_CAP (PROTO_MAX_STRINGS + 2)

struct server;

struct session {
	struct server *srv;
	struct session *next;
	int sock;
	struct loop_watch w_sock, w_out, w_err, w_in;
	uint32_t ev_sock, ev_out, ev_err, ev_in;   /* current epoll interest */
	struct proto_rx rx;
	struct proto_tx tx;
	struct agent_child ch;
	bool started, reaped, exit_sent, host_gone, poweroff_after;
	bool rx_eof;               /* the host shut its sending side: it may still read */
	int status;
	/* the STDIN payload being written to the command */
	uint8_t *in_buf;
	uint32_t in_off, in_len;
	bool in_eof;               /* host sent end of input: close in_fd once drained */
	uint8_t *scratch;          /* PROTO_MAX_DATA bytes for reading output */
	char **vec;                /* argv/env pointers of the EXEC */
};

struct server {
	struct loop loop;
	struct loop_watch w_listen, w_sig;
	int sig_fd;
	struct session *sessions;
	bool poweroff;
	int spare_fd;              /* for usock_accept() when out of fds */
};

static void session_update(struct session *s);

/* Sets a watch's epoll interest to ev (adding/removing it as needed). */
static void watch_set(struct server *srv, struct loop_watch *w, uint32_t *cur, uint32_t ev)
{
	if (w->fd < 0 || *cur == ev)
		return;
	if (!*cur)
		loop_add(&srv->loop, w, ev);
	else if (!ev)
		loop_del(&srv->loop, w);
	else
		loop_mod(&srv->loop, w, ev);
	*cur = ev;
}

static void close_watch(struct server *srv, struct loop_watch *w, uint32_t *cur)
{
	watch_set(srv, w, cur, 0);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

static void session_free(struct session *s)
{
	struct server *srv = s->srv;

	for (struct session **pp = &srv->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	close_watch(srv, &s->w_sock, &s->ev_sock);
	close_watch(srv, &s->w_out, &s->ev_out);
	close_watch(srv, &s->w_err, &s->ev_err);
	close_watch(srv, &s->w_in, &s->ev_in);
	proto_rx_free(&s->rx);
	proto_tx_free(&s->tx);
	free(s->in_buf);
	free(s->scratch);
	free(s->vec);
	free(s);
}

/* Queues an ERROR frame and stops taking input from this host. */
static void session_error(struct session *s, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void session_error(struct session *s, uint32_t code, const char *fmt, ...)
{
	uint8_t buf[4 + 1024];
	va_list ap;
	int n;

	st_le32(buf, code);
	va_start(ap, fmt);
	n = vsnprintf((char *)buf + 4, 1024, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > 1023)
		n = 1023;
	s->tx.len = s->tx.off = 0; /* an error replaces whatever was queued */
	proto_tx_frame(&s->tx, PT_ERROR, buf, 4 + (uint32_t)n);
	s->exit_sent = true;
	if (s->ch.pid > 0 && !s->reaped)
		kill(-s->ch.pid, SIGKILL);
}

static void handle_exec(struct session *s, struct proto_msg *m)
{
	struct proto_exec e;
	char msg[512];
	int r;

	if (s->started) {
		session_error(s, 125, "protocol: a second EXEC on one connection");
		return;
	}
	r = proto_exec_decode(m->data, m->len, &e, s->vec, VEC_CAP);
	if (r == -EPROTONOSUPPORT) {
		session_error(s, 125, "protocol: version %u not supported (agent speaks %u)",
			      e.version, PROTO_VERSION);
		return;
	}
	if (r) {
		session_error(s, 125, "protocol: malformed EXEC (%s)", strerror(-r));
		return;
	}
	s->started = true;
	s->poweroff_after = e.flags & PROTO_EXEC_POWEROFF;
	r = agent_exec(&e, &s->ch, msg, sizeof(msg));
	if (r) {
		session_error(s, (uint32_t)r, "%s", msg);
		return;
	}
	s->w_out.fd = s->ch.out_fd;
	s->w_err.fd = s->ch.err_fd;
	s->w_in.fd = s->ch.in_fd;
	proto_tx_u32s(&s->tx, PT_STARTED, (uint32_t)s->ch.pid, 0, 1);
}

/* Handles one frame from the host. */
static void handle_msg(struct session *s, struct proto_msg *m)
{
	if (m->type != PT_EXEC && m->type != PT_POWEROFF && !s->started) {
		session_error(s, 125, "protocol: frame type %u before EXEC", m->type);
		return;
	}
	switch (m->type) {
	case PT_EXEC:
		handle_exec(s, m);
		break;
	case PT_STDIN:
		if (s->in_eof || s->w_in.fd < 0)
			break; /* input after EOF, or the command closed it: dropped */
		if (!m->len) {
			s->in_eof = true;
			break;
		}
		memcpy(s->in_buf, m->data, m->len);
		s->in_off = 0;
		s->in_len = m->len;
		break;
	case PT_SIGNAL:
		if (m->len == 4 && s->ch.pid > 0 && !s->reaped) {
			uint32_t sig = ld_le32(m->data);
			if (sig >= 1 && sig < NSIG)
				kill(-s->ch.pid, (int)sig);
		}
		break;
	case PT_RESIZE:
		if (m->len == 4 && s->ch.pty_fd >= 0) {
			struct winsize ws = { .ws_row = ld_le16(m->data),
					      .ws_col = ld_le16(m->data + 2) };
			ioctl(s->ch.pty_fd, TIOCSWINSZ, &ws);
		}
		break;
	case PT_POWEROFF:
		s->srv->poweroff = true;
		loop_stop(&s->srv->loop, AGENT_POWEROFF);
		break;
	default:
		session_error(s, 125, "protocol: frame type %u not expected from the host", m->type);
	}
}

/* Writes pending stdin to the command; closes its input at EOF. */
static void pump_stdin(struct session *s)
{
	while (s->in_len && s->w_in.fd >= 0) {
		ssize_t w = write(s->w_in.fd, s->in_buf + s->in_off, s->in_len);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* EPIPE: the command closed its input; drop what is left */
			s->in_len = 0;
			close_watch(s->srv, &s->w_in, &s->ev_in);
			return;
		}
		s->in_off += (uint32_t)w;
		s->in_len -= (uint32_t)w;
	}
	if (!s->in_len && s->in_eof && s->w_in.fd >= 0 && s->ch.pty_fd < 0)
		close_watch(s->srv, &s->w_in, &s->ev_in);
}

/* Handles the host's frames: those already buffered, and when fill is set
 * what the socket has, until a STDIN payload is pending or the session is
 * over. */
static void session_read(struct session *s, bool fill)
{
	struct proto_msg m;

	while (!s->host_gone && !s->in_len && !s->exit_sent) {
		int r = proto_rx_next(&s->rx, &m);
		if (r < 0) {
			session_error(s, 125, "protocol: %s",
				      r == -EMSGSIZE ? "frame too large" : "unknown frame type");
			return;
		}
		if (r == 1) {
			handle_msg(s, &m);
			pump_stdin(s);
			continue;
		}
		if (!fill || s->rx_eof)
			return;
		ssize_t n = proto_rx_fill(&s->rx, s->sock);
		if (n == -EAGAIN)
			return;
		if (n == 0) {
			/* a half-close: no more frames, but the host still reads
			 * (a full close also raises EPOLLHUP, handled by on_sock) */
			s->rx_eof = true;
			if (!s->started && !s->exit_sent)
				s->host_gone = true;
			if (s->started && !s->in_eof) {
				s->in_eof = true;
				pump_stdin(s);
			}
			return;
		}
		if (n < 0)
			s->host_gone = true;
	}
}

static void on_sock(struct loop_watch *w, uint32_t ev)
{
	struct session *s = w->ctx;

	if (ev & EPOLLOUT) {
		int r = proto_tx_flush(&s->tx, s->sock);
		if (r && r != -EAGAIN)
			s->host_gone = true;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		session_read(s, true);
		if (s->exit_sent && !s->host_gone && !s->rx_eof) {
			/* after EXIT or ERROR, only the host's close matters */
			char junk[256];
			ssize_t n = recv(s->sock, junk, sizeof(junk), MSG_DONTWAIT);
			if (n == 0 && s->tx.len)
				s->rx_eof = true; /* half-closed: let it read the rest */
			else if (n == 0 || (n < 0 && errno != EAGAIN))
				s->host_gone = true;
		}
	}
	/* both directions shut (or an error): nobody reads any more */
	if (ev & (EPOLLHUP | EPOLLERR))
		s->host_gone = true;
	session_update(s);
}

/* Reads one chunk of output from fd into a frame of type. */
static void pump_output(struct session *s, struct loop_watch *w, uint32_t *cur, uint16_t type)
{
	while (w->fd >= 0 && proto_tx_room(&s->tx) >= PROTO_MAX_DATA + PROTO_HDR_LEN) {
		ssize_t n = read(w->fd, s->scratch, PROTO_MAX_DATA);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) { /* EOF, or EIO from a pty whose slave side is gone */
			proto_tx_frame(&s->tx, type, NULL, 0);
			if (w == &s->w_out && s->ch.pty_fd >= 0) {
				s->ch.pty_fd = -1;
				close_watch(s->srv, &s->w_in, &s->ev_in);
			}
			close_watch(s->srv, w, cur);
			return;
		}
		proto_tx_frame(&s->tx, type, s->scratch, (uint32_t)n);
	}
}

static void on_out(struct loop_watch *w, uint32_t ev)
{
	struct session *s = w->ctx;

	if (w == &s->w_out)
		pump_output(s, w, &s->ev_out, PT_STDOUT);
	else
		pump_output(s, w, &s->ev_err, PT_STDERR);
	session_update(s);
}

static void on_in(struct loop_watch *w, uint32_t ev)
{
	struct session *s = w->ctx;

	if (ev & (EPOLLERR | EPOLLHUP)) {
		s->in_len = 0;
		close_watch(s->srv, &s->w_in, &s->ev_in);
	} else {
		pump_stdin(s);
	}
	if (!s->in_len)
		session_read(s, false);
	session_update(s);
}

/* Recomputes what each of s's fds should wait for, sends EXIT when due,
 * flushes, and frees the session when it is over. */
static void session_update(struct session *s)
{
	struct server *srv = s->srv;
	bool room;
	int r;

	if (s->host_gone && s->ch.pid > 0 && !s->reaped)
		kill(-s->ch.pid, SIGKILL);
	if (s->started && s->reaped && !s->exit_sent && s->w_out.fd < 0 && s->w_err.fd < 0) {
		uint32_t code = WIFEXITED(s->status) ? (uint32_t)WEXITSTATUS(s->status)
						     : 128 + (uint32_t)WTERMSIG(s->status);
		proto_tx_u32s(&s->tx, PT_EXIT, code,
			      WIFSIGNALED(s->status) ? (uint32_t)WTERMSIG(s->status) : 0, 2);
		s->exit_sent = true;
	}
	if (!s->host_gone && s->tx.len) {
		r = proto_tx_flush(&s->tx, s->sock);
		if (r && r != -EAGAIN)
			s->host_gone = true;
	}
	/* half-closed host, everything said: close our side too */
	if (s->rx_eof && s->exit_sent && !s->tx.len)
		s->host_gone = true;
	room = proto_tx_room(&s->tx) >= PROTO_MAX_DATA + PROTO_HDR_LEN;
	if (s->host_gone) {
		s->tx.len = 0;
		if (s->ch.pid <= 0 || s->reaped) {
			if (s->poweroff_after && s->exit_sent) {
				srv->poweroff = true;
				loop_stop(&srv->loop, AGENT_POWEROFF);
			}
			session_free(s);
			return;
		}
		/* wait for the reaper; output is read and dropped meanwhile */
		room = true;
	}
	/* EPOLLHUP keeps the watch (and a full close visible) when nothing
	 * else is wanted, e.g. after a half-close */
	watch_set(srv, &s->w_sock, &s->ev_sock, s->host_gone ? 0 :
		  ((s->in_len || s->rx_eof ? 0 : EPOLLIN) | (s->tx.len ? EPOLLOUT : 0) | EPOLLHUP));
	watch_set(srv, &s->w_out, &s->ev_out, room ? EPOLLIN : 0);
	watch_set(srv, &s->w_err, &s->ev_err, room ? EPOLLIN : 0);
	watch_set(srv, &s->w_in, &s->ev_in, s->in_len ? EPOLLOUT : 0);
	if (!s->in_len && s->in_eof && s->w_in.fd >= 0 && s->ch.pty_fd < 0)
		close_watch(srv, &s->w_in, &s->ev_in);
}

static void on_accept(struct loop_watch *w, uint32_t ev)
{
	struct server *srv = w->ctx;
	int fd = usock_accept(w->fd, &srv->spare_fd);
	struct session *s;

	if (fd < 0)
		return;
	s = calloc(1, sizeof(*s));
	if (!s || proto_rx_init(&s->rx, PROTO_MAX_EXEC) || proto_tx_init(&s->tx, TX_CAP) ||
	    !(s->in_buf = malloc(PROTO_MAX_DATA)) || !(s->scratch = malloc(PROTO_MAX_DATA)) ||
	    !(s->vec = calloc(VEC_CAP, sizeof(char *)))) {
		if (s) {
			proto_rx_free(&s->rx);
			proto_tx_free(&s->tx);
			free(s->in_buf);
			free(s->scratch);
			free(s);
		}
		close(fd);
		return;
	}
	s->srv = srv;
	s->sock = fd;
	s->ch = (struct agent_child){ .pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1, .pty_fd = -1 };
	s->w_sock = (struct loop_watch){ .fd = fd, .cb = on_sock, .ctx = s };
	s->w_out = (struct loop_watch){ .fd = -1, .cb = on_out, .ctx = s };
	s->w_err = (struct loop_watch){ .fd = -1, .cb = on_out, .ctx = s };
	s->w_in = (struct loop_watch){ .fd = -1, .cb = on_in, .ctx = s };
	s->next = srv->sessions;
	srv->sessions = s;
	session_update(s);
}

/* SIGCHLD: reap everything; a session's command records its status. */
static void on_sigchld(struct loop_watch *w, uint32_t ev)
{
	struct server *srv = w->ctx;
	struct signalfd_siginfo si;
	pid_t pid;
	int st;

	while (read(w->fd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (struct session *s = srv->sessions; s; s = s->next)
			if (s->ch.pid == pid) {
				s->reaped = true;
				s->status = st;
				/* the command ended: what it left behind in its
				 * process group (background jobs holding its
				 * output open) ends with it, as in a container */
				kill(-pid, SIGKILL);
				session_update(s);
				break;
			}
	}
}

int agent_listen_vsock(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int agent_serve(int listen_fd)
{
	struct server srv = { .sig_fd = -1, .spare_fd = usock_spare() };
	sigset_t set;
	int r;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = loop_init(&srv.loop)))
		return r;
	srv.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (srv.sig_fd < 0) {
		r = -errno;
		goto out;
	}
	srv.w_sig = (struct loop_watch){ .fd = srv.sig_fd, .cb = on_sigchld, .ctx = &srv };
	srv.w_listen = (struct loop_watch){ .fd = listen_fd, .cb = on_accept, .ctx = &srv };
	if ((r = loop_add(&srv.loop, &srv.w_sig, EPOLLIN)) ||
	    (r = loop_add(&srv.loop, &srv.w_listen, EPOLLIN)))
		goto out;
	/* children that ended before the signalfd existed */
	on_sigchld(&srv.w_sig, EPOLLIN);
	r = loop_run(&srv.loop);
	/* flush what is queued (EXIT of the last command) before returning */
	for (struct session *s = srv.sessions; s; s = s->next)
		if (!s->host_gone && s->tx.len) {
			int fl = fcntl(s->sock, F_GETFL);
			fcntl(s->sock, F_SETFL, fl & ~O_NONBLOCK);
			proto_tx_flush(&s->tx, s->sock);
		}
out:
	while (srv.sessions) {
		struct session *s = srv.sessions;
		if (s->ch.pid > 0 && !s->reaped)
			kill(-s->ch.pid, SIGKILL);
		session_free(s);
	}
	if (srv.sig_fd >= 0)
		close(srv.sig_fd);
	if (srv.spare_fd >= 0)
		close(srv.spare_fd);
	loop_fini(&srv.loop);
	return r;
}
