/* Shared helpers of the back-end interface; see virtio/device.h. */
#include "virtio/device.h"

#include <stdio.h>

void vdev_fail(struct vdev *d, const char *why)
{
	if (d->failed)
		return;
	d->failed = true;
	if (d->on_fail)
		d->on_fail(d, why);
}
