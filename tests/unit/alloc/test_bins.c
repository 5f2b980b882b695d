/*
 * test_bins.c — size classes and slabs (bins.c), linked with the core only.
 *
 * Contracts from internal.h and bins.c:
 *   hs_size_to_bin(n): the smallest bin whose slot holds a header plus n
 *   user bytes, for every n <= HS_BIN_MAX_USER; classes 32..128 by 16, then
 *   four per doubling to 32768, so past 128 rounding wastes < 25%.
 *   Slabs are page-exact buddy blocks (PG_SLAB) of equal slots; a slot
 *   carved for the first time carries a FREED header; a slab whose last
 *   slot comes back is returned to the buddy unless it is its bin's only
 *   partial slab.
 * Each test runs in a fresh forked child: bins and buddy start empty.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"

START_TEST(slot_sizes_table)
{
	ck_assert_uint_eq(hs_bin_slot_size[HS_NR_BINS - 1], HS_BIN_MAX_SLOT);
	ck_assert_uint_eq(HS_BIN_MAX_USER, HS_BIN_MAX_SLOT - HS_HEADER_SIZE);
	for (unsigned b = 0; b < HS_NR_BINS; b++) {
		/* slabs start page aligned, so 16-byte slots keep every user
		 * pointer 16-byte aligned */
		ck_assert_msg(hs_bin_slot_size[b] % HS_ALIGN == 0, "bin %u slot %u", b,
		              hs_bin_slot_size[b]);
		ck_assert_msg(hs_bin_slot_size[b] >= HS_HEADER_SIZE + sizeof(void *),
		              "bin %u cannot hold a free-list link", b);
		if (b)
			ck_assert_msg(hs_bin_slot_size[b] > hs_bin_slot_size[b - 1],
			              "slot sizes not increasing at bin %u", b);
	}
}
END_TEST

START_TEST(size_to_bin_contract)
{
	unsigned hit[HS_NR_BINS] = { 0 };
	unsigned prev = 0;
	for (size_t n = 0; n <= HS_BIN_MAX_USER; n++) {
		unsigned b = hs_size_to_bin(n);
		size_t need = n + HS_HEADER_SIZE;
		/* one check per n, failing ones only: ck_assert costs a message */
		if (b >= HS_NR_BINS)
			ck_abort_msg("hs_size_to_bin(%zu) = %u, out of range", n, b);
		if (hs_bin_slot_size[b] < need)
			ck_abort_msg("hs_size_to_bin(%zu) = bin %u, slot %u < %zu", n, b,
			             hs_bin_slot_size[b], need);
		if (b > 0 && hs_bin_slot_size[b - 1] >= need)
			ck_abort_msg("hs_size_to_bin(%zu) = bin %u, but bin %u (slot %u) fits: not the smallest",
			             n, b, b - 1, hs_bin_slot_size[b - 1]);
		if (b < prev)
			ck_abort_msg("not monotonic: bin(%zu) = %u < bin(%zu) = %u", n, b, n - 1, prev);
		size_t waste = hs_bin_slot_size[b] - need;
		/* (up to 32 bytes is the smallest slot: no waste bound there) */
		if (need > 128 ? waste * 4 >= need : need > 32 && waste >= 16)
			ck_abort_msg("hs_size_to_bin(%zu): slot %u wastes %zu bytes", n, hs_bin_slot_size[b],
			             waste);
		hit[b]++;
		prev = b;
	}
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		ck_assert_msg(hit[b] > 0, "bin %u (slot %u) is never chosen", b, hs_bin_slot_size[b]);
	ck_assert_uint_eq(hs_size_to_bin(HS_BIN_MAX_USER), HS_NR_BINS - 1);
	ck_assert_uint_eq(hs_size_to_bin(0), 0);
}
END_TEST

static struct hs_slab *slab_of(void *slot)
{
	struct hs_page *pg = hs_buddy_block_of(slot, NULL);
	return pg && pg->state == PG_SLAB ? pg->slab : NULL;
}

/* Fill one slab of every bin with hs_bins_take_slot, overflow into a
 * second, then empty the first with hs_bins_release_slot. */
