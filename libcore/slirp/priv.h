/* Internals shared by the SLIRP protocol files: the flow record, header
 * layouts and the helpers each file exports to the others. Not part of the
 * API (slirp.h is). Addresses are kept in network byte order, ports in host
 * byte order. */
#ifndef VOIDBOX_SLIRP_PRIV_H
#define VOIDBOX_SLIRP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "base/bytes.h"
#include "base/util.h"
#include "slirp/slirp.h"

#define ETH_HLEN_ 14
#define IP_HLEN 20
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define ETHTYPE_IP 0x0800
#define ETHTYPE_ARP 0x0806
#define ETHTYPE_IPV6 0x86dd

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define TIMER_TICK_MS 50
/* How long an ACK for a small guest segment may wait for the host's reply
 * to carry it (a request/response exchange then costs one frame less). */
#define ACK_DELAY_NS (1 * NS_PER_MS)

/* Header offsets in a frame this stack builds: Ethernet, then IPv4 without
 * options, then the L4 header. */
#define OFF_IP ETH_HLEN_
#define OFF_L4 (ETH_HLEN_ + IP_HLEN)

/* A parsed IPv4 packet from the guest. */
struct ip_pkt {
	const uint8_t *ip;  /* IPv4 header */
	const uint8_t *l4;  /* L4 header */
	size_t l4len;       /* L4 header + payload, per the IP total length */
	uint32_t src, dst;  /* network order */
	uint8_t proto;
};

/* A cursor over p's L4 header and payload, for the protocol's parser. */
static inline struct cursor ip_l4(const struct ip_pkt *p)
{
	return cur_init(p->l4, p->l4len);
}

enum flow_kind { FLOW_TCP, FLOW_UDP, FLOW_DNS, FLOW_ICMP, FLOW_UDP_FWD };

enum tcp_state {
	TS_CONNECTING,   /* guest SYN seen, host connect() in progress */
	TS_SYN_SENT,     /* forward: our SYN is out to the guest */
	TS_SYN_RCVD,     /* our SYN-ACK is out, waiting for the guest's ACK */
	TS_ESTABLISHED,  /* data both ways (half-close tracked by flags) */
	TS_TIME_WAIT,    /* both FINs done, host socket closed */
};

/* Half-close and event flags of a TCP flow. */
#define TF_GUEST_FIN  0x01 /* guest sent FIN; host socket shut for writing */
#define TF_HOST_EOF   0x02 /* host socket read returned EOF */
#define TF_FIN_SENT   0x04 /* our FIN to the guest is out (in snd_nxt) */
#define TF_FIN_ACKED  0x08 /* the guest acknowledged our FIN */
#define TF_WANT_OUT   0x10 /* host socket send buffer full: wait EPOLLOUT */
#define TF_HOST_HUP   0x20 /* host socket fully closed, off epoll */
#define TF_WS         0x40 /* window scaling negotiated */
#define TF_PARTIAL    0x80 /* dropped guest data the socket refused */
#define TF_HOST_RST   0x100 /* host peer reset: RST (not FIN) after its data */
#define TF_FIN_OUT    0x200 /* a FIN went out once (snd_max covers it) */

struct tcp_flow {
	uint8_t state;
	uint16_t flags;
	uint8_t ws_guest;    /* shift for windows the guest advertises */
	uint8_t ws_ours;     /* shift for windows we advertise */
	uint8_t dupacks;
	uint8_t retries;
	uint8_t dns_try;     /* DNS over TCP: upstream index being tried */
	uint8_t wnd_looks;   /* looks at a low window that found no room */
	uint16_t mss;        /* the guest's MSS */
	uint32_t isn;        /* our initial sequence number */
	uint32_t snd_una;    /* oldest byte the guest has not acknowledged */
	uint32_t snd_nxt;    /* next byte we send */
	uint32_t snd_max;    /* highest snd_nxt so far (a rewind lowers snd_nxt) */
	uint32_t rcv_nxt;    /* next byte expected from the guest */
	uint32_t wnd;        /* the guest's window, bytes */
	uint32_t wnd_adv;    /* the last window we advertised, bytes */
	uint32_t sndbuf;     /* payload the host socket's send buffer holds */
	uint32_t outq_hi;    /* at least what is queued in it, bytes */
	uint64_t rto_at;     /* retransmit (or SYN/connect give-up) deadline */
	uint64_t sent_at;    /* when the oldest unacknowledged data went out */
	uint32_t srtt_us, rttvar_us; /* the guest's ACK delay, smoothed */
};

#define DNS_MAX_PENDING 4
#define DNS_MAX_QUERY 512

/* A query waiting for its answer. Upstream sees up_id, a random ID of
 * ours, and only an answer carrying it is taken (and given back the
 * guest's ID): an upstream, or anyone who can reach our socket, cannot feed
 * the guest answers to questions it did not ask. The query itself is kept
 * (with up_id in it) for failover when it fits. */
