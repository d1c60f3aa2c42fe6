/* Files built into the binary (mk/embed.sh writes the tables at build
 * time): the default image's skeleton list, its /etc files and its module
 * list, from the source tree's initramfs/ folder. Each is NUL-terminated
 * beyond its length, so text files can be read as strings. */
#ifndef VOIDBOX_EMBEDDED_H
#define VOIDBOX_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name;              /* path inside the folder: "etc/passwd" */
	const unsigned char *data;
	size_t len;
};

/* initramfs/'s files, ending with an entry whose name is NULL. */
extern const struct embedded_file initramfs_files[];

/* The file called name in the table, or NULL. */
const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name);

#endif