START_TEST(slab_fill_and_empty)
{
	unsigned bin = (unsigned)_i;
	uint32_t size = hs_bin_slot_size[bin];
	void *first = hs_bins_take_slot(bin);
	ck_assert_ptr_nonnull(first);
	struct hs_slab *s = slab_of(first);
	ck_assert_msg(s != NULL, "bin %u: slot %p is not in a PG_SLAB block", bin, first);
	ck_assert_uint_eq(s->bin, bin);
	ck_assert_uint_eq(s->slot_size, size);
	ck_assert_ptr_eq(first, s->base);
	struct hs_arena *a;
	struct hs_page *pg = hs_buddy_block_of(s->base, &a);
	ck_assert_ptr_eq(hs_page_addr(a, pg), s->base);
	size_t npages = pg->npages;
	size_t bytes = npages << HS_PAGE_SHIFT;
	ck_assert_msg(s->capacity == bytes / size, "bin %u: capacity %u in %zu bytes of %u-byte slots",
	              bin, s->capacity, bytes, size);
	ck_assert_msg(s->capacity >= 8 && bytes >= 16 * 1024, "bin %u: slab of %u slots, %zu bytes",
	              bin, s->capacity, bytes);

	uint32_t cap = s->capacity;
	void **slots = calloc(cap, sizeof *slots);
	slots[0] = first;
	for (uint32_t k = 1; k < cap; k++) {
		slots[k] = hs_bins_take_slot(bin);
		if (slab_of(slots[k]) != s)
			ck_abort_msg("bin %u: slot %u of %u came from another slab", bin, k, cap);
	}
	for (uint32_t k = 0; k < cap; k++) {
		char *p = slots[k];
		size_t off = (size_t)(p - s->base);
		struct hs_header *h = (struct hs_header *)p;
		if (off % size || off / size >= cap)
			ck_abort_msg("bin %u: slot %p not on the slab's slot grid", bin, p);
		if ((uintptr_t)hs_user_of(h) % HS_ALIGN)
			ck_abort_msg("bin %u: user pointer of slot %u misaligned", bin, k);
		if (!hs_header_valid(h) || h->state != HS_FREED || h->bin != bin)
			ck_abort_msg("bin %u: fresh slot %u lacks a sealed FREED header", bin, k);
		if (hs_bins_slot_of(pg, p + size - 1) != p || hs_bins_slot_of(pg, p + 17) != p)
			ck_abort_msg("bin %u: hs_bins_slot_of misses slot %u", bin, k);
		memset(p + HS_HEADER_SIZE, 0xAB, size - HS_HEADER_SIZE);   /* ours to write */
	}
	/* all distinct: the grid check plus a count of distinct offsets */
	char *seen = calloc(cap, 1);
	for (uint32_t k = 0; k < cap; k++) {
		size_t i = (size_t)((char *)slots[k] - s->base) / size;
		if (seen[i]++)
			ck_abort_msg("bin %u: slot %zu handed out twice", bin, i);
	}
	free(seen);
	ck_assert_uint_eq(s->used, cap);
	ck_assert_uint_eq(s->carved, cap);
	ck_assert_msg(!s->in_partial, "bin %u: full slab still on the partial list", bin);

	/* full: the next slot comes from a new slab */
	void *other = hs_bins_take_slot(bin);
	struct hs_slab *s2 = slab_of(other);
	ck_assert_msg(s2 != NULL && s2 != s, "bin %u: slot past a full slab from the same slab", bin);

	struct hs_buddy_stats before, after;
	hs_buddy_stats(&before);
	for (uint32_t k = 0; k < cap; k++)
		hs_bins_release_slot(slots[k]);
	hs_buddy_stats(&after);
	/* empty, and not the only partial slab (s2 is): back to the buddy */
	ck_assert_msg(after.free_pages == before.free_pages + npages,
	              "bin %u: empty slab not returned (free pages %zu -> %zu, slab %zu pages)",
	              bin, before.free_pages, after.free_pages, npages);
	ck_assert_msg(slab_of(first) == NULL, "bin %u: emptied slab still a PG_SLAB", bin);

	/* the last slab is kept even when empty */
	hs_bins_release_slot(other);
	ck_assert_msg(slab_of(other) == s2, "bin %u: only partial slab was released", bin);
	ck_assert_uint_eq(s2->used, 0);
	free(slots);
}
END_TEST

/* Thread cache: a refill hands one slot out and caches more; a flush
 * gives them all back; counts and lists agree throughout. */
