/* Fuzz target: the split virtqueue, device side (virtio/queue.c). The
 * input is 3 control bytes (queue size, EVENT_IDX, INDIRECT_DESC) and then
 * guest memory: rings, descriptors, indirect tables and buffers as the
 * fuzzer writes them. Chains are popped, read, written, pushed and
 * signalled as a back end would; one is put back. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_chain c;
	static uint8_t buf[1 << 16];
	struct fz f = { data, size };
	struct fz_guest g;
	struct vdev d;
	uint8_t lg = fz_u8(&f), ev = fz_u8(&f), ind = fz_u8(&f);

	memset(&d, 0, sizeof(d));
	if (fz_guest_init(&g, f.p, f.n))
		return 0;
	d.vq[0].event_idx = ev & 1;
	d.vq[0].indirect = ind & 1;
	if (fz_queue(&d, &g, 0, lg) == 0) {
		struct vq *q = &d.vq[0];
		bool unpopped = false;

		vq_set_notify(q, ev & 2);
		for (int i = 0; i < 300 && vq_has_avail(q); i++) {
			int r = vq_pop(q, &c);
			uint32_t n;

			if (r <= 0)
				break;
			if (!unpopped && (ind & 2)) { /* "no room downstream": again later */
				vq_unpop(q);
				unpopped = true;
				continue;
			}
			n = vq_chain_read(&c, 0, buf, c.out_len < sizeof(buf) ? c.out_len : sizeof(buf));
			n = vq_chain_write(&c, ev >> 4, buf, n);
			if (ev & 4) {
				vq_fill(q, 0, c.head, n);
				vq_publish(q, 1);
			} else {
				vq_push(q, c.head, n);
			}
			vq_signal(q);
		}
		vq_kick_again(q);
		vq_reset(q);
	}
	fz_guest_fini(&g);
	return 0;
}
