/* Formatting, parsing and checking of the guest's network layout; see
 * base/net_layout.h. The parser is strict: a malformed value is an error with a
 * reason, never a half-applied layout. */
#include "base/net_layout.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_layout_default(struct net_layout *l)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t gw_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

	memset(l, 0, sizeof(*l));
	l->enabled = true;
	l->guest = htonl(0x0a00020f);
	l->prefix = 24;
	l->gw = htonl(0x0a000202);
	l->dns = htonl(0x0a000203);
	l->mtu = 1500;
	memcpy(l->mac, mac, 6);
	memcpy(l->gw_mac, gw_mac, 6);
}

int net_parse_ip4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = a.s_addr;
	return 0;
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (s[i * 3 + 2] != ':' && i < 5)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* Fills why (if given) and returns -EINVAL. */
static int bad(char *why, size_t len, const char *what, const char *arg)
{
	if (why && len)
		snprintf(why, len, "%s: %s", what, arg);
	return -EINVAL;
}

int net_layout_check(const struct net_layout *l, char *why, size_t len)
{
	uint32_t mask, g = ntohl(l->guest), gw = ntohl(l->gw), d = ntohl(l->dns);
	char a[INET_ADDRSTRLEN];

	if (!l->enabled)
		return 0;
	if (l->prefix < 8 || l->prefix > 30)
		return bad(why, len, "prefix length must be 8..30", "");
	if (l->mtu < NET_MTU_MIN || l->mtu > NET_MTU_MAX)
		return bad(why, len, "MTU must be 576..65520", "");
	if ((l->mac[0] & 1))
		return bad(why, len, "guest MAC is a multicast address", "");
	if ((l->gw_mac[0] & 1) || !memcmp(l->mac, l->gw_mac, 6))
		return bad(why, len, "gateway MAC must be unicast and differ from the guest's", "");
	mask = 0xffffffffu << (32 - l->prefix);
	inet_ntop(AF_INET, &l->guest, a, sizeof(a));
	if ((g & ~mask) == 0 || (g & ~mask) == ~mask)
		return bad(why, len, "guest address is the network or broadcast address", a);
	if ((gw & mask) != (g & mask) || (d & mask) != (g & mask))
		return bad(why, len, "gateway and DNS must be in the guest's network", a);
	if ((gw & ~mask) == 0 || (gw & ~mask) == ~mask || (d & ~mask) == 0 || (d & ~mask) == ~mask)
		return bad(why, len, "gateway or DNS is the network or broadcast address", a);
	if (g == gw || g == d)
		return bad(why, len, "guest address equals the gateway or DNS address", a);
	return 0;
}

int net_layout_format(const struct net_layout *l, char *buf, size_t len)
{
	char g[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
	int n;

	if (!l->enabled) {
		n = snprintf(buf, len, "%snone", NET_LAYOUT_PARAM);
	} else {
		inet_ntop(AF_INET, &l->guest, g, sizeof(g));
		inet_ntop(AF_INET, &l->gw, gw, sizeof(gw));
		inet_ntop(AF_INET, &l->dns, d, sizeof(d));
		n = snprintf(buf, len,
			     "%sip=%s/%u,gw=%s,dns=%s,mtu=%u,mac=%02x:%02x:%02x:%02x:%02x:%02x",
			     NET_LAYOUT_PARAM, g, l->prefix, gw, d, l->mtu, l->mac[0], l->mac[1],
			     l->mac[2], l->mac[3], l->mac[4], l->mac[5]);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* Parses one key=value field into l. Returns 0 or -EINVAL. */
static int parse_field(char *f, struct net_layout *l, char *why, size_t len)
{
	char *v = strchr(f, '=');
	uint64_t u;
	char *end;

	if (!v)
		return bad(why, len, "expected key=value", f);
	*v++ = 0;
	if (!strcmp(f, "ip")) {
		char *slash = strchr(v, '/');
		if (slash) {
			*slash++ = 0;
			errno = 0;
			u = strtoull(slash, &end, 10);
			if (!*slash || *end || errno || u > 32)
				return bad(why, len, "bad prefix length", slash);
			l->prefix = (uint8_t)u;
		}
		if (net_parse_ip4(v, &l->guest))
			return bad(why, len, "bad ip", v);
	} else if (!strcmp(f, "gw")) {
		if (net_parse_ip4(v, &l->gw))
			return bad(why, len, "bad gw", v);
	} else if (!strcmp(f, "dns")) {
		if (net_parse_ip4(v, &l->dns))
			return bad(why, len, "bad dns", v);
	} else if (!strcmp(f, "mtu")) {
		errno = 0;
		u = strtoull(v, &end, 10);
		if (!*v || *end || errno || u > UINT16_MAX)
			return bad(why, len, "bad mtu", v);
		l->mtu = (uint16_t)u;
	} else if (!strcmp(f, "mac")) {
		if (net_parse_mac(v, l->mac))
			return bad(why, len, "bad mac", v);
	} else {
		return bad(why, len, "unknown field", f);
	}
	return 0;
}

int net_layout_parse(const char *val, struct net_layout *l, char *why, size_t len)
{
	char buf[NET_LAYOUT_MAXLEN], *save = NULL, *f;
	int r;

	net_layout_default(l);
	if (!strcmp(val, "none")) {
		l->enabled = false;
		return 0;
	}
	if (strlen(val) >= sizeof(buf))
		return bad(why, len, "value too long", "");
	strcpy(buf, val);
	for (f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		r = parse_field(f, l, why, len);
		if (r)
			return r;
	}
	return net_layout_check(l, why, len);
}

int net_layout_from_cmdline(const char *cmdline, struct net_layout *l, char *why, size_t len)
{
	const size_t plen = strlen(NET_LAYOUT_PARAM);
	const char *p = cmdline;

	while (*p) {
		size_t wl;
		while (*p == ' ' || *p == '\n' || *p == '\t')
			p++;
		wl = strcspn(p, " \n\t");
		if (wl > plen && !strncmp(p, NET_LAYOUT_PARAM, plen)) {
			char val[NET_LAYOUT_MAXLEN];
			if (wl - plen >= sizeof(val))
				return bad(why, len, "value too long", "");
			memcpy(val, p + plen, wl - plen);
			val[wl - plen] = 0;
			return net_layout_parse(val, l, why, len);
		}
		p += wl;
	}
	net_layout_default(l);
	return -ENOENT;
}
