/* A stand-alone network back end for tests that start qemu themselves: the
 * same set-up `voidbox run` performs (net/vm.h: run's network options, the
 * virtio-net device wired to SLIRP and --pcap, served over vhost-user), on
 * DIR/net.sock. Prints, on stdout, "APPEND <kernel parameters>" and
 * "DEVICE <qemu -device suffix>" for the test to pass to qemu, then
 * "READY" once the socket listens; runs until qemu hangs up, then prints
 * the counters (--net-stats) and the reason on stderr. Exit status: 0 when
 * qemu simply closed the connection, 1 otherwise, 2 for bad usage. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/loop.h"
#include "base/util.h"
#include "net/vm.h"

#define NAME "vnet-vhost"

static const char usage[] = "usage: " NAME " --dir DIR [voidbox run's network options]\n";

static void on_end(struct vhost_server *s, const char *why)
{
	fprintf(stderr, NAME ": %s\n", why);
	loop_stop(s->loop, strstr(why, "closed the vhost-user connection") ? 0 : 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		NET_OPTS_LONG,
		{ "dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct net_vm n;
	struct vmm_config c = { 0 };
	struct net_opts o;
	struct loop l;
	char why[256], cmdline[512] = "";
	int opt, r;

	net_opts_init(&o);
	while ((opt = getopt_long(argc, argv, NET_OPTS_SHORT "h", opts, NULL)) != -1) {
		if (opt == 'D') {
			c.run_dir = optarg;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			return 0;
		} else if ((r = net_opts_parse(&o, opt, optarg, why, sizeof(why))) != 1) {
			if (r < 0)
				vb_err(NAME, 0, "%s", why);
			else
				fputs(usage, stderr);
			return 2;
		}
	}
	if (!c.run_dir || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if ((r = loop_init(&l))) {
		vb_err(NAME, r, "event loop");
		return 1;
	}
	c.loop = &l;
	r = net_vm_setup(&n, &o, &c, true, on_end, NULL, cmdline, sizeof(cmdline), why, sizeof(why));
	if (r) {
		vb_err(NAME, 0, "%s", why);
		net_vm_finish(&n, &o, NULL, why, sizeof(why));
		return 1;
	}
	printf("APPEND %s\nDEVICE %s\nREADY\n", cmdline,
	       c.ndevs ? (c.devs[0].qemu_opts ? c.devs[0].qemu_opts : "") : "");
	fflush(stdout);
	r = c.ndevs ? loop_run(&l) : 0;
	if (net_vm_finish(&n, &o, stderr, why, sizeof(why))) {
		vb_err(NAME, 0, "%s", why);
		r = 1;
	}
	loop_fini(&l);
	return r;
}
