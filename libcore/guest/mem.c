/* Guest-memory map lookups; see guest/mem.h. */
#include "guest/mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* True when [a, a+alen) lies inside [b, b+blen), without overflow. */
static int range_inside(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a >= b && a - b <= blen && alen <= blen - (a - b);
}

void *gmem_get(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];
		if (range_inside(gpa, len, r->gpa, r->size))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

void *gmem_vmm_get(const struct gmem *m, uint64_t va, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];
		if (r->vmm_addr && range_inside(va, len, r->vmm_addr, r->size))
			return r->hva + (va - r->vmm_addr);
	}
	return NULL;
}

int gmem_add(struct gmem *m, const struct gmem_region *r)
{
	if (m->n >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	if (!r->size || r->gpa + r->size < r->gpa || !r->hva)
		return -EINVAL;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gmem_region *o = &m->r[i];
		if (r->gpa < o->gpa + o->size && o->gpa < r->gpa + r->size)
			return -EINVAL;
	}
	m->r[m->n++] = *r;
	return 0;
}

void gmem_clear(struct gmem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].map_base)
			munmap(m->r[i].map_base, m->r[i].map_len);
	memset(m, 0, sizeof(*m));
}
