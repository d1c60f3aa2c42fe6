/* The guest's network as `voidbox run` builds it: the virtio-net back end
 * (virtio/net.h) wired to the SLIRP stack (slirp/slirp.h), with every frame
 * crossing the device optionally captured to a pcap file (pcap/writer.h),
 * and the options that shape it (net/opts.h). Frames flow
 *   guest TX -> vnet output -> [pcap] -> slirp_input
 *   slirp output -> vnet_rx -> [pcap] -> guest RX; slirp flush -> one interrupt
 * and back-pressure flows the other way: vnet_rx() -ENOBUFS makes SLIRP hold
 * its data until the guest's RX kick calls slirp_rx_ready(). Everything
 * runs on the one device loop, so no locking is needed. */
#ifndef VOIDBOX_NET_STACK_H
#define VOIDBOX_NET_STACK_H

#include <stdio.h>

#include "net/opts.h"
#include "pcap/writer.h"
#include "slirp/slirp.h"
#include "virtio/net.h"

struct net_stack {
	struct vnet vnet;
	struct slirp slirp;
	struct pcap_writer pcap;
	bool pcap_on;
	bool slirp_on;
	uint64_t pcap_errors;   /* frames the capture failed to write */
	struct budget *budget;  /* set before init: SLIRP's fd budget (NULL: its own) */
};

/* Builds the device and the stack on loop l per o (o->mode must be
 * NET_SLIRP). Returns 0 or -errno with a one-line reason in why. */
int net_stack_init(struct net_stack *s, const struct net_opts *o, struct loop *l, char *why,
		   size_t len);
static inline struct vdev *net_stack_vdev(struct net_stack *s) { return vnet_vdev(&s->vnet); }
/* Prints the device's and the stack's counters as "net NAME VALUE" lines. */
void net_stack_stats_print(const struct net_stack *s, FILE *f);
/* Closes the stack and the capture (flushing it). Returns the capture's
 * first write error (-errno) or 0. Call after the device loop stopped. */
int net_stack_fini(struct net_stack *s);

#endif