START_TEST(tcache_refill_flush)
{
	static struct hs_tcache tc;
	enum { MAXSLABS = 64 };
	for (unsigned bin = 0; bin < HS_NR_BINS; bin += 3) {
		void *one = hs_bins_refill(&tc, bin);
		ck_assert_ptr_nonnull(one);
		struct hs_tcache_bin *tb = &tc.bins[bin];
		ck_assert_msg(tb->limit > 0, "bin %u: refill left limit 0", bin);
		ck_assert_msg(tb->count <= tb->limit, "bin %u: %u cached over limit %u", bin,
		              tb->count, tb->limit);
		/* the batch may span slabs: remember one slot of each */
		void *rep[MAXSLABS] = { one };
		unsigned nrep = 1;
		uint32_t n = 0;
		for (void *p = tb->head; p && n <= tb->count; p = hs_slot_next(p), n++) {
			if (p == one)
				ck_abort_msg("bin %u: the slot handed out is also cached", bin);
			struct hs_header *h = p;
			if (!hs_header_valid(h) || h->state != HS_FREED || h->bin != bin)
				ck_abort_msg("bin %u: cached slot %p without a FREED header", bin, p);
			struct hs_slab *sp = slab_of(p);
			if (!sp)
				ck_abort_msg("bin %u: cached slot %p not in a slab", bin, p);
			unsigned k = 0;
			while (k < nrep && slab_of(rep[k]) != sp)
				k++;
			if (k == nrep && nrep < MAXSLABS)
				rep[nrep++] = p;
		}
		ck_assert_msg(n == tb->count, "bin %u: list holds %u, count says %u", bin, n, tb->count);
		/* cached slots count as used in their slabs */
		uint32_t used = 0;
		for (unsigned k = 0; k < nrep; k++)
			used += slab_of(rep[k])->used;
		ck_assert_msg(used == n + 1, "bin %u: slabs say %u used, %u cached + 1 out", bin, used, n);

		hs_bins_flush(&tc, bin, 0);
		ck_assert_msg(tb->head == NULL && tb->count == 0, "bin %u: flush to 0 left %u", bin,
		              tb->count);
		struct hs_slab *mine = slab_of(one);
		ck_assert_msg(mine && mine->used == 1, "bin %u: after flush the slab of the slot out "
		              "says used %u", bin, mine ? mine->used : 0);
		for (unsigned k = 1; k < nrep; k++) {
			struct hs_slab *sp = slab_of(rep[k]);   /* NULL: released */
			ck_assert_msg(!sp || sp == mine || sp->used == 0,
			              "bin %u: a flushed slab still says used %u", bin, sp->used);
		}
		hs_bins_release_slot(one);
		ck_assert_msg(!slab_of(one) || slab_of(one)->used == 0, "bin %u: release left used", bin);
	}
}
END_TEST

/* An aligned block (heap.c alloc_bin) takes its slot from the thread cache
 * like the inline path does: the slot an aligned free just cached comes
 * straight back, and the cache neither grows nor pulls slots from the
 * slabs. (It used to refill on every aligned allocation: half a cache of
 * slots out of the slabs, flushed back by the next frees.) */
START_TEST(aligned_uses_tcache)
{
	static const size_t aligns[] = { 32, 64, 256, 1024, 2048 };
	for (unsigned k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
		size_t align = aligns[k];
		enum hs_where w;
		void *p = hs_heap_alloc(100, align, HS_KIND_ALIGNED, 0);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg((uintptr_t)p % align == 0, "%p not aligned to %zu", p, align);
		struct hs_header *h = hs_heap_lookup(p, &w);
		ck_assert_msg(h && w == HS_IN_BIN, "align %zu: not a bin block", align);
		unsigned bin = h->bin;
		struct hs_tcache_bin *tb = &hs_tc.bins[bin];
		struct hs_slab *s = slab_of(p);
		ck_assert_ptr_nonnull(s);
		uint32_t cached = tb->count, used = s->used;
		for (int i = 0; i < 1000; i++) {
			hs_heap_release(p, h, w);
			ck_assert_uint_eq(tb->count, cached + 1);
			void *q = hs_heap_alloc(100, align, HS_KIND_ALIGNED, 0);
			ck_assert_msg(q == p, "align %zu round %d: got %p, the cached slot gave %p",
			              align, i, q, p);
			ck_assert_uint_eq(tb->count, cached);
			ck_assert_uint_eq(s->used, used);
			h = hs_heap_lookup(q, &w);
			ck_assert_ptr_nonnull(h);
		}
		hs_heap_release(p, h, w);
	}
}
END_TEST

/* A canary never costs a page (issue #17): with checks on, a page block
 * whose user bytes end on a page boundary (or less than a canary before
 * one) has none and takes no more pages than without checks; one with 8
 * bytes of slack keeps it. The same for a huge mapping. */
