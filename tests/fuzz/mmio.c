/* Fuzz target: the virtio-mmio transport (kvm/mmio.c) driven by a hostile
 * guest's register accesses, with the virtio-net back end behind it (so
 * DRIVER_OK starts a real device and QueueNotify runs its TX). Input: a
 * count K, K accesses of 7 bytes (kind: write bit and size 1/2/4/8;
 * offset in the 512-byte window; value), then guest memory for the rings
 * the accesses place. The device loop runs after each access, as the I/O
 * thread would. */
#include "base/loop.h"
#include "fuzz.h"
#include "kvm/mmio.h"
#include "virtio/net.h"

static int out(void *ctx, const uint8_t *frame, size_t len)
{
	return 0;
}

static void rx_ready(void *ctx)
{
}

static const struct vnet_ops ops = { .output = out, .rx_ready = rx_ready };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vnet n;
	static struct mmio_bus bus;
	static struct mmio_dev m;
	struct vnet_cfg cfg = { .mac = { 2, 0, 0, 0, 0, 1 }, .mtu = 1500 };
	struct fz f = { data, size };
	unsigned k = fz_u8(&f) % 64;
	const uint8_t *acc;
	size_t alen = fz_take(&f, (size_t)k * 7, &acc);
	struct fz_guest g;
	struct loop l;

	if (loop_init(&l))
		return 0;
	if (fz_guest_init(&g, f.p, f.n) || vnet_init(&n, &cfg, &ops, NULL) ||
	    mmio_bus_init(&bus, &l)) {
		fz_guest_fini(&g);
		loop_fini(&l);
		return 0;
	}
	if (mmio_dev_init(&m, &bus, vnet_vdev(&n), &g.map, 0xd0000000, 0x200, 5) == 0) {
		for (size_t i = 0; i + 7 <= alen; i += 7) {
			const uint8_t *a = acc + i;
			unsigned len = 1u << ((a[0] >> 1) & 3);
			uint64_t off = (uint64_t)(a[1] | a[2] << 8) % 0x200, v = 0;

			memcpy(&v, a + 3, 4);
			if (a[0] & 1)
				mmio_dev_write(&m, off, &v, len);
			else
				mmio_dev_read(&m, off, &v, len);
			/* the bus view too: an address anywhere */
			if (a[0] & 0x10)
				mmio_bus_access(&bus, 0xd0000000 + off + (a[0] & 0xe0), &v, len, a[0] & 1);
			for (int j = 0; j < 2; j++)
				loop_once(&l, 0);
		}
		mmio_dev_fini(&m);
	}
	mmio_bus_fini(&bus);
	fz_guest_fini(&g);
	loop_fini(&l);
	return 0;
}
