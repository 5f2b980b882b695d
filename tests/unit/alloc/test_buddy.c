/*
 * test_buddy.c — the page backend (buddy.c) against a model.
 *
 * Linked with the preload core only: this process's own malloc is glibc's,
 * and nothing but the test calls the buddy, so its state is exactly what
 * the test did (each test runs in a fresh forked child: no arenas yet).
 *
 * The invariants checked after every step come from internal.h/buddy.c:
 *   - a block is page aligned, inside an arena, and no two live blocks
 *     overlap (pages are tagged with their owner and re-read);
 *   - free pages + allocated pages == arenas * HS_ARENA_PAGES;
 *   - walking an arena's page array meets only free heads (aligned to
 *     their order, never next to a free buddy of the same order: merging
 *     is complete) and block heads followed by their PG_TAIL pages, and
 *     ends exactly at HS_ARENA_PAGES;
 *   - the free heads per order are what hs_buddy_stats says (buddyinfo);
 *   - hs_buddy_resize grows exactly when the pages after the block are
 *     free, and shrinking always works;
 *   - freeing everything leaves whole free arenas, at most one kept
 *     (buddy.c: KEEP_ARENAS).
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
#include "alloc/buddy_aligned.h"

#define KEPT_WHOLE_ARENAS 1     /* buddy.c's KEEP_ARENAS, as documented */

struct live {
	char  *addr;
	size_t npages;
	bool   slab;
};

static uint64_t rng = 1;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* ---- the walk ----------------------------------------------------------- */

struct walk {
	size_t arenas, free_pages, used_pages;
	size_t nr_free[HS_NR_ORDERS];
	const char *error;              /* first inconsistency, or NULL */
	char errbuf[160];
};

static void walk_fail(struct walk *w, const char *what, const struct hs_arena *a, size_t i)
{
	if (!w->error) {
		snprintf(w->errbuf, sizeof w->errbuf, "arena %u page %zu: %s", a->index, i, what);
		w->error = w->errbuf;
	}
}

static void walk_arena(struct hs_arena *a, void *ctx)
{
	struct walk *w = ctx;
	size_t arena_free = 0;
	w->arenas++;
	if ((uintptr_t)a->base % HS_ARENA_SIZE)
		walk_fail(w, "arena base not aligned to its size", a, 0);
	if (hs_pagemap_get(a->base) != (uintptr_t)a ||
	    hs_pagemap_get(a->base + HS_ARENA_SIZE - 1) != (uintptr_t)a)
		walk_fail(w, "pagemap does not name the arena", a, 0);
	size_t i = 0;
	while (i < HS_ARENA_PAGES) {
		struct hs_page *pg = &a->pages[i];
		if (pg->state == PG_FREE) {
			size_t len = (size_t)1 << pg->order;
			if (pg->order > HS_MAX_ORDER) {
				walk_fail(w, "free block order too big", a, i);
				return;
			}
			if (i % len)
				walk_fail(w, "free block not aligned to its order", a, i);
			if (i + len > HS_ARENA_PAGES) {
				walk_fail(w, "free block runs past the arena", a, i);
				return;
			}
			for (size_t k = 1; k < len; k++)
				if (a->pages[i + k].state != PG_UNUSED)
					walk_fail(w, "page inside a free block is not PG_UNUSED", a, i + k);
			if (pg->order < HS_MAX_ORDER) {
				struct hs_page *b = &a->pages[i ^ len];
				if (b->state == PG_FREE && b->order == pg->order)
					walk_fail(w, "free buddies of equal order not merged", a, i);
			}
			w->nr_free[pg->order]++;
			arena_free += len;
			i += len;
		} else if (pg->state == PG_LARGE || pg->state == PG_SLAB) {
			if (pg->npages == 0 || i + pg->npages > HS_ARENA_PAGES) {
				walk_fail(w, "block length out of range", a, i);
				return;
			}
			for (size_t k = 1; k < pg->npages; k++)
				if (a->pages[i + k].state != PG_TAIL || a->pages[i + k].head != i)
					walk_fail(w, "block page is not a PG_TAIL naming its head", a, i + k);
			w->used_pages += pg->npages;
			i += pg->npages;
		} else {
			walk_fail(w, "page is neither a free head nor a block head", a, i);
			return;
		}
	}
	if (a->free_pages != arena_free)
		walk_fail(w, "arena->free_pages disagrees with its free blocks", a, 0);
	w->free_pages += arena_free;
}

