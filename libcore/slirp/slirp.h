/* The SLIRP user-mode network stack: it terminates the guest's Ethernet
 * frames (ARP, IPv4, TCP, UDP, ICMP echo, DNS on the virtual DNS address) and
 * turns every guest flow into an ordinary host socket, so the guest reaches
 * the network with no root, TAP or iptables on the host. A front end (the
 * virtio-net device, or the TAP harness of the tests) hands it frames from
 * the guest with slirp_input() and receives frames for the guest through
 * ops->output(). Everything runs non-blocking inside the caller's epoll loop
 * (base/loop.h); timers use one timerfd in that loop. No allocation happens
 * per packet: per-flow state is allocated when a flow is created, bounded by
 * cfg.max_flows. IPv4 only: IPv6 frames are counted as "ipv6" drops. */
#ifndef VOIDBOX_SLIRP_H
#define VOIDBOX_SLIRP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/budget.h"
#include "base/loop.h"
#include "base/net_layout.h"
#include "base/siphash.h"

#define SLIRP_MAX_DNS 4
#define SLIRP_MAX_RULES 32
#define SLIRP_MAX_FWD 16
#define SLIRP_MAX_HOST_ADDRS 32
#define SLIRP_DISCARD_CHUNK (64u << 10) /* see struct slirp's discard */
#define SLIRP_DISCARD_IOVS 64           /* 4 MiB in flight at most */

/* An egress rule: destination network/prefix and optional port (0 = any). */
struct slirp_rule {
	bool allow;
	struct in_addr net;
	uint8_t prefix;
	uint16_t port;
};

/* Egress presets (see slirp/policy.c): OPEN refuses only the host's
 * loopback (unless allow_host_loopback) and 169.254/16; PUBLIC also the
 * private and shared ranges, cloud endpoints and the host's own addresses. */
enum slirp_policy { SLIRP_POLICY_OPEN, SLIRP_POLICY_PUBLIC };

/* A port forward: the host listens on host_ip:host_port; every connection
 * (TCP) or datagram peer (UDP) is carried into the guest at guest_port, from
 * the gateway address. proto is IPPROTO_TCP or IPPROTO_UDP. */
struct slirp_fwd {
	int proto;
	struct in_addr host_ip;
	uint16_t host_port, guest_port;
};

struct slirp_cfg {
	struct net_layout net;                  /* addresses, MACs, MTU (net_layout_default) */
	struct sockaddr_in dns[SLIRP_MAX_DNS];  /* upstream, tried in order */
	unsigned n_dns;
	bool dns_explicit;                      /* set by slirp_cfg_add_dns */
	bool allow_host_loopback;               /* net.gw -> 127.0.0.1 */
	enum slirp_policy net_policy;           /* preset, default OPEN */
	struct slirp_rule rules[SLIRP_MAX_RULES];
	unsigned n_rules;
	struct slirp_fwd fwd[SLIRP_MAX_FWD];
	unsigned n_fwd;
	unsigned max_flows;                     /* default 16384 */
	/* The guest's fd budget (base/budget.h), shared with its other
	 * devices; NULL: the stack cuts its own from RLIMIT_NOFILE. */
	struct budget *budget;
	/* Checksum offload: TCP/UDP checksum fields of output frames hold
	 * only the pseudo-header sum (csum_l4_partial), and the front end
	 * marks those frames for the guest either NEEDS_CSUM (csum_start 34,
	 * csum_offset 16 for TCP, 6 for UDP) or DATA_VALID. */
	bool csum_offload;
};

/* What the front end provides. output() places one Ethernet frame for the
 * guest and returns 0, or -ENOBUFS when the guest has no receive buffer: the
 * stack then keeps the data (TCP leaves it in the host socket) and retries
 * when the front end calls slirp_rx_ready(). flush() (may be NULL) follows a
 * batch of output() calls, so the front end can raise one interrupt. */
struct slirp_ops {
	int (*output)(void *ctx, const uint8_t *frame, size_t len);
	void (*flush)(void *ctx);
	/* Optional, TCP segmentation offload toward the guest: whether the
	 * guest takes TCP frames over the MTU now, and output for one (its
	 * checksum field holds the pseudo-header sum; mss is the segment
	 * size the guest's stack sees). */
	bool (*tso)(void *ctx);
	int (*output_tso)(void *ctx, const uint8_t *frame, size_t len, uint16_t mss);
};

