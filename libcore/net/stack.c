/* The wiring between virtio-net, SLIRP and the capture; see net/stack.h. */
#include "net/stack.h"

#include <errno.h>
#include <string.h>

/* guest -> SLIRP */
static int stack_vnet_output(void *ctx, const uint8_t *frame, size_t len)
{
	struct net_stack *s = ctx;

	slirp_input(&s->slirp, frame, len);
	return 0;
}

/* The guest has RX buffers again. */
static void stack_vnet_rx_ready(void *ctx)
{
	struct net_stack *s = ctx;

	slirp_rx_ready(&s->slirp);
}

/* One TX pass: SLIRP answers it with one flush. */
static void stack_tx_batch(void *ctx, bool begin)
{
	struct net_stack *s = ctx;

	if (begin)
		slirp_batch_begin(&s->slirp);
	else
		slirp_batch_end(&s->slirp);
}

/* Every frame crossing the device, both ways. */
static void stack_capture(void *ctx, enum vnet_dir dir, const uint8_t *frame, size_t len)
{
	struct net_stack *s = ctx;

	if (pcap_writer_write(&s->pcap, pcap_now_ns(), frame, len) < 0)
		s->pcap_errors++;
}

/* SLIRP -> guest: 0 or -ENOBUFS (SLIRP keeps the data). */
static int stack_slirp_output(void *ctx, const uint8_t *frame, size_t len)
{
	struct net_stack *s = ctx;

	return vnet_rx(&s->vnet, frame, len);
}

static int stack_slirp_output_tso(void *ctx, const uint8_t *frame, size_t len, uint16_t mss)
{
	struct net_stack *s = ctx;

	return vnet_rx_tso(&s->vnet, frame, len, mss);
}

static bool stack_slirp_tso(void *ctx)
{
	struct net_stack *s = ctx;

	return vnet_rx_tso_ok(&s->vnet);
}

static void stack_slirp_flush(void *ctx)
{
	struct net_stack *s = ctx;

	vnet_rx_flush(&s->vnet);
}

static const char *const slirp_stat_names[SLIRP_STAT_N] = {
#define STAT_NAME(id, name) name,
	SLIRP_STATS(STAT_NAME)
#undef STAT_NAME
};

static const struct vnet_ops vnet_ops_plain = {
	.output = stack_vnet_output,
	.rx_ready = stack_vnet_rx_ready,
	.tx_batch = stack_tx_batch,
};

static const struct vnet_ops vnet_ops_capture = {
	.output = stack_vnet_output,
	.rx_ready = stack_vnet_rx_ready,
	.tx_batch = stack_tx_batch,
	.capture = stack_capture,
};

static const struct slirp_ops slirp_ops = {
	.output = stack_slirp_output,
	.output_tso = stack_slirp_output_tso,
	.tso = stack_slirp_tso,
	.flush = stack_slirp_flush,
};

int net_stack_init(struct net_stack *s, const struct net_opts *o, struct loop *l, char *why,
		   size_t len)
{
	const struct net_layout *nl = &o->slirp.net;
	struct slirp_cfg c = o->slirp;
	struct vnet_cfg vc = { .mtu = 0 };
	int r;

	s->pcap_on = s->slirp_on = false;
	s->pcap_errors = 0;
	memcpy(vc.mac, nl->mac, 6);
	r = vnet_init(&s->vnet, &vc, o->pcap_path ? &vnet_ops_capture : &vnet_ops_plain, s);
	if (r) {
		snprintf(why, len, "virtio-net: %s", strerror(-r));
		return r;
	}
	s->vnet.dev.loop = l;
	if (o->pcap_path) {
		r = pcap_writer_open(&s->pcap, o->pcap_path, 0, PCAP_TS_NSEC);
		if (r) {
			snprintf(why, len, "--pcap %s: %s", o->pcap_path, strerror(-r));
			return r;
		}
		s->pcap_on = true;
	}
	c.budget = s->budget;
	r = slirp_init(&s->slirp, &c, l, &slirp_ops, s);
	if (r) {
		snprintf(why, len, "network stack: %s", strerror(-r));
		if (s->pcap_on)
			pcap_writer_close(&s->pcap);
		s->pcap_on = false;
		return r;
	}
	s->slirp_on = true;
	return 0;
}

void net_stack_stats_print(const struct net_stack *s, FILE *f)
{
	const struct vnet_stats *v = &s->vnet.st;
#define P(name, val) fprintf(f, "net %s %llu\n", name, (unsigned long long)(val))
	P("virtio_tx_frames", v->tx_frames);
	P("virtio_tx_bytes", v->tx_bytes);
	P("virtio_rx_frames", v->rx_frames);
	P("virtio_rx_bytes", v->rx_bytes);
	P("virtio_tx_drop_short", v->tx_drop_short);
	P("virtio_tx_drop_big", v->tx_drop_big);
	P("virtio_tx_drop_bad_header", v->tx_drop_bad_hdr);
	P("virtio_tx_tso", v->tx_tso);
	P("virtio_rx_tso", v->rx_tso);
	P("virtio_rx_drop_bad_tso", v->rx_drop_bad_tso);
	P("virtio_rx_drop_big", v->rx_drop_big);
	P("virtio_rx_nobufs", v->rx_nobufs);
	P("virtio_rx_not_running", v->rx_not_running);
	P("virtio_rx_ready", v->rx_ready_calls);
	P("virtio_bad_chains", v->bad_chains);
	P("virtio_rx_notifications", v->rx_signals);
	P("virtio_tx_notifications", v->tx_signals);
	P("virtio_tx_passes", v->tx_passes);
	if (s->pcap_on) {
		P("pcap_frames", s->pcap.frames);
		P("pcap_errors", s->pcap_errors);
	}
#undef P
	if (s->slirp_on) {
		for (unsigned i = 0; i < SLIRP_STAT_N; i++)
			fprintf(f, "net slirp_%s %llu\n", slirp_stat_names[i],
				(unsigned long long)s->slirp.stats[i]);
		budget_print(s->slirp.budget, f, "net ");
	}
}

int net_stack_fini(struct net_stack *s)
{
	int r = 0;

	if (s->slirp_on)
		slirp_fini(&s->slirp);
	s->slirp_on = false;
	if (s->pcap_on)
		r = pcap_writer_close(&s->pcap);
	s->pcap_on = false;
	return r;
}