/* Everything the module promises about its own state, plus the model. */
static void check_all(struct live *lv, size_t n)
{
	/* (ck_abort_msg on failure only: a passing ck_assert costs a message
	 * to the parent process, and this runs thousands of times) */
	struct walk w;
	memset(&w, 0, sizeof w);
	hs_buddy_foreach_arena(walk_arena, &w);
	if (w.error)
		ck_abort_msg("%s", w.error);
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	if (st.arenas != w.arenas || st.free_pages != w.free_pages)
		ck_abort_msg("stats: %zu arenas, %zu free pages; walk: %zu, %zu",
		             st.arenas, st.free_pages, w.arenas, w.free_pages);
	for (int o = 0; o < HS_NR_ORDERS; o++)
		if (st.nr_free[o] != w.nr_free[o])
			ck_abort_msg("nr_free[%d]: stats %zu, walk %zu", o, st.nr_free[o], w.nr_free[o]);
	if (st.dirty_pages > st.free_pages)
		ck_abort_msg("dirty %zu > free %zu", st.dirty_pages, st.free_pages);
	size_t model = 0;
	for (size_t k = 0; k < n; k++)
		model += lv[k].npages;
	if (w.used_pages != model)
		ck_abort_msg("walk finds %zu allocated pages, model %zu", w.used_pages, model);
	if (st.free_pages + model != st.arenas * HS_ARENA_PAGES)
		ck_abort_msg("free %zu + allocated %zu != %zu arenas * %zu",
		             st.free_pages, model, st.arenas, (size_t)HS_ARENA_PAGES);
}

/* ---- page tags: the owner's identity written on each of its pages -------- */

static void tag(const struct live *l)
{
	for (size_t p = 0; p < l->npages; p++) {
		uintptr_t v[2] = { (uintptr_t)l->addr, p };
		memcpy(l->addr + (p << HS_PAGE_SHIFT), v, sizeof v);
	}
}

static void check_tag(const struct live *l)
{
	for (size_t p = 0; p < l->npages; p++) {
		uintptr_t v[2];
		memcpy(v, l->addr + (p << HS_PAGE_SHIFT), sizeof v);
		if (v[0] != (uintptr_t)l->addr || v[1] != p)
			ck_abort_msg("page %zu of block %p (%zu pages) overwritten", p, l->addr, l->npages);
	}
}

static void check_block(const struct live *l)
{
	ck_assert_msg((uintptr_t)l->addr % HS_PAGE_SIZE == 0, "block %p not page aligned", l->addr);
	struct hs_arena *a = NULL;
	struct hs_page *pg = hs_buddy_block_of(l->addr + (l->npages << HS_PAGE_SHIFT) - 1, &a);
	ck_assert_msg(pg != NULL, "hs_buddy_block_of(last byte of %p) is NULL", l->addr);
	ck_assert_ptr_eq(hs_page_addr(a, pg), l->addr);
	ck_assert_uint_eq(pg->npages, l->npages);
	ck_assert_int_eq(pg->state, l->slab ? PG_SLAB : PG_LARGE);
}

static size_t pick_npages(void)
{
	unsigned r = rnd(100);
	return r < 60 ? 1 + rnd(8) : r < 90 ? 1 + rnd(100) : 1 + rnd(HS_ARENA_PAGES);
}

