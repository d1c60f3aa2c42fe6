/* The virtio-vsock device back end (device ID 19). It bridges the guest's
 * AF_VSOCK stream sockets to AF_UNIX sockets on the host the way
 * Firecracker does:
 *   - host-initiated: a host program connects to the Unix socket at
 *     uds_path and writes "CONNECT <port>\n"; once the guest accepts, it
 *     reads "OK <local_port>\n" and then has a byte stream to the guest's
 *     port. If the guest refuses (no listener), the Unix connection is closed.
 *   - guest-initiated: a guest connection to host CID 2, port P is forwarded
 *     to the Unix socket "<uds_path>_P"; nobody listening there -> the guest
 *     sees ECONNRESET.
 * Queues: 0 rx (device -> driver), 1 tx (driver -> device), 2 event (never
 * used: we never send TRANSPORT_RESET). Config space: the guest CID, u64 LE.
 * Flow control is credit based both ways; when the guest's RX queue has no
 * buffers the device stops reading host sockets (data waits in the kernel
 * socket) and resumes on the next RX kick. The device never allocates per
 * packet: only per connection (its state and, lazily, a buf_alloc-sized
 * buffer for guest data the host socket could not take yet).
 * Used by both front ends (virtio-mmio under KVM, vhost-user under qemu);
 * everything runs on one event loop thread. */
#ifndef VOIDBOX_VSOCK_H
#define VOIDBOX_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/budget.h"
#include "base/loop.h"
#include "virtio/device.h"

#define VSOCK_DEFAULT_CID 3
#define VSOCK_HOST_CID 2
#define VSOCK_QUEUE_SIZE 1024      /* largest queue we accept */
#define VSOCK_BUF_ALLOC (256 * 1024) /* receive buffer we advertise per conn */
#define VSOCK_MAX_PKT 65536        /* largest payload per packet, both ways */
#define VSOCK_MAX_CONNS 1024       /* connections at once; beyond: refused */
#define VSOCK_HASH_SIZE 256
#define VSOCK_RST_RING 128         /* pending RSTs for unknown connections */
#define VSOCK_TX_BUDGET 256        /* TX packets per kick before yielding to the loop */
#define VSOCK_FIRST_LOCAL_PORT (1u << 30) /* host ports of host-initiated conns */

enum { VSOCK_RXQ = 0, VSOCK_TXQ = 1, VSOCK_EVQ = 2 };

struct vsock_conn;

/* Counters, for tests and -v output. */
struct vsock_stats {
	uint64_t rx_pkts, rx_bytes;   /* device -> guest */
	uint64_t tx_pkts, tx_bytes;   /* guest -> device */
	uint64_t conns_opened, conns_closed;
	uint64_t bad_pkts;            /* malformed header, wrong CID, bad type */
	uint64_t rst_dropped;         /* RST to an unknown conn lost: ring full */
	uint64_t credit_violations;   /* guest sent beyond our buf_alloc */
	uint64_t refused;             /* connections refused (limit, no listener) */
	uint64_t rx_stalls;           /* times the guest's RX queue ran dry */
	uint64_t credit_stalls;       /* host data held back: guest out of credit */
};

struct vsock_rst {
	uint32_t src_port, dst_port;  /* as the guest will see them */
};

/* The device. Embed it anywhere; it owns no global state. */
struct vsock_dev {
	struct vdev vdev;
	struct loop *loop;
	uint64_t cid;
	char path[108];               /* the host-initiated Unix socket */
	int listen_fd;
	int spare_fd;                 /* for accepting when out of fds */
	struct loop_watch listen_w;
	struct vsock_conn *hash[VSOCK_HASH_SIZE]; /* by (local, peer) port */
	struct vsock_conn *all;       /* every conn, doubly linked */
	struct vsock_conn *ctl_head, *ctl_tail; /* conns with control packets to send */
	struct vsock_conn *stalled;   /* conns waiting for RX buffers */
	unsigned n_conns;
	unsigned n_guest_conns;       /* of those, opened by the guest */
	/* The guest's fd budget (base/budget.h): guest-initiated connections
	 * take a BUDGET_VSOCK slot each. NULL: only the halves rule. */
	struct budget *budget;
	uint32_t next_local_port;
	struct vsock_rst rst[VSOCK_RST_RING];
	unsigned rst_head, rst_n;
	bool running;                 /* start() done, no reset since */
	bool rx_dirty, tx_dirty;      /* used entries not yet signalled */
	struct vq_chain rxc, txc;     /* scratch: the RX / TX chain in hand */
	struct vsock_stats st;
};

/* Sets up the device with guest CID cid (>= 3) and starts listening on the
 * Unix socket uds_path (a stale socket there is replaced; any other file is
 * an error). The listener joins loop l. Returns 0 or -errno (-EINVAL for a
 * bad CID, -ENAMETOOLONG for a long path: uds_path_PORT must fit too). */
int vsock_dev_init(struct vsock_dev *v, struct loop *l, uint64_t cid, const char *uds_path);
/* The virtio back end to hand to a front end (mmio or vhost-user). */
struct vdev *vsock_dev_vdev(struct vsock_dev *v);
/* Closes every connection and the listener, removes the socket file. */
void vsock_dev_fini(struct vsock_dev *v);

#endif
