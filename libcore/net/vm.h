/* The guest's network as one piece `voidbox run` adds to a VM it sets up:
 * the stack (net/stack.h) built from the options, added to the VMM's device
 * list as "net" (how the VMM reaches it is the VMM's business), and the
 * guest kernel parameters
 * (voidbox.net=..., ipv6.disable=1) appended to the command line. With
 * --net none only the parameters are added (the guest then sets up lo
 * only) and no device exists. At the end, net_vm_finish() prints the
 * counters (--net-stats) and closes the capture. */
#ifndef VOIDBOX_NET_VM_H
#define VOIDBOX_NET_VM_H

#include <stdbool.h>
#include <stdio.h>

#include "net/opts.h"
#include "net/stack.h"
#include "vmm/vmm.h"

struct net_vm {
	struct net_stack stack;
	bool stack_on;
	struct budget *budget; /* the guest's fd budget, set by the caller (or NULL) */
};

/* Sets the network up for a VM: builds the stack on c->loop, adds the
 * device to c->devs and appends the kernel parameters to cmdline
 * (NUL-terminated, size cmdlen). Returns 0 or -errno with one line in why;
 * on failure nothing is left to undo but net_vm_finish() is still safe. */
int net_vm_setup(struct net_vm *n, const struct net_opts *o, struct vmm_config *c, char *cmdline,
		 size_t cmdlen, char *why, size_t len);
/* After the VM and its device thread are gone: prints the counters to
 * stats when o->stats, closes the stack and the capture.
 * Returns 0, or the capture's write error (-errno) with why filled. */
int net_vm_finish(struct net_vm *n, const struct net_opts *o, FILE *stats, char *why,
		  size_t len);

#endif
