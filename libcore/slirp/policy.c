/* Egress policy and destination mapping for new guest flows. The gateway
 * address stands for the host's loopback, only with allow_host_loopback
 * (deny rules for the gateway's address or for 127.0.0.1 still refuse).
 * Other addresses of the guest's subnet, and loopback, broadcast, multicast
 * and zero addresses, lead nowhere. For the rest: a matching deny rule
 * refuses; when allow rules exist one must match; 169.254.0.0/16 (cloud
 * metadata and link-local services) is refused unless an allow rule names
 * it. Refusals return the counter to bump; the caller answers with RST or
 * ICMP unreachable. */
#include "slirp/priv.h"

#include <arpa/inet.h>
#include <string.h>

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

int policy_map(struct slirp *s, uint32_t dst, uint16_t dport, struct sockaddr_in *to)
{
	const struct slirp_cfg *c = &s->cfg;
	uint32_t mask = htonl(~0u << (32 - c->prefix)), h = ntohl(dst);
	bool any_allow = false, allowed = false;

	memset(to, 0, sizeof(*to));
	to->sin_family = AF_INET;
	to->sin_port = htons(dport);
	if (dst == c->gw_ip.s_addr) {
		if (!c->allow_host_loopback)
			return SLIRP_STAT_DROP_HOST_LOOPBACK;
		/* --allow-host-loopback is the allow; deny rules still apply,
		 * named by the gateway's address or by the host's 127.0.0.1 */
		if (denied(c, dst, dport) || denied(c, htonl(INADDR_LOOPBACK), dport))
			return SLIRP_STAT_DROP_POLICY;
		to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if ((dst & mask) == (c->guest_ip.s_addr & mask) || (h >> 24) == 127 || (h >> 24) == 0 ||
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
	if ((h >> 16) == 0xa9fe && !allowed)
		return SLIRP_STAT_DROP_POLICY;
	to->sin_addr.s_addr = dst;
	return 0;
}
