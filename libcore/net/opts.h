/* The network options of `voidbox run`, declared once here so run's option
 * table just includes them (NET_OPTS_LONG entries, "p:" in the short
 * string) and hands every option it does not know to net_opts_parse():
 *   --net none|slirp         network off, or SLIRP (the default)
 *   --dns IP[:PORT]          upstream resolver (repeatable, tried in order)
 *   --guest-ip IP[/PREFIX]   --gateway IP   --dns-ip IP   (the guest's layout)
 *   --mac MAC   --gateway-mac MAC   --mtu N (default 65520)
 *   --allow-host-loopback    the gateway address reaches the host's 127.0.0.1
 *   --allow-net CIDR[:PORT]  --deny-net CIDR[:PORT]   egress policy per flow
 *   --net-policy open|public egress preset (what is closed besides the rules)
 *   -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]
 *   --pcap FILE              every frame crossing virtio-net, both ways
 *   --net-stats              device and SLIRP counters on stderr at exit */
#ifndef VOIDBOX_NET_OPTS_H
#define VOIDBOX_NET_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/layout.h"
#include "slirp/slirp.h"

enum net_mode { NET_NONE, NET_SLIRP };

#define NET_MTU_RUN_DEFAULT NET_MTU_MAX

/* Option codes (above any character run uses). */
enum {
	NET_OPT_NET = 0x4e00,
	NET_OPT_DNS,
	NET_OPT_GUEST_IP,
	NET_OPT_GATEWAY,
	NET_OPT_DNS_IP,
	NET_OPT_MAC,
	NET_OPT_GATEWAY_MAC,
	NET_OPT_MTU,
	NET_OPT_ALLOW_LOOPBACK,
	NET_OPT_ALLOW_NET,
	NET_OPT_DENY_NET,
	NET_OPT_PCAP,
	NET_OPT_STATS,
	NET_OPT_POLICY,
	NET_OPT_PUBLISH = 'p',
};

#define NET_OPTS_SHORT "p:"
#define NET_OPTS_LONG                                                          \
	{ "net", required_argument, NULL, NET_OPT_NET },                       \
	{ "dns", required_argument, NULL, NET_OPT_DNS },                       \
	{ "guest-ip", required_argument, NULL, NET_OPT_GUEST_IP },             \
	{ "gateway", required_argument, NULL, NET_OPT_GATEWAY },               \
	{ "dns-ip", required_argument, NULL, NET_OPT_DNS_IP },                 \
	{ "mac", required_argument, NULL, NET_OPT_MAC },                       \
	{ "gateway-mac", required_argument, NULL, NET_OPT_GATEWAY_MAC },       \
	{ "mtu", required_argument, NULL, NET_OPT_MTU },                       \
	{ "allow-host-loopback", no_argument, NULL, NET_OPT_ALLOW_LOOPBACK },  \
	{ "allow-net", required_argument, NULL, NET_OPT_ALLOW_NET },           \
	{ "deny-net", required_argument, NULL, NET_OPT_DENY_NET },             \
	{ "net-policy", required_argument, NULL, NET_OPT_POLICY },             \
	{ "publish", required_argument, NULL, NET_OPT_PUBLISH },               \
	{ "pcap", required_argument, NULL, NET_OPT_PCAP },                     \
	{ "net-stats", no_argument, NULL, NET_OPT_STATS }

#define NET_OPTS_USAGE                                                                      \
	"Network (SLIRP user-mode networking is on by default; see docs/net.md):\n"         \
	"  --net none|slirp          no network, or SLIRP (default)\n"                     \
	"  --dns IP[:PORT]           upstream DNS server, repeatable (default: the host's\n" \
	"                            /etc/resolv.conf nameservers)\n"                        \
	"  --guest-ip IP[/PREFIX]    guest address (10.0.2.15/24)\n"                       \
	"  --gateway IP              gateway address (10.0.2.2)\n"                         \
	"  --dns-ip IP               the guest's resolver address (10.0.2.3)\n"            \
	"  --mac MAC                 guest MAC (52:54:00:12:34:56)\n"                      \
	"  --gateway-mac MAC         gateway MAC (52:54:00:12:34:01)\n"                    \
	"  --mtu N                   guest MTU, 576..65520 (65520)\n"                        \
	"  --allow-host-loopback     the gateway address reaches the host's loopback\n"    \
	"  --allow-net CIDR[:PORT]   allow egress to CIDR (repeatable)\n"                  \
	"  --deny-net CIDR[:PORT]    deny egress to CIDR (repeatable)\n"                   \
	"  --net-policy open|public  what the guest may reach besides those rules:\n"      \
	"                            open (default): everything except the host's\n"      \
	"                            loopback (see --allow-host-loopback) and\n"           \
	"                            169.254/16 (link-local, cloud metadata); the host's\n" \
	"                            other addresses and private ranges ARE reachable.\n"  \
	"                            public: the internet only; also closed: 10/8,\n"     \
	"                            172.16/12, 192.168/16, 100.64/10, 168.63.129.16 and\n" \
	"                            the host's own addresses. A closed range reopens\n"   \
	"                            only for an --allow-net inside it (not 0.0.0.0/0)\n" \
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]\n"                         \
	"                            forward a host port into the guest\n"                 \
	"  --pcap FILE               capture every frame crossing virtio-net\n"            \
	"  --net-stats               print network counters at exit\n"

struct net_opts {
	enum net_mode mode;
	struct net_layout layout;
	struct slirp_cfg slirp;   /* upstream DNS, policy, forwards, loopback */
	const char *pcap_path;    /* NULL: no capture */
	bool stats;
};

/* Fills the defaults (SLIRP on, the default layout, the host's resolvers). */
void net_opts_init(struct net_opts *o);
/* Handles one option code from getopt_long. Returns 1 when it was a
 * network option and was taken, 0 when it is not one, -EINVAL when its
 * argument is bad (why filled: "--mtu: must be 576..65520"). */
int net_opts_parse(struct net_opts *o, int code, const char *arg, char *why, size_t len);
/* Checks the options as a whole (after parsing). Returns 0 or -EINVAL. */
int net_opts_check(const struct net_opts *o, char *why, size_t len);
/* Appends the guest kernel parameters for o to cmdline (of size len, NUL
 * terminated): voidbox.net=... and ipv6.disable=1. Returns 0 or -ENOSPC. */
int net_opts_cmdline(const struct net_opts *o, char *cmdline, size_t len);
/* The qemu -device suffix carrying the MAC (",mac=..."), into buf. */
const char *net_opts_qemu_dev(const struct net_opts *o, char *buf, size_t len);

#endif
