/* Unit tests for the guest network layout (net/layout.c: the voidbox.net=
 * kernel parameter, formatted and parsed back, bad values refused) and the
 * agent's rtnetlink set-up (agent/netcfg.c), which runs for real inside a
 * fresh network namespace on a TAP device standing in for eth0: link up,
 * MTU, address, default route, lo up, /etc files; and a clear -ENODEV when
 * the interface is missing (virtio_net not loaded yet). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/netcfg.h"
#include "base/util.h"
#include "base/net_layout.h"
#include "t.h"

static void test_layout_roundtrip(void)
{
	struct net_layout a, b;
	char buf[NET_LAYOUT_MAXLEN], why[128];
	int n;

	net_layout_default(&a);
	n = net_layout_format(&a, buf, sizeof(buf));
	T_REQUIRE(n > 0, "format: %d", n);
	T_CHECK(!strcmp(buf, "voidbox.net=ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3,mtu=1500,"
			     "mac=52:54:00:12:34:56"),
		"default formatted as %s", buf);
	T_REQUIRE(net_layout_parse(buf + strlen(NET_LAYOUT_PARAM), &b, why, sizeof(why)) == 0,
		  "parse back: %s", why);
	T_CHECK(b.enabled && b.guest == a.guest && b.gw == a.gw && b.dns == a.dns &&
			b.prefix == 24 && b.mtu == 1500 && !memcmp(a.mac, b.mac, 6),
		"round trip differs");
	/* Overrides survive the trip. */
	T_REQUIRE(net_layout_parse("ip=192.168.7.9/16,gw=192.168.0.1,dns=192.168.0.53,mtu=1400,"
				   "mac=02:00:00:00:00:07",
				   &a, why, sizeof(why)) == 0,
		  "parse overrides: %s", why);
	n = net_layout_format(&a, buf, sizeof(buf));
	T_CHECK(n > 0 && strstr(buf, "ip=192.168.7.9/16,gw=192.168.0.1,dns=192.168.0.53,mtu=1400,"
				     "mac=02:00:00:00:00:07"),
		"overrides formatted as %s", buf);
	T_CHECK(net_layout_parse("none", &a, why, sizeof(why)) == 0 && !a.enabled, "none");
	n = net_layout_format(&a, buf, sizeof(buf));
	T_CHECK(n > 0 && !strcmp(buf, "voidbox.net=none"), "none formatted as %s", buf);
	/* Found among other words of a command line. */
	T_CHECK(net_layout_from_cmdline("console=ttyS0 quiet voidbox.net=ip=10.0.2.20/24 ipv6.disable=1\n",
					&a, why, sizeof(why)) == 0 &&
			a.guest == htonl(0x0a000214),
		"from cmdline");
	T_CHECK(net_layout_from_cmdline("console=ttyS0 voidbox.netx=1", &a, why, sizeof(why)) == -ENOENT,
		"absent parameter");
}

static void test_layout_bad(void)
{
	static const char *bad[] = {
		"ip=10.0.2.300/24", "ip=10.0.2.15/7", "ip=10.0.2.15/31", "ip=10.0.2.15/x",
		"gw=10.0.3.2",            /* outside the guest's network */
		"dns=10.0.2.15",          /* equals the guest */
		"ip=10.0.2.0/24",         /* network address */
		"ip=10.0.2.255/24",       /* broadcast */
		"mtu=575", "mtu=65521", "mtu=", "mac=52:54:00:12:34", "mac=01:00:00:00:00:01",
		"mac=52-54-00-12-34-56", "foo=1", "ip", "",
	};
	struct net_layout l;
	char why[128];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = 0;
		int r = net_layout_parse(bad[i], &l, why, sizeof(why));
		if (!*bad[i]) {
			T_CHECK(r == 0, "empty value refused"); /* all defaults */
			continue;
		}
		T_CHECK(r == -EINVAL && why[0], "accepted or no reason: %s", bad[i]);
	}
}

/* Creates a TAP device named name in the current namespace. Returns its fd. */
static int make_tap(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int if_get(int s, const char *name, unsigned long req, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	return ioctl(s, req, ifr);
}

static void test_netcfg_in_netns(void)
{
	struct net_layout l;
	struct ifreq ifr;
	char why[160], dir[] = "/tmp/vb-net-netcfg.XXXXXX";
	uint8_t *txt = NULL;
	size_t len;
	int tap, s;

	if (unshare(CLONE_NEWNET) < 0)
		T_SKIP("cannot create a network namespace: %s", strerror(errno));
	/* Before the interface exists: a clear error, not silence. */
	net_layout_default(&l);
	T_CHECK(netcfg_apply(&l, "vbeth0", why, sizeof(why)) == -ENODEV && strstr(why, "vbeth0"),
		"missing interface not reported: %s", why);
	tap = make_tap("vbeth0");
	if (tap < 0)
		T_SKIP("cannot create a TAP device: %s", strerror(-tap));
	l.mtu = 1400;
	T_REQUIRE(netcfg_apply(&l, "vbeth0", why, sizeof(why)) == 0, "apply: %s", why);
	/* Applying twice is harmless (NLM_F_REPLACE). */
	T_REQUIRE(netcfg_apply(&l, "vbeth0", why, sizeof(why)) == 0, "apply again: %s", why);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	T_REQUIRE(s >= 0, "socket");
	T_CHECK(if_get(s, "lo", SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP), "lo not up");
	T_CHECK(if_get(s, "vbeth0", SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP), "eth not up");
	T_CHECK(if_get(s, "vbeth0", SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == 1400, "mtu %d", ifr.ifr_mtu);
	T_CHECK(if_get(s, "vbeth0", SIOCGIFADDR, &ifr) == 0 &&
			((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr == l.guest,
		"address");
	T_CHECK(if_get(s, "vbeth0", SIOCGIFNETMASK, &ifr) == 0 &&
			((struct sockaddr_in *)&ifr.ifr_netmask)->sin_addr.s_addr == htonl(0xffffff00),
		"netmask");
	close(s);
	/* /proc/net/route: "vbeth0 00000000 0202000A 0003 ..." is the default route. */
	T_REQUIRE(read_file("/proc/net/route", 65536, &txt, &len) == 0, "route table");
	T_CHECK(strstr((char *)txt, "vbeth0\t00000000\t0202000A\t0003"), "no default route: %s", txt);
	free(txt);
	close(tap);

	T_REQUIRE(mkdtemp(dir), "mkdtemp");
	{
		char etc[64], p[96];
		snprintf(etc, sizeof(etc), "%s/etc", dir);
		T_REQUIRE(netcfg_write_etc(&l, etc, "box1", why, sizeof(why)) == 0, "etc: %s", why);
		snprintf(p, sizeof(p), "%s/resolv.conf", etc);
		T_CHECK(read_file(p, 4096, &txt, &len) == 0 && !strcmp((char *)txt, "nameserver 10.0.2.3\n"),
			"resolv.conf");
		free(txt);
		snprintf(p, sizeof(p), "%s/hosts", etc);
		T_CHECK(read_file(p, 4096, &txt, &len) == 0 && strstr((char *)txt, "127.0.0.1\tlocalhost\n") &&
				strstr((char *)txt, "10.0.2.15\tbox1\n"),
			"hosts");
		free(txt);
		unlink(p);
		snprintf(p, sizeof(p), "%s/resolv.conf", etc);
		unlink(p);
		rmdir(etc);
		rmdir(dir);
	}
}

int main(void)
{
	T_RUN(test_layout_roundtrip);
	T_RUN(test_layout_bad);
	T_RUN(test_netcfg_in_netns);
	T_EXIT();
}
