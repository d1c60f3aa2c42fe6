/* Fuzz target: virtio-vsock, host-initiated path. Control bytes: queue
 * sizes, then what a host program writes to the CONNECT socket ("CONNECT
 * <port>\n" and data, or anything); the rest is guest memory: RX buffers
 * for the REQUEST and data, TX packets answering them (RESPONSE, RST,
 * credit, data, shutdowns) as the fuzzer writes them. */
#include "vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	const uint8_t *line;
	size_t llen = fz_take(&f, fz_u8(&f) % 96, &line);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vfz z;
	char buf[4096];
	int c;

	if (vfz_up(&z, &f))
		return 0;
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", z.path);
	if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
		vfz_pump(&z);
		if (llen && write(c, line, llen) < 0) {
			/* closed already: fine */
		}
		vfz_pump(&z);
		vfz_kick(&z, VSOCK_RXQ);
		vfz_kick(&z, VSOCK_TXQ);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		shutdown(c, SHUT_WR);
		vfz_kick(&z, VSOCK_TXQ);
		vfz_kick(&z, VSOCK_RXQ);
	}
	if (c >= 0)
		close(c);
	vfz_down(&z, NULL, 0);
	return 0;
}
