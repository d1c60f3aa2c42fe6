/* Finds what a dynamically linked program needs in order to run, the way
 * the glibc dynamic loader would: its ELF interpreter (PT_INTERP) and every
 * shared library it and its libraries name (DT_NEEDED), searched in
 * DT_RPATH (when there is no DT_RUNPATH), DT_RUNPATH ($ORIGIN expanded),
 * the directories of /etc/ld.so.conf (with its include lines), then the
 * standard multiarch and default directories. A candidate of the wrong ELF
 * class or machine is skipped, as ld.so does. */
#ifndef VOIDBOX_LDSO_H
#define VOIDBOX_LDSO_H

#include <stddef.h>

struct ldso_set {
	char **paths;        /* host paths: the interpreter, then the libraries */
	size_t n, cap;
};

/* Appends to set the interpreter and libraries prog needs (paths already
 * in set are not added again). A static program adds nothing. Returns 0,
 * -ENOENT naming the missing library and who needs it, -ENOEXEC for a
 * damaged ELF file, or another -errno; message in err. */
int ldso_collect(const char *prog, struct ldso_set *set, char *err, size_t errlen);
void ldso_set_free(struct ldso_set *set);
/* Returns 1 when path is a dynamically linked ELF program (has PT_INTERP),
 * 0 when static or not ELF, -errno when unreadable. */
int ldso_is_dynamic(const char *path);

#endif
