/* Run's network options (net/opts.h): their table and parsers, and the
 * checks of the whole. The layout options edit the SLIRP configuration's
 * net_layout (slirp.net: the one description of the guest's network, which
 * the stack serves, virtio-net takes its MAC from and the guest gets on its
 * command line); DNS, policy and forwards go straight to SLIRP's
 * configuration parsers. */
#include "net/opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* Starts from the default layout and SLIRP configuration (the host's
 * resolvers); the table's defs then set the rest. */
static void net_init(void *obj)
{
	struct net_opts *o = obj;

	slirp_cfg_default(&o->slirp);
}

void net_opts_init(struct net_opts *o)
{
	opts_init(&net_opts_table, o, sizeof(*o));
}

/* --gateway, --dns-ip: an IPv4 address into the uint32_t at o->off. */
static int ip4_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	if (net_parse_ip4(arg, (uint32_t *)((char *)obj + o->off))) {
		snprintf(why, len, "expected an IPv4 address");
		return -EINVAL;
	}
	return 0;
}

static void ip4_show(const struct opt *o, const void *obj, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, (const char *)obj + o->off, a, sizeof(a));
	snprintf(buf, len, "%s", a);
}

/* --guest-ip IP[/PREFIX]: the guest's address and prefix length. */
static int guest_ip_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct net_layout *l = &((struct net_opts *)obj)->slirp.net;
	char ip[INET_ADDRSTRLEN + 4];
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
	uint64_t v;

	snprintf(why, len, "expected IP[/PREFIX]");
	if (n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, arg, n);
	ip[n] = 0;
	if (net_parse_ip4(ip, &l->guest))
		return -EINVAL;
	if (slash) {
		if (parse_uint(slash + 1, 8, 30, &v)) {
			snprintf(why, len, "prefix must be 8..30");
			return -EINVAL;
		}
		l->prefix = (uint8_t)v;
	}
	return 0;
}

static void guest_ip_show(const struct opt *opt, const void *obj, char *buf, size_t len)
{
	const struct net_layout *l = &((const struct net_opts *)obj)->slirp.net;
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &l->guest, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, l->prefix);
}

/* --mac, --gateway-mac: into the uint8_t[6] at o->off. */
static int mac_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	if (net_parse_mac(arg, (uint8_t *)obj + o->off)) {
		snprintf(why, len, "expected xx:xx:xx:xx:xx:xx");
		return -EINVAL;
	}
	return 0;
}

static void mac_show(const struct opt *o, const void *obj, char *buf, size_t len)
{
	const uint8_t *m = (const uint8_t *)obj + o->off;

	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The parsers below are SLIRP's; a refused value reads "expected META"
 * (base/opts.h). */
static int dns_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	return slirp_cfg_add_dns(&((struct net_opts *)obj)->slirp, arg);
}

/* --allow-net, --deny-net (told apart by name). */
static int rule_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	return slirp_cfg_add_rule(&((struct net_opts *)obj)->slirp, !strcmp(o->name, "allow-net"),
				  arg);
}

static int policy_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	return slirp_cfg_policy(&((struct net_opts *)obj)->slirp, arg);
}

static int publish_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	return slirp_cfg_add_fwd(&((struct net_opts *)obj)->slirp, arg);
}

static const char *pcap_bad(const char *arg)
{
	return arg[0] ? NULL : "expected a file name";
}

static int net_check(const void *obj, char *why, size_t len)
{
	return net_opts_check(obj, why, len);
}

