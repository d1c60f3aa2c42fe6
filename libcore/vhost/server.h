/* The vhost-user server (front end B): serves ONE virtio back end (struct
 * vdev: vsock, net, ...) to a VMM such as qemu over a Unix socket, so the
 * VMM runs the guest's CPUs while voidbox runs the device. The VMM sends
 * guest memory as memfd regions (SET_MEM_TABLE) and each queue's size, ring
 * addresses (in the VMM's virtual addresses), start index and kick/call
 * eventfds; the server maps the memory into a struct gmem, starts each
 * queue once it has size, addresses, a kick fd and is enabled, and starts
 * the device once all the queues the VMM hands over run. Kick fds join the
 * loop and become ops->queue_kick(); the back end interrupts the guest by
 * writing the queue's call fd (always the newest one the VMM sent).
 *
 * One session at a time. A malformed message (bad size, unknown request,
 * wrong number of fds, region overflow, ring outside memory) ends the
 * session; so does the VMM hanging up. Either way, and when the back end
 * fails the device, on_end() tells the owner with a one-line reason (with
 * no on_end, it is logged on stderr: "voidbox vhost-user: ...") (qemu keeps running when its back
 * end goes away, so `run` must end the VM itself). Protocol: see
 * docs/vhost-user.md and qemu's docs/interop/vhost-user.rst. */
#ifndef VOIDBOX_VHOST_SERVER_H
#define VOIDBOX_VHOST_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "guest/mem.h"
#include "virtio/device.h"

#define VHOST_USER_F_PROTOCOL_FEATURES (1ULL << 30)
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG 9
#define VHOST_MAX_FDS 8                /* fds accepted with one message */
#define VHOST_MAX_PAYLOAD 512          /* largest message body we accept */
#define VHOST_MAX_CONFIG 256           /* largest GET/SET_CONFIG access */

struct vhost_server;
/* Told once per ended session (VMM hung up, protocol error) and when the
 * back end fails the device. why is one line. May call loop_stop(); must
 * not call vhost_server_fini() from inside. */
typedef void (*vhost_end_cb)(struct vhost_server *s, const char *why);

/* What the server keeps per queue beyond struct vq. */
struct vhost_queue {
	struct vhost_server *s;
	unsigned index;
	bool have_num, have_addr, enabled;
	uint64_t desc_va, avail_va, used_va; /* VMM virtual addresses */
	int err_fd;                          /* eventfd for ring errors, or -1 */
	struct loop_watch kick_w;            /* kick_w.fd == vq->kick_fd */
	bool kick_watched;
};

struct vhost_server {
	struct loop *loop;
	struct vdev *dev;
	char path[108];
	int listen_fd, conn_fd;
	int spare_fd;                        /* for accepting when out of fds */
	struct loop_watch listen_w, conn_w;
	struct gmem mem;
	/* Queues the VMM hands over (0 .. nq-1): all of them except for
	 * vsock, whose event queue qemu keeps (so 2). The device starts when
	 * these all run. Set by init; the owner may change it before a VMM
	 * connects. */
	unsigned nq;
	uint64_t features;                   /* SET_FEATURES value */
	uint64_t protocol_features;          /* negotiated */
	struct vhost_queue q[VDEV_MAX_QUEUES];
	/* message being received */
	uint8_t msg[12 + VHOST_MAX_PAYLOAD];
	uint32_t have;
	int fds[VHOST_MAX_FDS];
	unsigned nfds;
	/* the reply being sent (the socket is non-blocking) */
	uint8_t out[12 + 12 + VHOST_MAX_CONFIG];
	uint32_t out_off, out_len;
	bool out_waiting;                    /* watching EPOLLOUT for it */
	vhost_end_cb on_end;
	void *user;                          /* for the owner's callback */
	char last_error[200];                /* why the last session ended */
	bool peer_closed;                    /* ... and it was the VMM hanging up, not an error */
	uint64_t n_msgs, n_sessions;
};

/* Listens on sock_path (a stale socket there is replaced) for a VMM to
 * serve d on loop l. Returns 0 or -errno. */
int vhost_server_init(struct vhost_server *s, struct loop *l, struct vdev *d,
		      const char *sock_path);
/* Ends any session (the device is reset), stops listening, removes the
 * socket file. on_end is not called. */
void vhost_server_fini(struct vhost_server *s);
/* True while a VMM is connected. */
bool vhost_server_connected(const struct vhost_server *s);

#endif