/* Counters: SLIRP_STAT_DROP_* are drops by reason, the rest are events. */
#define SLIRP_STATS(X)                                                      \
	X(FRAMES_IN, "frames_in")                                           \
	X(FRAMES_OUT, "frames_out")                                         \
	X(BYTES_IN, "bytes_in")                                             \
	X(BYTES_OUT, "bytes_out")                                           \
	X(ARP_REPLIES, "arp_replies")                                       \
	X(TCP_CONNS, "tcp_conns")                                           \
	X(TCP_FWD_CONNS, "tcp_fwd_conns")                                   \
	X(TCP_RETRANS, "tcp_retransmits")                                   \
	X(TCP_RST_TO_GUEST, "tcp_rst_to_guest")                             \
	X(TCP_RST_TO_HOST, "tcp_rst_to_host")                               \
	X(UDP_FLOWS, "udp_flows")                                           \
	X(ICMP_ECHOS, "icmp_echos")                                         \
	X(DNS_QUERIES, "dns_queries")                                       \
	X(DNS_FAILOVERS, "dns_failovers")                                   \
	X(DNS_SERVFAIL, "dns_servfail")                                     \
	X(RX_BLOCKED, "rx_blocked")                                         \
	X(DROP_SHORT, "drop_short")                                         \
	X(DROP_ETH_DST, "drop_eth_not_us")                                  \
	X(DROP_ETHERTYPE, "drop_ethertype")                                 \
	X(DROP_IPV6, "drop_ipv6")                                           \
	X(DROP_ARP, "drop_arp")                                             \
	X(DROP_IP_HDR, "drop_ip_header")                                    \
	X(DROP_IP_CSUM, "drop_ip_checksum")                                 \
	X(DROP_IP_LEN, "drop_ip_length")                                    \
	X(DROP_IP_FRAG, "drop_ip_fragment")                                 \
	X(DROP_IP_SRC, "drop_ip_source")                                    \
	X(DROP_IP_DST, "drop_ip_destination")                               \
	X(DROP_IP_PROTO, "drop_ip_protocol")                                \
	X(DROP_POLICY, "drop_policy")                                       \
	X(DROP_HOST_LOOPBACK, "drop_host_loopback")                         \
	X(DROP_FLOW_LIMIT, "drop_flow_limit")                               \
	X(DROP_BUDGET, "drop_budget")                                       \
	X(FLOWS_EVICTED, "flows_evicted")                                   \
	X(DROP_FWD_NO_FD, "drop_fwd_no_fd")                                 \
	X(DROP_SOCKET, "drop_socket_error")                                 \
	X(DROP_TCP_HDR, "drop_tcp_header")                                  \
	X(DROP_TCP_NO_FLOW, "drop_tcp_no_flow")                             \
	X(DROP_TCP_WINDOW, "drop_tcp_out_of_window")                        \
	X(DROP_TCP_OOO, "drop_tcp_out_of_order")                            \
	X(DROP_TCP_STATE, "drop_tcp_bad_state")                             \
	X(DROP_UDP_HDR, "drop_udp_header")                                  \
	X(DROP_UDP_TOO_BIG, "drop_udp_too_big")                             \
	X(DROP_DNS, "drop_dns")                                             \
	X(DROP_DNS_UNMATCHED, "drop_dns_unmatched")                         \
	X(DROP_ICMP, "drop_icmp")                                           \
	X(DROP_ICMP_NO_SOCKET, "drop_icmp_no_socket")                       \
	X(DROP_GUEST_NOBUF, "drop_guest_nobuf")

enum slirp_stat {
#define SLIRP_STAT_ENUM(id, name) SLIRP_STAT_##id,
	SLIRP_STATS(SLIRP_STAT_ENUM)
#undef SLIRP_STAT_ENUM
	SLIRP_STAT_N
};

struct slirp_flow;

/* A least-recently-used list of flows (head: newest). */
struct flow_lru {
	struct slirp_flow *head, *tail;
	unsigned n;
};

/* The stack's whole state; the caller owns the storage, the fields are the
 * stack's own. */
struct slirp {
	struct slirp_cfg cfg;
	struct loop *loop;
	const struct slirp_ops *ops;
	void *ctx;
	uint64_t stats[SLIRP_STAT_N];

	struct slirp_flow **hash;    /* buckets, chained through the flows */
	unsigned hash_mask;
	struct siphash_key hash_key; /* random per run: guests cannot aim */
	struct slirp_flow *flows;    /* every live flow (timer scan) */
	struct slirp_flow *pending;  /* flows waiting for slirp_rx_ready() */
	struct slirp_flow *deferq;   /* flows with deferred work (may be none) */
	unsigned acks_owed;          /* flows that owe the guest an ACK */
	unsigned wnd_watched;        /* flows whose low window is watched */
	struct loop_defer flow_defer; /* runs the deferred work */
	struct slirp_flow *dead[2];  /* freed two timer ticks after death */
	unsigned n_flows;
	/* Flows that may be recycled, oldest at the tail: UDP and DNS, ICMP
	 * (each holds a budgeted fd), TCP in TIME_WAIT (a record only). */
	struct flow_lru lru_udp, lru_icmp, lru_tw;
	struct budget *budget;       /* cfg.budget or own_budget */
	struct budget own_budget;
	bool rx_blocked;             /* last output() said -ENOBUFS */
	bool out_since_flush;
	bool batching;               /* inside slirp_batch_begin/end */

