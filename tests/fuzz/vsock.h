/* The vsock device under fuzzing, shared by vsock_guest.c and vsock_host.c:
 * the device on fuzzer-written guest memory (both rings and every packet),
 * its CONNECT socket in a private folder, and a host listener on port
 * 1024 there (what guest-initiated connections reach), whose connections
 * get some bytes back and are closed at the end of each input. */
#ifndef VOIDBOX_FUZZ_VSOCK_H
#define VOIDBOX_FUZZ_VSOCK_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/usock.h"
#include "fuzz.h"
#include "virtio/vsock.h"

struct vfz {
	struct loop l;
	struct vsock_dev v;
	struct vdev *d;
	struct fz_guest g;
	char path[108];
	bool on;
};

static char vfz_dir[64];

/* Removes the private folder at exit. */
static inline void vfz_cleanup(void)
{
	char p[108];

	snprintf(p, sizeof(p), "%s/v.sock_1024", vfz_dir);
	unlink(p);
	rmdir(vfz_dir);
}

/* The private folder and the port-1024 listener: once per process. */
static inline int vfz_listener(char *path, size_t len)
{
	static char *dir = vfz_dir;
	static int lfd = -1;
	char p[108];

	if (lfd < 0) {
		snprintf(dir, sizeof(vfz_dir), "/tmp/vb-fuzz-vsock.%d", (int)getpid());
		mkdir(dir, 0700);
		snprintf(p, sizeof(p), "%s/v.sock_1024", dir);
		lfd = usock_listen(p, 256);
		atexit(vfz_cleanup);
		fz_no_sigpipe();
	}
	snprintf(path, len, "%s/v.sock", dir);
	return lfd;
}

static inline void vfz_pump(struct vfz *z)
{
	for (int i = 0; i < 8; i++)
		loop_once(&z->l, 0);
}

/* Brings the device up on the input's memory (after ctl control bytes
 * were taken from f). Returns 0 or -1 (nothing to undo then). */
static inline int vfz_up(struct vfz *z, struct fz *f)
{
	uint8_t lg_rx = fz_u8(f), lg_tx = fz_u8(f);

	memset(z, 0, sizeof(*z));
	vfz_listener(z->path, sizeof(z->path));
	if (loop_init(&z->l))
		return -1;
	if (vsock_dev_init(&z->v, &z->l, 3, z->path) || fz_guest_init(&z->g, f->p, f->n)) {
		loop_fini(&z->l);
		return -1;
	}
	z->on = true;
	z->d = vsock_dev_vdev(&z->v);
	z->d->mem = &z->g.map;
	z->d->acked = VIRTIO_F_VERSION_1;
	if (fz_queue(z->d, &z->g, VSOCK_RXQ, lg_rx) || fz_queue(z->d, &z->g, VSOCK_TXQ, lg_tx) ||
	    z->d->ops->start(z->d))
		return 0; /* up, but the driver's queues are broken: fine */
	z->d->started = true;
	return 0;
}

static inline void vfz_kick(struct vfz *z, unsigned q)
{
	if (z->d->started && !z->d->failed)
		z->d->ops->queue_kick(z->d, q);
	vfz_pump(z);
}

/* Accepts what reached the port-1024 listener, writes n bytes of data to
 * each, and keeps them in fds[] (closed by vfz_down). */
static inline int vfz_serve(struct vfz *z, const uint8_t *data, size_t n, int *fds, int max)
{
	int lfd = vfz_listener(z->path, sizeof(z->path)), k = 0, fd;

	while (k < max && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (n && write(fd, data, n) < 0) {
			/* the device may have closed already */
		}
		fds[k++] = fd;
	}
	return k;
}

static inline void vfz_down(struct vfz *z, int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (!z->on)
		return;
	vfz_pump(z);
	if (z->d->started)
		z->d->ops->reset(z->d);
	vsock_dev_fini(&z->v);
	loop_fini(&z->l);
	fz_guest_fini(&z->g);
	/* connections the device opened and never saw accepted */
	{
		int lfd = vfz_listener(z->path, sizeof(z->path)), fd;

		while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
			close(fd);
	}
}

#endif
