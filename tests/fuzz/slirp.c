/* Fuzz target: SLIRP (slirp/) taking a hostile guest's frames. Control
 * bytes: MTU, checksum offload, which outputs fail with -ENOBUFS, whether
 * a host program connects to the -p forward; then frames, each a 16-bit
 * length and its bytes (ARP, IPv4 with TCP/UDP/ICMP/DNS, IPv6, garbage),
 * with the loop run between them.
 *
 * Where the process may (root), it first moves into a network namespace of
 * its own with only loopback up, so the flows the guest opens reach
 * nothing but what this target serves there on 127.0.0.1 (through the
 * gateway address, --allow-host-loopback): a TCP echo on port 7, a UDP
 * echo on 7, a DNS "server" on 53 that returns each query as its answer.
 * Elsewhere every destination is denied by policy, so nothing leaves. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "fuzz.h"
#include "slirp/slirp.h"

struct srv {
	bool netns;
	int tcp, udp, dns;
};

static int bound(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The namespace and its servers, once per process. */
static struct srv *srv_get(void)
{
	static struct srv s = { false, -1, -1, -1 };
	static bool done;
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (done)
		return &s;
	done = true;
	fz_no_sigpipe();
	if (unshare(CLONE_NEWNET) < 0)
		return &s;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return &s;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		close(fd);
		return &s;
	}
	close(fd);
	s.netns = true;
	s.tcp = bound(SOCK_STREAM, 7);
	s.udp = bound(SOCK_DGRAM, 7);
	s.dns = bound(SOCK_DGRAM, 53);
	return &s;
}

/* One round of the loopback servers: echo what came, DNS as answers. */
static void srv_serve(struct srv *v, int *conns, int *n, int max)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t k;
	int fd;

	while (v->tcp >= 0 && *n < max && (fd = accept4(v->tcp, NULL, NULL, SOCK_NONBLOCK)) >= 0)
		conns[(*n)++] = fd;
	for (int i = 0; i < *n; i++)
		if ((k = read(conns[i], buf, sizeof(buf))) > 0 && write(conns[i], buf, (size_t)k) < 0) {
			/* the flow is gone */
		}
	while (v->udp >= 0 && (k = recvfrom(v->udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0)
		sendto(v->udp, buf, (size_t)k, 0, (struct sockaddr *)&from, fl);
	while (v->dns >= 0 && (k = recvfrom(v->dns, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0) {
		if (k > 3)
			buf[2] |= 0x80;
		sendto(v->dns, buf, (size_t)k, 0, (struct sockaddr *)&from, fl);
	}
}

struct out_ctl {
	uint32_t nobuf; /* bit i: the i-th output (mod 32) says -ENOBUFS */
	unsigned i;
	size_t bytes;
};

static int out(void *ctx, const uint8_t *frame, size_t len)
{
	struct out_ctl *o = ctx;

	for (size_t k = 0; k < len; k++) /* all of it readable (ASan) */
		o->bytes += frame[k] & 1;
	return (o->nobuf >> (o->i++ % 32)) & 1 ? -ENOBUFS : 0;
}

static const struct slirp_ops ops = { .output = out };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct slirp s;
	struct srv *v = srv_get();
	struct fz f = { data, size };
	struct slirp_cfg cfg;
	struct out_ctl o = { 0 };
	struct loop l;
	uint16_t mtu = fz_u16(&f);
	uint8_t flags = fz_u8(&f);
	int conns[32], n = 0, client = -1;

	o.nobuf = fz_u32(&f);
	if (!(flags & 2))
		o.nobuf = 0;
	slirp_cfg_default(&cfg);
	cfg.net.mtu = NET_MTU_MIN + mtu % (NET_MTU_MAX - NET_MTU_MIN + 1);
	cfg.csum_offload = flags & 1;
	cfg.max_flows = 32;
	cfg.n_dns = 0;
	cfg.dns_explicit = true;
	if (v->netns) {
		cfg.allow_host_loopback = true;
		slirp_cfg_add_dns(&cfg, "127.0.0.1:53");
		slirp_cfg_add_rule(&cfg, false, "127.0.0.1:22");
		slirp_cfg_add_fwd(&cfg, "127.0.0.1:2222:22");
		slirp_cfg_add_fwd(&cfg, "127.0.0.1:2223:53/udp");
		if (flags & 8)
			slirp_cfg_policy(&cfg, "public");
	} else {
		slirp_cfg_add_rule(&cfg, false, "0.0.0.0/0"); /* nothing leaves */
	}
	if (loop_init(&l))
		return 0;
	if (slirp_init(&s, &cfg, &l, &ops, &o)) {
		loop_fini(&l);
		return 0;
	}
	if (v->netns && (flags & 4)) { /* a host program on the -p forward */
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(2222),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (client >= 0)
			connect(client, (struct sockaddr *)&a, sizeof(a));
	}
	while (f.n >= 2) {
		const uint8_t *fr;
		size_t len = fz_take(&f, fz_u16(&f), &fr);

		if (flags & 16)
			slirp_batch_begin(&s);
		slirp_input(&s, fr, len);
		if (flags & 16)
			slirp_batch_end(&s);
		srv_serve(v, conns, &n, 32);
		loop_once(&l, 0);
		if (s.rx_blocked && (flags & 32))
			slirp_rx_ready(&s);
	}
	o.nobuf = 0;
	slirp_rx_ready(&s);
	for (int i = 0; i < 4; i++) {
		srv_serve(v, conns, &n, 32);
		loop_once(&l, 0);
	}
	if (client >= 0)
		close(client);
	for (int i = 0; i < n; i++)
		close(conns[i]);
	slirp_fini(&s);
	loop_fini(&l);
	return 0;
}