	struct loop_watch timer;
	uint64_t now;                /* ns, refreshed per event */
	struct loop_watch fwd_watch[SLIRP_MAX_FWD];
	int spare_fd;                /* given up to drop a connection at EMFILE */

	uint8_t *tx;                 /* one frame: control and small packets */
	uint8_t *seg;                /* TCP data batch: n_seg frames */
	unsigned n_seg, seg_size;
	/* Without SO_PEEK_OFF (kernels before 6.9) each peek rereads the
	 * in-flight bytes first: they land in one discard chunk that every
	 * leading iovec points at (SLIRP_DISCARD_IOVS of them), so the bytes
	 * in flight are bounded by their sum and cost no memory of ours. */
	uint8_t *discard;
	size_t discard_chunk;
	bool peek_off;               /* kernel supports SO_PEEK_OFF on TCP */
	bool icmp_ok;                /* unprivileged ICMP sockets allowed */
	unsigned dns_cur;            /* the upstream that answered last */
	uint64_t dns_ids;            /* counter behind the upstream query IDs */
	uint16_t next_port;          /* gateway-side ports of forwards */
	uint32_t host_addrs[SLIRP_MAX_HOST_ADDRS]; /* the host's own (PUBLIC) */
	unsigned n_host_addrs;
	uint32_t isn_base;
	int sndbuf;                  /* a TCP socket's SO_SNDBUF (0: not read yet) */
};

/* Fills c with the defaults (net_layout_default's layout, no rules) and the
 * nameservers of /etc/resolv.conf. Returns 0 (resolv.conf is optional). */
void slirp_cfg_default(struct slirp_cfg *c);
/* Appends the upstream nameservers of a resolv.conf-style file (IPv4 only).
 * Returns how many were added, or -errno. */
int slirp_cfg_resolv(struct slirp_cfg *c, const char *path);
/* Adds an upstream DNS server "IP[:PORT]" (port 53 by default); the first
 * call drops the servers slirp_cfg_default() read from resolv.conf. Returns 0 or -EINVAL/-ENOSPC. */
int slirp_cfg_add_dns(struct slirp_cfg *c, const char *spec);
/* Adds an allow or deny rule "CIDR[:PORT]" ("10.1.0.0/16", "1.2.3.4:443").
 * Returns 0 or -EINVAL/-ENOSPC. */
int slirp_cfg_add_rule(struct slirp_cfg *c, bool allow, const char *spec);
/* Sets the egress preset from its name: "open" or "public". Returns 0 or
 * -EINVAL. */
int slirp_cfg_policy(struct slirp_cfg *c, const char *name);
/* Adds a port forward "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]" (host IP
 * 127.0.0.1 by default). Returns 0 or -EINVAL/-ENOSPC. */
int slirp_cfg_add_fwd(struct slirp_cfg *c, const char *spec);

/* Starts the stack: allocates buffers, the flow table and the timer, and
 * opens the port-forward listeners. Returns 0 or -errno (nothing to undo). */
int slirp_init(struct slirp *s, const struct slirp_cfg *c, struct loop *l,
	       const struct slirp_ops *ops, void *ctx);
/* Handles one frame from the guest (any content; bad frames are counted).
 * Its answers are flushed at once, unless inside a batch. */
void slirp_input(struct slirp *s, const uint8_t *frame, size_t len);
/* Brackets several slirp_input() calls (one TX kick's worth of frames) so
 * that their answers end in one ops->flush() (one interrupt), at the end. */
void slirp_batch_begin(struct slirp *s);
void slirp_batch_end(struct slirp *s);
/* The guest has receive buffers again: resumes the flows that were held. */
void slirp_rx_ready(struct slirp *s);
/* The longest hash chain now (what a lookup may have to walk). */
unsigned slirp_flow_chain_max(const struct slirp *s);
/* Prints every counter as "name value" lines. */
void slirp_stats_print(const struct slirp *s, FILE *f);
/* Closes every flow and socket and frees the stack's memory. */
void slirp_fini(struct slirp *s);

#endif
