/* ELF64 reader; see image/elf.h. The dynamic section's string offsets are
 * relative to DT_STRTAB, a virtual address, which is mapped back to a file
 * offset through the PT_LOAD segment that holds it. */
#include "image/elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

/* Fails with reason w. */
static int elf_bad(const char **why, const char *w)
{
	if (why)
		*why = w;
	return -ENOEXEC;
}

/* Returns 1 when [off, off+len) lies inside the file. */
static int in_file(const struct elf_file *ef, uint64_t off, uint64_t len)
{
	return off <= ef->n && len <= ef->n - off;
}

static const Elf64_Ehdr *ehdr(const struct elf_file *ef) { return (const Elf64_Ehdr *)ef->d; }

/* The section and program header tables, or NULL when the header says
 * there are none: e_shoff/e_phoff are checked against the file only when
 * their count is non-zero, so the pointer is formed only then (d + a wild
 * offset is undefined behaviour even unused). */
static const Elf64_Shdr *shdrs(const struct elf_file *ef)
{
	const Elf64_Ehdr *h = ehdr(ef);

	return h->e_shnum ? (const Elf64_Shdr *)(ef->d + h->e_shoff) : NULL;
}

static const Elf64_Phdr *phdrs(const struct elf_file *ef)
{
	const Elf64_Ehdr *h = ehdr(ef);

	return h->e_phnum ? (const Elf64_Phdr *)(ef->d + h->e_phoff) : NULL;
}

int elf_open(const uint8_t *d, size_t n, struct elf_file *ef, const char **why)
{
	const Elf64_Ehdr *h = (const Elf64_Ehdr *)d;

	memset(ef, 0, sizeof(*ef));
	if (n < sizeof(*h) || memcmp(d, ELFMAG, SELFMAG))
		return elf_bad(why, "not an ELF file");
	if (d[EI_CLASS] != ELFCLASS64 || d[EI_DATA] != ELFDATA2LSB)
		return elf_bad(why, "not a 64-bit little-endian ELF file");
	if ((uintptr_t)d % 8)
		return elf_bad(why, "ELF image not aligned in memory");
	ef->d = d;
	ef->n = n;
	ef->type = h->e_type;
	ef->machine = h->e_machine;
	if (h->e_phnum && (h->e_phentsize != sizeof(Elf64_Phdr) ||
			   !in_file(ef, h->e_phoff, (uint64_t)h->e_phnum * sizeof(Elf64_Phdr)) ||
			   h->e_phoff % 8))
		return elf_bad(why, "program headers outside the file");
	if (h->e_shnum && (h->e_shentsize != sizeof(Elf64_Shdr) ||
			   !in_file(ef, h->e_shoff, (uint64_t)h->e_shnum * sizeof(Elf64_Shdr)) ||
			   h->e_shoff % 8))
		return elf_bad(why, "section headers outside the file");
	return 0;
}

int elf_section(const struct elf_file *ef, const char *name, const uint8_t **p,
		size_t *len, const char **why)
{
	const Elf64_Ehdr *h = ehdr(ef);
	const Elf64_Shdr *sh = shdrs(ef);
	const Elf64_Shdr *strs;
	size_t nl = strlen(name);

	if (!sh)
		return -ENOENT;
	if (h->e_shstrndx >= h->e_shnum)
		return elf_bad(why, "bad section-name table index");
	strs = &sh[h->e_shstrndx];
	if (!in_file(ef, strs->sh_offset, strs->sh_size))
		return elf_bad(why, "section-name table outside the file");
	for (unsigned i = 0; i < h->e_shnum; i++) {
		if (sh[i].sh_name >= strs->sh_size || strs->sh_size - sh[i].sh_name < nl + 1)
			continue;
		if (memcmp(ef->d + strs->sh_offset + sh[i].sh_name, name, nl + 1))
			continue;
		if (sh[i].sh_type == SHT_NOBITS || !in_file(ef, sh[i].sh_offset, sh[i].sh_size))
			return elf_bad(why, "section data outside the file");
		*p = ef->d + sh[i].sh_offset;
		*len = sh[i].sh_size;
		return 0;
	}
	return -ENOENT;
}

