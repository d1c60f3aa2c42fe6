/* Unit tests for run's network options (net/opts.c) and the wiring of
 * virtio-net to SLIRP and the capture (net/stack.c), with the fake driver
 * of vnet_fake.h playing the guest: an ARP request goes in through the TX
 * queue and the reply comes out of the RX queue byte for byte, IPv6 frames
 * are counted by SLIRP, and both frames land in the pcap file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/util.h"
#include "net/stack.h"
#include "t.h"
#include "vnet_fake.h"

/* Applies one network option by name, as run's command line would. */
#define SET(name, arg) opts_set(&net_opts_table, &o, name, arg, why, sizeof(why))

static void test_opts_parse(void)
{
	struct net_opts o;
	char why[160];
	char cmd[512] = "console=ttyS0 quiet";

	net_opts_init(&o);
	T_CHECK(o.mode == NET_SLIRP, "slirp is not the default");
	T_CHECK(o.slirp.net.mtu == 65520, "run's default MTU %u", o.slirp.net.mtu);
	T_CHECK(opts_set(&net_opts_table, &o, "x", "1", why, sizeof(why)) == -ENOENT, "foreign option taken");
	T_CHECK(SET("guest-ip", "10.9.0.5/16") == 0 &&
			o.slirp.net.guest == htonl(0x0a090005) && o.slirp.net.prefix == 16,
		"guest-ip");
	T_CHECK(SET("gateway", "10.9.0.1") == 0, "gateway");
	T_CHECK(SET("dns-ip", "10.9.0.3") == 0, "dns-ip");
	T_CHECK(SET("mtu", "1400") == 0 && o.slirp.net.mtu == 1400, "mtu");
	T_CHECK(SET("mac", "02:00:00:00:00:09") == 0, "mac");
	T_CHECK(SET("dns", "127.0.0.1:5353") == 0 &&
			o.slirp.n_dns == 1 && o.slirp.dns[0].sin_port == htons(5353),
		"dns");
	T_CHECK(SET("deny-net", "198.51.100.0/24:80") == 0 &&
			o.slirp.n_rules == 1 && !o.slirp.rules[0].allow,
		"deny-net");
	T_CHECK(SET("publish", "127.0.0.1:8080:80/tcp") == 0 &&
			o.slirp.n_fwd == 1,
		"publish");
	T_CHECK(SET("allow-host-loopback", NULL) == 0 &&
			o.slirp.allow_host_loopback,
		"allow-host-loopback");
	T_CHECK(SET("net-policy", "public") == 0 &&
			o.slirp.net_policy == SLIRP_POLICY_PUBLIC,
		"net-policy");
	T_REQUIRE(net_opts_check(&o, why, sizeof(why)) == 0, "check: %s", why);
	T_REQUIRE(net_opts_cmdline(&o, cmd, sizeof(cmd)) == 0, "cmdline");
	T_CHECK(!strcmp(cmd, "console=ttyS0 quiet voidbox.net=ip=10.9.0.5/16,gw=10.9.0.1,"
			     "dns=10.9.0.3,mtu=1400,mac=02:00:00:00:00:09 ipv6.disable=1"),
		"cmdline '%.200s'", cmd);
	/* Bad arguments: refused with a reason naming the flag and the value. */
	T_CHECK(SET("net", "tap") == -EINVAL &&
			strstr(why, "--net 'tap': "),
		"--net tap: %s", why);
	T_CHECK(SET("mtu", "70000") == -EINVAL, "mtu 70000");
	T_CHECK(SET("guest-ip", "10.0.0.1/40") == -EINVAL, "prefix 40");
	T_CHECK(SET("publish", "99999:1") == -EINVAL, "bad publish");
	T_CHECK(SET("mac", "zz") == -EINVAL, "bad mac");
	T_CHECK(SET("net-policy", "closed") == -EINVAL &&
			strstr(why, "--net-policy"),
		"--net-policy closed: %s", why);
	/* A gateway outside the guest's network is refused as a whole. */
	T_CHECK(SET("gateway", "10.10.0.1") == 0, "gateway 2");
	T_CHECK(net_opts_check(&o, why, sizeof(why)) == -EINVAL, "gateway outside accepted");
	/* --net none: no capture or forwards, and the guest is told. */
	net_opts_init(&o);
	SET("net", "none");
	cmd[0] = 0;
	T_CHECK(net_opts_cmdline(&o, cmd, sizeof(cmd)) == 0 &&
			!strcmp(cmd, "voidbox.net=none ipv6.disable=1"),
		"none cmdline '%.200s'", cmd);
	SET("pcap", "/tmp/x");
	T_CHECK(net_opts_check(&o, why, sizeof(why)) == -EINVAL, "--pcap with --net none accepted");
}

static struct net_stack S;

/* Posts a TX frame (header + data in one descriptor) at gpa. */
static void tx_raw(uint64_t gpa, const uint8_t *frame, size_t len)
{
	uint8_t *p = G(gpa);
	uint64_t g[1] = { gpa };
	uint32_t l[1] = { (uint32_t)(VNET_HDR_LEN + len) };
	int w[1] = { 0 };

	memset(p, 0, VNET_HDR_LEN);
	memcpy(p + VNET_HDR_LEN, frame, len);
	fq_post(VNET_TXQ, 1, g, l, w);
}

