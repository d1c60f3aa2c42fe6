/* Unit tests for the SLIRP stack without sockets to the outside: frames are
 * fed with slirp_input() and the frames it outputs are captured and checked
 * byte by byte (ARP layout, ICMP echo replies from the gateway, refusals),
 * plus the counters for every kind of bad frame, the config parsers, and
 * the -ENOBUFS hold/resume protocol on a loopback TCP connection; and a
 * hostile guest's attacks (issue 13): a UDP flood against the fd limit,
 * flows chosen to collide in the hash, a -p listener at EMFILE, forged DNS
 * answers. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/util.h"
#include "slirp/priv.h"
#include "t.h"

#define MAXF 160

struct cap {
	uint8_t f[MAXF][2048];
	size_t len[MAXF];
	unsigned n, flushes;
	int nobuf; /* output() answers -ENOBUFS while > 0 */
	/* TSO: whether tso() says yes, and the last output_tso() frame */
	bool tso;
	unsigned n_tso;
	uint16_t tso_mss;
	size_t tso_len;
	uint8_t tso_frame[65600];
};

static int cap_output(void *ctx, const uint8_t *frame, size_t len)
{
	struct cap *c = ctx;

	if (c->nobuf > 0) {
		c->nobuf--;
		return -ENOBUFS;
	}
	if (c->n < MAXF && len <= sizeof(c->f[0])) {
		memcpy(c->f[c->n], frame, len);
		c->len[c->n++] = len;
	}
	return 0;
}

static void cap_flush(void *ctx)
{
	((struct cap *)ctx)->flushes++;
}

static bool cap_tso(void *ctx)
{
	return ((struct cap *)ctx)->tso;
}

static int cap_output_tso(void *ctx, const uint8_t *frame, size_t len, uint16_t mss)
{
	struct cap *c = ctx;

	c->n_tso++;
	c->tso_mss = mss;
	c->tso_len = MIN(len, sizeof(c->tso_frame));
	memcpy(c->tso_frame, frame, c->tso_len);
	return 0;
}

static const struct slirp_ops cap_ops = {
	.output = cap_output, .flush = cap_flush, .tso = cap_tso, .output_tso = cap_output_tso,
};
static const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t gwmac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

struct rig {
	struct loop loop;
	struct slirp s;
	struct cap cap;
};

static int rig_start(struct rig *r, struct slirp_cfg *cfg)
{
	struct slirp_cfg def;

	memset(r, 0, sizeof(*r));
	if (!cfg) {
		slirp_cfg_default(&def);
		cfg = &def;
	}
	if (loop_init(&r->loop) < 0)
		return -1;
	return slirp_init(&r->s, cfg, &r->loop, &cap_ops, &r->cap);
}

static void rig_stop(struct rig *r)
{
	slirp_fini(&r->s);
	loop_fini(&r->loop);
}

/* Builds an Ethernet+IPv4 frame from the guest with l4 payload. */
static size_t mk_ip(uint8_t *f, uint8_t proto, const char *dst, const void *l4, size_t l4len)
{
	uint32_t src = inet_addr("10.0.2.15"), d = inet_addr(dst);
	uint16_t c;

	memcpy(f, gwmac, 6);
	memcpy(f + 6, gmac, 6);
	st_be16(f + 12, 0x0800);
	memset(f + 14, 0, 20);
	f[14] = 0x45;
	st_be16(f + 16, (uint16_t)(20 + l4len));
	f[22] = 64;
	f[23] = proto;
	memcpy(f + 26, &src, 4);
	memcpy(f + 30, &d, 4);
	c = csum_fold(csum_partial(f + 14, 20, 0));
	memcpy(f + 24, &c, 2);
	memcpy(f + 34, l4, l4len);
	return 34 + l4len;
}

static void test_arp_reply_bytes(void)
{
	static struct rig r;
	uint8_t req[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
			    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
			    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
			    0, 0, 0, 0, 0, 0, 10, 0, 2, 2 };
	const uint8_t want[42] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0x12, 0x34, 0x01,
				   0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02,
				   0x52, 0x54, 0x00, 0x12, 0x34, 0x01, 10, 0, 2, 2,
				   0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15 };

	T_REQUIRE(rig_start(&r, NULL) == 0, "init");
	slirp_input(&r.s, req, sizeof(req));
	T_CHECK(r.cap.n == 1 && r.cap.len[0] == 42 && !memcmp(r.cap.f[0], want, 42), "reply bytes");
	T_CHECK(r.cap.flushes == 1, "one flush per batch");
	slirp_batch_begin(&r.s);
	slirp_input(&r.s, req, sizeof(req));
	slirp_input(&r.s, req, sizeof(req));
	T_CHECK(r.cap.flushes == 1, "no flush inside a batch");
	slirp_batch_end(&r.s);
	T_CHECK(r.cap.n == 3 && r.cap.flushes == 2, "one flush at its end");
	r.cap.n = 1;
	req[41] = 99; /* another subnet address: answered too */
	slirp_input(&r.s, req, sizeof(req));
	T_CHECK(r.cap.n == 2 && r.cap.f[1][31] == 99, "any 10.0.2.x");
	req[41] = 15; /* the guest itself (also gratuitous) */
	slirp_input(&r.s, req, sizeof(req));
	req[31] = 7;  /* someone asking for the guest's address */
	slirp_input(&r.s, req, sizeof(req));
	req[38] = 11; /* another subnet */
	req[41] = 2;
	slirp_input(&r.s, req, sizeof(req));
	T_CHECK(r.cap.n == 2, "ignored requests answered");
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_ARP] == 3, "arp drops %llu",
		(unsigned long long)r.s.stats[SLIRP_STAT_DROP_ARP]);
	slirp_input(&r.s, req, 20);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_ARP] == 4, "short arp");
	rig_stop(&r);
}

static void test_bad_frames_counted(void)
{
	static struct rig r;
	uint8_t f[256], icmp[8] = { 8, 0, 0, 0, 0, 1, 0, 1 };
	size_t n;

	T_REQUIRE(rig_start(&r, NULL) == 0, "init");
	slirp_input(&r.s, f, 10);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_SHORT] == 1, "short");
	n = mk_ip(f, IPPROTO_ICMP, "10.0.2.2", icmp, sizeof(icmp));
	st_be16(f + 12, 0x86dd);
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_IPV6] == 1, "ipv6");
	n = mk_ip(f, IPPROTO_ICMP, "10.0.2.2", icmp, sizeof(icmp));
	f[24] ^= 1;
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_IP_CSUM] == 1, "ip checksum");
	n = mk_ip(f, IPPROTO_ICMP, "10.0.2.2", icmp, sizeof(icmp));
	slirp_input(&r.s, f, n - 1);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_IP_LEN] == 1, "truncated");
	n = mk_ip(f, 99, "10.0.2.2", icmp, sizeof(icmp));
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_IP_PROTO] == 1, "protocol");
	n = mk_ip(f, IPPROTO_ICMP, "10.0.2.2", icmp, sizeof(icmp));
	f[20] = 0x20; /* MF */
	f[24] = f[25] = 0;
	{
		uint16_t c = csum_fold(csum_partial(f + 14, 20, 0));
		memcpy(f + 24, &c, 2);
	}
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_IP_FRAG] == 1, "fragment");
	n = mk_ip(f, IPPROTO_ICMP, "10.0.2.2", icmp, sizeof(icmp));
	f[0] = 0x02; /* not our MAC */
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_ETH_DST] == 1, "eth dst");
	n = mk_ip(f, IPPROTO_TCP, "10.0.2.2", icmp, sizeof(icmp));
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_TCP_HDR] == 1, "tcp header");
	n = mk_ip(f, IPPROTO_UDP, "10.0.2.2", icmp, 4);
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_UDP_HDR] == 1, "udp header");
	T_CHECK(r.cap.n == 0, "nothing answered");
	rig_stop(&r);
}

