/* The guest-memory map: which guest-physical ranges are backed by which host
 * memory. Every guest address a device touches goes through gmem_get(),
 * which returns a host pointer only when [gpa, gpa+len) lies wholly inside
 * one region (overflow-safe); anything else is NULL and the caller treats it
 * as a guest error. Guest memory is untrusted: read each field once. */
#ifndef VOIDBOX_GMEM_H
#define VOIDBOX_GMEM_H

#include <stdint.h>

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;       /* guest-physical start */
	uint64_t size;      /* bytes */
	uint8_t *hva;       /* host address of gpa */
	uint64_t vmm_addr;  /* the VMM's own virtual address of gpa (vhost-user
			       ring addresses are given in it); 0 if none */
	void *map_base;     /* what to munmap (NULL: not ours) */
	uint64_t map_len;
};

struct gmem {
	unsigned n;
	struct gmem_region r[GMEM_MAX_REGIONS];
};

/* Host pointer for guest-physical [gpa, gpa+len), or NULL. len may be 0. */
void *gmem_get(const struct gmem *m, uint64_t gpa, uint64_t len);
/* Host pointer for the VMM-virtual range [va, va+len), or NULL. */
void *gmem_vmm_get(const struct gmem *m, uint64_t va, uint64_t len);
/* Adds a region; refuses overlap and more than GMEM_MAX_REGIONS.
 * Returns 0 or -EINVAL/-ENOSPC. */
int gmem_add(struct gmem *m, const struct gmem_region *r);
/* Unmaps the regions this map owns and empties it. */
void gmem_clear(struct gmem *m);

#endif
