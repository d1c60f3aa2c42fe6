/* slirp-tap: the SLIRP test harness without a VM. It creates a TAP device
 * inside a network namespace the test made (setns() there to open
 * /dev/net/tun, then back), and attaches the SLIRP stack to it while its
 * host sockets stay in the harness's own namespace: the topology pasta
 * uses. Real clients in the namespace (curl, iperf3, ping...) then exercise
 * the whole stack at native speed. The test configures the namespace side
 * (address, route, MAC, MTU) with `ip` once --ready's file appears. SIGTERM
 * or SIGINT stops it; the counters go to --stats (or stderr) then, and on
 * SIGUSR1. --control PATH stands in for run's control socket in the same
 * process: a Unix listener on the same loop, under the same fd limit, that
 * answers every client "ok\n" (hostile-guest tests check that it keeps
 * answering whatever the guest does). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/virtio_net.h>

#include "base/budget.h"
#include "base/loop.h"
#include "base/usock.h"
#include "base/util.h"
#include "slirp/slirp.h"

#define NAME "slirp-tap"
#define BATCH 64

struct harness {
	struct loop loop;
	struct slirp slirp;
	struct loop_watch tap, sig, ctl;
	int ctl_spare;
	bool tap_out; /* waiting for EPOLLOUT after -ENOBUFS */
	bool vnet;    /* frames carry a virtio_net_hdr (--offload) */
	const char *stats;
	uint8_t buf[14 + NET_MTU_MAX + 64];
};

static const char usage[] =
	"usage: slirp-tap --netns PATH --tap NAME [options]\n"
	"  -n, --netns PATH          namespace for the TAP device (/run/netns/NAME)\n"
	"  -t, --tap NAME            TAP device name\n"
	"  -m, --mtu N               IP MTU (default 1500)\n"
	"  -L, --allow-host-loopback gateway 10.0.2.2 reaches the host's 127.0.0.1\n"
	"  -a, --allow-net CIDR[:PORT]\n"
	"  -d, --deny-net CIDR[:PORT]\n"
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]\n"
	"  -D, --dns IP[:PORT]       upstream DNS (repeatable; default resolv.conf)\n"
	"  -F, --max-flows N\n"
	"  -o, --offload             virtio-net headers on the TAP: checksums of\n"
	"                            TCP/UDP frames left to the kernel both ways\n"
	"  -P, --net-policy open|public  egress preset\n"
	"  -c, --control PATH        a Unix listener answering \"ok\" to each client\n"
	"  -r, --ready FILE          created once the TAP device exists\n"
	"  -s, --stats FILE          counters written here at exit\n";

/* The virtio-net header of an output frame: TCP and UDP checksums are left
 * to the kernel (NEEDS_CSUM; the stack wrote the pseudo-header sum). */
static void tap_vnet_hdr(const uint8_t *frame, size_t len, struct virtio_net_hdr *vh)
{
	memset(vh, 0, sizeof(*vh));
	if (len < 34 + 8 || frame[12] != 0x08 || frame[13] != 0x00 || frame[14] != 0x45)
		return;
	if (frame[23] == IPPROTO_TCP || frame[23] == IPPROTO_UDP) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = 34;
		vh->csum_offset = frame[23] == IPPROTO_TCP ? 16 : 6;
	}
}

static int tap_output(void *ctx, const uint8_t *frame, size_t len)
{
	struct harness *h = ctx;
	struct virtio_net_hdr vh;
	struct iovec iov[2] = { { &vh, sizeof(vh) }, { (void *)frame, len } };

	if (h->vnet)
		tap_vnet_hdr(frame, len, &vh);

	for (;;) {
		ssize_t n = h->vnet ? writev(h->tap.fd, iov, 2) : write(h->tap.fd, frame, len);

		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && !h->tap_out) {
			h->tap_out = true;
			loop_mod(&h->loop, &h->tap, EPOLLIN | EPOLLOUT);
		}
		return errno == EAGAIN ? -ENOBUFS : 0; /* other errors: the frame is lost */
	}
}

static const struct slirp_ops tap_ops = { .output = tap_output };

static void tap_event(struct loop_watch *w, uint32_t events)
{
	struct harness *h = w->ctx;

	if ((events & EPOLLOUT) && h->tap_out) {
		h->tap_out = false;
		loop_mod(&h->loop, &h->tap, EPOLLIN);
		slirp_rx_ready(&h->slirp);
	}
	slirp_batch_begin(&h->slirp);
	for (int i = 0; i < BATCH && (events & EPOLLIN); i++) {
		ssize_t n = read(w->fd, h->buf, sizeof(h->buf));
		size_t skip = h->vnet ? sizeof(struct virtio_net_hdr) : 0;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				loop_stop(&h->loop, 1);
			break;
		}
		if ((size_t)n >= skip)
			slirp_input(&h->slirp, h->buf + skip, (size_t)n - skip);
	}
	slirp_batch_end(&h->slirp);
}

/* Writes the counters to the --stats file, or stderr. */
static void write_stats(struct harness *h)
{
	FILE *f = h->stats ? fopen(h->stats, "w") : stderr;

	if (!f)
		return;
	slirp_stats_print(&h->slirp, f);
	budget_print(h->slirp.budget, f, "");
	fprintf(f, "flow_chain_max %u\n", slirp_flow_chain_max(&h->slirp));
	if (f != stderr)
		fclose(f);
}

/* SIGTERM/SIGINT stop; SIGUSR1 writes the counters now. */
static void sig_event(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	struct harness *h = w->ctx;

	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1)
		write_stats(h);
	else
		loop_stop(&h->loop, 0);
}