static void test_icmp_gateway_echo(void)
{
	static struct rig r;
	uint8_t f[256], icmp[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 7, 'p', 'i', 'n', 'g' };
	uint16_t c = csum_fold(csum_partial(icmp, sizeof(icmp), 0));
	size_t n;

	memcpy(icmp + 2, &c, 2);
	T_REQUIRE(rig_start(&r, NULL) == 0, "init");
	n = mk_ip(f, IPPROTO_ICMP, "10.0.2.2", icmp, sizeof(icmp));
	slirp_input(&r.s, f, n);
	T_REQUIRE(r.cap.n == 1 && r.cap.len[0] == n, "one reply");
	T_CHECK(r.cap.f[0][34] == 0 && !memcmp(r.cap.f[0] + 38, icmp + 4, 12), "echo reply body");
	T_CHECK(csum_fold(csum_partial(r.cap.f[0] + 34, 16, 0)) == 0, "icmp checksum");
	T_CHECK(csum_fold(csum_partial(r.cap.f[0] + 14, 20, 0)) == 0, "ip checksum");
	T_CHECK(!memcmp(r.cap.f[0], gmac, 6) && !memcmp(r.cap.f[0] + 6, gwmac, 6), "macs");
	r.s.icmp_ok = false; /* as when ping_group_range excludes us */
	n = mk_ip(f, IPPROTO_ICMP, "198.51.100.9", icmp, sizeof(icmp));
	slirp_input(&r.s, f, n);
	T_CHECK(r.cap.n == 1 && r.s.stats[SLIRP_STAT_DROP_ICMP_NO_SOCKET] == 1,
		"no ICMP socket: counted");
	rig_stop(&r);
}

static void test_policy_refusals(void)
{
	static struct rig r;
	struct slirp_cfg cfg;
	uint8_t f[256], udp[12] = { 0x30, 0x39, 0x00, 0x50, 0, 12, 0, 0, 'a', 'b', 'c', 'd' };
	uint8_t syn[20] = { 0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff };
	size_t n;

	slirp_cfg_default(&cfg);
	T_REQUIRE(slirp_cfg_add_rule(&cfg, false, "203.0.113.0/24") == 0, "rule");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	n = mk_ip(f, IPPROTO_UDP, "203.0.113.9", udp, sizeof(udp));
	slirp_input(&r.s, f, n);
	T_CHECK(r.cap.n == 1 && r.cap.f[0][23] == IPPROTO_ICMP && r.cap.f[0][34] == 3 &&
		r.cap.f[0][35] == 13, "udp: icmp prohibited");
	n = mk_ip(f, IPPROTO_TCP, "203.0.113.9", syn, sizeof(syn));
	slirp_input(&r.s, f, n);
	T_CHECK(r.cap.n == 2 && r.cap.f[1][23] == IPPROTO_TCP && (r.cap.f[1][47] & 0x04) &&
		ld_be32(r.cap.f[1] + 42) == 2, "tcp: RST acking the SYN");
	n = mk_ip(f, IPPROTO_TCP, "169.254.169.254", syn, sizeof(syn));
	slirp_input(&r.s, f, n);
	n = mk_ip(f, IPPROTO_TCP, "10.0.2.2", syn, sizeof(syn));
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_POLICY] == 3, "policy drops %llu",
		(unsigned long long)r.s.stats[SLIRP_STAT_DROP_POLICY]);
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_HOST_LOOPBACK] == 1, "loopback refused by default");
	T_CHECK(r.cap.n == 4, "every refusal answered");
	rig_stop(&r);

	/* with the host's loopback allowed, deny rules still pick ports off it,
	 * named by the gateway's address or by 127.0.0.1 */
	slirp_cfg_default(&cfg);
	cfg.allow_host_loopback = true;
	T_REQUIRE(slirp_cfg_add_rule(&cfg, false, "127.0.0.1/32:80") == 0, "rule lo");
	T_REQUIRE(slirp_cfg_add_rule(&cfg, false, "10.0.2.2/32:81") == 0, "rule gw");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init 2");
	n = mk_ip(f, IPPROTO_TCP, "10.0.2.2", syn, sizeof(syn));
	slirp_input(&r.s, f, n);
	syn[3] = 81;
	n = mk_ip(f, IPPROTO_TCP, "10.0.2.2", syn, sizeof(syn));
	slirp_input(&r.s, f, n);
	syn[3] = 80;
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_POLICY] == 2, "gateway deny rules: %llu",
		(unsigned long long)r.s.stats[SLIRP_STAT_DROP_POLICY]);
	T_CHECK(r.cap.n == 2 && (r.cap.f[0][47] & 0x04) && (r.cap.f[1][47] & 0x04),
		"refused with RST");
	rig_stop(&r);
}

static void test_cfg_parsers(void)
{
	struct slirp_cfg c;

	slirp_cfg_default(&c);
	T_CHECK(c.net.mtu == 1500 && c.net.prefix == 24 && c.net.guest == inet_addr("10.0.2.15"),
		"defaults");
	T_CHECK(slirp_cfg_add_dns(&c, "127.0.0.1:5353") == 0 && c.n_dns == 1 &&
		c.dns[0].sin_port == htons(5353), "dns with port");
	T_CHECK(slirp_cfg_add_dns(&c, "198.51.100.1") == 0 && c.n_dns == 2 &&
		c.dns[1].sin_port == htons(53), "dns default port");
	T_CHECK(slirp_cfg_add_dns(&c, "nope") == -EINVAL, "bad dns");
	T_CHECK(slirp_cfg_add_rule(&c, true, "10.1.2.3/16:443") == 0 &&
		c.rules[0].net.s_addr == inet_addr("10.1.0.0") && c.rules[0].prefix == 16 &&
		c.rules[0].port == 443, "rule");
	T_CHECK(slirp_cfg_add_rule(&c, true, "10.1.2.3/33") == -EINVAL, "bad prefix");
	T_CHECK(slirp_cfg_add_fwd(&c, "8080:80") == 0 && c.fwd[0].host_port == 8080 &&
		c.fwd[0].guest_port == 80 && c.fwd[0].proto == IPPROTO_TCP &&
		c.fwd[0].host_ip.s_addr == htonl(INADDR_LOOPBACK), "fwd");
	T_CHECK(slirp_cfg_add_fwd(&c, "0.0.0.0:53:5353/udp") == 0 && c.fwd[1].proto == IPPROTO_UDP &&
		c.fwd[1].host_ip.s_addr == 0 && c.fwd[1].guest_port == 5353, "fwd udp");
	T_CHECK(slirp_cfg_add_fwd(&c, "1:2:3:4") == -EINVAL && slirp_cfg_add_fwd(&c, "80") == -EINVAL &&
		slirp_cfg_add_fwd(&c, "80:0") == -EINVAL && slirp_cfg_add_fwd(&c, "80:81/sctp") == -EINVAL,
		"bad fwd");
}

