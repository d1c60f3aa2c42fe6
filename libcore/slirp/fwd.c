/* Port forwarding into the guest: one host listener per configured forward
 * (a listening TCP socket, or a bound UDP socket), watched in the loop, and
 * one spare fd that lets a TCP listener drop a connection instead of
 * spinning when the process is out of fds.
 * Connections and datagrams are handed to tcp.c and udp.c, which open them
 * into the guest from the gateway address and a gateway-side port chosen
 * here. */
#include "slirp/priv.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/usock.h"
#include "base/util.h"

static void fwd_event(struct loop_watch *w, uint32_t events)
{
	struct slirp *s = w->ctx;
	int idx = (int)(w - s->fwd_watch);

	s->now = now_ns();
	if (s->cfg.fwd[idx].proto == IPPROTO_TCP)
		tcp_fwd_accept(s, idx);
	else
		udp_fwd_event(s, idx);
	slirp_flush(s);
}

int fwd_init(struct slirp *s)
{
	if (s->cfg.n_fwd && (s->spare_fd = usock_spare()) < 0)
		return s->spare_fd;
	for (unsigned i = 0; i < s->cfg.n_fwd; i++) {
		const struct slirp_fwd *fw = &s->cfg.fwd[i];
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fw->host_port),
					 .sin_addr = fw->host_ip };
		int one = 1, err, type = fw->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
		int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
			err = -errno;
			close(fd);
			return err;
		}
		s->fwd_watch[i].fd = fd;
		s->fwd_watch[i].cb = fwd_event;
		s->fwd_watch[i].ctx = s;
		err = loop_add(s->loop, &s->fwd_watch[i], EPOLLIN);
		if (err < 0)
			return err;
	}
	return 0;
}

void fwd_fini(struct slirp *s)
{
	for (unsigned i = 0; i < SLIRP_MAX_FWD; i++) {
		if (s->fwd_watch[i].fd < 0)
			continue;
		loop_del(s->loop, &s->fwd_watch[i]);
		close(s->fwd_watch[i].fd);
		s->fwd_watch[i].fd = -1;
	}
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	s->spare_fd = -1;
}

uint16_t fwd_port(struct slirp *s, uint8_t proto, uint16_t gport)
{
	for (unsigned i = 0; i < 16384; i++) {
		uint16_t p = s->next_port;

		s->next_port = p == 65535 ? 49152 : (uint16_t)(p + 1);
		if (!flow_find(s, proto, gport, s->cfg.net.gw, p))
			return p;
	}
	return s->next_port; /* all taken: the flow limit stops us first */
}