/* Opens the TAP device inside the namespace at path, with virtio-net
 * headers and checksum offload when vnet. Returns fd or -errno. */
static int tap_open(const char *ns_path, const char *name, bool vnet)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns, fd, err = 0;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) };

	if (self < 0)
		return -errno;
	ns = open(ns_path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
		err = -errno;
		goto out;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    (vnet && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)) {
		err = -errno;
		if (fd >= 0)
			close(fd);
	}
	if (setns(self, CLONE_NEWNET) < 0 && !err) {
		err = -errno;
		close(fd);
	}
	if (!err)
		err = fd;
out:
	if (ns >= 0)
		close(ns);
	close(self);
	return err;
}

/* A control client: "ok", then closed. */
static void ctl_event(struct loop_watch *w, uint32_t events)
{
	struct harness *h = w->ctx;
	int fd;

	while ((fd = usock_accept(w->fd, &h->ctl_spare)) != -EAGAIN) {
		if (fd < 0) {
			if (fd != -EMFILE)
				break;
			fprintf(stderr, "slirp-tap: control client dropped: out of fds\n");
			continue;
		}
		if (write(fd, "ok\n", 3) != 3) {
			/* the client is gone: nothing to tell it */
		}
		close(fd);
	}
}

static int setup_signals(struct harness *h)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	h->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	h->sig.cb = sig_event;
	h->sig.ctx = h;
	return h->sig.fd < 0 ? -errno : loop_add(&h->loop, &h->sig, EPOLLIN);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", 1, 0, 'n' }, { "tap", 1, 0, 't' }, { "mtu", 1, 0, 'm' },
		{ "allow-host-loopback", 0, 0, 'L' }, { "allow-net", 1, 0, 'a' },
		{ "deny-net", 1, 0, 'd' }, { "publish", 1, 0, 'p' }, { "dns", 1, 0, 'D' },
		{ "max-flows", 1, 0, 'F' }, { "ready", 1, 0, 'r' }, { "stats", 1, 0, 's' },
		{ "offload", 0, 0, 'o' }, { "net-policy", 1, 0, 'P' }, { "control", 1, 0, 'c' },
		{ "help", 0, 0, 'h' }, { 0 }
	};
	static struct harness h;
	const char *ns = NULL, *tap = NULL, *ready = NULL, *control = NULL;
	struct slirp_cfg cfg;
	uint64_t v;
	int c, err, rc;

	slirp_cfg_default(&cfg);
	while ((c = getopt_long(argc, argv, "n:t:m:La:d:p:D:F:r:s:oP:c:h", opts, NULL)) != -1) {
		err = 0;
		switch (c) {
		case 'n': ns = optarg; break;
		case 't': tap = optarg; break;
		case 'm':
			err = parse_uint(optarg, NET_MTU_MIN, NET_MTU_MAX, &v);
			cfg.net.mtu = (uint16_t)v;
			break;
		case 'L': cfg.allow_host_loopback = true; break;
		case 'a': err = slirp_cfg_add_rule(&cfg, true, optarg); break;
		case 'd': err = slirp_cfg_add_rule(&cfg, false, optarg); break;
		case 'p': err = slirp_cfg_add_fwd(&cfg, optarg); break;
		case 'D': err = slirp_cfg_add_dns(&cfg, optarg); break;
		case 'F':
			err = parse_uint(optarg, 1, 1 << 20, &v);
			cfg.max_flows = (unsigned)v;
			break;
		case 'r': ready = optarg; break;
		case 's': h.stats = optarg; break;
		case 'o': h.vnet = cfg.csum_offload = true; break;
		case 'P': err = slirp_cfg_policy(&cfg, optarg); break;
		case 'c': control = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return 2;
		}
		if (err < 0) {
			vb_err(NAME, err, "bad value for -%c: %s", c, optarg);
			return 2;
		}
	}
	if (!ns || !tap || optind != argc) {
		fprintf(stderr, "voidbox " NAME ": --netns and --tap are required\n");
		return 2;
	}
	budget_raise_nofile(); /* SLIRP cuts its budget from what it gets */
	if ((err = loop_init(&h.loop)) < 0 || (err = setup_signals(&h)) < 0) {
		vb_err(NAME, err, "event loop");
		return 1;
	}
	h.tap.fd = tap_open(ns, tap, h.vnet);
	if (h.tap.fd < 0) {
		vb_err(NAME, h.tap.fd, "TAP %s in %s", tap, ns);
		return 1;
	}
	h.tap.cb = tap_event;
	h.tap.ctx = &h;
	if ((err = loop_add(&h.loop, &h.tap, EPOLLIN)) < 0 ||
	    (err = slirp_init(&h.slirp, &cfg, &h.loop, &tap_ops, &h)) < 0) {
		vb_err(NAME, err, "SLIRP start");
		return 1;
	}
	if (control) {
		h.ctl_spare = usock_spare();
		h.ctl = (struct loop_watch){ .fd = usock_listen(control, 64), .cb = ctl_event, .ctx = &h };
		if (h.ctl.fd < 0 || (err = loop_add(&h.loop, &h.ctl, EPOLLIN)) < 0) {
			vb_err(NAME, h.ctl.fd < 0 ? h.ctl.fd : err, "--control %s", control);
			return 1;
		}
	}
	if (ready) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
	}
	rc = loop_run(&h.loop);
	write_stats(&h);
	slirp_fini(&h.slirp);
	close(h.tap.fd);
	loop_fini(&h.loop);
	return rc < 0 ? 1 : rc;
}