/* Builds a guest TCP segment to 10.0.2.2:dport from port 40000. */
static size_t mk_tcp(uint8_t *f, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     const void *data, size_t len)
{
	uint8_t seg[1600] = { 0 };
	uint32_t src = inet_addr("10.0.2.15"), dst = inet_addr("10.0.2.2");
	uint16_t c;

	st_be16(seg, 40000);
	st_be16(seg + 2, dport);
	st_be32(seg + 4, seq);
	st_be32(seg + 8, ack);
	seg[12] = 5 << 4;
	seg[13] = flags;
	st_be16(seg + 14, 65535);
	if (len)
		memcpy(seg + 20, data, len);
	c = csum_l4(src, dst, IPPROTO_TCP, seg, 20 + len);
	memcpy(seg + 16, &c, 2);
	return mk_ip(f, IPPROTO_TCP, "10.0.2.2", seg, 20 + len);
}

/* Runs the loop until cond or about 2 s. */
#define PUMP(r, cond)                                                        \
	for (int i_ = 0; i_ < 200 && !(cond); i_++)                           \
		loop_once(&(r)->loop, 10)

/* A guest TCP connection (port 40000, ISN 999) through the stack to a
 * loopback listener; the SYN-ACK must come only after the host connect. */
struct tcp_rig {
	struct rig r;
	int lfd, cfd;     /* listener, accepted host side */
	uint16_t port;
	uint32_t isn;     /* the stack's ISN toward the guest */
};

static const char *tcp_rig_connect(struct tcp_rig *t)
{
	static uint8_t f[2048];
	struct slirp_cfg cfg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	t->cfd = -1;
	t->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(t->lfd, 4) ||
	    getsockname(t->lfd, (struct sockaddr *)&a, &al))
		return "listener";
	t->port = ntohs(a.sin_port);
	slirp_cfg_default(&cfg);
	cfg.allow_host_loopback = true;
	if (rig_start(&t->r, &cfg))
		return "init";
	slirp_input(&t->r.s, f, mk_tcp(f, t->port, 999, 0, 0x02, NULL, 0));
	PUMP(&t->r, t->r.cap.n > 0);
	if (t->r.cap.n != 1 || t->r.cap.f[0][47] != 0x12 || ld_be32(t->r.cap.f[0] + 42) != 1000)
		return "SYN-ACK only after connect";
	t->isn = ld_be32(t->r.cap.f[0] + 38);
	slirp_input(&t->r.s, f, mk_tcp(f, t->port, 1000, t->isn + 1, 0x10, NULL, 0));
	t->cfd = accept(t->lfd, NULL, NULL);
	return t->cfd < 0 ? "accept" : NULL;
}

static void tcp_rig_stop(struct tcp_rig *t)
{
	if (t->cfd >= 0)
		close(t->cfd);
	close(t->lfd);
	rig_stop(&t->r);
}

static void test_tcp_nobuf_hold_resume(void)
{
	static struct tcp_rig tr;
	struct rig *r = &tr.r;
	static uint8_t f[2048], data[20000], got[20000];
	const char *why = tcp_rig_connect(&tr);
	uint32_t isn = tr.isn, seq = 999, next;
	size_t have = 0;
	unsigned first;
	int cfd = tr.cfd;

	T_REQUIRE(!why, "%s", why);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	T_REQUIRE(write(cfd, data, sizeof(data)) == (ssize_t)sizeof(data), "server write");
	r->cap.nobuf = 1; /* the guest has no RX buffer for the first frame */
	first = r->cap.n;
	PUMP(r, r->s.rx_blocked);
	T_CHECK(r->s.rx_blocked && r->s.pending && r->cap.n == first, "held: %u frames", r->cap.n - first);
	for (int i = 0; i < 20; i++)
		loop_once(&r->loop, 5);
	T_CHECK(r->cap.n == first, "no output while blocked");
	slirp_rx_ready(&r->s);
	next = isn + 1;
	for (unsigned i = first; i < r->cap.n; i++) {
		const uint8_t *fr = r->cap.f[i];
		size_t plen = ld_be16(fr + 16) - 40;
		uint32_t ipsrc, ipdst;

		memcpy(&ipsrc, fr + 26, 4);
		memcpy(&ipdst, fr + 30, 4);
		T_CHECK(ld_be32(fr + 38) == next, "segment %u at seq %u, want %u", i, ld_be32(fr + 38), next);
		T_CHECK(csum_l4(ipsrc, ipdst, IPPROTO_TCP, fr + 34,
				plen + 20) == 0, "tcp checksum");
		if (have + plen <= sizeof(got))
			memcpy(got + have, fr + 54, plen);
		have += plen;
		next += (uint32_t)plen;
	}
	T_CHECK(have == sizeof(data) && !memcmp(got, data, sizeof(data)), "resumed data %zu", have);
	/* The guest acknowledges: the data leaves the host socket. */
	slirp_input(&r->s, f, mk_tcp(f, tr.port, seq + 1, next, 0x10, NULL, 0));
	T_CHECK(r->s.flows && r->s.flows->tcp.snd_una == next, "acknowledged");
	tcp_rig_stop(&tr);
}

/* Guest segments on an established flow: data in order reaches the host
 * socket and is acknowledged; out-of-order and out-of-window data and ACKs
 * for unsent data are dropped and counted; unacknowledged data is sent
 * again on the timer; FIN half-closes; RST resets the host side. */