struct dns_query {
	bool used;
	uint16_t guest_id, up_id;
	uint16_t len;        /* bytes kept in data; 0: too large to keep */
	uint8_t data[DNS_MAX_QUERY];
};

struct dns_flow {
	uint8_t server;      /* upstream index in use */
	uint8_t tries;       /* servers tried for the pending queries */
	uint8_t oldest;      /* the slot a fifth query replaces */
	uint64_t deadline;   /* failover when no answer by then (0: none) */
	struct dns_query q[DNS_MAX_PENDING];
};

struct slirp_flow {
	struct loop_watch w;       /* host socket; w.fd < 0 when none */
	struct slirp *s;
	struct slirp_flow *hnext;  /* hash chain */
	struct slirp_flow *next, *prev; /* s->flows, or a dead list (next) */
	struct slirp_flow *pnext;  /* s->pending */
	struct slirp_flow *dnext;  /* s->deferq */
	struct slirp_flow *lnext, *lprev; /* f->lru's list */
	struct flow_lru *lru;      /* the recycling list f is on, or NULL */
	int8_t slot;               /* budget kind of the fd f holds, or -1 */
	bool pending, dead;
	bool dqueued;              /* on s->deferq */
	bool ack_owed;             /* an ACK is due to the guest */
	bool wnd_watch;            /* TCP: our window is low, its room watched */
	uint64_t wnd_due;          /* the next look at it, ns */
	uint8_t kind;
	uint8_t proto;             /* IPPROTO_TCP/UDP/ICMP */
	uint16_t gport;            /* guest port (ICMP: echo id) */
	uint32_t rip;              /* remote address as the guest sees it */
	uint16_t rport;            /* remote port as the guest sees it */
	uint32_t events;           /* current epoll interest */
	bool watched;
	uint64_t last;             /* last activity, ns */
	struct sockaddr_in peer;   /* UDP forward: the host-side peer */
	int fwd_fd;                /* UDP forward: the listening socket */
	union {
		struct tcp_flow tcp;
		struct dns_flow *dns;
	};
};

/* slirp.c */
static inline void stat_inc(struct slirp *s, enum slirp_stat st)
{
	s->stats[st]++;
}
/* Hands one frame to the front end; counts it. Returns 0 or -ENOBUFS
 * (counted as a guest_nobuf drop unless the caller keeps the data). */
int slirp_out(struct slirp *s, const uint8_t *frame, size_t len);
/* The same for a TCP frame over the MTU that the guest takes as segments
 * of mss bytes (ops->output_tso; only while slirp_tso()). */
int slirp_out_tso(struct slirp *s, const uint8_t *frame, size_t len, uint16_t mss);
/* Whether TCP frames to the guest may exceed the MTU now. */
bool slirp_tso(struct slirp *s);
/* Queues f to be resumed by slirp_rx_ready(). */
void slirp_hold(struct slirp *s, struct slirp_flow *f);
/* Notes that f owes the guest an ACK, to go out on its own within
 * ACK_DELAY_NS unless a segment carries it first (slirp_ack_paid). */
void slirp_ack_owe(struct slirp *s, struct slirp_flow *f);
/* A segment that acknowledges everything went out on f (or f died). */
void slirp_ack_paid(struct slirp *s, struct slirp_flow *f);
/* Has tcp_wnd_check(f) run in delay_ns (and again while it asks). */
void slirp_wnd_watch(struct slirp *s, struct slirp_flow *f, uint64_t delay_ns);
void slirp_wnd_unwatch(struct slirp *s, struct slirp_flow *f);
/* Calls ops->flush if anything was output since the last flush. */
void slirp_flush(struct slirp *s);

/* ip.c */
uint64_t csum_partial(const void *p, size_t len, uint64_t sum);
uint16_t csum_fold(uint64_t sum);
/* The L4 checksum (pseudo-header included) of l4[0..len). */
uint16_t csum_l4(uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t len);
/* What an offloaded L4 checksum field holds (cfg.csum_offload): the folded
 * pseudo-header sum, not complemented, for the receiver to complete. */
uint16_t csum_l4_partial(uint32_t src, uint32_t dst, uint8_t proto, size_t len);
/* Writes the Ethernet and IPv4 headers for an l4len-byte L4 packet into buf;
 * returns buf + OFF_L4. */
uint8_t *ip_build(struct slirp *s, uint8_t *buf, uint8_t proto, uint32_t src,
		  uint32_t dst, size_t l4len);
/* Validates the IPv4 packet in l3 (what follows the Ethernet header eth)
 * and dispatches it. */
void ip_input(struct slirp *s, const uint8_t *eth, struct cursor l3);

/* arp.c */
/* Answers the ARP request in l3 (what follows the Ethernet header). */
void arp_input(struct slirp *s, struct cursor l3);

