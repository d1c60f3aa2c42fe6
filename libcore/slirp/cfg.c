/* SLIRP configuration: the default layout (net_layout_default: 10.0.2.0/24,
 * gateway .2, DNS .3, guest .15), the upstream nameservers of resolv.conf, and the parsers for
 * the textual forms front ends take on their command lines: "IP[:PORT]"
 * DNS servers, "CIDR[:PORT]" egress rules and
 * "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]" port forwards. */
#include "slirp/slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void slirp_cfg_default(struct slirp_cfg *c)
{
	memset(c, 0, sizeof(*c));
	net_layout_default(&c->net);
	c->max_flows = 16384;
	slirp_cfg_resolv(c, "/etc/resolv.conf");
}

/* Parses a decimal port 1..65535 (0 too when allow_zero). Returns 0 or -EINVAL. */
static int parse_port(const char *s, bool allow_zero, uint16_t *out)
{
	uint64_t v;

	if (parse_uint(s, allow_zero ? 0 : 1, 65535, &v) < 0)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* Parses "IP" or "IP:PORT" into sa (port def when absent). Returns 0 or -EINVAL. */
static int parse_ip_port(const char *spec, uint16_t def, struct sockaddr_in *sa)
{
	char buf[64];
	char *colon;
	uint16_t port = def;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = 0;
		if (parse_port(colon + 1, false, &port) < 0)
			return -EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return inet_pton(AF_INET, buf, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

int slirp_cfg_policy(struct slirp_cfg *c, const char *name)
{
	if (!strcmp(name, "open"))
		c->net_policy = SLIRP_POLICY_OPEN;
	else if (!strcmp(name, "public"))
		c->net_policy = SLIRP_POLICY_PUBLIC;
	else
		return -EINVAL;
	return 0;
}

int slirp_cfg_resolv(struct slirp_cfg *c, const char *path)
{
	uint8_t *text;
	size_t len;
	int added = 0, err = read_file(path, 1 << 20, &text, &len);
	char *save = NULL;

	if (err < 0)
		return err;
	for (char *line = strtok_r((char *)text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char ip[64];
		struct sockaddr_in sa;

		if (sscanf(line, " nameserver %63s", ip) != 1 || c->n_dns >= SLIRP_MAX_DNS)
			continue;
		if (parse_ip_port(ip, 53, &sa) == 0 && !strchr(ip, ':')) {
			c->dns[c->n_dns++] = sa;
			added++;
		}
	}
	free(text);
	return added;
}

int slirp_cfg_add_dns(struct slirp_cfg *c, const char *spec)
{
	struct sockaddr_in sa;

	if (parse_ip_port(spec, 53, &sa) < 0)
		return -EINVAL;
	if (!c->dns_explicit)
		c->n_dns = 0; /* explicit servers replace resolv.conf's */
	c->dns_explicit = true;
	if (c->n_dns >= SLIRP_MAX_DNS)
		return -ENOSPC;
	c->dns[c->n_dns++] = sa;
	return 0;
}

int slirp_cfg_add_rule(struct slirp_cfg *c, bool allow, const char *spec)
{
	char buf[64];
	char *slash, *colon;
	struct slirp_rule *r;
	uint64_t prefix = 32;

	if (c->n_rules >= SLIRP_MAX_RULES)
		return -ENOSPC;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	r = &c->rules[c->n_rules];
	memset(r, 0, sizeof(*r));
	r->allow = allow;
	colon = strchr(buf, ':');
	if (colon) {
		*colon = 0;
		if (parse_port(colon + 1, false, &r->port) < 0)
			return -EINVAL;
	}
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		if (parse_uint(slash + 1, 0, 32, &prefix) < 0)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, &r->net) != 1)
		return -EINVAL;
	r->prefix = (uint8_t)prefix;
	if (prefix < 32)
		r->net.s_addr &= htonl(prefix ? ~0u << (32 - prefix) : 0);
	c->n_rules++;
	return 0;
}

int slirp_cfg_add_fwd(struct slirp_cfg *c, const char *spec)
{
	char buf[80];
	char *parts[3], *proto, *p;
	unsigned n = 0;
	struct slirp_fwd *fw;

	if (c->n_fwd >= SLIRP_MAX_FWD)
		return -ENOSPC;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	fw = &c->fwd[c->n_fwd];
	memset(fw, 0, sizeof(*fw));
	fw->proto = IPPROTO_TCP;
	proto = strchr(buf, '/');
	if (proto) {
		*proto++ = 0;
		if (!strcmp(proto, "udp"))
			fw->proto = IPPROTO_UDP;
		else if (strcmp(proto, "tcp"))
			return -EINVAL;
	}
	for (p = buf; n < 3; n++) {
		parts[n] = p;
		p = strchr(p, ':');
		if (!p) {
			n++;
			break;
		}
		*p++ = 0;
	}
	if (p || n < 2)
		return -EINVAL;
	fw->host_ip.s_addr = htonl(INADDR_LOOPBACK);
	if (n == 3 && inet_pton(AF_INET, parts[0], &fw->host_ip) != 1)
		return -EINVAL;
	if (parse_port(parts[n - 2], false, &fw->host_port) < 0 ||
	    parse_port(parts[n - 1], false, &fw->guest_port) < 0)
		return -EINVAL;
	c->n_fwd++;
	return 0;
}
