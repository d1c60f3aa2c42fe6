/* A stand-alone vhost-user vsock back end for tests/vsock.sh: serves
 * voidbox's virtio-vsock device (virtio/vsock.c) through the vhost-user
 * server (vhost/server.c) to one qemu. Prints "READY" on stdout once both
 * sockets listen; runs until the session ends (qemu hangs up, a protocol
 * error, or the device fails), then prints the reason and the device's
 * counters on stderr. Exit status: 0 when qemu simply closed the
 * connection, 1 otherwise, 2 for bad usage. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/loop.h"
#include "base/util.h"
#include "vhost/server.h"
#include "virtio/vsock.h"

static const char usage[] =
	"usage: vsock-vhost --vhost PATH --uds PATH [--cid N]\n";

/* The session is over: stop the loop, 0 for a plain hang-up. */
static void on_end(struct vhost_server *s, const char *why)
{
	loop_stop(s->loop, strstr(why, "closed the vhost-user connection") ? 0 : 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vhost", required_argument, NULL, 'V' },
		{ "uds", required_argument, NULL, 'u' },
		{ "cid", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *vhost = NULL, *uds = NULL;
	uint64_t cid = VSOCK_DEFAULT_CID;
	struct vhost_server s;
	struct vsock_dev v;
	struct loop l;
	int o, r;

	while ((o = getopt_long(argc, argv, "V:u:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'V': vhost = optarg; break;
		case 'u': uds = optarg; break;
		case 'c':
			if (parse_uint(optarg, 3, UINT32_MAX - 1, &cid) < 0) {
				vb_err("vsock-vhost", 0, "bad CID: %s", optarg);
				return 2;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!vhost || !uds || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((r = loop_init(&l)) < 0) {
		vb_err("vsock-vhost", r, "epoll");
		return 1;
	}
	if ((r = vsock_dev_init(&v, &l, cid, uds)) < 0) {
		vb_err("vsock-vhost", r, "vsock socket %s", uds);
		return 1;
	}
	if ((r = vhost_server_init(&s, &l, vsock_dev_vdev(&v), vhost)) < 0) {
		vb_err("vsock-vhost", r, "vhost-user socket %s", vhost);
		vsock_dev_fini(&v);
		return 1;
	}
	s.on_end = on_end;
	printf("READY\n");
	fflush(stdout);
	r = loop_run(&l);
	fprintf(stderr,
		"vsock-vhost: end: %s\n"
		"vsock-vhost: stats rx_pkts=%" PRIu64 " rx_bytes=%" PRIu64 " tx_pkts=%" PRIu64
		" tx_bytes=%" PRIu64 " conns_opened=%" PRIu64 " conns_closed=%" PRIu64
		" bad_pkts=%" PRIu64 " rst_dropped=%" PRIu64 " credit_violations=%" PRIu64
		" refused=%" PRIu64 " rx_stalls=%" PRIu64 " credit_stalls=%" PRIu64
		" failed=%d msgs=%" PRIu64 "\n",
		s.last_error, v.st.rx_pkts, v.st.rx_bytes, v.st.tx_pkts, v.st.tx_bytes,
		v.st.conns_opened, v.st.conns_closed, v.st.bad_pkts, v.st.rst_dropped,
		v.st.credit_violations, v.st.refused, v.st.rx_stalls, v.st.credit_stalls,
		v.vdev.failed, s.n_msgs);
	vhost_server_fini(&s);
	vsock_dev_fini(&v);
	loop_fini(&l);
	return r;
}