static void test_tcp_guest_segments(void)
{
	static struct tcp_rig tr;
	static uint8_t f[2048];
	struct rig *r = &tr.r;
	const char *why = tcp_rig_connect(&tr);
	uint8_t buf[256], msg[100];
	const uint8_t *last;
	uint32_t seq;
	unsigned n0;

	T_REQUIRE(!why, "%s", why);
	memset(msg, 'g', sizeof(msg));
	n0 = r->cap.n;
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1000, tr.isn + 1, 0x18, msg, sizeof(msg)));
	T_CHECK(read(tr.cfd, buf, sizeof(buf)) == (ssize_t)sizeof(msg) && !memcmp(buf, msg, 100),
		"data to the host");
	/* A small segment's ACK waits (ACK_DELAY_NS) for a reply to carry it,
	 * then goes on its own. */
	T_CHECK(r->cap.n == n0 && r->s.acks_owed == 1, "small segment: ACK deferred");
	PUMP(r, r->cap.n > n0);
	last = r->cap.f[r->cap.n - 1];
	T_CHECK(r->cap.n == n0 + 1 && ld_be32(last + 42) == 1100 && r->s.acks_owed == 0,
		"acknowledged");
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1100 + 5000, tr.isn + 1, 0x18, msg, 10));
	T_CHECK(r->s.stats[SLIRP_STAT_DROP_TCP_OOO] == 1, "out of order counted");
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1100 + 100000000, tr.isn + 1, 0x18, msg, 10));
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1100, tr.isn + 1000000, 0x10, NULL, 0));
	T_CHECK(r->s.stats[SLIRP_STAT_DROP_TCP_WINDOW] == 2, "out of window counted: %llu",
		(unsigned long long)r->s.stats[SLIRP_STAT_DROP_TCP_WINDOW]);
	T_CHECK(ld_be32(r->cap.f[r->cap.n - 1] + 42) == 1100, "dup ACK for the gap");
	/* Host data the guest never acknowledges comes again. */
	T_REQUIRE(write(tr.cfd, "hello", 5) == 5, "host write");
	n0 = r->cap.n;
	PUMP(r, r->cap.n > n0);
	T_REQUIRE(r->cap.n > n0, "data to the guest");
	seq = ld_be32(r->cap.f[n0] + 38);
	PUMP(r, r->s.stats[SLIRP_STAT_TCP_RETRANS] > 0);
	last = r->cap.f[r->cap.n - 1];
	T_CHECK(r->s.stats[SLIRP_STAT_TCP_RETRANS] > 0 && ld_be32(last + 38) == seq &&
		!memcmp(last + 54, "hello", 5), "retransmitted");
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1100, seq + 5, 0x11, NULL, 0));
	T_CHECK(read(tr.cfd, buf, sizeof(buf)) == 0, "guest FIN: host sees EOF");
	T_CHECK(write(tr.cfd, "more", 4) == 4, "half-close: the host still sends");
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1101, seq + 5, 0x04, NULL, 0));
	{
		int err = 0;
		socklen_t el = sizeof(err);

		/* After its EOF the host socket reports the reset as EPIPE. */
		getsockopt(tr.cfd, SOL_SOCKET, SO_ERROR, &err, &el);
		T_CHECK(err == EPIPE || err == ECONNRESET, "guest RST: host reset (%d)", err);
	}
	T_CHECK(r->s.stats[SLIRP_STAT_TCP_RST_TO_HOST] == 1, "counted");
	tcp_rig_stop(&tr);
}

/* Request/response: the host's reply carries the ACK of the guest's small
 * request (no frame of its own); a second small segment before any reply,
 * or a full-sized one, is acknowledged at once. */
static void test_tcp_delayed_ack(void)
{
	static struct tcp_rig tr;
	static uint8_t f[2048];
	struct rig *r = &tr.r;
	const char *why = tcp_rig_connect(&tr);
	uint8_t buf[2048], msg[1460];
	const uint8_t *fr;
	unsigned n0;

	T_REQUIRE(!why, "%s", why);
	memset(msg, 'q', sizeof(msg));
	n0 = r->cap.n;
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1000, tr.isn + 1, 0x18, msg, 10));
	T_REQUIRE(read(tr.cfd, buf, sizeof(buf)) == 10, "request to the host");
	T_REQUIRE(write(tr.cfd, "reply", 5) == 5, "host reply");
	PUMP(r, r->cap.n > n0);
	T_REQUIRE(r->cap.n > n0, "reply to the guest");
	fr = r->cap.f[n0];
	T_CHECK(r->cap.n == n0 + 1 && ld_be32(fr + 42) == 1010 && !memcmp(fr + 54, "reply", 5),
		"the reply carries the ACK (%u frames)", r->cap.n - n0);
	for (int i = 0; i < 5; i++)
		loop_once(&r->loop, 1);
	T_CHECK(r->cap.n == n0 + 1 && r->s.acks_owed == 0, "no ACK of its own later");
	/* two small segments: the second is acknowledged at once */
	n0 = r->cap.n;
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1010, tr.isn + 6, 0x18, msg, 10));
	T_CHECK(r->cap.n == n0, "first deferred");
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1020, tr.isn + 6, 0x18, msg, 10));
	T_CHECK(r->cap.n == n0 + 1 && ld_be32(r->cap.f[n0] + 42) == 1030 && r->s.acks_owed == 0,
		"second acknowledged at once");
	/* more than the guest's MSS (536: its SYN had no option): at once */
	n0 = r->cap.n;
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1030, tr.isn + 6, 0x18, msg, 1460));
	T_CHECK(r->cap.n == n0 + 1 && ld_be32(r->cap.f[n0] + 42) == 1030 + 1460,
		"full-sized segment acknowledged at once");
	/* owed when the flow dies: nothing is sent for it, nothing left owed */
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 2490, tr.isn + 6, 0x18, msg, 10));
	T_CHECK(r->s.acks_owed == 1, "owed again");
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 2500, tr.isn + 6, 0x04, NULL, 0));
	T_CHECK(r->s.acks_owed == 0 && !r->s.deferq, "a reset flow owes nothing");
	n0 = r->cap.n;
	for (int i = 0; i < 5; i++)
		loop_once(&r->loop, 1);
	T_CHECK(r->cap.n == n0, "and sends nothing");
	tcp_rig_stop(&tr);
}

/* A host reader that stalls: our window closes as its socket fills; once
 * the reader has drained it, the window update comes from the watch (not
 * from the 50 ms timer, which EPOLLOUT would leave it to), and the watch
 * ends. */