/* Are pages [from, to) of the block's arena all inside free blocks? */
static bool pages_free(struct hs_arena *a, size_t from, size_t to)
{
	if (to > HS_ARENA_PAGES)
		return false;
	size_t i = 0;
	while (i < to) {
		struct hs_page *pg = &a->pages[i];
		size_t len = pg->state == PG_FREE ? (size_t)1 << pg->order : pg->npages;
		if (pg->state != PG_FREE && i + len > from)
			return false;
		i += len;
	}
	return true;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(random_sequences)
{
	enum { MAXLIVE = 160, STEPS = 3000 };
	static struct live lv[MAXLIVE];
	static struct hs_slab fake_slab;        /* buddy only stores the pointer */
	size_t n = 0;
	rng = 0x1234567 + (uint64_t)_i * 7919;
	for (int step = 0; step < STEPS; step++) {
		unsigned op = rnd(10);
		if (n < MAXLIVE && (op < 5 || n == 0)) {
			struct live l = { NULL, pick_npages(), rnd(8) == 0 };
			if (op == 4 && !l.slab && l.npages >= 2) {
				/* sometimes page aligned (NULL: nothing found, fine) */
				size_t align = (size_t)1 << rnd(5);
				l.addr = hs_buddy_alloc_aligned(l.npages, align);
				if (l.addr && ((uintptr_t)l.addr + HS_PAGE_SIZE) % (align * HS_PAGE_SIZE))
					ck_abort_msg("aligned block %p of %zu pages: second page not "
					             "aligned to %zu pages", l.addr, l.npages, align);
			}
			if (!l.addr)
				l.addr = hs_buddy_alloc(l.npages, l.slab ? &fake_slab : NULL);
			ck_assert_msg(l.addr != NULL, "hs_buddy_alloc(%zu) NULL", l.npages);
			check_block(&l);
			tag(&l);
			lv[n++] = l;
		} else if (op < 8) {
			size_t k = rnd((unsigned)n);
			check_tag(&lv[k]);
			hs_buddy_free(lv[k].addr);
			lv[k] = lv[--n];
		} else {
			size_t k = rnd((unsigned)n);
			struct live *l = &lv[k];
			size_t want = rnd(2) ? 1 + rnd((unsigned)l->npages) : l->npages + 1 + rnd(64);
			struct hs_arena *a;
			struct hs_page *pg = hs_buddy_block_of(l->addr, &a);
			size_t idx = (size_t)(l->addr - a->base) >> HS_PAGE_SHIFT;
			bool expect = !l->slab && (want <= l->npages || pages_free(a, idx + l->npages, idx + want));
			(void)pg;
			bool ok = hs_buddy_resize(l->addr, want);
			ck_assert_msg(ok == expect, "resize %s block of %zu pages at page %zu to %zu: got %d, want %d",
			              l->slab ? "slab" : "large", l->npages, idx, want, ok, expect);
			check_tag(l);           /* the kept pages are untouched */
			if (ok) {
				l->npages = want;
				tag(l);
			}
			check_block(l);
		}
		check_all(lv, n);
	}
	for (size_t k = 0; k < n; k++)
		check_tag(&lv[k]);
	while (n) {
		hs_buddy_free(lv[--n].addr);
		check_all(lv, n);
	}
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	ck_assert_msg(st.arenas <= KEPT_WHOLE_ARENAS, "%zu arenas still mapped with nothing allocated",
	              st.arenas);
	ck_assert_uint_eq(st.nr_free[HS_MAX_ORDER], st.arenas);
	for (int o = 0; o < HS_MAX_ORDER; o++)
		ck_assert_msg(st.nr_free[o] == 0, "nr_free[%d] = %zu with nothing allocated", o, st.nr_free[o]);
}
END_TEST

START_TEST(page_exact_split)
{
	/* 3 pages from a fresh arena: expand() 1024 down to order 2, then the
	 * 4th page goes back: free orders 0 and 2..9, one block each. */
	char *b = hs_buddy_alloc(3, NULL);
	ck_assert_ptr_nonnull(b);
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.arenas, 1);
	ck_assert_uint_eq(st.free_pages, HS_ARENA_PAGES - 3);
	const size_t want[HS_NR_ORDERS] = { 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	for (int o = 0; o < HS_NR_ORDERS; o++)
		ck_assert_msg(st.nr_free[o] == want[o], "order %d: %zu free blocks, want %zu",
		              o, st.nr_free[o], want[o]);
	struct live l = { b, 3, false };
	check_all(&l, 1);
	hs_buddy_free(b);
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.nr_free[HS_MAX_ORDER], st.arenas);
	ck_assert_uint_eq(st.free_pages, st.arenas * HS_ARENA_PAGES);
}
END_TEST

