/* Fuzz target: the bzImage header parser (image/bzimage.c) that `run`
 * applies to --kernel files and the KVM monitor loads from. */
#include "fuzz.h"
#include "image/bzimage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage bz;
	const char *why = NULL;

	if (bzimage_parse(data, size, &bz, &why) == 0 && bz.setup_size > size)
		abort(); /* a header the parser took must lie inside the file */
	return 0;
}
