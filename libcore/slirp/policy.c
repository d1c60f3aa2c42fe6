/* Egress policy and destination mapping for new guest flows. The gateway
 * address stands for the host's loopback, only with allow_host_loopback
 * (deny rules for the gateway's address or for 127.0.0.1 still refuse).
 * Other addresses of the guest's subnet, and loopback, broadcast, multicast
 * and zero addresses, lead nowhere. For the rest: a matching deny rule
 * refuses; when allow rules exist one must match. Closed ranges are
 * refused unless an allow rule lies inside one (names it, or part of it:
 * --allow-net 0.0.0.0/0 does not reopen them): 169.254.0.0/16 (link-local,
 * cloud metadata) always; with the "public" preset (cfg.net_policy) also
 * the private and shared ranges (10/8, 172.16/12, 192.168/16, 100.64/10,
 * which holds Alibaba's 100.100.100.200), Azure's 168.63.129.16, and the
 * host's own addresses (read when the stack starts). Refusals return the
 * counter to bump; the caller answers with RST or ICMP unreachable. */
#include "slirp/priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <string.h>

/* A closed range: network (host order) and prefix. */
struct closed {
	uint32_t net;
	uint8_t prefix;
};

static const struct closed link_local = { 0xa9fe0000u, 16 };
static const struct closed public_closed[] = {
	{ 0x0a000000u, 8 },   /* 10/8 */
	{ 0xac100000u, 12 },  /* 172.16/12 */
	{ 0xc0a80000u, 16 },  /* 192.168/16 */
	{ 0x64400000u, 10 },  /* 100.64/10, shared address space */
	{ 0xa83f8110u, 32 },  /* 168.63.129.16, Azure's host endpoint */
	{ 0xc0000000u, 24 },  /* 192.0.0/24, IETF protocol assignments */
	{ 0xc6120000u, 15 },  /* 198.18/15, benchmarking */
};

static uint32_t prefix_mask(uint8_t prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

static bool in_closed(const struct closed *c, uint32_t h)
{
	return (h & prefix_mask(c->prefix)) == c->net;
}

static bool rule_match(const struct slirp_rule *r, uint32_t dst, uint16_t dport)
{
	uint32_t mask = r->prefix ? htonl(~0u << (32 - r->prefix)) : 0;

	return (dst & mask) == r->net.s_addr && (!r->port || r->port == dport);
}

/* True when a deny rule matches dst:dport. */
static bool denied(const struct slirp_cfg *c, uint32_t dst, uint16_t dport)
{
	for (unsigned i = 0; i < c->n_rules; i++)
		if (!c->rules[i].allow && rule_match(&c->rules[i], dst, dport))
			return true;
	return false;
}

/* True when an allow rule matching dst:dport lies inside closed range c
 * (its prefix at least c's): the user named that part of the range. */
static bool reopened(const struct slirp_cfg *cfg, const struct closed *c, uint32_t dst,
		     uint16_t dport)
{
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		const struct slirp_rule *r = &cfg->rules[i];

		if (r->allow && r->prefix >= c->prefix && in_closed(c, ntohl(r->net.s_addr)) &&
		    rule_match(r, dst, dport))
			return true;
	}
	return false;
}

/* True when dst lies in a closed range that no allow rule reopens. */
static bool closed_to(const struct slirp *s, uint32_t dst, uint16_t dport)
{
	uint32_t h = ntohl(dst);

	if (in_closed(&link_local, h) && !reopened(&s->cfg, &link_local, dst, dport))
		return true;
	if (s->cfg.net_policy != SLIRP_POLICY_PUBLIC)
		return false;
	for (unsigned i = 0; i < ARRAY_SIZE(public_closed); i++)
		if (in_closed(&public_closed[i], h) &&
		    !reopened(&s->cfg, &public_closed[i], dst, dport))
			return true;
	for (unsigned i = 0; i < s->n_host_addrs; i++) {
		struct closed host = { ntohl(s->host_addrs[i]), 32 };

		if (in_closed(&host, h) && !reopened(&s->cfg, &host, dst, dport))
			return true;
	}
	return false;
}

int policy_host_addrs(struct slirp *s)
{
	struct ifaddrs *ifa, *i;

	s->n_host_addrs = 0;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		uint32_t a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		if ((ntohl(a) >> 24) == 127 || s->n_host_addrs >= SLIRP_MAX_HOST_ADDRS)
			continue;
		s->host_addrs[s->n_host_addrs++] = a;
	}
	freeifaddrs(ifa);
	return 0;
}

int policy_map(struct slirp *s, uint32_t dst, uint16_t dport, struct sockaddr_in *to)
{
	const struct slirp_cfg *c = &s->cfg;
	uint32_t mask = htonl(~0u << (32 - c->net.prefix)), h = ntohl(dst);
	bool any_allow = false, allowed = false;

	memset(to, 0, sizeof(*to));
	to->sin_family = AF_INET;
	to->sin_port = htons(dport);
	if (dst == c->net.gw) {
		if (!c->allow_host_loopback)
			return SLIRP_STAT_DROP_HOST_LOOPBACK;
		/* --allow-host-loopback is the allow; deny rules still apply,
		 * named by the gateway's address or by the host's 127.0.0.1 */
		if (denied(c, dst, dport) || denied(c, htonl(INADDR_LOOPBACK), dport))
			return SLIRP_STAT_DROP_POLICY;
		to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if ((dst & mask) == (c->net.guest & mask) || (h >> 24) == 127 || (h >> 24) == 0 ||
	    h >= 0xe0000000u)
		return SLIRP_STAT_DROP_IP_DST;
	if (denied(c, dst, dport))
		return SLIRP_STAT_DROP_POLICY;
	for (unsigned i = 0; i < c->n_rules; i++) {
		if (c->rules[i].allow) {
			any_allow = true;
			allowed |= rule_match(&c->rules[i], dst, dport);
		}
	}
	if (any_allow && !allowed)
		return SLIRP_STAT_DROP_POLICY;
	if (closed_to(s, dst, dport))
		return SLIRP_STAT_DROP_POLICY;
	to->sin_addr.s_addr = dst;
	return 0;
}