#define N(field) OPT_AT(struct net_opts, field)
/* Every network option shapes a new VM (OPT_MARK: --attach refuses it). */
static const struct opt net_opt_list[] = {
	{ "net", 0, OPT_ENUM, N(mode), .words = "none|slirp", .def = "slirp", .flags = OPT_MARK,
	  .help = "no network, or SLIRP user-mode networking" },
	{ "dns", 0, OPT_CALL, .parse = dns_parse, .flags = OPT_MARK | OPT_REPEAT,
	  .meta = "IP[:PORT]",
	  .help = "upstream DNS server, tried in order; without one, the host's "
		  "/etc/resolv.conf nameservers" },
	{ "guest-ip", 0, OPT_CALL, .parse = guest_ip_parse, .show = guest_ip_show,
	  .flags = OPT_MARK, .meta = "IP[/PREFIX]", .help = "the guest's address" },
	{ "gateway", 0, OPT_CALL, N(slirp.net.gw), .parse = ip4_parse, .show = ip4_show,
	  .flags = OPT_MARK, .meta = "IP", .help = "the gateway's address" },
	{ "dns-ip", 0, OPT_CALL, N(slirp.net.dns), .parse = ip4_parse, .show = ip4_show,
	  .flags = OPT_MARK, .meta = "IP", .help = "the guest's resolver address" },
	{ "mac", 0, OPT_CALL, N(slirp.net.mac), .parse = mac_parse, .show = mac_show,
	  .flags = OPT_MARK, .meta = "MAC", .help = "the guest's MAC" },
	{ "gateway-mac", 0, OPT_CALL, N(slirp.net.gw_mac), .parse = mac_parse, .show = mac_show,
	  .flags = OPT_MARK, .meta = "MAC", .help = "the gateway's MAC" },
	/* SLIRP terminates every flow, so the guest link can be as large as
	 * SLIRP allows: fewer, larger frames (MRG_RXBUF carries them). */
	{ "mtu", 0, OPT_UINT, N(slirp.net.mtu), .min = NET_MTU_MIN, .max = NET_MTU_MAX,
	  .def = OPT_NUM(NET_MTU_MAX), .flags = OPT_MARK, .meta = "N", .help = "the guest's MTU" },
	{ "allow-host-loopback", 0, OPT_FLAG, N(slirp.allow_host_loopback), .flags = OPT_MARK,
	  .help = "the gateway address reaches the host's loopback" },
	{ "allow-net", 0, OPT_CALL, .parse = rule_parse, .flags = OPT_MARK | OPT_REPEAT,
	  .meta = "CIDR[:PORT]", .help = "allow egress to CIDR" },
	{ "deny-net", 0, OPT_CALL, .parse = rule_parse, .flags = OPT_MARK | OPT_REPEAT,
	  .meta = "CIDR[:PORT]", .help = "deny egress to CIDR" },
	{ "net-policy", 0, OPT_CALL, .parse = policy_parse, .def = "open", .flags = OPT_MARK,
	  .meta = "open|public",
	  .help = "what the guest may reach besides those rules\n"
		  "open: everything except the host's loopback (see --allow-host-loopback) and "
		  "169.254/16 (link-local, cloud metadata); the host's other addresses and "
		  "private ranges ARE reachable.\n"
		  "public: the internet only; also closed: 10/8, 172.16/12, 192.168/16, "
		  "100.64/10, 168.63.129.16 and the host's own addresses. A closed range "
		  "reopens only for an --allow-net inside it (not 0.0.0.0/0)" },
	{ "publish", 'p', OPT_CALL, .parse = publish_parse, .flags = OPT_MARK | OPT_REPEAT,
	  .meta = "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]",
	  .help = "forward a host port into the guest" },
	{ "pcap", 0, OPT_STR, N(pcap_path), .check = pcap_bad, .flags = OPT_MARK, .meta = "FILE",
	  .help = "capture every frame crossing virtio-net" },
	{ "net-stats", 0, OPT_FLAG, N(stats), .flags = OPT_MARK,
	  .help = "print network counters at exit" },
	{ .kind = OPT_END },
};
#undef N

const struct opts_table net_opts_table = {
	.heading = "Network (SLIRP user-mode networking is on by default; see docs/net.md):",
	.init = net_init,
	.check = net_check,
	.opts = net_opt_list,
};

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
	if (net_layout_check(&o->slirp.net, w, sizeof(w))) {
		snprintf(why, len, "network layout: %s", w);
		return -EINVAL;
	}
	return 0;
}

int net_opts_cmdline(const struct net_opts *o, char *cmdline, size_t len)
{
	struct net_layout l = o->slirp.net;
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