static void test_tcp_window_watch(void)
{
	static struct tcp_rig tr;
	static uint8_t f[2048], buf[65536];
	struct rig *r = &tr.r;
	const char *why = tcp_rig_connect(&tr);
	uint8_t msg[1460];
	uint32_t seq = 1000, low;
	size_t sent = 0, got = 0;
	unsigned n0;
	const uint8_t *last;

	T_REQUIRE(!why, "%s", why);
	memset(msg, 'w', sizeof(msg));
	/* the rig's SYN offered no window scaling: windows are 64 KiB at most */
	for (int i = 0; i < 8000 && !r->s.wnd_watched; i++) {
		r->cap.n = 0; /* each segment's ACK in f[0] (the capture holds MAXF) */
		slirp_input(&r->s, f, mk_tcp(f, tr.port, seq, tr.isn + 1, 0x10, msg, sizeof(msg)));
		seq += sizeof(msg);
		sent += sizeof(msg);
	}
	last = r->cap.f[r->cap.n - 1];
	low = ld_be16(last + 48);
	T_REQUIRE(r->s.wnd_watched == 1 && ld_be32(last + 42) == seq,
		  "low window (%u) watched (%u) after %zu KiB, all taken (%u %u)", low, r->s.wnd_watched, sent >> 10, ld_be32(last + 42), seq);
	T_CHECK(low < 65535 / 4, "window below a quarter: %u", low);
	while (got < sent) {
		ssize_t n = read(tr.cfd, buf, sizeof(buf));

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	T_REQUIRE(got == sent, "the reader drained %zu of %zu", got, sent);
	n0 = r->cap.n;
	PUMP(r, r->cap.n > n0);
	T_REQUIRE(r->cap.n > n0, "window update");
	last = r->cap.f[n0];
	T_CHECK(ld_be32(last + 42) == seq && ld_be16(last + 48) == 65535,
		"the update opens the window: %u", ld_be16(last + 48));
	T_CHECK(r->s.wnd_watched == 0, "watch over");
	tcp_rig_stop(&tr);
}

/* TSO toward the guest: while the front end says the guest takes it, host
 * data goes out as one frame over the MTU with the MSS handed along and the
 * pseudo-header sum in its checksum field; once it says no, as MSS-sized
 * frames again. */
static void test_tcp_tso_out(void)
{
	static struct tcp_rig tr;
	static uint8_t f[2048], data[10000];
	struct rig *r = &tr.r;
	const char *why = tcp_rig_connect(&tr);
	const uint8_t *fr = r->cap.tso_frame;
	uint32_t seq;
	uint16_t c;
	unsigned n0;

	T_REQUIRE(!why, "%s", why);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	r->cap.tso = true;
	n0 = r->cap.n;
	T_REQUIRE(write(tr.cfd, data, sizeof(data)) == (ssize_t)sizeof(data), "host write");
	PUMP(r, r->cap.n_tso > 0);
	c = csum_l4_partial(inet_addr("10.0.2.2"), inet_addr("10.0.2.15"), IPPROTO_TCP, 20 + sizeof(data));
	T_CHECK(r->cap.n_tso == 1 && r->cap.n == n0 && r->cap.tso_mss == 536 &&
			r->cap.tso_len == 54 + sizeof(data) && !memcmp(fr + 54, data, sizeof(data)),
		"one frame of %zu bytes, MSS %u (%u TSO, %u plain)", r->cap.tso_len, r->cap.tso_mss,
		r->cap.n_tso, r->cap.n - n0);
	T_CHECK(ld_be16(fr + 16) == 20 + 20 + sizeof(data) && !memcmp(fr + 50, &c, 2),
		"IP length and the pseudo-header sum");
	seq = ld_be32(fr + 38) + sizeof(data);
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1000, seq, 0x10, NULL, 0));
	r->cap.tso = false;
	n0 = r->cap.n;
	T_REQUIRE(write(tr.cfd, data, 2000) == 2000, "host write 2");
	PUMP(r, r->cap.n >= n0 + 4);
	T_CHECK(r->cap.n_tso == 1 && r->cap.n == n0 + 4 && r->cap.len[n0] == 54 + 536 &&
			r->cap.len[n0 + 3] == 54 + 2000 - 3 * 536,
		"without TSO: MSS-sized frames (%u)", r->cap.n - n0);
	tcp_rig_stop(&tr);
}

/* Takes the captured frames' TCP payload into got (by sequence number from
 * base) and empties the capture. Returns the end of the highest byte. */
static size_t harvest(struct cap *c, uint32_t base, uint8_t *got, size_t cap_len)
{
	size_t end = 0;

	for (unsigned i = 0; i < c->n; i++) {
		const uint8_t *fr = c->f[i];
		size_t plen = ld_be16(fr + 16) - 40, off = ld_be32(fr + 38) - base;

		if (plen && off + plen <= cap_len)
			memcpy(got + off, fr + 54, plen);
		end = MAX(end, off + plen);
	}
	c->n = 0;
	return end;
}

/* A kernel without SO_PEEK_OFF for TCP (before 6.9): every peek reads the
 * bytes in flight again, into the discard chunk that each leading iovec
 * points at; what follows them is new and reaches the guest exactly, and
 * the bytes in flight stop at SLIRP_DISCARD_IOVS chunks (here 1000-byte
 * chunks: 64000, below the guest's 65535 window). */
static void test_tcp_no_peek_off(void)
{
	static struct tcp_rig tr;
	static uint8_t f[2048], data[120000], got[120000];
	struct rig *r = &tr.r;
	const char *why = tcp_rig_connect(&tr);
	struct tcp_flow *t;
	uint32_t base;
	size_t end = 0, h;
	int off = -1;

	T_REQUIRE(!why, "%s", why);

	r->s.peek_off = false;
	r->s.discard_chunk = 1000;
	t = &r->s.flows->tcp;
	/* as on such a kernel: no peek offset on the socket */
	T_REQUIRE(setsockopt(r->s.flows->w.fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) == 0, "SO_PEEK_OFF off");
	base = tr.isn + 1;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + i / 997);
	r->cap.n = 0;
	T_REQUIRE(write(tr.cfd, data, 30000) == 30000, "host write 1");
	for (int i = 0; i < 200 && end < 30000; i++) {
		loop_once(&r->loop, 10);
		h = harvest(&r->cap, base, got, sizeof(got));
		end = MAX(end, h);
	}
	T_CHECK(end == 30000 && !memcmp(got, data, 30000), "first 30000 bytes (%zu)", end);
	/* 30 chunks of discard before the new bytes */
	T_REQUIRE(write(tr.cfd, data + 30000, 30000) == 30000, "host write 2");
	for (int i = 0; i < 200 && end < 60000; i++) {
		loop_once(&r->loop, 10);
		h = harvest(&r->cap, base, got, sizeof(got));
		end = MAX(end, h);
	}
	T_CHECK(end == 60000 && !memcmp(got, data, 60000), "60000 bytes behind 30000 in flight (%zu)", end);
	/* the guest acknowledges 45000: they leave the socket (MSG_TRUNC) */
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1000, base + 45000, 0x10, NULL, 0));
	T_CHECK(t->snd_una == base + 45000, "acknowledged");
	T_REQUIRE(write(tr.cfd, data + 60000, 60000) == 60000, "host write 3");
	for (int i = 0; i < 50; i++) {
		loop_once(&r->loop, 10);
		h = harvest(&r->cap, base, got, sizeof(got));
		end = MAX(end, h);
	}
	T_CHECK(t->snd_nxt - t->snd_una == 64000 && end == 45000 + 64000,
		"in flight stops at 64 chunks: %u (sent to %zu)", t->snd_nxt - t->snd_una, end);
	slirp_input(&r->s, f, mk_tcp(f, tr.port, 1000, base + (uint32_t)end, 0x10, NULL, 0));
	for (int i = 0; i < 200 && end < sizeof(data); i++) {
		loop_once(&r->loop, 10);
		h = harvest(&r->cap, base, got, sizeof(got));
		end = MAX(end, h);
	}
	T_CHECK(end == sizeof(data) && !memcmp(got, data, sizeof(data)), "all %zu bytes exact", end);
	tcp_rig_stop(&tr);
}

