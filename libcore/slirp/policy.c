/* Egress policy and destination mapping for new guest flows. The gateway
 * address stands for the host's loopback, only with allow_host_loopback.
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
		to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if ((dst & mask) == (c->guest_ip.s_addr & mask) || (h >> 24) == 127 || (h >> 24) == 0 ||
	    h >= 0xe0000000u)
		return SLIRP_STAT_DROP_IP_DST;
	for (unsigned i = 0; i < c->n_rules; i++) {
		const struct slirp_rule *r = &c->rules[i];

		if (r->allow) {
			any_allow = true;
			allowed |= rule_match(r, dst, dport);
		} else if (rule_match(r, dst, dport)) {
			return SLIRP_STAT_DROP_POLICY;
		}
	}
	if (any_allow && !allowed)
		return SLIRP_STAT_DROP_POLICY;
	if ((h >> 16) == 0xa9fe && !allowed)
		return SLIRP_STAT_DROP_POLICY;
	to->sin_addr.s_addr = dst;
	return 0;
}