/* Maps virtual address va to a file offset through the PT_LOAD segments.
 * Returns 0 or -1. */
static int va_to_off(const struct elf_file *ef, uint64_t va, uint64_t *off)
{
	const Elf64_Ehdr *h = ehdr(ef);
	const Elf64_Phdr *ph = phdrs(ef);

	for (unsigned i = 0; ph && i < h->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || va < ph[i].p_vaddr ||
		    va - ph[i].p_vaddr >= ph[i].p_filesz)
			continue;
		*off = ph[i].p_offset + (va - ph[i].p_vaddr);
		return 0;
	}
	return -1;
}

int elf_dynamic(const struct elf_file *ef, struct elf_dyn *dyn, const char **why)
{
	const Elf64_Ehdr *h = ehdr(ef);
	const Elf64_Phdr *ph = phdrs(ef);
	const Elf64_Phdr *dph = NULL;
	const Elf64_Dyn *dt;
	uint64_t strtab = 0, strsz = 0, stroff, ndyn;
	int have_strtab = 0;

	memset(dyn, 0, sizeof(*dyn));
	for (unsigned i = 0; ph && i < h->e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP) {
			if (!in_file(ef, ph[i].p_offset, ph[i].p_filesz) || ph[i].p_filesz < 2 ||
			    ph[i].p_filesz > sizeof(dyn->interp) ||
			    ef->d[ph[i].p_offset + ph[i].p_filesz - 1] != 0)
				return elf_bad(why, "bad PT_INTERP");
			memcpy(dyn->interp, ef->d + ph[i].p_offset, ph[i].p_filesz);
			if (strlen(dyn->interp) == 0)
				return elf_bad(why, "empty PT_INTERP");
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dph = &ph[i];
		}
	}
	if (!dph)
		return 0;
	dyn->dynamic = 1;
	if (!in_file(ef, dph->p_offset, dph->p_filesz) || dph->p_offset % 8)
		return elf_bad(why, "PT_DYNAMIC outside the file");
	dt = (const Elf64_Dyn *)(ef->d + dph->p_offset);
	ndyn = dph->p_filesz / sizeof(*dt);
	for (uint64_t i = 0; i < ndyn && dt[i].d_tag != DT_NULL; i++) {
		if (dt[i].d_tag == DT_STRTAB) {
			strtab = dt[i].d_un.d_ptr;
			have_strtab = 1;
		} else if (dt[i].d_tag == DT_STRSZ) {
			strsz = dt[i].d_un.d_val;
		}
	}
	if (!have_strtab || !strsz)
		return elf_bad(why, "dynamic section without a string table");
	if (va_to_off(ef, strtab, &stroff) || !in_file(ef, stroff, strsz) ||
	    ef->d[stroff + strsz - 1] != 0)
		return elf_bad(why, "dynamic string table outside the file");
	for (uint64_t i = 0; i < ndyn && dt[i].d_tag != DT_NULL; i++) {
		const char *s;

		if (dt[i].d_tag != DT_NEEDED && dt[i].d_tag != DT_RUNPATH && dt[i].d_tag != DT_RPATH)
			continue;
		if (dt[i].d_un.d_val >= strsz)
			return elf_bad(why, "dynamic string offset outside the table");
		s = (const char *)ef->d + stroff + dt[i].d_un.d_val;
		if (dt[i].d_tag == DT_RUNPATH) {
			dyn->runpath = s;
		} else if (dt[i].d_tag == DT_RPATH) {
			dyn->rpath = s;
		} else {
			if (dyn->n_needed == ELF_MAX_NEEDED)
				return elf_bad(why, "too many DT_NEEDED entries");
			dyn->needed[dyn->n_needed++] = s;
		}
	}
	return 0;
}