/* Hostile frames: 50,000 mutations of valid ARP/TCP/UDP/ICMP/DNS frames
 * (random bytes, lengths, header fields, truncation) must be counted or
 * answered, never crash (ASan/UBSan watch). Every destination is denied and
 * no upstream exists, so nothing reaches a real network. */
static void test_random_frames(void)
{
	static struct rig r;
	static uint8_t f[2048], tpl[5][128];
	size_t tlen[5];
	struct slirp_cfg cfg;
	uint8_t l4[64] = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ULL, answered = 0;
	const unsigned N = 50000;

	slirp_cfg_default(&cfg);
	cfg.n_dns = 0;
	cfg.dns_explicit = true;
	T_REQUIRE(slirp_cfg_add_rule(&cfg, false, "0.0.0.0/0") == 0, "deny all");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	r.s.icmp_ok = false;
	/* Templates: SYN, UDP, DNS query, echo, ARP request. */
	st_be16(l4, 40000); st_be16(l4 + 2, 80); l4[12] = 0x50; l4[13] = 0x02;
	tlen[0] = mk_tcp(tpl[0], 80, 1, 0, 0x02, NULL, 0);
	st_be16(l4 + 2, 53); st_be16(l4 + 4, 8 + 17); l4[8 + 5] = 1; l4[8 + 12] = 1; l4[8 + 13] = 'a';
	tlen[1] = mk_ip(tpl[1], IPPROTO_UDP, "198.51.100.9", l4, 8 + 17);
	tlen[2] = mk_ip(tpl[2], IPPROTO_UDP, "10.0.2.3", l4, 8 + 17);
	memset(l4, 0, sizeof(l4)); l4[0] = 8;
	tlen[3] = mk_ip(tpl[3], IPPROTO_ICMP, "10.0.2.2", l4, 16);
	memcpy(tpl[4], "\xff\xff\xff\xff\xff\xff\x52\x54\x00\x12\x34\x56\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01"
	       "\x52\x54\x00\x12\x34\x56\x0a\x00\x02\x0f\x00\x00\x00\x00\x00\x00\x0a\x00\x02\x02", 42);
	tlen[4] = 42;
	for (unsigned i = 0; i < N; i++) {
		unsigned t, k, muts;
		size_t len;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		t = (unsigned)(x % 5);
		len = tlen[t];
		memcpy(f, tpl[t], len);
		muts = 1 + (unsigned)((x >> 8) % 4);
		for (k = 0; k < muts; k++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			f[(x >> 16) % len] = (uint8_t)(x >> 40);
		}
		if ((x >> 56) % 4 == 0) /* a truncated or padded frame */
			len = (size_t)((x >> 24) % (len + 40));
		r.cap.n = 0;
		slirp_input(&r.s, f, len);
		answered += r.cap.n;
	}
	T_CHECK(r.s.stats[SLIRP_STAT_FRAMES_IN] == N, "frames in");
	T_CHECK(r.s.n_flows < 64 && answered > 0, "flows %u answered %llu", r.s.n_flows,
		(unsigned long long)answered);
	rig_stop(&r);
}

/* With no upstream DNS, a query is answered SERVFAIL echoing its first
 * question. A guest query of 65507 bytes whose "first question" runs to its
 * end must not be copied whole into the reply (past the frame buffer, and
 * past the guest's MTU): the answer stays within the MTU. */
static void test_dns_servfail_huge_query(void)
{
	static struct rig r;
	static uint8_t f[70000], l4[65535];
	const size_t qlen = 65507;
	struct slirp_cfg cfg;
	uint8_t *q = l4 + 8;
	size_t p = 12, n;

	slirp_cfg_default(&cfg);
	cfg.n_dns = 0;
	cfg.dns_explicit = true;
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	memset(l4, 0, sizeof(l4));
	st_be16(l4, 40000);
	st_be16(l4 + 2, 53);
	st_be16(l4 + 4, (uint16_t)(8 + qlen));
	st_be16(q, 0x1234);
	st_be16(q + 4, 1); /* one question */
	while (p + 64 <= qlen - 5 - 18) { /* labels of 63 bytes ... */
		q[p] = 63;
		memset(q + p + 1, 'a', 63);
		p += 64;
	}
	q[p] = (uint8_t)(qlen - 5 - p - 1); /* ... one to fill up, then root */
	memset(q + p + 1, 'b', q[p]);
	p += (size_t)q[p] + 1;
	T_REQUIRE(p == qlen - 5 && q[p] == 0, "query layout %zu", p);
	n = mk_ip(f, IPPROTO_UDP, "10.0.2.3", l4, 8 + qlen);
	slirp_input(&r.s, f, n);
	T_CHECK(r.s.stats[SLIRP_STAT_DNS_SERVFAIL] == 1, "no SERVFAIL");
	T_CHECK(r.cap.n == 1 && r.cap.len[0] <= 14 + (size_t)cfg.net.mtu, "reply of %zu bytes (MTU %u)",
		r.cap.n ? r.cap.len[0] : 0, cfg.net.mtu);
	rig_stop(&r);
}

/* Builds a guest UDP datagram to dst:dport from sport. */
static size_t mk_udp(uint8_t *f, const char *dst, uint16_t sport, uint16_t dport,
		     const void *data, size_t len)
{
	uint8_t l4[1600] = { 0 };

	st_be16(l4, sport);
	st_be16(l4 + 2, dport);
	st_be16(l4 + 4, (uint16_t)(8 + len));
	if (len)
		memcpy(l4 + 8, data, len);
	return mk_ip(f, IPPROTO_UDP, dst, l4, 8 + len);
}

/* Open fds of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", "..", the DIR's own */
}

/* The longest chain in the flow table, walked by hand. */
static unsigned chain_max(const struct slirp *s)
{
	unsigned best = 0;

	for (unsigned i = 0; i <= s->hash_mask; i++) {
		unsigned n = 0;

		for (const struct slirp_flow *f = s->hash[i]; f; f = f->hnext)
			n++;
		best = n > best ? n : best;
	}
	return best;
}

/* The flow hash as it was (unkeyed): what a guest could aim at. */
static unsigned unkeyed_hash(uint8_t proto, uint16_t gport, uint32_t rip, uint16_t rport,
			     unsigned mask)
{
	uint64_t k = ((uint64_t)rip << 32) ^ ((uint64_t)gport << 16) ^ rport ^
		     ((uint64_t)proto << 40);

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (unsigned)k & mask;
}

/* Finding 3: 3,000 UDP flows whose ports all fall in one bucket of the
 * old unkeyed hash must spread like random ones: no chain longer than a
 * few flows (it was 3,000, every lookup walking them all). */
