/* vnet-raw: traffic a test guest's own tools will not make:
 *   vnet-raw IFACE ipv6 DSTMAC COUNT   IPv6 (ICMPv6 echo) frames through an
 *                                      AF_PACKET socket, which a guest booted
 *                                      with ipv6.disable=1 never emits; SLIRP
 *                                      must count them
 *   vnet-raw udpflood IP PORT0 N       one datagram to each of N ports from
 *                                      PORT0 on, from one socket: N UDP flows
 *                                      for SLIRP (a hostile guest's fd flood)
 * Prints "sent N" and exits 0, or one line on stderr and exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "base/net_layout.h"

/* Builds an Ethernet + IPv6 + ICMPv6 echo request frame. Returns its length. */
static size_t ipv6_frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6])
{
	static const uint8_t ip6[] = {
		0x60, 0, 0, 0,       /* version 6 */
		0, 8, 58, 64,        /* payload 8, ICMPv6, hop limit 64 */
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, /* fe80::f */
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, /* fe80::2 */
		128, 0, 0, 0, 0, 1, 0, 1, /* echo request (checksum not needed) */
	};
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	memcpy(f + 14, ip6, sizeof(ip6));
	return 14 + sizeof(ip6);
}

/* One datagram to each of n ports of ip from port0 on. Returns 0 or 1. */
static int udp_flood(const char *ip, uint64_t port0, uint64_t n)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || inet_pton(AF_INET, ip, &to.sin_addr) != 1) {
		fprintf(stderr, "vnet-raw: udpflood %s: %s\n", ip, fd < 0 ? strerror(errno) : "bad address");
		return 1;
	}
	for (uint64_t i = 0; i < n; i++) {
		to.sin_port = htons((uint16_t)(port0 + i));
		/* an ICMP error for an earlier datagram may fail one send: again */
		if (sendto(fd, "flood", 5, 0, (struct sockaddr *)&to, sizeof(to)) != 5 &&
		    sendto(fd, "flood", 5, 0, (struct sockaddr *)&to, sizeof(to)) != 5) {
			fprintf(stderr, "vnet-raw: udpflood: send %llu: %s\n", (unsigned long long)i,
				strerror(errno));
			return 1;
		}
	}
	printf("sent %llu\n", (unsigned long long)n);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_halen = 6 };
	uint8_t dst[6], src[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, f[128];
	uint64_t count;
	size_t len;
	int fd;

	if (argc == 5 && !strcmp(argv[1], "udpflood")) {
		uint64_t port0, n;

		if (parse_uint(argv[3], 1, 65535, &port0) || parse_uint(argv[4], 1, 65536 - port0, &n)) {
			fprintf(stderr, "usage: vnet-raw udpflood IP PORT0 N\n");
			return 2;
		}
		return udp_flood(argv[2], port0, n);
	}
	if (argc != 5 || strcmp(argv[2], "ipv6") || net_parse_mac(argv[3], dst) ||
	    parse_uint(argv[4], 1, 1000000, &count)) {
		fprintf(stderr, "usage: vnet-raw IFACE ipv6 DSTMAC COUNT | udpflood IP PORT0 N\n");
		return 2;
	}
	sa.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!sa.sll_ifindex) {
		fprintf(stderr, "vnet-raw: %s: no such interface\n", argv[1]);
		return 1;
	}
	memcpy(sa.sll_addr, dst, 6);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "vnet-raw: packet socket: %s\n", strerror(errno));
		return 1;
	}
	len = ipv6_frame(f, dst, src);
	for (uint64_t i = 0; i < count; i++) {
		if (sendto(fd, f, len, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)len) {
			fprintf(stderr, "vnet-raw: send: %s\n", strerror(errno));
			return 1;
		}
	}
	printf("sent %llu\n", (unsigned long long)count);
	return 0;
}