START_TEST(merge_order)
{
	/* Four single pages at 0..3: freeing 1 and 2 (not buddies) merges
	 * nothing; 0 then merges with 1, 3 with 2, and the halves cascade. */
	struct live l[4];
	for (int k = 0; k < 4; k++) {
		l[k] = (struct live){ hs_buddy_alloc(1, NULL), 1, false };
		ck_assert_ptr_nonnull(l[k].addr);
	}
	for (int k = 1; k < 4; k++)
		ck_assert_msg(l[k].addr == l[0].addr + k * HS_PAGE_SIZE,
		              "fresh arena: page %d not after page 0", k);
	hs_buddy_free(l[1].addr);
	hs_buddy_free(l[2].addr);
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.nr_free[0], 2);
	struct live rest[2] = { l[0], l[3] };
	check_all(rest, 2);
	hs_buddy_free(l[0].addr);
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.nr_free[0], 1);   /* page 2 alone */
	ck_assert_uint_eq(st.nr_free[1], 1);   /* pages 0-1 */
	hs_buddy_free(l[3].addr);
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.nr_free[0], 0);
	ck_assert_uint_eq(st.nr_free[1], 0);
	ck_assert_uint_eq(st.nr_free[HS_MAX_ORDER], st.arenas);
	check_all(NULL, 0);
}
END_TEST

START_TEST(trim_gives_back)
{
	/* Every other 16-page block freed: dirty free blocks between live
	 * ones (the 8 MiB budget keeps them resident). hs_buddy_trim(0) gives
	 * each back (the pages they cover, exactly) and the live blocks stay
	 * intact; with a keep of 64 pages, at most 64 stay dirty. */
	enum { N = 64, PAGES = 16 };
	struct live l[N];
	for (int k = 0; k < N; k++) {
		l[k] = (struct live){ hs_buddy_alloc(PAGES, NULL), PAGES, false };
		ck_assert_ptr_nonnull(l[k].addr);
		memset(l[k].addr, 0x5a, PAGES * HS_PAGE_SIZE);
	}
	for (int k = 0; k < N; k += 2)
		hs_buddy_free(l[k].addr);
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.dirty_pages, N / 2 * PAGES);
	size_t given = hs_buddy_trim(64);
	hs_buddy_stats(&st);
	ck_assert_msg(st.dirty_pages <= 64 && st.dirty_pages + given == N / 2 * PAGES,
	              "keep 64: %zu dirty left, %zu given back", st.dirty_pages, given);
	given += hs_buddy_trim(0);
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.dirty_pages, 0);
	ck_assert_uint_eq(given, N / 2 * PAGES);
	struct live rest[N / 2];
	for (int k = 1; k < N; k += 2) {
		rest[k / 2] = l[k];
		for (size_t i = 0; i < PAGES * HS_PAGE_SIZE; i += 511)
			ck_assert_msg((unsigned char)l[k].addr[i] == 0x5a, "live block changed by trim");
	}
	check_all(rest, N / 2);
	/* everything freed: the whole free arena is unmapped too */
	for (int k = 1; k < N; k += 2)
		hs_buddy_free(l[k].addr);
	ck_assert_uint_ge(hs_buddy_trim(0), HS_ARENA_PAGES);
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.arenas, 0);
}
END_TEST

