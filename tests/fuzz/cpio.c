/* Fuzz target: the cpio "newc" reader (image/cpio.c) over any bytes: every
 * entry until the trailer or an error, each name checked for path safety
 * and its data read to the end (ASan sees any overrun). */
#include "fuzz.h"
#include "image/cpio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpio_reader r;
	struct cpio_entry e;
	const uint8_t *d;
	char err[256];
	unsigned sum = 0;

	cpio_reader_init(&r, data, size);
	for (int i = 0; i < 10000 && cpio_next(&r, &e, &d, err, sizeof(err)) == 1; i++) {
		sum += (unsigned)cpio_name_is_safe(e.name) + (unsigned)strlen(e.name);
		for (uint32_t k = 0; d && k < e.size; k++)
			sum += d[k];
	}
	return (int)(sum & 0);
}
