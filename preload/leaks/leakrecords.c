/*
 * leakrecords.c — what the leak scan writes to the trace
 * (docs/TRACE-FORMAT.md, version 2):
 *
 *   C  the allocator's counters and the live blocks' exact totals;
 *   B  live blocks grouped by kind and allocation stack: what the leak
 *      report lists (it groups by the same two things);
 *   Z  live blocks and bytes per slot size (0: page blocks): what the
 *      fragmentation report joins with the exit snapshot's slabs;
 *   V  runs of pages holding lost blocks (D: definitely or indirectly
 *      lost, P: only possibly lost): what the exit heap map paints.
 *
 * Gathered with the heap's locks held, without a walk of their own for
 * most blocks: the classification tells each block as its kind becomes
 * final, while it scans it (hs_lk_graph.tell: a still reachable block in
 * phase 1, a lost one in phase 2), and only the possibly lost blocks,
 * whose kind is final only when phase 1 ends, are walked for at the end.
 * If the counts do not add up (memory changed under the scan), every
 * block is walked instead. The lines are written after the locks are
 * released (naming a stack takes the stack table's lock, which a thread
 * may hold while libunwind allocates). No line is written per block, so
 * a heap of millions of blocks costs a few lines per stack, per size
 * class and per run of pages. Scratch memory is mmap'd (we are malloc).
 */
#include <string.h>

#include "leaks.h"
#include "leakindex.h"
#include "leakroots.h"
#include "record/record.h"

#define PAGE ((uintptr_t)HS_PAGE_SIZE)

struct group {
	uint64_t key;                   /* (stack << 2 | kind) + 1; 0: empty  */
	uint64_t blocks, bytes;
};

struct run {
	uintptr_t addr;
	size_t    pages;
	uint8_t   cat;                  /* 1 possibly lost, 2 lost            */
};

struct hs_lk_records {
	const struct hs_lk_index *ix;
	struct group *t;                /* open addressing, power of two       */
	size_t cap, used, t_bytes;
	uint64_t live_bytes, live_blocks;
	size_t told;                    /* blocks taken (glibc's included)     */
	uint64_t cls_blocks[HS_NR_BINS + 1], cls_bytes[HS_NR_BINS + 1];
	uint8_t (*cat)[HS_ARENA_PAGES]; /* per arena of the index, per page:
	                                   1 possibly lost, 2 lost            */
	size_t cat_bytes;
	struct run *runs;
	size_t nruns, runs_bytes;
	bool failed;
};

/* ---- grouping by kind and stack ----------------------------------------- */