static const uint8_t arp_req[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
		0, 0, 0, 0, 0, 0, 10, 0, 2, 2,
	};

static void test_stack_arp_ipv6_pcap(void)
{
	static const uint8_t arp_reply[42] = {
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0x12, 0x34, 0x01, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x01, 10, 0, 2, 2,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
	};
	uint8_t ip6[54] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
			    0x86, 0xdd, 0x60 };
	char path[] = "/tmp/vb-net-stack.XXXXXX", why[160];
	struct net_opts o;
	struct loop l;
	uint32_t id, len;
	uint8_t *buf, *pc;
	size_t pclen;
	int fd;

	fd = mkstemp(path);
	T_REQUIRE(fd >= 0, "mkstemp");
	close(fd);
	T_REQUIRE(loop_init(&l) == 0, "loop");
	net_opts_init(&o);
	o.pcap_path = path;
	T_REQUIRE(net_stack_init(&S, &o, &l, why, sizeof(why)) == 0, "stack: %s", why);
	T_REQUIRE(fd_boot(net_stack_vdev(&S), VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	rx_post(0, 1526, 0);
	tx_raw(BUF_AREA, arp_req, sizeof(arp_req));
	tx_raw(BUF_AREA + BUF_SIZE, ip6, sizeof(ip6));
	net_stack_vdev(&S)->ops->queue_kick(net_stack_vdev(&S), VNET_TXQ);
	T_REQUIRE(fq_used(VNET_RXQ, &id, &len) == 1, "no ARP reply");
	buf = rx_slot(0);
	T_CHECK(len == VNET_HDR_LEN + 42, "reply length %u", len - VNET_HDR_LEN);
	T_CHECK(buf[10] == 1, "num_buffers");
	T_CHECK(memcmp(buf + VNET_HDR_LEN, arp_reply, 42) == 0, "ARP reply bytes differ");
	T_CHECK(S.slirp.stats[SLIRP_STAT_DROP_IPV6] == 1, "IPv6 frame not counted");
	T_CHECK(S.vnet.st.tx_frames == 2 && S.vnet.st.rx_frames == 1, "device counters");
	T_CHECK(calls(VNET_RXQ) == 1, "no RX notification");
	{
		char *txt = NULL;
		size_t tl = 0;
		FILE *m = open_memstream(&txt, &tl);
		net_stack_stats_print(&S, m);
		fclose(m);
		T_CHECK(strstr(txt, "net virtio_tx_frames 2\n") && strstr(txt, "net slirp_drop_ipv6 1\n"),
			"stats text: %s", txt);
		free(txt);
	}
	T_CHECK(net_stack_fini(&S) == 0, "fini");
	loop_fini(&l);
	/* The capture: a 24-byte header and three records (ARP request, IPv6
	 * frame, ARP reply), each with its 16-byte record header. */
	T_REQUIRE(read_file(path, 1 << 20, &pc, &pclen) == 0, "read capture");
	T_CHECK(pclen == 24 + 3 * 16 + 42 + 54 + 42, "capture is %zu bytes", pclen);
	T_CHECK(pclen >= 24 + 16 + 42 && !memcmp(pc + 24 + 16, arp_req, 42), "first record");
	free(pc);
	unlink(path);
}

/* The answers to one TX pass (three ARP requests) reach the guest with one
 * notification, not one per frame (slirp_batch_begin/end around the pass). */
static void test_stack_one_interrupt_per_pass(void)
{
	char why[160];
	struct net_opts o;
	struct loop l;
	uint32_t id, len;
	unsigned n = 0;

	T_REQUIRE(loop_init(&l) == 0, "loop");
	net_opts_init(&o);
	T_REQUIRE(net_stack_init(&S, &o, &l, why, sizeof(why)) == 0, "stack: %s", why);
	T_REQUIRE(fd_boot(net_stack_vdev(&S), VIRTIO_F_VERSION_1, QSZ) == 0, "boot");
	for (unsigned i = 0; i < 3; i++) {
		rx_post(i, 1526, 0);
		tx_raw(BUF_AREA + i * BUF_SIZE, arp_req, sizeof(arp_req));
	}
	net_stack_vdev(&S)->ops->queue_kick(net_stack_vdev(&S), VNET_TXQ);
	while (fq_used(VNET_RXQ, &id, &len))
		n++;
	T_CHECK(n == 3, "%u ARP replies", n);
	T_CHECK(calls(VNET_RXQ) == 1, "not one RX notification for the pass");
	net_stack_fini(&S);
	loop_fini(&l);
}

int main(void)
{
	if (fd_mem_init())
		return 1;
	T_RUN(test_opts_parse);
	T_RUN(test_stack_arp_ipv6_pcap);
	T_RUN(test_stack_one_interrupt_per_pass);
	free(FD.base);
	T_EXIT();
}
