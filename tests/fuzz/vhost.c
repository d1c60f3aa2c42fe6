/* Fuzz target: the vhost-user server (vhost/server.c) reading a hostile
 * VMM's message stream. Control byte: the back end (vsock or net); the
 * rest is the stream, sent message by message as its headers say (a short
 * last one as it is), with the fds a real VMM would attach: a sealed 1 MiB
 * memfd per region a SET_MEM_TABLE claims, an eventfd for each
 * SET_VRING_KICK/CALL/ERR without the "no fd" bit, and stray ones for any
 * other request whose flags ask for it (bit 7). Replies are read and
 * dropped; then the VMM hangs up. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "fuzz.h"
#include "vhost/server.h"
#include "virtio/net.h"
#include "virtio/vsock.h"

static char dir[64];

static void cleanup(void)
{
	rmdir(dir);
}

static void on_end(struct vhost_server *s, const char *why)
{
}

static int net_out(void *ctx, const uint8_t *frame, size_t len)
{
	return 0;
}

static void net_rx_ready(void *ctx)
{
}

static const struct vnet_ops nops = { .output = net_out, .rx_ready = net_rx_ready };

static int memfd_sealed(void)
{
	int fd = memfd_create("vb-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd >= 0 && (ftruncate(fd, 1 << 20) < 0 ||
			fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Sends one message (h and its body) with n fds made for it. */
static void send_msg(int s, const uint8_t *m, size_t len, unsigned nfd, bool mem)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr a;
	} cm;
	int fds[8];
	struct iovec iov = { (void *)m, len };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned k = 0;

	for (; k < nfd && k < 8; k++)
		if ((fds[k] = mem ? memfd_sealed() : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			break;
	if (k) {
		struct cmsghdr *c;

		h.msg_control = cm.b;
		h.msg_controllen = CMSG_SPACE(k * sizeof(int));
		c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(k * sizeof(int));
		memcpy(CMSG_DATA(c), fds, k * sizeof(int));
	}
	if (sendmsg(s, &h, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the server hung up: fine */
	}
	for (unsigned i = 0; i < k; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vsock_dev vs;
	static struct vnet vn;
	static struct vhost_server s;
	struct fz f = { data, size };
	struct loop l;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vnet_cfg nc = { .mac = { 2, 0, 0, 0, 0, 1 } };
	struct vdev *d;
	char vpath[108], spath[108], buf[4096];
	bool net = fz_u8(&f) & 1;
	int c;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/vb-fuzz-vhost.%d", (int)getpid());
		mkdir(dir, 0700);
		atexit(cleanup);
		fz_no_sigpipe();
	}
	snprintf(vpath, sizeof(vpath), "%s/v.sock", dir);
	snprintf(spath, sizeof(spath), "%s/vhost.sock", dir);
	if (loop_init(&l))
		return 0;
	if (net && vnet_init(&vn, &nc, &nops, NULL) == 0) {
		d = vnet_vdev(&vn);
		d->loop = &l;
	} else if (!net && vsock_dev_init(&vs, &l, 3, vpath) == 0) {
		d = vsock_dev_vdev(&vs);
	} else {
		loop_fini(&l);
		return 0;
	}
	if (vhost_server_init(&s, &l, d, spath) == 0) {
		s.on_end = on_end; /* quiet: the reasons are not what is tested */
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", spath);
		if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
			loop_once(&l, 0);
			while (f.n) {
				const uint8_t *m;
				uint32_t req = f.n >= 12 ? (uint32_t)f.p[0] | (uint32_t)f.p[1] << 8 : 0;
				uint32_t flags = f.n >= 12 ? f.p[4] : 0;
				uint32_t body = f.n >= 12 ? (uint32_t)f.p[8] | (uint32_t)f.p[9] << 8 : 0;
				size_t len = fz_take(&f, 12 + (body > 1024 ? 1024 : body), &m);
				unsigned nfd = 0;
				bool mem = false;

				if (req == 5 && len >= 16) { /* SET_MEM_TABLE: fds as regions claimed */
					nfd = m[12] > 8 ? 8 : m[12];
					mem = true;
				} else if (req >= 12 && req <= 14 && len >= 20) { /* KICK/CALL/ERR */
					nfd = (m[13] & 1) ? 0 : 1;
				} else if (flags & 0x80) {
					nfd = 1 + (flags & 3);
				}
				send_msg(c, m, len, nfd, mem);
				for (int i = 0; i < 4; i++)
					loop_once(&l, 0);
				while (recv(c, buf, sizeof(buf), MSG_DONTWAIT) > 0)
					;
				if (!vhost_server_connected(&s))
					break;
			}
		}
		if (c >= 0)
			close(c);
		for (int i = 0; i < 4; i++)
			loop_once(&l, 0);
		vhost_server_fini(&s);
	}
	if (net)
		d->ops->reset(d);
	else
		vsock_dev_fini(&vs);
	loop_fini(&l);
	return 0;
}