START_TEST(resize_in_place)
{
	char *b = hs_buddy_alloc(3, NULL);
	ck_assert_ptr_nonnull(b);
	struct live l = { b, 3, false };
	tag(&l);
	ck_assert(hs_buddy_resize(b, 4));     /* page 3 was the freed tail */
	l.npages = 4;
	check_block(&l);
	check_all(&l, 1);
	ck_assert(hs_buddy_resize(b, 7));     /* into the free order-2 block */
	l.npages = 7;
	check_block(&l);
	check_all(&l, 1);
	ck_assert(hs_buddy_resize(b, 1));     /* shrinking always works */
	l.npages = 1;
	check_block(&l);
	check_all(&l, 1);
	check_tag(&l);
	/* a neighbour in the way: growth fails and changes nothing */
	char *c = hs_buddy_alloc(1, NULL);
	ck_assert_ptr_eq(c, b + HS_PAGE_SIZE);
	struct live two[2] = { l, { c, 1, false } };
	ck_assert(!hs_buddy_resize(b, 2));
	check_block(&two[0]);
	check_all(two, 2);
	/* past the arena's end: fails */
	char *big = hs_buddy_alloc(HS_ARENA_PAGES / 2, NULL);
	ck_assert_ptr_nonnull(big);
	struct live three[3] = { two[0], two[1], { big, HS_ARENA_PAGES / 2, false } };
	ck_assert(!hs_buddy_resize(big, HS_ARENA_PAGES / 2 + 1));
	check_all(three, 3);
	hs_buddy_free(b);
	hs_buddy_free(c);
	hs_buddy_free(big);
	check_all(NULL, 0);
}
END_TEST

START_TEST(limits_and_new_arenas)
{
	ck_assert_ptr_null(hs_buddy_alloc(0, NULL));
	ck_assert_ptr_null(hs_buddy_alloc(HS_ARENA_PAGES + 1, NULL));
	struct live l[3];
	for (int k = 0; k < 3; k++) {
		l[k] = (struct live){ hs_buddy_alloc(HS_ARENA_PAGES, NULL), HS_ARENA_PAGES, false };
		ck_assert_ptr_nonnull(l[k].addr);
		ck_assert_uint_eq((uintptr_t)l[k].addr % HS_ARENA_SIZE, 0);
		check_block(&l[k]);
	}
	check_all(l, 3);
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.arenas, 3);
	ck_assert_uint_eq(st.free_pages, 0);
	for (int k = 0; k < 3; k++)
		hs_buddy_free(l[k].addr);
	hs_buddy_stats(&st);
	ck_assert_msg(st.arenas <= KEPT_WHOLE_ARENAS, "%zu whole free arenas kept", st.arenas);
	check_all(NULL, 0);
}
END_TEST

START_TEST(block_of_rejects)
{
	static char not_ours[2 * 4096];
	ck_assert_ptr_null(hs_buddy_block_of(not_ours, NULL));
	char *b = hs_buddy_alloc(2, NULL);
	ck_assert_ptr_nonnull(b);
	/* the page after the block is free: not inside an allocated block */
	ck_assert_ptr_null(hs_buddy_block_of(b + 2 * HS_PAGE_SIZE, NULL));
	struct hs_arena *a = NULL;
	struct hs_page *pg = hs_buddy_block_of(b + HS_PAGE_SIZE + 123, &a);
	ck_assert_ptr_nonnull(pg);
	ck_assert_ptr_eq(hs_page_addr(a, pg), b);
	hs_buddy_free(b);
}
END_TEST

static size_t dirty_now(void)
{
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	return st.dirty_pages;
}

/* The tests below lay out pages in a fresh arena. Without fork
 * (CK_FORK=no: the sanitizer runs) earlier tests leave whole free arenas
 * behind, dirty: hold them allocated until the test ends, and drop the
 * granules of released ones that wait in the huge mappings' cache (a new
 * arena would take one, resident), so the next allocation maps a fresh
 * one. */
enum { MAXHELD = 8 };
static char *held[MAXHELD];
static unsigned nheld;

static void hold_whole_arenas(void)
{
	struct hs_buddy_stats st;
	hs_huge_trim();
	hs_buddy_stats(&st);
	while (st.free_pages && nheld < MAXHELD) {
		ck_assert_msg(st.nr_free[HS_MAX_ORDER] > 0,
		              "earlier tests left %zu free pages not in whole arenas", st.free_pages);
		held[nheld++] = hs_buddy_alloc(HS_ARENA_PAGES, NULL);
		hs_buddy_stats(&st);
	}
	ck_assert_uint_eq(st.free_pages, 0);
}

static void release_held(void)
{
	while (nheld)
		hs_buddy_free(held[--nheld]);
}

