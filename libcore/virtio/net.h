/* The virtio-net back end (device ID 1). It moves Ethernet frames between
 * the guest's two queues and whatever the owner plugs in (the SLIRP stack in
 * voidbox run, a fake in the unit tests): frames the guest transmits go to
 * ops->output() with the 12-byte virtio_net_hdr_v1 stripped; frames for the
 * guest enter through vnet_rx() and are written, header first, into one RX
 * chain each when the driver did not take MRG_RXBUF (num_buffers is 1 and a
 * frame that does not fit one chain is dropped and counted); with
 * MRG_RXBUF (offered) a frame spreads over as many chains as it needs, up
 * to VNET_RX_MAX_BUFS, with num_buffers telling how many. No allocation
 * happens per frame: TX frames are copied once out of guest memory into the
 * device's own buffer, so a guest changing the buffer while it is parsed
 * cannot matter. The guest is notified once per batch (vnet_rx_flush(), and
 * at the end of each TX pass), never polled. When the RX queue is empty
 * vnet_rx() says -ENOBUFS and the device calls ops->rx_ready() as soon as
 * the guest adds buffers (RX kick) — the back-pressure contract of SLIRP.
 * Queue 0 is RX, queue 1 is TX; there is no control queue. */
#ifndef VOIDBOX_VNET_H
#define VOIDBOX_VNET_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"

#define VIRTIO_NET_F_CSUM (1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_MTU (1ULL << 3)
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_HOST_TSO4 (1ULL << 11)
#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_S_LINK_UP 1

#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_HDR_LEN 12          /* struct virtio_net_hdr_v1 */
#define VNET_MAX_FRAME 65550     /* largest frame accepted from the guest */
#define VNET_TX_BATCH 256        /* chains per TX pass before re-checking */
#define VNET_TX_PASSES 4         /* passes per kick before yielding to the loop */
#define VNET_RX_MAX_BUFS 48      /* RX chains one MRG_RXBUF frame may use */

/* Direction of a frame, for the capture hook. */
enum vnet_dir { VNET_DIR_TX = 0 /* guest -> host */, VNET_DIR_RX = 1 /* host -> guest */ };

struct vnet_ops {
	/* One frame the guest sent (header stripped). The return value is
	 * only counted (non-zero: tx_drop_output); the frame buffer is the
	 * device's and valid only during the call. */
	int (*output)(void *ctx, const uint8_t *frame, size_t len);
	/* The guest added RX buffers after vnet_rx() said -ENOBUFS. */
	void (*rx_ready)(void *ctx);
	/* Optional: called with true before a TX pass hands frames to
	 * output() and with false after it, so the owner can answer the whole
	 * pass with one flush (one interrupt). May be NULL. */
	void (*tx_batch)(void *ctx, bool begin);
	/* Optional: every frame crossing the device, both ways, as it
	 * crosses (for --pcap). May be NULL. */
	void (*capture)(void *ctx, enum vnet_dir dir, const uint8_t *frame, size_t len);
};

struct vnet_cfg {
	uint8_t mac[6];          /* the guest's MAC, served in config space */
	uint16_t mtu;            /* served with VIRTIO_NET_F_MTU when non-zero */
	bool link_down;          /* report the link down (tests) */
};

/* Counters; all monotonic. */
struct vnet_stats {
	uint64_t tx_frames, tx_bytes;    /* guest -> host, delivered to output */
	uint64_t tx_tso;                 /* of those, TCP frames the guest left unsegmented */
	uint64_t rx_frames, rx_bytes;    /* host -> guest, placed in RX chains */
	uint64_t rx_tso;                 /* of those, TCP frames left for the guest to take whole */
	uint64_t tx_drop_short;          /* chain shorter than the header (+ETH) */
	uint64_t tx_drop_big;            /* frame over VNET_MAX_FRAME */
	uint64_t tx_drop_bad_hdr;        /* offload not negotiated, bad checksum offsets or GSO fields */
	uint64_t tx_drop_output;         /* output() refused the frame */
	uint64_t rx_drop_big;            /* frame larger than the guest's RX chain */
	uint64_t rx_drop_bad_tso;        /* a TSO frame the guest cannot take */
	uint64_t rx_not_running;         /* -ENOBUFS because the driver is not running */
	uint64_t rx_nobufs;              /* times vnet_rx() said -ENOBUFS */
	uint64_t rx_ready_calls;         /* rx_ready() calls after an RX kick */
	uint64_t bad_chains;             /* malformed chains (device needs reset) */
	uint64_t rx_signals, tx_signals; /* notifications sent to the guest */
	uint64_t tx_passes;              /* TX queue passes (kicks and restarts) */
};

struct vnet {
	struct vdev dev;
	struct vnet_cfg cfg;
	const struct vnet_ops *ops;
	void *ctx;
	bool want_rx_ready;              /* -ENOBUFS was said; tell on next RX kick */
	bool link_up;                    /* the status the driver reads (see vnet_start) */
	bool rx_pending, tx_pending;     /* used entries not yet signalled */
	struct vnet_stats st;
	bool mrg;                        /* MRG_RXBUF negotiated */
	struct vq_chain txc;             /* scratch for vq_pop */
	struct vq_chain rxc[VNET_RX_MAX_BUFS]; /* the RX chains of one frame */
	uint8_t frame[VNET_MAX_FRAME];   /* TX frame copied out of guest memory */
};

/* Prepares the device (no fds, no allocation). Returns 0 or -EINVAL. */
int vnet_init(struct vnet *n, const struct vnet_cfg *cfg, const struct vnet_ops *ops,
	      void *ctx);
/* The struct vdev a front end (vhost-user server, mmio) drives. */
static inline struct vdev *vnet_vdev(struct vnet *n) { return &n->dev; }
/* Places one frame into the guest's next RX chain. Returns 0 (placed, or
 * dropped and counted when it can never fit), -ENOBUFS when the guest has no
 * buffer now (rx_ready() follows when it has) or the driver is not running. */
int vnet_rx(struct vnet *n, const uint8_t *frame, size_t len);
/* The same for a TCP/IPv4 frame over the MTU, for the guest to take whole
 * as segments of mss payload bytes (GUEST_TSO4; its checksum field holds
 * the pseudo-header sum, NEEDS_CSUM). Dropped and counted (rx_drop_bad_tso)
 * when the guest did not negotiate it or the frame is not TCP/IPv4. */
int vnet_rx_tso(struct vnet *n, const uint8_t *frame, size_t len, uint16_t mss);
/* Whether the running driver takes vnet_rx_tso() frames. */
bool vnet_rx_tso_ok(const struct vnet *n);
/* Notifies the guest of the frames placed since the last flush. */
void vnet_rx_flush(struct vnet *n);
/* Processes the TX queue now (what a TX kick does). */
void vnet_tx_process(struct vnet *n);

#endif
