/* Fuzz target: the ELF64 reader (image/elf.c) that mkinitramfs uses on
 * binaries and kernel modules: the header, a section by name (.modinfo),
 * the dynamic section (PT_INTERP, DT_NEEDED, DT_RUNPATH). The reader wants
 * 8-byte aligned data, so the input is copied to a fresh buffer of exactly
 * its size. */
#include "fuzz.h"
#include "image/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *d = malloc(size ? size : 1);
	struct elf_file ef;
	struct elf_dyn dyn;
	const uint8_t *p;
	const char *why;
	size_t len;

	if (!d)
		return 0;
	memcpy(d, data, size);
	if (elf_open(d, size, &ef, &why) == 0) {
		if (elf_section(&ef, ".modinfo", &p, &len, &why) == 0 && len && p[len - 1] == 0xff)
			why = "";
		elf_section(&ef, ".dynstr", &p, &len, &why);
		if (elf_dynamic(&ef, &dyn, &why) == 0) {
			for (size_t i = 0; i < dyn.n_needed; i++)
				(void)strlen(dyn.needed[i]);
			if (dyn.runpath)
				(void)strlen(dyn.runpath);
			if (dyn.rpath)
				(void)strlen(dyn.rpath);
		}
	}
	free(d);
	return 0;
}
