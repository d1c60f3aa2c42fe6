/* A bounds-checked reader for 64-bit little-endian ELF files (x86-64
 * programs, shared libraries and kernel modules): section lookup by name
 * (a module's .modinfo) and the dynamic-linking facts of a program
 * (PT_INTERP, DT_NEEDED, DT_RUNPATH, DT_RPATH). Nothing in the file is
 * trusted; every offset is checked against its size. */
#ifndef VOIDBOX_ELF_H
#define VOIDBOX_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_NEEDED 128

struct elf_file {
	const uint8_t *d;
	size_t n;
	uint16_t type;       /* ET_EXEC, ET_DYN, ET_REL */
	uint16_t machine;    /* EM_X86_64 ... */
};

struct elf_dyn {
	char interp[256];    /* PT_INTERP, "" for a static program */
	const char *needed[ELF_MAX_NEEDED]; /* DT_NEEDED names, into the file */
	size_t n_needed;
	const char *runpath; /* DT_RUNPATH or NULL */
	const char *rpath;   /* DT_RPATH or NULL */
	int dynamic;         /* has a PT_DYNAMIC segment */
};

/* Checks the ELF header of d[0..n). Returns 0, or -ENOEXEC with *why set. */
int elf_open(const uint8_t *d, size_t n, struct elf_file *ef, const char **why);
/* Finds the section called name. Returns 0 with *p and *len set, -ENOENT when
 * there is none, -ENOEXEC (with *why) for a damaged section table. */
int elf_section(const struct elf_file *ef, const char *name, const uint8_t **p,
		size_t *len, const char **why);
/* Reads the program's interpreter and dynamic section. Returns 0 or
 * -ENOEXEC (with *why). */
int elf_dynamic(const struct elf_file *ef, struct elf_dyn *dyn, const char **why);

#endif
