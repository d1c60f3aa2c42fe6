/* The network options of `voidbox run`, declared once in net_opts_table
 * (net/opts.c, base/opts.h), which run's option table includes: --net,
 * --dns, the guest's layout (--guest-ip, --gateway, --dns-ip, --mac,
 * --gateway-mac, --mtu), egress policy (--allow-host-loopback,
 * --allow-net, --deny-net, --net-policy), -p/--publish, --pcap and
 * --net-stats. `voidbox run --help` lists them with their defaults. */
#ifndef VOIDBOX_NET_OPTS_H
#define VOIDBOX_NET_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/opts.h"
#include "slirp/slirp.h"

enum net_mode { NET_NONE, NET_SLIRP }; /* in --net's word order */

struct net_opts {
	enum net_mode mode;
	struct slirp_cfg slirp;   /* the layout (slirp.net: the one description of
				   * the guest's network), upstream DNS, policy,
				   * forwards, loopback */
	const char *pcap_path;    /* NULL: no capture */
	bool stats;
};

/* The options, their parsers and defaults; its check is net_opts_check. */
extern const struct opts_table net_opts_table;

/* Fills the defaults (SLIRP on, the default layout with run's MTU, the
 * host's resolvers): net_opts_table's, as run starts from. */
void net_opts_init(struct net_opts *o);
/* Checks the options as a whole (after parsing). Returns 0 or -EINVAL. */
int net_opts_check(const struct net_opts *o, char *why, size_t len);
/* Appends the guest kernel parameters for o to cmdline (of size len, NUL
 * terminated): voidbox.net=... and ipv6.disable=1. Returns 0 or -ENOSPC. */
int net_opts_cmdline(const struct net_opts *o, char *cmdline, size_t len);

#endif