static struct group *slot_for(struct group *t, size_t cap, uint64_t key)
{
	size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
	while (t[i].key && t[i].key != key)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static bool grow_groups(struct hs_lk_records *r)
{
	size_t cap = r->cap ? 2 * r->cap : 1024, bytes = cap * sizeof *r->t;
	struct group *t = hs_lk_map(bytes);
	if (!t)
		return false;
	for (size_t i = 0; i < r->cap; i++)
		if (r->t[i].key)
			*slot_for(t, cap, r->t[i].key) = r->t[i];
	hs_lk_unmap(r->t, r->t_bytes);
	r->t = t;
	r->cap = cap;
	r->t_bytes = bytes;
	return true;
}

static void count(struct hs_lk_records *r, uint32_t stack, unsigned kind, size_t size)
{
	if (2 * (r->used + 1) > r->cap && !grow_groups(r)) {
		r->failed = true;
		return;
	}
	uint64_t key = ((uint64_t)stack << 2 | kind) + 1;
	struct group *g = slot_for(r->t, r->cap, key);
	if (!g->key) {
		g->key = key;
		r->used++;
	}
	g->blocks++;
	g->bytes += size;
}

/* ---- pages holding lost blocks -------------------------------------------- */

static void add_run(struct hs_lk_records *r, uintptr_t addr, size_t pages, uint8_t cat)
{
	struct run *last = r->nruns ? &r->runs[r->nruns - 1] : NULL;
	if (last && last->cat == cat && last->addr + last->pages * PAGE == addr) {
		last->pages += pages;
		return;
	}
	if ((r->nruns + 1) * sizeof *r->runs > r->runs_bytes) {
		void *p = r->runs;
		if (!hs_lk_grow(&p, &r->runs_bytes, r->runs_bytes ? 2 * r->runs_bytes : 64 * 1024)) {
			r->failed = true;
			return;
		}
		r->runs = p;
	}
	r->runs[r->nruns++] = (struct run){ addr, pages, cat };
}

/* The runs of every arena, in address order (the arenas of the index
 * are), after the runs of huge blocks taken so far. */
static void flush_arenas(struct hs_lk_records *r)
{
	for (size_t a = 0; a < r->ix->narenas; a++) {
		const uint8_t *cat = r->cat[a];
		uintptr_t base = (uintptr_t)r->ix->arenas[a].a->base;
		for (size_t i = 0; i < HS_ARENA_PAGES;) {
			size_t j = i + 1;
			while (j < HS_ARENA_PAGES && cat[j] == cat[i])
				j++;
			if (cat[i])
				add_run(r, base + i * PAGE, j - i, cat[i]);
			i = j;
		}
	}
}

/* The pages a heap map paints for block n: from its header's page to the
 * page its last byte is on; a page block whole (its head page is the
 * header's, the page metadata gives its length; the buddy lock held
 * keeps that stable). Boot blocks are in no map. */
static bool pages_of(const struct hs_lk_node *n, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t hdr = n->start - HS_HEADER_SIZE;
	*lo = hdr & ~(PAGE - 1);
	*hi = (n->start + (n->size ? n->size : 1) + PAGE - 1) & ~(PAGE - 1);
	if (n->where == HS_BIN_BOOT)
		return false;
	if (n->where == HS_BIN_LARGE) {
		struct hs_arena *a;
		struct hs_page *pg = hs_buddy_block_of((const void *)hdr, &a);
		if (!pg)
			return false;
		*lo = (uintptr_t)hs_page_addr(a, pg);
		*hi = *lo + ((uintptr_t)pg->npages << HS_PAGE_SHIFT);
	}
	return true;
}

/* A lost block's pages: lost wins over possibly lost on a shared page. */
static void mark_pages(struct hs_lk_records *r, const struct hs_lk_node *n, uint8_t cat)
{
	uintptr_t lo, hi;
	if (!pages_of(n, &lo, &hi))
		return;
	if (n->where == HS_BIN_HUGE) {
		add_run(r, lo, (hi - lo) / PAGE, cat);
		return;
	}
	uintptr_t v = hs_pagemap_get((const void *)lo);
	if (!v || (v & HS_GRANULE_HUGE))
		return;
	const struct hs_arena *a = (const struct hs_arena *)v;
	const struct hs_lk_ix_arena *x = a->index < r->ix->nindex ? r->ix->by_index[a->index] : NULL;
	if (!x || x->a != a)
		return;
	uint8_t *c = r->cat[x - r->ix->arenas];
	uintptr_t base = (uintptr_t)a->base;
	for (uintptr_t p = lo; p < hi && p - base < HS_ARENA_SIZE; p += PAGE)
		if (c[(p - base) / PAGE] < cat)
			c[(p - base) / PAGE] = cat;
}

/* ---- the walk (with the heap's locks held) -------------------------------- */

static uint32_t stack_of(const struct hs_lk_node *n)
{
	struct hs_header h;
	const void *at = hs_header_of((void *)n->start);
	if (!n->copy) {
		memcpy(&h, at, sizeof h);
		return h.stack;
	}
	/* a huge block's pages may be gone (see leakindex.c) */
	return hs_lk_copy_mem(&h, (uintptr_t)at, sizeof h, NULL) == sizeof h ? h.stack : 0;
}

static void take(void *arg, const struct hs_lk_node *n)
{
	struct hs_lk_records *r = arg;
	r->told++;
	/* glibc's own, not the program's: leakthreads.c */
	if (*n->mark & HS_LK_GLIBC_CACHE)
		return;
	unsigned kind = *n->mark & HS_LK_STATE;
	count(r, stack_of(n), kind, n->size);
	r->live_blocks++;
	r->live_bytes += n->size;
	unsigned cls = n->where < HS_NR_BINS ? n->where
	             : n->where == HS_BIN_LARGE ? HS_NR_BINS : HS_NR_BINS + 1;
	if (cls <= HS_NR_BINS) {
		r->cls_blocks[cls]++;
		r->cls_bytes[cls] += n->size;
	}
	if (kind != HS_LK_REACHABLE)
		mark_pages(r, n, kind == HS_LK_POSSIBLE ? 1 : 2);
}

static uintptr_t group_key(const void *p)
{
	return (uintptr_t)((const struct group *)p)->key;
}

static void write_lines(struct hs_lk_records *r)
{
	static const char letters[4] = {
		[HS_LK_UNREACHED] = 'D', [HS_LK_INDIRECT] = 'I',
		[HS_LK_POSSIBLE] = 'P', [HS_LK_REACHABLE] = 'R',
	};
	struct hs_counters k;
	hs_counters_read(&k);
	/* The counters lag by what running threads have not folded yet; the
	 * walk is exact, and the peak was at least what is live now. */
	uint64_t peak = k.peak_bytes > r->live_bytes ? k.peak_bytes : r->live_bytes;
	hs_trace_printf("C %lu %lu %lu %lu %lu\n", (unsigned long)k.allocs,
	                (unsigned long)k.frees, (unsigned long)peak,
	                (unsigned long)r->live_bytes, (unsigned long)r->live_blocks);
	/* the groups, compacted and sorted by stack and kind */
	size_t n = 0;
	for (size_t i = 0; i < r->cap; i++)
		if (r->t[i].key)
			r->t[n++] = r->t[i];
	hs_lk_heapsort(r->t, n, sizeof *r->t, group_key);
	for (size_t i = 0; i < n; i++) {
		uint64_t key = r->t[i].key - 1;
		hs_trace_printf("B %c %u %lu %lu\n", letters[key & 3],
		                hs_stack_ref((uint32_t)(key >> 2)),
		                (unsigned long)r->t[i].blocks, (unsigned long)r->t[i].bytes);
	}
	for (unsigned c = 0; c <= HS_NR_BINS; c++)
		if (r->cls_blocks[c])
			hs_trace_printf("Z %u %lu %lu\n", c < HS_NR_BINS ? hs_bin_slot_size[c] : 0,
			                (unsigned long)r->cls_blocks[c],
			                (unsigned long)r->cls_bytes[c]);
	for (size_t i = 0; i < r->nruns; i++)
		hs_trace_printf("V %c %lx %zu\n", r->runs[i].cat == 2 ? 'D' : 'P',
		                (unsigned long)r->runs[i].addr, r->runs[i].pages);
}

static void records_free(struct hs_lk_records *r)
{
	hs_lk_unmap(r->t, r->t_bytes);
	hs_lk_unmap(r->cat, r->cat_bytes);
	hs_lk_unmap(r->runs, r->runs_bytes);
	hs_lk_unmap(r, sizeof *r);
}

/* Everything taken so far forgotten (the tables kept, emptied). */
static void records_reset(struct hs_lk_records *r)
{
	memset(r->t, 0, r->cap * sizeof *r->t);
	memset(r->cat, 0, r->ix->narenas * sizeof *r->cat);
	r->used = r->told = r->nruns = 0;
	r->live_bytes = r->live_blocks = 0;
	memset(r->cls_blocks, 0, sizeof r->cls_blocks);
	memset(r->cls_bytes, 0, sizeof r->cls_bytes);
}

struct hs_lk_records *hs_lk_records_new(const struct hs_lk_index *ix)
{
	struct hs_lk_records *r = hs_lk_map(sizeof *r);
	if (!r)
		return NULL;
	r->ix = ix;
	if (grow_groups(r) && (!ix->narenas || hs_lk_grow((void **)&r->cat, &r->cat_bytes,
	                                                  ix->narenas * sizeof *r->cat)))
		return r;
	records_free(r);
	return NULL;
}

void hs_lk_records_tell(void *r, const struct hs_lk_node *n)
{
	take(r, n);
}

bool hs_lk_records_finish(struct hs_lk_records *r)
{
	const struct hs_lk_nodes *s = &r->ix->ops;
	s->walk(s, false, HS_LK_ABSENT | HS_LK_STATE, HS_LK_POSSIBLE, 0, take, r);
	if (r->told != r->ix->live) {
		records_reset(r);
		s->walk(s, false, HS_LK_ABSENT, 0, 0, take, r);
	}
	flush_arenas(r);
	return !r->failed;
}

void hs_lk_records_write(struct hs_lk_records *r)
{
	write_lines(r);
	records_free(r);
}

void hs_lk_records_free(struct hs_lk_records *r)
{
	if (r)
		records_free(r);
}
