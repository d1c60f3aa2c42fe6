/* The network's part of setting up and ending a VM; see net/vm.h. */
#include "net/vm.h"

#include <errno.h>
#include <string.h>

int net_vm_setup(struct net_vm *n, const struct net_opts *o, struct vmm_config *c, char *cmdline,
		 size_t cmdlen, char *why, size_t len)
{
	struct vmm_dev *d;
	int r;

	n->stack_on = false;
	r = net_opts_check(o, why, len);
	if (r)
		return r;
	if (net_opts_cmdline(o, cmdline, cmdlen)) {
		snprintf(why, len, "kernel command line too long for the network parameters");
		return -ENOSPC;
	}
	if (o->mode == NET_NONE)
		return 0;
	if (c->ndevs >= VMM_MAX_DEVS) {
		snprintf(why, len, "too many devices for the network device");
		return -ENOSPC;
	}
	n->stack.budget = n->budget;
	r = net_stack_init(&n->stack, o, c->loop, why, len);
	if (r)
		return r;
	n->stack_on = true;
	d = &c->devs[c->ndevs];
	memset(d, 0, sizeof(*d));
	d->dev = net_stack_vdev(&n->stack);
	d->name = "net";
	c->ndevs++;
	return 0;
}

int net_vm_finish(struct net_vm *n, const struct net_opts *o, FILE *stats, char *why, size_t len)
{
	int r = 0;

	if (!n->stack_on)
		return 0;
	if (o->stats && stats)
		net_stack_stats_print(&n->stack, stats);
	r = net_stack_fini(&n->stack);
	n->stack_on = false;
	if (r)
		snprintf(why, len, "--pcap %s: %s", o->pcap_path, strerror(-r));
	return r;
}