START_TEST(canary_never_costs_a_page)
{
	size_t saved = hs_guard;
	hs_guard = HS_CANARY;
	struct { size_t size; unsigned guard; } c[] = {
		{ 16 * HS_PAGE_SIZE - HS_HEADER_SIZE, 0 },      /* ends on a page */
		{ 16 * HS_PAGE_SIZE - HS_HEADER_SIZE - 4, 0 },  /* 4 bytes short  */
		{ 16 * HS_PAGE_SIZE - HS_HEADER_SIZE - 8, 1 },  /* the canary fits */
		{ 9 * HS_PAGE_SIZE, 1 },                        /* slack after it  */
	};
	for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
		enum hs_where w;
		void *p = hs_heap_alloc(c[i].size, HS_ALIGN, HS_KIND_MALLOC, 0);
		struct hs_header *h = hs_heap_lookup(p, &w);
		ck_assert(h && w == HS_IN_BUDDY);
		ck_assert_msg(h->guard == c[i].guard, "size %zu: guard %u, want %u", c[i].size,
		              (unsigned)h->guard, c[i].guard);
		struct hs_page *pg = hs_buddy_block_of(h, NULL);
		size_t want = (HS_HEADER_SIZE + c[i].size + HS_PAGE_SIZE - 1) / HS_PAGE_SIZE;
		ck_assert_msg(pg->npages == want, "size %zu: %u pages, want %zu", c[i].size,
		              pg->npages, want);
		hs_heap_release(p, h, w);
	}
	/* a huge mapping: its user bytes end where its last page does */
	size_t off = hs_huge_user_offset(HS_ALIGN);
	size_t big = 2 * HS_ARENA_SIZE - off;
	enum hs_where w;
	void *p = hs_heap_alloc(big, HS_ALIGN, HS_KIND_MALLOC, 0);
	struct hs_header *h = hs_heap_lookup(p, &w);
	ck_assert(h && w == HS_IN_HUGE && h->guard == 0);
	ck_assert_uint_eq(hs_huge_capacity(p), big);
	hs_heap_release(p, h, w);
	hs_guard = saved;
}
END_TEST

/* realloc growth past 16 KiB leaves the bins for page-exact buddy blocks
 * (heap.c, GROW_TO_PAGES), which grow in place when the pages after them
 * are free (test_buddy.c) and shrink in place down to 16 KiB. Below that
 * growth stays in bins, and a malloc of any bin size gets a slot. */
START_TEST(realloc_growth_uses_pages)
{
	enum hs_where w;
	unsigned char *p = hs_heap_alloc(3000, HS_ALIGN, HS_KIND_MALLOC, 0);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < 3000; i++)
		p[i] = (unsigned char)(i * 13);
	ck_assert(hs_heap_lookup(p, &w) && w == HS_IN_BIN);

	/* growth below 16 KiB: another bin */
	unsigned char *q = hs_heap_realloc(p, 12000, 0);
	ck_assert(q && hs_heap_lookup(q, &w) && w == HS_IN_BIN);

	/* past 16 KiB: pages, though a 20 KiB slot would hold it */
	q = hs_heap_realloc(q, 20000, 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_msg(hs_heap_lookup(q, &w) && w == HS_IN_BUDDY,
	              "realloc to 20000 bytes left the block in a bin");
	for (size_t i = 0; i < 3000; i++)
		ck_assert_msg(q[i] == (unsigned char)(i * 13), "byte %zu lost", i);

	/* growing on: pages still, moved or not; shrinking to 17000: in place */
	unsigned char *r = hs_heap_realloc(q, 40000, 0);
	ck_assert(r && hs_heap_lookup(r, &w) && w == HS_IN_BUDDY);
	q = r;
	r = hs_heap_realloc(r, 17000, 0);
	ck_assert_msg(r == q && hs_heap_lookup(r, &w) && w == HS_IN_BUDDY,
	              "shrink 40000 -> 17000 moved the block");

	/* below 16 KiB it goes back to a bin */
	r = hs_heap_realloc(r, 1000, 0);
	ck_assert(r && hs_heap_lookup(r, &w) && w == HS_IN_BIN);
	for (size_t i = 0; i < 1000; i++)
		ck_assert_msg(r[i] == (unsigned char)(i * 13), "byte %zu lost", i);

	/* a plain malloc of 20000 bytes is a bin block */
	void *m = hs_heap_alloc(20000, HS_ALIGN, HS_KIND_MALLOC, 0);
	ck_assert(m && hs_heap_lookup(m, &w) && w == HS_IN_BIN);
	struct hs_header *h = hs_heap_lookup(m, &w);
	hs_heap_release(m, h, w);
	h = hs_heap_lookup(r, &w);
	hs_heap_release(r, h, w);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("bins");
	TCase *t = tcase_create("bins");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, slot_sizes_table);
	tcase_add_test(t, size_to_bin_contract);
	tcase_add_loop_test(t, slab_fill_and_empty, 0, HS_NR_BINS);
	tcase_add_test(t, tcache_refill_flush);
	tcase_add_test(t, aligned_uses_tcache);
	tcase_add_test(t, realloc_growth_uses_pages);
	tcase_add_test(t, canary_never_costs_a_page);
	suite_add_tcase(su, t);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
