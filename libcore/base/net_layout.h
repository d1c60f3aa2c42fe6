/* The guest's network layout, the one description of the guest's network that
 * every part takes (SLIRP embeds it in its slirp_cfg, virtio-net takes its MAC
 * and MTU, the agent configures eth0 from it, run formats it), checked in
 * one place (net_layout_check). As both sides see it: the host (voidbox run)
 * builds it from defaults and flags, serves the matching SLIRP stack and
 * passes it to the guest on the kernel command line as one parameter,
 *   voidbox.net=ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3,mtu=1500,mac=52:54:00:12:34:56
 * or voidbox.net=none, and the agent parses it back to configure eth0
 * (agent/netcfg.h). Addresses are IPv4, kept in network byte order. */
#ifndef VOIDBOX_BASE_NET_LAYOUT_H
#define VOIDBOX_BASE_NET_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_LAYOUT_PARAM "voidbox.net="
#define NET_LAYOUT_MAXLEN 160 /* longest formatted parameter, with its name */
#define NET_MTU_MIN 576       /* the IPv4 minimum datagram every host accepts */
#define NET_MTU_MAX 65520     /* SLIRP's limit; frames above 1514 need MRG_RXBUF */

struct net_layout {
	bool enabled;       /* false: voidbox.net=none (only lo is set up) */
	uint32_t guest;     /* the guest's address */
	uint8_t prefix;     /* its prefix length, 8..30 */
	uint32_t gw;        /* default gateway (SLIRP's host side) */
	uint32_t dns;       /* the resolver the guest uses (SLIRP's forwarder) */
	uint16_t mtu;       /* eth0's MTU, NET_MTU_MIN..NET_MTU_MAX */
	uint8_t mac[6];     /* the guest's MAC */
	uint8_t gw_mac[6];  /* the gateway's MAC (host side only; not passed) */
};

/* Fills the defaults: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3, MTU 1500,
 * MAC 52:54:00:12:34:56, gateway MAC 52:54:00:12:34:01. */
void net_layout_default(struct net_layout *l);
/* Checks that the addresses make a usable network: guest, gateway and DNS
 * in one prefix, all different, none the network or broadcast address.
 * Returns 0 or -EINVAL with a reason in why. */
int net_layout_check(const struct net_layout *l, char *why, size_t len);
/* Writes "voidbox.net=..." for the kernel command line. Returns its length,
 * or -ENOSPC. */
int net_layout_format(const struct net_layout *l, char *buf, size_t len);
/* Parses the value of voidbox.net= (what follows the '='). Returns 0 or
 * -EINVAL (why filled). Fields missing from the value keep their defaults. */
int net_layout_parse(const char *val, struct net_layout *l, char *why, size_t len);
/* Finds voidbox.net= among the space-separated words of a kernel command
 * line and parses it. Returns 0, -ENOENT when absent, or -EINVAL. */
int net_layout_from_cmdline(const char *cmdline, struct net_layout *l, char *why, size_t len);
/* Parses "a.b.c.d" into network byte order. Returns 0 or -EINVAL. */
int net_parse_ip4(const char *s, uint32_t *out);
/* Parses "52:54:00:12:34:56". Returns 0 or -EINVAL. */
int net_parse_mac(const char *s, uint8_t mac[6]);

#endif
