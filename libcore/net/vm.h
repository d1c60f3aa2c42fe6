/* The guest's network as one piece `voidbox run` adds to a VM it sets up:
 * the stack (net/stack.h) built from the options, served over vhost-user
 * for qemu (the KVM monitor drives the device directly and ignores the
 * socket), added to the VMM's device list, and the guest kernel parameters
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
#include "vhost/server.h"
#include "vmm/vmm.h"

#define NET_VM_SOCK "net.sock"

struct net_vm {
	struct net_stack stack;
	struct vhost_server vhost;
	bool stack_on, vhost_on;
	char sock[108];
	char qemu_opts[32];    /* ",mac=..." for qemu's -device */
	struct budget *budget; /* the guest's fd budget, set by the caller (or NULL) */
};

/* Sets the network up for a VM: builds the stack on c->loop, listens for
 * qemu on c->run_dir/net.sock when vhost is true (on_end/user: told when
 * that session ends, as vhost/server.h says), adds the device to c->devs
 * and appends the kernel parameters to cmdline (NUL-terminated, size
 * cmdlen). Returns 0 or -errno with one line in why; on failure nothing is
 * left to undo but net_vm_finish() is still safe. */
int net_vm_setup(struct net_vm *n, const struct net_opts *o, struct vmm_config *c, bool vhost,
		 vhost_end_cb on_end, void *user, char *cmdline, size_t cmdlen, char *why,
		 size_t len);
/* After the VM and its device thread are gone: prints the counters to
 * stats when o->stats, stops serving, closes the stack and the capture.
 * Returns 0, or the capture's write error (-errno) with why filled. */
int net_vm_finish(struct net_vm *n, const struct net_opts *o, FILE *stats, char *why,
		  size_t len);

#endif