static void test_hostile_hash_collisions(void)
{
	static struct rig r;
	static uint8_t f[2048];
	struct slirp_cfg cfg;
	uint32_t gw = inet_addr("10.0.2.2");
	unsigned made = 0, want = 3000, mask, chain;

	slirp_cfg_default(&cfg);
	cfg.allow_host_loopback = true;
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	mask = r.s.hash_mask;
	for (uint32_t g = 1024; g < 65536 && made < want; g++) {
		for (uint32_t p = 1; p < 65536 && made < want; p++) {
			if (unkeyed_hash(IPPROTO_UDP, (uint16_t)g, gw, (uint16_t)p, mask))
				continue;
			slirp_input(&r.s, f, mk_udp(f, "10.0.2.2", (uint16_t)g, (uint16_t)p, "x", 1));
			made++;
		}
	}
	chain = chain_max(&r.s);
	T_CHECK(r.s.n_flows >= want * 9 / 10, "only %u flows made", r.s.n_flows);
	T_CHECK(chain <= 16, "%u of %u colliding flows in one bucket", chain, r.s.n_flows);
	rig_stop(&r);
}

/* Finding 1: under RLIMIT_NOFILE 512 a guest sends one datagram to each of
 * 3,000 ports. The stack must stay within the guest's budget (the process
 * keeps a reserve of fds), a TCP connection must still open afterwards,
 * and the loop must be idle at once (timer ticks only). */
static void test_hostile_udp_flood_fd_limit(void)
{
	static struct rig r;
	static uint8_t f[2048];
	struct slirp_cfg cfg;
	struct rlimit old, lim;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int lfd, fds, peak = 0, calls = 0;
	uint64_t t0;

	T_REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	T_REQUIRE(lfd >= 0 && !bind(lfd, (struct sockaddr *)&a, sizeof(a)) && !listen(lfd, 4) &&
			  !getsockname(lfd, (struct sockaddr *)&a, &al), "listener");
	lim = old;
	lim.rlim_cur = 512;
	T_REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit 512");
	slirp_cfg_default(&cfg);
	cfg.allow_host_loopback = true;
	if (rig_start(&r, &cfg)) {
		setrlimit(RLIMIT_NOFILE, &old);
		close(lfd);
		T_REQUIRE(0, "init");
	}
	for (unsigned i = 0; i < 3000; i++) {
		slirp_input(&r.s, f, mk_udp(f, "10.0.2.2", 30000, (uint16_t)(20000 + i), "flood", 5));
		if (i % 100 == 0 && (fds = count_fds()) > peak)
			peak = fds;
	}
	fds = count_fds();
	peak = fds > peak ? fds : peak;
	T_CHECK(peak < 512 - 96, "%d fds open at the peak: the reserve is gone", peak);
	/* the loop is idle within a second: the flood's own events (ICMP
	 * errors on its sockets) handled in the first half, then only the
	 * 50 ms timer */
	t0 = now_ns();
	while (now_ns() - t0 < 500 * 1000000ull)
		loop_once(&r.loop, 20);
	t0 = now_ns();
	while (now_ns() - t0 < 300 * 1000000ull)
		calls += loop_once(&r.loop, 20);
	T_CHECK(calls < 40, "%d callbacks in 300 ms after the flood", calls);
	/* a TCP connection still opens: SYN-ACK, not RST */
	r.cap.n = 0;
	slirp_input(&r.s, f, mk_tcp(f, ntohs(a.sin_port), 999, 0, 0x02, NULL, 0));
	PUMP(&r, r.cap.n > 0);
	T_CHECK(r.cap.n == 1 && r.cap.f[0][47] == 0x12, "TCP after the flood: %s",
		r.cap.n ? (r.cap.f[0][47] & 4 ? "RST" : "not a SYN-ACK") : "no answer");
	T_CHECK(r.s.stats[SLIRP_STAT_DROP_SOCKET] == 0, "%llu socket errors (EMFILE)",
		(unsigned long long)r.s.stats[SLIRP_STAT_DROP_SOCKET]);
	rig_stop(&r);
	setrlimit(RLIMIT_NOFILE, &old);
	close(lfd);
}

/* Finding 2: a connection pending on a -p listener while the process is
 * out of fds is accepted and dropped (the spare fd), so the level-triggered
 * listener does not keep the loop spinning. */
static void test_hostile_fwd_accept_emfile(void)
{
	static struct rig r;
	struct slirp_cfg cfg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct rlimit old, lim;
	char spec[32];
	int probe = socket(AF_INET, SOCK_STREAM, 0), cfd, calls = 0, fill[64], nfill = 0;
	struct pollfd pf;
	uint64_t t0;

	T_REQUIRE(probe >= 0 && !bind(probe, (struct sockaddr *)&a, sizeof(a)) &&
			  !getsockname(probe, (struct sockaddr *)&a, &al), "free port");
	close(probe);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u:80", ntohs(a.sin_port));
	slirp_cfg_default(&cfg);
	T_REQUIRE(slirp_cfg_add_fwd(&cfg, spec) == 0, "fwd %s", spec);
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	T_REQUIRE(cfd >= 0 && getrlimit(RLIMIT_NOFILE, &old) == 0, "client");
	/* no fd left: the limit just above the highest open one, holes filled */
	lim = old;
	lim.rlim_cur = (rlim_t)fcntl(cfd, F_DUPFD, 0) + 1;
	close((int)lim.rlim_cur - 1);
	for (int fd = 0; fd < (int)lim.rlim_cur && nfill < 64; fd++)
		if (fcntl(fd, F_GETFD) < 0 && (fill[nfill] = dup(cfd)) >= 0)
			nfill++;
	T_REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit");
	if ((fill[nfill] = dup(cfd)) >= 0)
		nfill++;
	connect(cfd, (struct sockaddr *)&a, sizeof(a)); /* in progress: fine */
	t0 = now_ns();
	while (now_ns() - t0 < 200 * 1000000ull)
		calls += loop_once(&r.loop, 10);
	pf = (struct pollfd){ .fd = r.s.fwd_watch[0].fd, .events = POLLIN };
	T_CHECK(poll(&pf, 1, 0) == 0, "the listener is still readable");
	T_CHECK(calls < 40, "%d callbacks in 200 ms: the listener spins", calls);
	setrlimit(RLIMIT_NOFILE, &old);
	while (nfill > 0)
		close(fill[--nfill]);
	close(cfd);
	rig_stop(&r);
}

/* Finding 6: the forwarder sends the guest's query upstream under an ID of
 * its own and passes back only the answer that carries it (with the
 * guest's ID restored); a forged answer with another ID, a second copy of
 * the real one, and a query posing as an answer reach the guest never. */
