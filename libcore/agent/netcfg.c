/* Guest network set-up over rtnetlink; see agent/netcfg.h. Each change is
 * one request with NLM_F_ACK, answered by the kernel with an error message
 * carrying 0 or -errno, so every step either happened or is reported. */
#include "agent/netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

#define NL_BUF 1024

struct nlreq {
	struct nlmsghdr h;
	uint8_t body[NL_BUF];
};

struct nl {
	int fd;
	uint32_t seq;
};

/* Opens a NETLINK_ROUTE socket. Returns 0 or -errno. */
static int nl_open(struct nl *n)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	n->seq = 1;
	n->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (n->fd < 0)
		return -errno;
	if (bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(n->fd);
		return e;
	}
	return 0;
}

/* Starts a request of type with the fixed header hdr (hlen bytes). */
static void nl_begin(struct nlreq *r, uint16_t type, uint16_t flags, const void *hdr, size_t hlen)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h.nlmsg_len = NLMSG_LENGTH(hlen);
	memcpy(NLMSG_DATA(&r->h), hdr, hlen);
}

/* Appends one attribute. The requests here are small and fixed, so the
 * buffer always has room (checked anyway). */
static void nl_attr(struct nlreq *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));

	if (NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len) > sizeof(*r))
		return;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len);
}

/* Sends r and waits for its acknowledgement. Returns 0 or the kernel's
 * -errno. */
static int nl_talk(struct nl *n, struct nlreq *r)
{
	uint8_t buf[4096];
	ssize_t got;

	r->h.nlmsg_seq = ++n->seq;
	if (send(n->fd, r, r->h.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		got = recv(n->fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got);
		     h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != n->seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				return e->error;
			}
		}
	}
}

/* Sets a link up with an MTU (mtu 0: leave it). */
static int link_up(struct nl *n, int ifindex, unsigned mtu)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex,
				 .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	struct nlreq r;

	nl_begin(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (mtu)
		nl_attr(&r, IFLA_MTU, &mtu, sizeof(uint32_t));
	return nl_talk(n, &r);
}

static int addr_add(struct nl *n, int ifindex, uint32_t addr, uint8_t prefix)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = prefix,
				 .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (unsigned)ifindex };
	uint32_t bcast = addr | htonl(0xffffffffu >> prefix);
	struct nlreq r;

	nl_begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof(ifa));
	nl_attr(&r, IFA_LOCAL, &addr, 4);
	nl_attr(&r, IFA_ADDRESS, &addr, 4);
	nl_attr(&r, IFA_BROADCAST, &bcast, 4);
	return nl_talk(n, &r);
}

static int default_route(struct nl *n, int ifindex, uint32_t gw)
{
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE,
			    .rtm_type = RTN_UNICAST };
	uint32_t oif = (uint32_t)ifindex;
	struct nlreq r;

	nl_begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rt, sizeof(rt));
	nl_attr(&r, RTA_GATEWAY, &gw, 4);
	nl_attr(&r, RTA_OIF, &oif, 4);
	return nl_talk(n, &r);
}

int netcfg_apply(const struct net_layout *l, const char *ifname, char *why, size_t len)
{
	struct nl n;
	int idx, lo, r;

	r = nl_open(&n);
	if (r) {
		snprintf(why, len, "rtnetlink socket: %s", strerror(-r));
		return r;
	}
	lo = (int)if_nametoindex("lo");
	if (!lo) {
		r = -ENODEV;
		snprintf(why, len, "no loopback interface");
		goto out;
	}
	r = link_up(&n, lo, 0);
	if (r) {
		snprintf(why, len, "lo up: %s", strerror(-r));
		goto out;
	}
	if (!l->enabled)
		goto out;
	idx = (int)if_nametoindex(ifname);
	if (!idx) {
		r = -ENODEV;
		snprintf(why, len, "%s: no such interface (virtio_net not loaded?)", ifname);
		goto out;
	}
	r = link_up(&n, idx, l->mtu);
	if (r) {
		snprintf(why, len, "%s up, mtu %u: %s", ifname, l->mtu, strerror(-r));
		goto out;
	}
	r = addr_add(&n, idx, l->guest, l->prefix);
	if (r) {
		snprintf(why, len, "%s address: %s", ifname, strerror(-r));
		goto out;
	}
	r = default_route(&n, idx, l->gw);
	if (r)
		snprintf(why, len, "default route via %s: %s", ifname, strerror(-r));
out:
	close(n.fd);
	return r;
}