/* Dirty (maybe resident) pages are counted page by page: only pages the
 * program was handed and gave back, whatever free blocks they merge into
 * or are split out of. (One flag per free block counted a freed page
 * merged with its clean buddies as a whole dirty arena.) */
/* A whole free arena the buddy gives up while its pages are resident
 * waits in the huge mappings' cache as a granule, and the next new arena
 * is that granule (same address, its pages counted dirty), not fresh
 * memory; malloc_trim's hs_huge_trim drops it. */
START_TEST(granule_comes_back)
{
	hold_whole_arenas();
	enum { N = 3 };
	char *a[N];
	for (int i = 0; i < N; i++) {
		a[i] = hs_buddy_alloc(HS_ARENA_PAGES, NULL);
		ck_assert_ptr_nonnull(a[i]);
	}
	/* keep_arenas() is 1 here: when a[1] is freed the older whole free
	 * arena, a[0] (dirty, the tail of its list), leaves the buddy */
	hs_buddy_free(a[0]);
	hs_buddy_free(a[1]);
	struct hs_buddy_stats st;
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.nr_free[HS_MAX_ORDER], 1);
	ck_assert_ptr_null(hs_buddy_block_of(a[0], NULL));
	ck_assert_uint_eq(hs_pagemap_get(a[0]) & HS_GRANULE_HUGE, HS_GRANULE_HUGE);
	char *b1 = hs_buddy_alloc(HS_ARENA_PAGES, NULL);     /* the kept one */
	char *b2 = hs_buddy_alloc(HS_ARENA_PAGES, NULL);     /* a new arena */
	ck_assert_ptr_eq(b1, a[1]);
	ck_assert_ptr_eq(b2, a[0]);                           /* the granule */
	hs_buddy_free(b1);
	hs_buddy_free(b2);
	hs_buddy_free(a[2]);
	hs_huge_trim();
	release_held();
}
END_TEST

START_TEST(dirty_counts_exact)
{
	hold_whole_arenas();
	ck_assert_uint_eq(dirty_now(), 0);          /* fresh pages */
	char *p = hs_buddy_alloc(4, NULL);
	ck_assert_ptr_nonnull(p);
	hs_buddy_free(p);                           /* merges into the arena */
	ck_assert_uint_eq(dirty_now(), 4);
	/* 16 pages over the 4 dirty ones (the lowest: expand() keeps the
	 * lower half): the free rest is all clean */
	char *q = hs_buddy_alloc(16, NULL);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(dirty_now(), 0);
	/* the front pages of a trimmed block were never the program's: they
	 * keep what they were (pages 0-3 dirty, 4-7 clean) */
	char *r = hs_buddy_trim_front(q, 8);
	ck_assert_ptr_eq(r, q + 8 * HS_PAGE_SIZE);
	ck_assert_uint_eq(dirty_now(), 4);
	struct live l[1 + MAXHELD] = { { r, 8, false } };
	for (unsigned k = 0; k < nheld; k++)
		l[1 + k] = (struct live){ held[k], HS_ARENA_PAGES, false };
	check_all(l, 1 + nheld);
	/* shrinking frees pages 10-15: 12-15 count, 10-11 (an order-1 block,
	 * below PURGE_MIN_ORDER) not until it merges */
	ck_assert(hs_buddy_resize(r, 2));
	ck_assert_uint_eq(dirty_now(), 8);
	hs_buddy_free(r);
	ck_assert_uint_eq(dirty_now(), 12);
	release_held();
	check_all(NULL, 0);
}
END_TEST

/* Beyond twice the budget (DIRTY_MIN = 4096 pages with this little in
 * use) the oldest dirty blocks are given back at once, down to the
 * budget, and what is given back no longer counts. */
