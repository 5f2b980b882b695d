/*
 * pagemap.c — which 4 MiB granule of the address space is ours.
 *
 * A two-level radix tree over 48-bit user addresses: bits 47..35 pick a
 * leaf, bits 34..22 the entry. Leaves (64 KiB) are mmap'd when a granule
 * in their 32 GiB range is first registered and never freed, so a lookup
 * is two loads with no lock, safe against concurrent registration: leaves
 * are installed with a compare-and-swap, entries stored atomically.
 *
 * Why granules: arenas are exactly one granule and huge mappings are
 * granule aligned, so an address's granule alone names its owner.
 */
#include <sys/mman.h>

#include "alloc.h"

#define ADDR_BITS   HS_PAGEMAP_ADDR_BITS
#define LEAF_BITS   HS_PAGEMAP_LEAF_BITS
#define LEAF_LEN    ((size_t)1 << LEAF_BITS)
#define root        hs_pagemap_root

typedef hs_pagemap_leaf leaf_t;
/* The lookup, hs_pagemap_get, is inline in alloc.h. */
_Atomic(leaf_t *) hs_pagemap_root[HS_PAGEMAP_ROOT_LEN];

static leaf_t *leaf_for(uintptr_t g)
{
	__typeof__(&root[0]) slot = &root[g >> LEAF_BITS];
	leaf_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
	if (leaf)
		return leaf;
	void *m = mmap(NULL, sizeof(leaf_t), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	leaf_t *expect = NULL;
	if (!atomic_compare_exchange_strong(slot, &expect, (leaf_t *)m)) {
		munmap(m, sizeof(leaf_t));      /* another thread won the race */
		return expect;
	}
	return (leaf_t *)m;
}

/* Register (value != 0) or clear (value == 0) every granule of
 * [base, base+len). base must be granule aligned. */
bool hs_pagemap_set(const void *base, size_t len, uintptr_t value)
{
	uintptr_t first = (uintptr_t)base >> HS_ARENA_SHIFT;
	uintptr_t last = ((uintptr_t)base + len - 1) >> HS_ARENA_SHIFT;
	if (((uintptr_t)base + len - 1) >> ADDR_BITS)
		return false;
	for (uintptr_t g = first; g <= last; g++) {
		leaf_t *leaf = value ? leaf_for(g)
		               : atomic_load_explicit(&root[g >> LEAF_BITS], memory_order_acquire);
		if (!leaf) {
			if (value)
				return false;   /* no memory for a leaf */
			continue;               /* nothing registered there */
		}
		atomic_store_explicit(&(*leaf)[g & (LEAF_LEN - 1)], value, memory_order_release);
	}
	return true;
}
