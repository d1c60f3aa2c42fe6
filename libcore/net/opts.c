/* Parsing and checking of run's network options; see net/opts.h. The
 * layout flags edit net_layout (the one source of the guest's addresses,
 * copied into the SLIRP configuration when the stack starts); DNS, policy
 * and forwards go straight to SLIRP's configuration parsers. */
#include "net/opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

void net_opts_init(struct net_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = NET_SLIRP;
	net_layout_default(&o->layout);
	/* SLIRP terminates every flow, so the guest link can be as large as
	 * SLIRP allows: fewer, larger frames (MRG_RXBUF carries them). */
	o->layout.mtu = NET_MTU_RUN_DEFAULT;
	slirp_cfg_default(&o->slirp);
}

/* Fills why with "--NAME: what" and returns -EINVAL. */
static int opt_bad(char *why, size_t len, const char *name, const char *what, const char *arg)
{
	snprintf(why, len, "--%s: %s: '%s'", name, what, arg);
	return -EINVAL;
}

int net_opts_parse(struct net_opts *o, int code, const char *arg, char *why, size_t len)
{
	struct net_layout *l = &o->layout;
	uint64_t v;

	switch (code) {
	case NET_OPT_NET:
		if (!strcmp(arg, "none"))
			o->mode = NET_NONE;
		else if (!strcmp(arg, "slirp"))
			o->mode = NET_SLIRP;
		else
			return opt_bad(why, len, "net", "expected none or slirp", arg);
		return 1;
	case NET_OPT_DNS:
		if (slirp_cfg_add_dns(&o->slirp, arg))
			return opt_bad(why, len, "dns", "expected IP[:PORT] (at most 4)", arg);
		return 1;
	case NET_OPT_GUEST_IP: {
		char ip[INET_ADDRSTRLEN + 4];
		const char *slash = strchr(arg, '/');
		size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
		if (n >= sizeof(ip))
			return opt_bad(why, len, "guest-ip", "expected IP[/PREFIX]", arg);
		memcpy(ip, arg, n);
		ip[n] = 0;
		if (net_parse_ip4(ip, &l->guest))
			return opt_bad(why, len, "guest-ip", "expected IP[/PREFIX]", arg);
		if (slash) {
			if (parse_uint(slash + 1, 8, 30, &v))
				return opt_bad(why, len, "guest-ip", "prefix must be 8..30", arg);
			l->prefix = (uint8_t)v;
		}
		return 1;
	}
	case NET_OPT_GATEWAY:
		if (net_parse_ip4(arg, &l->gw))
			return opt_bad(why, len, "gateway", "expected an IPv4 address", arg);
		return 1;
	case NET_OPT_DNS_IP:
		if (net_parse_ip4(arg, &l->dns))
			return opt_bad(why, len, "dns-ip", "expected an IPv4 address", arg);
		return 1;
	case NET_OPT_MAC:
		if (net_parse_mac(arg, l->mac))
			return opt_bad(why, len, "mac", "expected xx:xx:xx:xx:xx:xx", arg);
		return 1;
	case NET_OPT_GATEWAY_MAC:
		if (net_parse_mac(arg, l->gw_mac))
			return opt_bad(why, len, "gateway-mac", "expected xx:xx:xx:xx:xx:xx", arg);
		return 1;
	case NET_OPT_MTU:
		if (parse_uint(arg, 576, NET_MTU_MAX, &v))
			return opt_bad(why, len, "mtu", "must be 576..65520", arg);
		l->mtu = (uint16_t)v;
		return 1;
	case NET_OPT_ALLOW_LOOPBACK:
		o->slirp.allow_host_loopback = true;
		return 1;
	case NET_OPT_ALLOW_NET:
	case NET_OPT_DENY_NET:
		if (slirp_cfg_add_rule(&o->slirp, code == NET_OPT_ALLOW_NET, arg))
			return opt_bad(why, len, code == NET_OPT_ALLOW_NET ? "allow-net" : "deny-net",
				       "expected CIDR[:PORT]", arg);
		return 1;
	case NET_OPT_POLICY:
		if (slirp_cfg_policy(&o->slirp, arg))
			return opt_bad(why, len, "net-policy", "expected open or public", arg);
		return 1;
	case NET_OPT_PUBLISH:
		if (slirp_cfg_add_fwd(&o->slirp, arg))
			return opt_bad(why, len, "publish",
				       "expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]", arg);
		return 1;
	case NET_OPT_PCAP:
		if (!*arg)
			return opt_bad(why, len, "pcap", "expected a file name", arg);
		o->pcap_path = arg;
		return 1;
	case NET_OPT_STATS:
		o->stats = true;
		return 1;
	}
	return 0;
}

int net_opts_check(const struct net_opts *o, char *why, size_t len)
{
	char w[128];

	if (o->mode == NET_NONE) {
		if (o->pcap_path || o->slirp.n_fwd) {
			snprintf(why, len, "--net none: %s needs the network",
				 o->pcap_path ? "--pcap" : "--publish");
			return -EINVAL;
		}
		return 0;
	}
	if (net_layout_check(&o->layout, w, sizeof(w))) {
		snprintf(why, len, "network layout: %s", w);
		return -EINVAL;
	}
	return 0;
}

int net_opts_cmdline(const struct net_opts *o, char *cmdline, size_t len)
{
	struct net_layout l = o->layout;
	size_t used = strnlen(cmdline, len);
	int n;

	if (used >= len)
		return -ENOSPC;
	l.enabled = o->mode != NET_NONE;
	if (used && used + 1 < len)
		cmdline[used++] = ' ';
	n = net_layout_format(&l, cmdline + used, len - used);
	if (n < 0)
		return -ENOSPC;
	used += (size_t)n;
	/* The stack is IPv4 only: the guest gets no IPv6 at all. */
	n = snprintf(cmdline + used, len - used, " ipv6.disable=1");
	return n < 0 || (size_t)n >= len - used ? -ENOSPC : 0;
}

const char *net_opts_qemu_dev(const struct net_opts *o, char *buf, size_t len)
{
	const uint8_t *m = o->layout.mac;

	snprintf(buf, len, ",mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}
