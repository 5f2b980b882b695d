/*
 * usage.c — what the heap holds, read in one place, and giving free
 * memory back on request.
 *
 * The sampler's `T` lines (record/sampler.c) and the mallinfo family
 * (hooks/hook_mallinfo.c) both want the same figures: the counters, the
 * buddy's free lists, what the bins have handed out, the huge mappings.
 * Each part is read under its own lock, one at a time (never two at
 * once), with hs_busy set meanwhile so that a signal handler that
 * allocates goes to boot.c rather than wait for a lock we hold. The
 * figures are therefore each consistent, not consistent with each other
 * while other threads allocate.
 *
 * granted = bin slots out of their slabs (live or parked in a thread
 * cache) times their slot size, plus the pages of large blocks, plus
 * every huge mapping; held = arenas times 4 MiB plus every huge mapping
 * (cached ones included: they are still mapped). docs/TRACE-FORMAT.md
 * ("Samples") defines both for the trace.
 */
#include "alloc.h"

void hs_heap_usage(struct hs_heap_usage *u)
{
	int saved_busy = hs_busy;
	hs_busy = 1;
	struct hs_counters c;
	struct hs_buddy_stats b;
	struct hs_bins_usage bins;
	struct hs_huge_stats huge;
	hs_counters_read(&c);
	hs_buddy_stats(&b);
	hs_bins_usage(&bins);
	hs_huge_stats(&huge);
	uint64_t huge_mapped = hs_huge_mapped_bytes();
	hs_busy = saved_busy;

	u->allocs = c.allocs;
	u->frees = c.frees;
	u->live = c.live_bytes;
	u->peak = c.peak_bytes;
	u->arenas = b.arenas;
	u->arena_bytes = (uint64_t)b.arenas * HS_ARENA_SIZE;
	u->peak_arena_bytes = (uint64_t)b.peak_arenas * HS_ARENA_SIZE;
	u->free_pages = b.free_pages;
	u->dirty_pages = b.dirty_pages;
	u->free_blocks = 0;
	for (int o = 0; o < HS_NR_ORDERS; o++) {
		u->nr_free[o] = b.nr_free[o];
		u->free_blocks += b.nr_free[o];
	}
	uint64_t pages = (uint64_t)b.arenas * HS_ARENA_PAGES - b.free_pages;
	uint64_t large = pages > bins.slab_pages ? pages - bins.slab_pages : 0;
	u->granted = bins.granted + (large << HS_PAGE_SHIFT) + huge_mapped;
	u->held = u->arena_bytes + huge_mapped;
	u->huge_maps = huge.live;
	u->huge_bytes = huge.live_bytes;
	u->huge_peak_maps = huge.peak;
	u->huge_peak_bytes = huge.peak_bytes;
}

size_t hs_heap_trim(struct hs_tcache *tc, size_t keep_bytes)
{
	int saved_busy = hs_busy;
	hs_busy = 1;
	/* The caller's cached slots go back to their slabs first, so that
	 * slabs left empty return their pages to the buddy. */
	if (tc->state == 1)
		hs_tcache_flush_all(tc);
	size_t bytes = hs_huge_trim();
	bytes += hs_buddy_trim(keep_bytes >> HS_PAGE_SHIFT) << HS_PAGE_SHIFT;
	hs_busy = saved_busy;
	return bytes;
}