START_TEST(dirty_hard_cap)
{
	enum { N = 10 };
	char *big[N], *small[N];
	hold_whole_arenas();
	for (int k = 0; k < N; k++) {
		big[k] = hs_buddy_alloc(HS_ARENA_PAGES - 1, NULL);
		small[k] = hs_buddy_alloc(1, NULL);     /* the arena's last page */
		ck_assert_ptr_nonnull(big[k]);
		ck_assert_ptr_eq(small[k], big[k] + (HS_ARENA_PAGES - 1) * HS_PAGE_SIZE);
	}
	size_t counted = 0;
	for (int k = 0; k < N; k++) {
		hs_buddy_free(big[k]);
		/* orders 2..9 of the 1023 freed pages count (1020) */
		counted += HS_ARENA_PAGES - 4;
		size_t d = dirty_now();
		if (counted <= 2 * 4096)
			ck_assert_uint_eq(d, counted);
		else
			ck_assert_msg(d <= 4096 + (HS_ARENA_PAGES - 4),
			              "%zu dirty pages after %d frees: the hard cap did not purge", d, k + 1);
		counted = d;
	}
	struct live l[N + MAXHELD];
	for (int k = 0; k < N; k++)
		l[k] = (struct live){ small[k], 1, false };
	for (unsigned k = 0; k < nheld; k++)
		l[N + k] = (struct live){ held[k], HS_ARENA_PAGES, false };
	check_all(l, N + nheld);
	for (int k = 0; k < N; k++)
		hs_buddy_free(small[k]);
	release_held();
	check_all(NULL, 0);
}
END_TEST

/* hs_buddy_alloc_aligned: the user part at an aligned free block, the
 * header's page taken from the free block before it; never at an arena's
 * first page (no page before it), never a new arena. */
START_TEST(aligned_placement)
{
	struct hs_buddy_stats st;
	hold_whole_arenas();
	size_t arenas0 = nheld;
	ck_assert_ptr_null(hs_buddy_alloc_aligned(3, 4));   /* no free page */
	char *first = hs_buddy_alloc(1, NULL);              /* page 0 */
	ck_assert_ptr_nonnull(first);
	/* free now: 1, 2-3, 4-7, 8-15, ... A 3-page block whose second page
	 * is 4-page aligned: user pages 4-5 (the order-2 block at 4), header
	 * page 3 (the last of the order-1 block 2-3) */
	char *b = hs_buddy_alloc_aligned(3, 4);
	ck_assert_ptr_eq(b, first + 3 * HS_PAGE_SIZE);
	struct live l[3 + MAXHELD] = { { first, 1, false }, { b, 3, false } };
	for (unsigned k = 0; k < nheld; k++)
		l[3 + k] = (struct live){ held[k], HS_ARENA_PAGES, false };
	check_block(&l[1]);
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.nr_free[0], 2);    /* pages 1 and 2 */
	ck_assert_uint_eq(st.nr_free[1], 1);    /* pages 6-7 */
	/* 64-page alignment, 10 pages: user at 64 (the order-6 block
	 * 64-127), header page 63 (end of the order-5 block 32-63) */
	char *c = hs_buddy_alloc_aligned(11, 64);
	ck_assert_ptr_eq(c, first + 63 * HS_PAGE_SIZE);
	l[2] = (struct live){ c, 11, false };
	check_block(&l[2]);
	check_all(l, 3 + nheld);
	/* an alignment no free block can give without a new arena */
	ck_assert_ptr_null(hs_buddy_alloc_aligned(2, HS_ARENA_PAGES));
	hs_buddy_stats(&st);
	ck_assert_uint_eq(st.arenas, arenas0 + 1);
	hs_buddy_free(b);
	hs_buddy_free(c);
	hs_buddy_free(first);
	release_held();
	check_all(NULL, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buddy");
	TCase *t = tcase_create("buddy");
	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, random_sequences, 0, 3);
	tcase_add_test(t, page_exact_split);
	tcase_add_test(t, merge_order);
	tcase_add_test(t, trim_gives_back);
	tcase_add_test(t, resize_in_place);
	tcase_add_test(t, limits_and_new_arenas);
	tcase_add_test(t, block_of_rejects);
	tcase_add_test(t, granule_comes_back);
	tcase_add_test(t, dirty_counts_exact);
	tcase_add_test(t, dirty_hard_cap);
	tcase_add_test(t, aligned_placement);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
