/* Fuzz target: virtio-vsock, guest-initiated path. Control bytes: queue
 * sizes, then the bytes a host server answers; the rest is guest memory,
 * whose TX ring carries the guest's packets (REQUESTs to host port 1024,
 * where a listener waits, data, credit, shutdowns, resets, garbage). TX is
 * kicked, the host side answers, RX is kicked, TX again. */
#include "vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	const uint8_t *answer;
	size_t alen = fz_take(&f, fz_u8(&f) % 64, &answer);
	struct vfz z;
	int fds[16], n = 0;

	if (vfz_up(&z, &f))
		return 0;
	vfz_kick(&z, VSOCK_TXQ);
	n = vfz_serve(&z, answer, alen, fds, 16);
	vfz_kick(&z, VSOCK_RXQ);
	vfz_kick(&z, VSOCK_TXQ);
	vfz_kick(&z, VSOCK_RXQ);
	vfz_down(&z, fds, n);
	return 0;
}
