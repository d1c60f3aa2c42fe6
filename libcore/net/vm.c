/* The network's part of setting up and ending a VM; see net/vm.h. */
#include "net/vm.h"

#include <errno.h>
#include <string.h>

int net_vm_setup(struct net_vm *n, const struct net_opts *o, struct vmm_config *c, bool vhost,
		 vhost_end_cb on_end, void *user, char *cmdline, size_t cmdlen, char *why,
		 size_t len)
{
	struct vmm_dev *d;
	int r;

	n->stack_on = n->vhost_on = false;
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
	d->qemu_opts = net_opts_qemu_dev(o, n->qemu_opts, sizeof(n->qemu_opts));
	if (vhost) {
		if ((size_t)snprintf(n->sock, sizeof(n->sock), "%s/%s", c->run_dir, NET_VM_SOCK) >=
		    sizeof(n->sock)) {
			snprintf(why, len, "%s: path too long for a socket", c->run_dir);
			return -ENAMETOOLONG;
		}
		r = vhost_server_init(&n->vhost, c->loop, d->dev, n->sock);
		if (r) {
			snprintf(why, len, "network device socket %s: %s", n->sock, strerror(-r));
			return r;
		}
		n->vhost.on_end = on_end;
		n->vhost.user = user;
		n->vhost_on = true;
		d->vhost_path = n->sock;
	}
	c->ndevs++;
	return 0;
}

int net_vm_finish(struct net_vm *n, const struct net_opts *o, FILE *stats, char *why, size_t len)
{
	int r = 0;

	if (n->vhost_on)
		vhost_server_fini(&n->vhost);
	n->vhost_on = false;
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
