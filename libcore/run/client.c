/* The host side of one command; see run/client.h. Output frames are written
 * to fds 1 and 2 with blocking writes (a slow reader of voidbox's output
 * slows the guest through vsock credit, never loses bytes); everything on
 * the agent socket is non-blocking, with stdin read only while the send
 * queue has room for a whole frame. */
#include "run/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/termsafe.h"
#include "base/util.h"

#define CLIENT_TX_CAP (2 * (PROTO_MAX_DATA + PROTO_HDR_LEN) + PROTO_MAX_EXEC)

static void client_update(struct client *c);

/* Records how the command ended (the first end of the run wins) and stops
 * the loop. */
static void client_end(struct client *c, enum run_end_kind kind, int value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void client_end(struct client *c, enum run_end_kind kind, int value, const char *fmt, ...)
{
	va_list ap;
	char why[sizeof(c->end->why)];

	if (c->done)
		return;
	c->done = true;
	why[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	run_end_set(c->end, kind, value, "%s", why);
	loop_stop(c->loop, run_end_code(c->end));
}

/* Writes a frame's bytes to fd (1 or 2). When the reader is gone (EPIPE),
 * the guest command gets SIGPIPE, as a local writer would (`run -- yes |
 * head -1` ends); the rest of its output is dropped. */
static void out_write(struct client *c, int fd, const uint8_t *p, uint32_t n)
{
	if (!n || c->out_gone[fd - 1])
		return;
	if (write_full(fd, p, n) < 0) {
		c->out_gone[fd - 1] = true;
		client_signal(c, SIGPIPE);
	}
}

static void handle_frame(struct client *c, const struct proto_msg *m)
{
	switch (m->type) {
	case PT_STARTED:
		if (m->len == 4)
			c->guest_pid = ld_le32(m->data);
		break;
	case PT_STDOUT:
		out_write(c, 1, m->data, m->len);
		break;
	case PT_STDERR:
		out_write(c, 2, m->data, m->len);
		break;
	case PT_EXIT:
		if (m->len == 8)
			client_end(c, RUN_END_EXITED, (int)(ld_le32(m->data) & 0xff), NULL);
		else
			client_end(c, RUN_END_PROTOCOL, 0, "protocol: EXIT frame of %u bytes from the agent", m->len);
		break;
	case PT_ERROR: {
		uint32_t code = m->len >= 4 ? ld_le32(m->data) : 125;
		char text[1024]; /* the agent's words, escaped: it is the guest's */

		term_safe_str(m->data + 4, m->len >= 4 ? m->len - 4 : 0, text, sizeof(text));
		client_end(c, RUN_END_REFUSED, (int)code, "%s", text);
		break;
	}
	default:
		client_end(c, RUN_END_PROTOCOL, 0, "protocol: unexpected frame type %u from the agent", m->type);
	}
}

static void on_sock(struct loop_watch *w, uint32_t ev)
{
	struct client *c = w->ctx;
	struct proto_msg m;

	if (ev & EPOLLOUT) {
		int r = proto_tx_flush(&c->tx, c->sock);
		if (r && r != -EAGAIN && r != -EPIPE && r != -ECONNRESET) {
			client_end(c, RUN_END_LOST, 0, "sending to the agent: %s", strerror(-r));
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		while (!c->done) {
			int r = proto_rx_next(&c->rx, &m);
			if (r < 0) {
				client_end(c, RUN_END_PROTOCOL, 0, "protocol: bad frame from the agent");
				return;
			}
			if (r == 1) {
				handle_frame(c, &m);
				continue;
			}
			ssize_t n = proto_rx_fill(&c->rx, c->sock);
			if (n == -EAGAIN)
				break;
			if (n <= 0) { /* the caller may know more: run_end_explain_lost() */
				client_end(c, RUN_END_LOST, 0,
					   "the agent closed the connection before the command's exit status");
				return;
			}
		}
	}
	client_update(c);
}

/* Reads one chunk of stdin into a STDIN frame (empty at EOF). */
static void read_stdin(struct client *c)
{
	ssize_t n = read(0, c->scratch, PROTO_MAX_DATA);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proto_tx_frame(&c->tx, PT_STDIN, NULL, 0);
		c->in_done = true;
		if (c->in_watched)
			loop_del(c->loop, &c->w_in);
		c->in_watched = false;
		return;
	}
	proto_tx_frame(&c->tx, PT_STDIN, c->scratch, (uint32_t)n);
}

static void on_stdin(struct loop_watch *w, uint32_t ev)
{
	struct client *c = w->ctx;

	read_stdin(c);
	client_update(c);
}

static bool tx_has_room(const struct client *c)
{
	return proto_tx_room(&c->tx) >= PROTO_MAX_DATA + PROTO_HDR_LEN;
}

/* Flushes, and sets what the socket and stdin wait for. */
static void client_update(struct client *c)
{
	uint32_t ev;

	if (c->done)
		return;
	if (c->in_file && !c->in_done && tx_has_room(c))
		read_stdin(c);
	if (c->tx.len) {
		int r = proto_tx_flush(&c->tx, c->sock);
		if (r == -EPIPE || r == -ECONNRESET)
			c->tx.len = 0; /* the reader side reports what happened */
	}
	ev = EPOLLIN | (c->tx.len || (c->in_file && !c->in_done) ? EPOLLOUT : 0);
	if (ev != c->ev_sock) {
		loop_mod(c->loop, &c->w_sock, ev);
		c->ev_sock = ev;
	}
	if (!c->in_file && !c->in_done) {
		bool want = tx_has_room(c);
		if (want && !c->in_watched)
			c->in_watched = loop_add(c->loop, &c->w_in, EPOLLIN) == 0;
		else if (!want && c->in_watched) {
			loop_del(c->loop, &c->w_in);
			c->in_watched = false;
		}
	}
}

/* The part of client_start that can fail: buffers, the exec frame, the
 * watches. Returns 0 or -errno, leaving what it took for client_fini. */
static int client_setup(struct client *c, const struct proto_exec *e)
{
	int r, n;

	fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
	if ((r = proto_rx_init(&c->rx, PROTO_MAX_DATA + 1024)) ||
	    (r = proto_tx_init(&c->tx, CLIENT_TX_CAP)))
		return r;
	c->scratch = malloc(PROTO_MAX_EXEC);
	if (!c->scratch)
		return -ENOMEM;
	n = proto_exec_encode(e, c->scratch, PROTO_MAX_EXEC);
	if (n < 0)
		return n;
	proto_tx_frame(&c->tx, PT_EXEC, c->scratch, (uint32_t)n);
	if ((r = loop_add(c->loop, &c->w_sock, EPOLLIN)))
		return r;
	if (c->forward_stdin) {
		/* regular files and /dev/null cannot be polled: read them as room allows */
		r = loop_add(c->loop, &c->w_in, EPOLLIN);
		if (r == -EPERM)
			c->in_file = true;
		else if (r)
			return r;
		else
			c->in_watched = true;
		if (c->in_watched) {
			loop_del(c->loop, &c->w_in);
			c->in_watched = false;
		}
	}
	client_update(c);
	return 0;
}

int client_start(struct client *c, struct loop *l, int sock, const struct proto_exec *e,
		 bool forward_stdin, struct run_end *end)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->end = end;
	c->loop = l;
	c->sock = sock;
	c->forward_stdin = forward_stdin;
	c->in_done = !forward_stdin;
	c->w_sock = (struct loop_watch){ .fd = sock, .cb = on_sock, .ctx = c };
	c->w_in = (struct loop_watch){ .fd = 0, .cb = on_stdin, .ctx = c };
	c->ev_sock = EPOLLIN;
	r = client_setup(c, e);
	if (r)
		client_fini(c); /* frees what was taken, closes sock */
	return r;
}

/* Queues a small control frame and flushes. */
static void send_ctl(struct client *c, uint16_t type, const uint8_t *p, uint32_t len)
{
	if (c->done || proto_tx_frame(&c->tx, type, p, len))
		return;
	client_update(c);
}

void client_signal(struct client *c, int sig)
{
	uint8_t p[4];

	st_le32(p, (uint32_t)sig);
	send_ctl(c, PT_SIGNAL, p, 4);
}

void client_resize(struct client *c, unsigned rows, unsigned cols)
{
	uint8_t p[4];

	st_le16(p, (uint16_t)rows);
	st_le16(p + 2, (uint16_t)cols);
	send_ctl(c, PT_RESIZE, p, 4);
}

void client_poweroff(struct client *c)
{
	if (proto_tx_frame(&c->tx, PT_POWEROFF, NULL, 0) == 0)
		proto_tx_flush(&c->tx, c->sock);
}

void client_fini(struct client *c)
{
	if (!c->loop)
		return;
	if (c->in_watched)
		loop_del(c->loop, &c->w_in);
	if (c->sock >= 0) {
		loop_del(c->loop, &c->w_sock);
		close(c->sock);
	}
	c->sock = -1;
	proto_rx_free(&c->rx);
	proto_tx_free(&c->tx);
	free(c->scratch);
	c->scratch = NULL;
	c->loop = NULL;
}

int client_connect_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int client_connect_vsock(const char *uds, unsigned port, int timeout_ms)
{
	char line[64];
	size_t n = 0;
	int fd = client_connect_unix(uds), r;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;

	if (fd < 0)
		return fd;
	r = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if ((r = write_full(fd, line, (size_t)r)) < 0)
		goto fail;
	/* the reply line, one byte at a time so no stream byte is taken */
	while (n < sizeof(line) - 1) {
		uint64_t now = now_ns();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (now >= deadline) {
			r = -ETIMEDOUT;
			goto fail;
		}
		r = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t k = read(fd, line + n, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k == 0 ? -ECONNREFUSED : -errno;
			goto fail;
		}
		if (line[n++] == '\n')
			break;
	}
	line[n] = 0;
	if (strncmp(line, "OK ", 3)) {
		r = -ECONNREFUSED;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}