/* Whether ifname is operationally up (IFF_UP and IFF_RUNNING: carrier on
 * and the kernel's link watch has run). Returns 1, 0, or -errno. */
static int link_running(int sk, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	return (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}

int netcfg_wait_running(const char *ifname, int timeout_ms, int *waited_ms)
{
	uint64_t start = now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ULL;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (sk < 0)
		return -errno;
	while ((r = link_running(sk, ifname)) == 0 && now_ns() < deadline)
		poll(NULL, 0, 5);
	close(sk);
	*waited_ms = (int)((now_ns() - start) / 1000000ULL);
	return r < 0 ? r : r ? 0 : -ETIMEDOUT;
}

/* Writes text to dir/name through dir/.name.tmp and rename. */
static int write_atomic(const char *dir, const char *name, const char *text, char *why, size_t len)
{
	char path[256], tmp[256];
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp)) {
		snprintf(why, len, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "%s: %s", tmp, strerror(-r));
		return r;
	}
	r = write_full(fd, text, strlen(text));
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		snprintf(why, len, "%s: %s", path, strerror(-r));
	}
	return r;
}

int netcfg_write_etc(const struct net_layout *l, const char *etc_dir, const char *hostname,
		     char *why, size_t len)
{
	char text[512], a[INET_ADDRSTRLEN];
	int r;

	if (mkdir(etc_dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, len, "%s: %s", etc_dir, strerror(-r));
		return r;
	}
	if (!hostname || !*hostname)
		hostname = "voidbox";
	if (l->enabled) {
		inet_ntop(AF_INET, &l->guest, a, sizeof(a));
		snprintf(text, sizeof(text), "127.0.0.1\tlocalhost\n%s\t%s\n", a, hostname);
	} else {
		snprintf(text, sizeof(text), "127.0.0.1\tlocalhost %s\n", hostname);
	}
	r = write_atomic(etc_dir, "hosts", text, why, len);
	if (r || !l->enabled)
		return r;
	inet_ntop(AF_INET, &l->dns, a, sizeof(a));
	snprintf(text, sizeof(text), "nameserver %s\n", a);
	return write_atomic(etc_dir, "resolv.conf", text, why, len);
}

int netcfg_agent_setup(const char *cmdline, const char *ifname, struct net_layout *l, char *why,
		       size_t len)
{
	char host[65] = "";
	int r;

	r = net_layout_from_cmdline(cmdline, l, why, len);
	if (r == -ENOENT) /* not started by voidbox run: defaults if there is a NIC */
		l->enabled = if_nametoindex(ifname) != 0;
	else if (r)
		return r;
	r = netcfg_apply(l, ifname, why, len);
	if (r)
		return r;
	if (gethostname(host, sizeof(host) - 1) < 0 || !strcmp(host, "(none)"))
		host[0] = 0;
	r = netcfg_write_etc(l, "/etc", host, why, len);
	if (r)
		return r;
	return l->enabled ? 1 : 0;
}

int agent_net_setup(const char *cmdline)
{
	char why[200], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	struct net_layout l;
	int r = netcfg_agent_setup(cmdline, "eth0", &l, why, sizeof(why));

	if (r < 0) {
		fprintf(stderr, "voidbox agent: network set-up: %s\n", why);
		return r;
	}
	if (r == 0) {
		printf("voidbox-agent: net: lo only\n");
		fflush(stdout);
		return 0;
	}
	inet_ntop(AF_INET, &l.guest, a, sizeof(a));
	inet_ntop(AF_INET, &l.gw, g, sizeof(g));
	printf("voidbox-agent: net: eth0 %s/%u via %s mtu %u\n", a, l.prefix, g, l.mtu);
	fflush(stdout);
	return 1;
}

int agent_net_wait_link(const char *ifname)
{
	int waited, r = netcfg_wait_running(ifname, NETCFG_CARRIER_TIMEOUT_MS, &waited);

	if (r)
		printf("voidbox-agent: net: %s: no carrier after %d ms (%s); commands start anyway\n", ifname,
		       waited, r == -ETIMEDOUT ? "the link never came up" : strerror(-r));
	else
		printf("voidbox-agent: net: %s: link up after %d ms\n", ifname, waited);
	fflush(stdout);
	return r;
}
