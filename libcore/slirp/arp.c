/* ARP for SLIRP: the gateway answers requests for every address of the
 * guest's subnet except the guest's own (so the guest can reach the
 * gateway, the DNS address and any neighbour it believes in), with the exact
 * Ethernet II + ARP layout of RFC 826: 14 + 28 bytes, no padding.
 * Gratuitous ARP and requests for the guest's own address are ignored. */
#include "slirp/priv.h"

#include <arpa/inet.h>
#include <string.h>

#define ARP_LEN 28

void arp_input(struct slirp *s, struct cursor l3)
{
	const uint8_t *a = cur_take(&l3, ARP_LEN);
	uint8_t *out = s->tx, *r = out + ETH_HLEN_;
	uint32_t spa, tpa, mask = htonl(~0u << (32 - s->cfg.net.prefix));

	if (!a || ld_be16(a) != 1 || ld_be16(a + 2) != ETHTYPE_IP || a[4] != 6 || a[5] != 4) {
		stat_inc(s, SLIRP_STAT_DROP_ARP);
		return;
	}
	memcpy(&spa, a + 14, 4);
	memcpy(&tpa, a + 24, 4);
	/* Only requests, for a subnet address that is not the guest's, from
	 * someone other than the target (a gratuitous ARP announces itself). */
	if (ld_be16(a + 6) != 1 || spa == tpa || tpa == s->cfg.net.guest ||
	    (tpa & mask) != (s->cfg.net.guest & mask)) {
		stat_inc(s, SLIRP_STAT_DROP_ARP);
		return;
	}
	if (spa == s->cfg.net.guest)
		memcpy(s->cfg.net.mac, a + 8, 6); /* learn the guest's MAC */
	memcpy(out, a + 8, 6);
	memcpy(out + 6, s->cfg.net.gw_mac, 6);
	st_be16(out + 12, ETHTYPE_ARP);
	st_be16(r, 1);                  /* hardware: Ethernet */
	st_be16(r + 2, ETHTYPE_IP);     /* protocol: IPv4 */
	r[4] = 6;
	r[5] = 4;
	st_be16(r + 6, 2);              /* reply */
	memcpy(r + 8, s->cfg.net.gw_mac, 6); /* sender: us, as the target address */
	memcpy(r + 14, &tpa, 4);
	memcpy(r + 18, a + 8, 6);       /* target: the requester */
	memcpy(r + 24, &spa, 4);
	if (slirp_out(s, out, ETH_HLEN_ + ARP_LEN) == 0)
		stat_inc(s, SLIRP_STAT_ARP_REPLIES);
	else
		stat_inc(s, SLIRP_STAT_DROP_GUEST_NOBUF);
}