static void test_hostile_dns_id(void)
{
	static struct rig r;
	static uint8_t f[2048];
	uint8_t q[32] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
			  2, 'v', 'b', 0, 0, 1, 0, 1 }, up[600], ans[32];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in from;
	socklen_t al = sizeof(a), fl = sizeof(from);
	struct slirp_cfg cfg;
	char spec[32];
	int ufd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;
	uint16_t up_id;
	struct pollfd pf = { .fd = ufd, .events = POLLIN };

	T_REQUIRE(ufd >= 0 && !bind(ufd, (struct sockaddr *)&a, sizeof(a)) &&
			  !getsockname(ufd, (struct sockaddr *)&a, &al), "upstream");
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", ntohs(a.sin_port));
	slirp_cfg_default(&cfg);
	T_REQUIRE(slirp_cfg_add_dns(&cfg, spec) == 0, "dns");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	slirp_input(&r.s, f, mk_udp(f, "10.0.2.3", 5000, 53, q, 20));
	T_REQUIRE(poll(&pf, 1, 2000) == 1, "no query upstream");
	n = recvfrom(ufd, up, sizeof(up), 0, (struct sockaddr *)&from, &fl);
	T_REQUIRE(n == 20 && !memcmp(up + 2, q + 2, 18), "query upstream: %zd bytes", n);
	up_id = ld_be16(up);
	memcpy(ans, up, 20);
	ans[2] = 0x81; /* QR, RD */
	ans[3] = 0x80;
	/* forged: any other ID */
	st_be16(ans, (uint16_t)(up_id ^ 0x5a5a));
	sendto(ufd, ans, 20, 0, (struct sockaddr *)&from, fl);
	/* not an answer at all (QR clear), with the right ID */
	st_be16(ans, up_id);
	ans[2] = 0x01;
	sendto(ufd, ans, 20, 0, (struct sockaddr *)&from, fl);
	/* the real one, then its duplicate */
	ans[2] = 0x81;
	sendto(ufd, ans, 20, 0, (struct sockaddr *)&from, fl);
	sendto(ufd, ans, 20, 0, (struct sockaddr *)&from, fl);
	r.cap.n = 0;
	for (int i = 0; i < 20; i++)
		loop_once(&r.loop, 10);
	T_CHECK(r.cap.n == 1, "%u answers reached the guest, want 1", r.cap.n);
	T_CHECK(r.cap.n < 1 || (r.cap.len[0] == 42 + 20 && ld_be16(r.cap.f[0] + 42) == 0x1234 &&
				 ld_be16(r.cap.f[0] + 36) == 5000),
		"the answer does not carry the guest's ID 0x1234");
	rig_stop(&r);
	close(ufd);
}

/* policy_map() of dst:port under cfg: 0 (open) or the drop reason. */
static int policy_of(struct rig *r, const char *dst, uint16_t port)
{
	struct sockaddr_in to;

	return policy_map(&r->s, inet_addr(dst), port, &to);
}

/* Finding 8: --allow-net 0.0.0.0/0 must not reopen 169.254/16 (cloud
 * metadata); only an allow rule inside it does. */
static void test_hostile_linklocal_allow_all(void)
{
	static struct rig r;
	struct slirp_cfg cfg;

	slirp_cfg_default(&cfg);
	T_REQUIRE(slirp_cfg_add_rule(&cfg, true, "0.0.0.0/0") == 0, "rule");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	T_CHECK(policy_of(&r, "169.254.169.254", 80) == SLIRP_STAT_DROP_POLICY,
		"169.254.169.254 open under --allow-net 0.0.0.0/0");
	T_CHECK(policy_of(&r, "198.51.100.2", 80) == 0, "198.51.100.2 closed");
	rig_stop(&r);
	T_REQUIRE(slirp_cfg_add_rule(&cfg, true, "169.254.169.254/32:80") == 0, "rule");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	T_CHECK(policy_of(&r, "169.254.169.254", 80) == 0, "named: still closed");
	T_CHECK(policy_of(&r, "169.254.169.254", 81) == SLIRP_STAT_DROP_POLICY, "other port open");
	T_CHECK(policy_of(&r, "169.254.1.1", 80) == SLIRP_STAT_DROP_POLICY, "rest of /16 open");
	rig_stop(&r);
}

/* Finding 8: the "public" preset closes private and shared ranges, cloud
 * endpoints outside 169.254 and the host's own addresses; an allow rule
 * inside a closed range reopens that part only. */
static void test_hostile_policy_public(void)
{
	static struct rig r;
	static const char *const closed[] = { "10.1.2.3", "172.20.0.1", "192.168.1.1",
					      "100.100.100.200", "168.63.129.16", "169.254.169.254" };
	struct slirp_cfg cfg;
	struct ifaddrs *ifa, *i;
	char own[INET_ADDRSTRLEN] = "";

	slirp_cfg_default(&cfg);
	T_CHECK(slirp_cfg_policy(&cfg, "bogus") == -EINVAL, "bogus preset taken");
	T_REQUIRE(slirp_cfg_policy(&cfg, "public") == 0, "preset");
	T_REQUIRE(slirp_cfg_add_rule(&cfg, true, "0.0.0.0/0") == 0, "rule");
	T_REQUIRE(slirp_cfg_add_rule(&cfg, true, "10.9.0.0/16:443") == 0, "rule");
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	for (unsigned k = 0; k < ARRAY_SIZE(closed); k++)
		T_CHECK(policy_of(&r, closed[k], 443) == SLIRP_STAT_DROP_POLICY, "%s open", closed[k]);
	T_CHECK(policy_of(&r, "198.51.100.2", 443) == 0, "198.51.100.2 closed");
	T_CHECK(policy_of(&r, "10.9.1.1", 443) == 0, "10.9.1.1:443 (allowed inside) closed");
	T_CHECK(policy_of(&r, "10.9.1.1", 80) == SLIRP_STAT_DROP_POLICY, "10.9.1.1:80 open");
	/* the host's own addresses (whatever this machine has, loopback aside) */
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i && !*own; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    (ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) >> 24) != 127)
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, own,
					  sizeof(own));
		freeifaddrs(ifa);
	}
	if (*own)
		T_CHECK(policy_of(&r, own, 443) == SLIRP_STAT_DROP_POLICY, "host address %s open",
			own);
	rig_stop(&r);
	/* the default preset leaves them open (what --help says) */
	cfg.net_policy = SLIRP_POLICY_OPEN;
	T_REQUIRE(rig_start(&r, &cfg) == 0, "init");
	T_CHECK(policy_of(&r, "10.1.2.3", 443) == 0, "open preset: 10.1.2.3 closed");
	rig_stop(&r);
}

int main(void)
{
	T_RUN(test_arp_reply_bytes);
	T_RUN(test_bad_frames_counted);
	T_RUN(test_icmp_gateway_echo);
	T_RUN(test_policy_refusals);
	T_RUN(test_cfg_parsers);
	T_RUN(test_tcp_nobuf_hold_resume);
	T_RUN(test_tcp_guest_segments);
	T_RUN(test_tcp_delayed_ack);
	T_RUN(test_tcp_window_watch);
	T_RUN(test_tcp_tso_out);
	T_RUN(test_tcp_no_peek_off);
	T_RUN(test_random_frames);
	T_RUN(test_dns_servfail_huge_query);
	T_RUN(test_hostile_hash_collisions);
	T_RUN(test_hostile_udp_flood_fd_limit);
	T_RUN(test_hostile_fwd_accept_emfile);
	T_RUN(test_hostile_dns_id);
	T_RUN(test_hostile_linklocal_allow_all);
	T_RUN(test_hostile_policy_public);
	T_EXIT();
}