/* icmp.c */
void icmp_input(struct slirp *s, const struct ip_pkt *p);
void icmp_sock_event(struct slirp_flow *f, uint32_t events);
/* Sends an ICMP destination unreachable (code) about the packet whose IP
 * header is orig (with at least 8 bytes of L4 after it, orig_len total). */
void icmp_unreach(struct slirp *s, const uint8_t *orig, size_t orig_len, uint8_t code);
/* Same, for a packet the guest sent from its port to rip:rport (a
 * synthesised copy of the offending header). */
void icmp_unreach_flow(struct slirp *s, const struct slirp_flow *f, uint8_t code);
bool icmp_probe(void);

/* udp.c */
void udp_input(struct slirp *s, const struct ip_pkt *p);
void udp_sock_event(struct slirp_flow *f, uint32_t events);
/* Sends a UDP datagram to the guest; payload already at buf + OFF_L4 + 8. */
int udp_send_guest(struct slirp *s, uint8_t *buf, uint32_t src, uint16_t sport,
		   uint16_t dport, size_t plen);
void udp_fwd_event(struct slirp *s, int idx);
void udp_timer(struct slirp_flow *f);

/* dns.c */
/* A query from guest port sport: q holds the UDP payload. */
void dns_input(struct slirp *s, const struct ip_pkt *p, uint16_t sport, struct cursor q);
void dns_sock_event(struct slirp_flow *f, uint32_t events);
void dns_timer(struct slirp_flow *f);
/* The upstream for a TCP connection's try number; false when exhausted. */
bool dns_upstream(struct slirp *s, unsigned try, struct sockaddr_in *to);

/* tcp.c */
void tcp_input(struct slirp *s, const struct ip_pkt *p);
void tcp_sock_event(struct slirp_flow *f, uint32_t events);
void tcp_timer(struct slirp_flow *f);
void tcp_resume(struct slirp_flow *f);
/* Sends the ACK f owes the guest. */
void tcp_ack_now(struct slirp_flow *f);
/* A watched low window: tells the guest when the host socket has drained. */
void tcp_wnd_check(struct slirp_flow *f);
void tcp_fwd_accept(struct slirp *s, int idx);
/* Whether this kernel keeps a peek offset on TCP sockets (SO_PEEK_OFF). */
bool tcp_peek_off_probe(void);

/* flow.c */
int flow_table_init(struct slirp *s);
void flow_table_fini(struct slirp *s);
struct slirp_flow *flow_find(struct slirp *s, uint8_t proto, uint16_t gport,
			     uint32_t rip, uint16_t rport);
/* Allocates and hashes a flow, with a budget slot for the fd it will hold
 * (the oldest UDP/ICMP flow, or TIME_WAIT record at the record limit, is
 * recycled to make room). NULL (counted) when nothing can be had. */
struct slirp_flow *flow_new(struct slirp *s, uint8_t kind, uint8_t proto,
			    uint16_t gport, uint32_t rip, uint16_t rport);
/* Notes activity on f: its idle clock restarts and it becomes the newest
 * of its recycling list. */
void flow_touch(struct slirp_flow *f);
/* TCP's TIME_WAIT: closes f's socket and gives back its budget slot; the
 * record stays (recyclable) to answer retransmitted FINs. */
void flow_time_wait(struct slirp_flow *f);
/* Starts watching fd for the flow. Returns 0 or -errno. */
int flow_watch(struct slirp_flow *f, int fd, uint32_t events);
/* Changes the epoll interest when it differs. */
void flow_events(struct slirp_flow *f, uint32_t events);
/* Stops watching the host socket (the fd stays open). */
void flow_unwatch(struct slirp_flow *f);
/* Unhashes f and closes its socket; the memory goes two timer ticks later
 * (an epoll batch may still name it). */
void flow_kill(struct slirp_flow *f);
/* Frees the flows killed before the previous tick. */
void flow_reap(struct slirp *s);
/* A new UDP or ICMP-echo flow for the guest packet p: policy (a refusal is
 * answered with ICMP unreachable), a host socket connected to the mapped
 * destination, the flow record. NULL (counted) when refused or failed. */
struct slirp_flow *flow_open_dgram(struct slirp *s, const struct ip_pkt *p, uint8_t kind,
				   uint16_t gport, uint16_t rport);

/* policy.c */
/* Decides a new flow from the guest to dst:dport and where it goes on the
 * host. Returns 0 with *to filled, or the SLIRP_STAT_DROP_* reason. */
int policy_map(struct slirp *s, uint32_t dst, uint16_t dport, struct sockaddr_in *to);
/* Reads the host's own IPv4 addresses (loopback aside) for the PUBLIC
 * preset. Returns 0 or -errno. */
int policy_host_addrs(struct slirp *s);

/* fwd.c */
int fwd_init(struct slirp *s);
void fwd_fini(struct slirp *s);
/* A free gateway-side port for a forwarded connection into the guest. */
uint16_t fwd_port(struct slirp *s, uint8_t proto, uint16_t gport);

/* Sequence-space comparisons. */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

#endif
