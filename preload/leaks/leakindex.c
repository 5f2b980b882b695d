/*
 * leakindex.c — the leak scan's node set, from the allocator's own
 * structures (leakgraph.h, leakindex.h).
 *
 * The scan asks "which block contains this address" for every word that
 * might be a pointer. heapscope owns the heap, so the answer needs no
 * search: the pagemap names the arena (two loads), the index's entry for
 * the page the slab or page block (its head page, bin and first block
 * number, packed so that the allocator's 48-byte page records are not
 * touched), a multiplication the slot, the slot its header. Each block
 * has a number, the index of its mark byte: per arena, each head page
 * keeps the number of its first block and how many follow (a slab's
 * slots as carved when the index was built). So the scan's memory is one
 * byte per block plus 12 KiB per 4 MiB arena; nothing is copied or
 * sorted per block.
 *
 * The index is built and used with every allocator lock held (the world
 * stopped around it, hooks/ending.c): no arena, slab or huge mapping
 * changes shape meanwhile. A thread that could not be stopped may still
 * free and allocate slots inside existing slabs, so a lookup re-reads the
 * header and bounds the size it finds by the slot: a block is never read
 * past its slot or page block.
 *
 * Headers are judged once, at build: valid and LIVE is a block; valid
 * and FREED is not; a header whose check fails only in its last two
 * bytes (an underrun of the block, p[-1] = 0) still has its own size and
 * stack (hs_header_words_intact), so the block is classified and reported
 * as usual (counted in 'damaged'). Any other failing header, a slab
 * descriptor that disagrees with its bin, or a page block whose header
 * offset leaves its pages, is not trusted: not scanned, not reported,
 * counted in 'skipped'. The walks are bounded by the page metadata, so
 * a damaged heap cannot make them loop or read outside the heap.
 */
#include "leaks.h"
#include "leakindex.h"
#include "leakroots.h"

/* ---- judging a header ---------------------------------------------------- */

enum judgement { J_FREE, J_LIVE, J_DAMAGED, J_UNTRUSTED };

/* room: bytes from the header to the end of its slot or block; bin: the
 * bin the geometry says the block is in. */
static enum judgement judge(const struct hs_header *h, size_t room, unsigned bin)
{
	if (hs_header_valid(h))
		return h->state != HS_LIVE ? J_FREE
		       : h->size + HS_HEADER_SIZE <= room ? J_LIVE : J_UNTRUSTED;
	if (hs_header_words_intact(h) && h->bin == bin && h->size + HS_HEADER_SIZE <= room)
		return h->state == HS_LIVE ? J_DAMAGED : J_FREE;
	return J_UNTRUSTED;
}

/* The bins keep slab descriptors out of band; still, one that disagrees
 * with its own bin or pages is not followed. */
static bool slab_sane(const struct hs_arena *a, const struct hs_page *pg)
{
	const struct hs_slab *s = pg->slab;
	if (!s || s->bin >= HS_NR_BINS || s->slot_size != hs_bin_slot_size[s->bin])
		return false;
	size_t bytes = (size_t)pg->npages << HS_PAGE_SHIFT;
	return s->base == hs_page_addr(a, pg) && (size_t)s->capacity * s->slot_size <= bytes;
}

static bool large_sane(const struct hs_page *pg)
{
	return (size_t)pg->hdr_off + HS_HEADER_SIZE <= (size_t)pg->npages << HS_PAGE_SHIFT;
}

/* ---- one arena block ----------------------------------------------------- */

/* Division by a bin's slot size as a multiplication: for an offset below
 * 2^22 (an arena) and a divisor below 2^15, (off * m) >> 40 with
 * m = 2^40 / d + 1 is exact (the error stays under 2^-18 < 1/d). */
static uint64_t recip[HS_NR_BINS];

static void recip_init(void)
{
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		recip[b] = ((uint64_t)1 << 40) / hs_bin_slot_size[b] + 1;
}

/* Block k of the block headed at page pi, as it is now; false if it is
 * not a block (a free slot, or not trusted). */
static inline bool arena_node(const struct hs_lk_index *ix, const struct hs_lk_ix_arena *x,
                              size_t pi, size_t k, struct hs_lk_node *out)
{
	const struct hs_lk_ix_page *ip = &x->pg[pi];
	uint8_t *m = &ix->marks[ip->first + k];
	if (*m & HS_LK_ABSENT)
		return false;
	uintptr_t blk = (uintptr_t)x->a->base + (pi << HS_PAGE_SHIFT);
	struct hs_header *h;
	uintptr_t lim;                  /* end of the slot or page block      */
	if (ip->bin != HS_BIN_LARGE) {
		uint32_t slot_size = hs_bin_slot_size[ip->bin];
		char *slot = (char *)blk + k * slot_size;
		h = hs_slot_block_header(slot, slot_size);
		lim = (uintptr_t)slot + slot_size;
	} else {
		const struct hs_page *pg = &x->a->pages[pi];
		h = (struct hs_header *)(blk + pg->hdr_off);
		lim = blk + ((uintptr_t)pg->npages << HS_PAGE_SHIFT);
	}
	uintptr_t start = (uintptr_t)h + HS_HEADER_SIZE;
	/* bounded by the slot: a running thread may rewrite the header */
	size_t size = h->size <= lim - start ? h->size : lim - start;
	*out = (struct hs_lk_node){ .start = start, .size = size, .mark = m, .where = ip->bin };
	return true;
}

/* ---- the node set -------------------------------------------------------- */

static bool ix_find(const struct hs_lk_nodes *s, uintptr_t p, struct hs_lk_node *out)
{
	const struct hs_lk_index *ix = (const struct hs_lk_index *)s;
	uintptr_t v = hs_pagemap_get((const void *)p);
	if (!v || (v & HS_GRANULE_HUGE)) {
		struct hs_lk_entry *e = hs_lk_array_find(&ix->other, p);
		if (!e || (e->mark & HS_LK_ABSENT))
			return false;
		hs_lk_array_node(e, out);
		return true;
	}
	const struct hs_arena *a = (const struct hs_arena *)v;
	if (a->index >= ix->nindex)
		return false;           /* an arena mapped after the build */
	const struct hs_lk_ix_arena *x = ix->by_index[a->index];
	if (!x || x->a != a)
		return false;
	uintptr_t off = p - (uintptr_t)a->base;
	size_t pi = x->pg[off >> HS_PAGE_SHIFT].head;
	const struct hs_lk_ix_page *ip = &x->pg[pi];
	if (!ip->count)
		return false;
	size_t k = 0;
	if (ip->bin != HS_BIN_LARGE) {
		k = (size_t)(((off - (pi << HS_PAGE_SHIFT)) * recip[ip->bin]) >> 40);
		if (k >= ip->count)
			return false;
	}
	if (!arena_node(ix, x, pi, k, out))
		return false;
	return p >= out->start && p < out->start + (out->size ? out->size : 1);
}

/* What ix_find(p) will read first: the page's entry in the index (its
 * arena comes from the pagemap, which stays in cache). */
static void ix_prefetch(const struct hs_lk_nodes *s, uintptr_t p)
{
	const struct hs_lk_index *ix = (const struct hs_lk_index *)s;
	uintptr_t v = hs_pagemap_get((const void *)p);
	if (!v || (v & HS_GRANULE_HUGE))
		return;
	const struct hs_arena *a = (const struct hs_arena *)v;
	const struct hs_lk_ix_arena *x = a->index < ix->nindex ? ix->by_index[a->index] : NULL;
	if (x)
		__builtin_prefetch(&x->pg[((p - (uintptr_t)a->base) >> HS_PAGE_SHIFT)
		                          & (HS_ARENA_PAGES - 1)]);
}

typedef void (*node_fn)(void *arg, const struct hs_lk_node *n);

/* Walks read slot after slot, but the hardware's stride prefetch starts
 * over at every page and the walk skips the slots its mask rejects: the
 * slot AHEAD places on is fetched now, its header or (lines > 1) the
 * first lines of its words. Measured on leakheap (4M slots of 320
 * bytes): the header walks 130 to 95 ms, the walk over lost blocks that
 * reads them 200 to 155 ms (CPU time, a loaded machine). */
#define AHEAD 8
#define AHEAD_LINES 5

static void fetch_ahead(const char *slab, uint32_t slot_size, uint32_t k, unsigned lines)
{
	const char *p = slab + (size_t)k * slot_size;
	for (unsigned l = 0; l < lines && 64 * l < slot_size; l++)
		__builtin_prefetch(p + 64 * l);
}

static void walk_arena(const struct hs_lk_index *ix, const struct hs_lk_ix_arena *x,
                       bool reverse, uint8_t mask, uint8_t want, unsigned flags,
                       node_fn fn, void *arg)
{
	unsigned lines = flags & HS_LK_WALK_WORDS ? AHEAD_LINES : 1;
	for (size_t q = 0; q < HS_ARENA_PAGES; q++) {
		size_t pi = reverse ? HS_ARENA_PAGES - 1 - q : q;
		const struct hs_lk_ix_page *ip = &x->pg[pi];
		const uint8_t *marks = &ix->marks[ip->first];
		const char *slab = x->a->base + (pi << HS_PAGE_SHIFT);
		uint32_t slot_size = ip->bin != HS_BIN_LARGE ? hs_bin_slot_size[ip->bin] : 0;
		for (uint32_t r = 0; r < ip->count; r++) {
			uint32_t k = reverse ? ip->count - 1 - r : r;
			uint32_t ka = reverse ? k - AHEAD : k + AHEAD;
			if (slot_size && r + AHEAD < ip->count && (marks[ka] & mask) == want)
				fetch_ahead(slab, slot_size, ka, lines);
			struct hs_lk_node n;
			if ((marks[k] & mask) == want && arena_node(ix, x, pi, k, &n))
				fn(arg, &n);
		}
	}
}

/* Arenas and the other blocks merged in address order (neither lies
 * inside the other: huge mappings and boot chunks are not arenas). */
static void ix_walk(const struct hs_lk_nodes *s, bool reverse, uint8_t mask, uint8_t want,
                    unsigned flags, node_fn fn, void *arg)
{
	const struct hs_lk_index *ix = (const struct hs_lk_index *)s;
	size_t na = ix->narenas, ne = ix->other.n, i = 0, j = 0;
	while (i < na || j < ne) {
		const struct hs_lk_ix_arena *x = i < na ? &ix->arenas[reverse ? na - 1 - i : i] : NULL;
		struct hs_lk_entry *e = j < ne ? &ix->other.e[reverse ? ne - 1 - j : j] : NULL;
		uintptr_t xa = x ? (uintptr_t)x->a->base : 0;
		if (x && (!e || (reverse ? xa > e->start : xa < e->start))) {
			walk_arena(ix, x, reverse, mask, want, flags, fn, arg);
			i++;
			continue;
		}
		if ((e->mark & mask) == want) {
			struct hs_lk_node n;
			hs_lk_array_node(e, &n);
			fn(arg, &n);
		}
		j++;
	}
}

/* ---- building it --------------------------------------------------------- */

struct build {
	struct hs_lk_index *ix;
	struct hs_arena **sorted;       /* arenas, then sorted by base        */
	size_t k, cap;
	bool failed;
};

static void count_arena(struct hs_arena *a, void *ctx)
{
	struct build *b = ctx;
	b->ix->narenas++;
	if ((size_t)a->index + 1 > b->ix->nindex)
		b->ix->nindex = (size_t)a->index + 1;
}

static void list_arena(struct hs_arena *a, void *ctx)
{
	struct build *b = ctx;
	if (b->k < b->cap)
		b->sorted[b->k++] = a;
}

static uintptr_t arena_key(const void *p)
{
	return (uintptr_t)(*(struct hs_arena *const *)p)->base;
}

/* Number the blocks of one arena: each head page of a page block or a
 * sane slab gets the next numbers; every page learns its head. */
static bool number_arena(struct hs_lk_index *ix, struct hs_lk_ix_arena *x, size_t *n)
{
	const struct hs_arena *a = x->a;
	for (size_t pi = 0; pi < HS_ARENA_PAGES;) {
		const struct hs_page *pg = &a->pages[pi];
		size_t step = pg->state == PG_FREE ? (size_t)1 << (pg->order & 15)
		            : pg->npages ? pg->npages : 1;
		uint32_t cnt = 0;
		uint8_t bin = HS_BIN_LARGE;
		if (pg->state == PG_LARGE) {
			if (large_sane(pg))
				cnt = 1;
			else {
				ix->skipped++;
				ix->skipped_bytes += step << HS_PAGE_SHIFT;
			}
		} else if (pg->state == PG_SLAB) {
			if (slab_sane(a, pg)) {
				cnt = pg->slab->carved < pg->slab->capacity ? pg->slab->carved
				                                            : pg->slab->capacity;
				bin = pg->slab->bin;
			} else {
				ix->skipped++;
				ix->skipped_bytes += step << HS_PAGE_SHIFT;
			}
		} else if (pg->state != PG_FREE) {
			step = 1;
		}
		if (cnt && *n + cnt >= UINT32_MAX)
			return false;
		for (size_t q = pi; q < pi + step && q < HS_ARENA_PAGES; q++)
			x->pg[q].head = (uint16_t)pi;
		x->pg[pi] = (struct hs_lk_ix_page){ .first = (uint32_t)*n, .count = cnt,
		                                    .head = (uint16_t)pi, .bin = bin };
		*n += cnt;
		pi += step;
	}
	return true;
}

/* Judge every numbered block of one arena (the only pass that reads
 * every header). */
static void judge_arena(struct hs_lk_index *ix, const struct hs_lk_ix_arena *x)
{
	const struct hs_arena *a = x->a;
	for (size_t pi = 0; pi < HS_ARENA_PAGES; pi++) {
		const struct hs_lk_ix_page *ip = &x->pg[pi];
		const struct hs_page *pg = &a->pages[pi];
		char *blk = a->base + (pi << HS_PAGE_SHIFT);
		for (uint32_t k = 0; k < ip->count; k++) {
			struct hs_header *h;
			size_t room;
			if (ip->bin != HS_BIN_LARGE && k + AHEAD < ip->count)
				fetch_ahead(blk, hs_bin_slot_size[ip->bin], k + AHEAD, 1);
			if (ip->bin != HS_BIN_LARGE) {
				uint32_t slot_size = hs_bin_slot_size[ip->bin];
				char *slot = blk + (size_t)k * slot_size;
				h = hs_slot_block_header(slot, slot_size);
				room = slot_size - (size_t)((char *)h - slot);
			} else {
				h = (struct hs_header *)(blk + pg->hdr_off);
				room = ((size_t)pg->npages << HS_PAGE_SHIFT) - pg->hdr_off;
			}
			uint8_t *m = &ix->marks[ip->first + k];
			switch (judge(h, room, ip->bin)) {
			case J_FREE:    *m = HS_LK_ABSENT; break;
			case J_LIVE:    *m = 0; ix->live++; break;
			case J_DAMAGED: *m = 0; ix->live++; ix->damaged++; break;
			case J_UNTRUSTED:
				*m = HS_LK_ABSENT;
				ix->skipped++;
				ix->skipped_bytes += room;
				break;
			}
		}
	}
}

static bool build_arenas(struct hs_lk_index *ix)
{
	struct build b = { ix, NULL, 0, 0, false };
	size_t sorted_bytes = 0;
	hs_buddy_foreach_arena_locked(count_arena, &b);
	if (!ix->narenas)
		return true;
	if (!hs_lk_grow((void **)&b.sorted, &sorted_bytes, ix->narenas * sizeof *b.sorted)
	    || !hs_lk_grow((void **)&ix->arenas, &ix->arenas_bytes, ix->narenas * sizeof *ix->arenas)
	    || !hs_lk_grow((void **)&ix->by_index, &ix->by_index_bytes,
	                   ix->nindex * sizeof *ix->by_index)) {
		hs_lk_unmap(b.sorted, sorted_bytes);
		return false;
	}
	b.cap = ix->narenas;
	hs_buddy_foreach_arena_locked(list_arena, &b);
	ix->narenas = b.k;
	hs_lk_heapsort(b.sorted, b.k, sizeof *b.sorted, arena_key);
	recip_init();
	size_t n = 0;
	bool ok = true;
	for (size_t i = 0; i < b.k && ok; i++) {
		struct hs_lk_ix_arena *x = &ix->arenas[i];
		x->a = b.sorted[i];
		ix->by_index[x->a->index] = x;
		ok = number_arena(ix, x, &n);
	}
	hs_lk_unmap(b.sorted, sorted_bytes);
	if (!ok || (n && !hs_lk_grow((void **)&ix->marks, &ix->marks_bytes, n)))
		return false;
	ix->nmarks = n;
	for (size_t i = 0; i < ix->narenas; i++)
		judge_arena(ix, &ix->arenas[i]);
	return true;
}

/* Huge and boot blocks, into ix->entries. */
struct others {
	struct hs_lk_index *ix;
	size_t n, cap;
};

static void count_other(void *user, void *ctx)
{
	(void)user;
	((struct others *)ctx)->n++;
}

static void count_boot(struct hs_header *h, void *ctx)
{
	(void)h;
	((struct others *)ctx)->n++;
}

static void add_entry(struct others *o, struct hs_header *h, size_t size, uint8_t where)
{
	if (o->n >= o->cap)
		return;                         /* one more than counted      */
	o->ix->entries[o->n++] = (struct hs_lk_entry){
		.start = (uintptr_t)hs_user_of(h), .size = size, .where = where,
		/* a running thread may unmap a huge block's pages (realloc
		 * shrinks and moves them without the huge lock): copy reads */
		.copy = where == HS_BIN_HUGE,
	};
}

static void add_huge(void *user, void *ctx)
{
	struct others *o = ctx;
	struct hs_header *h = hs_header_of(user);
	size_t cap = hs_huge_capacity(user);
	enum judgement j = judge(h, cap + HS_HEADER_SIZE, HS_BIN_HUGE);
	if (j == J_UNTRUSTED) {
		o->ix->skipped++;
		o->ix->skipped_bytes += cap;
	}
	if (j != J_LIVE && j != J_DAMAGED)
		return;
	o->ix->damaged += j == J_DAMAGED;
	add_entry(o, h, h->size <= cap ? h->size : cap, HS_BIN_HUGE);
}

static void add_boot(struct hs_header *h, void *ctx)
{
	if (h->state == HS_LIVE && hs_header_valid(h))
		add_entry(ctx, h, h->size, HS_BIN_BOOT);
}

static bool build_others(struct hs_lk_index *ix)
{
	struct others o = { ix, 0, 0 };
	hs_huge_foreach_locked(count_other, &o);
	hs_boot_foreach(count_boot, &o);
	o.cap = o.n + 1;
	o.n = 0;
	if (!hs_lk_grow((void **)&ix->entries, &ix->entries_bytes, o.cap * sizeof *ix->entries))
		return false;
	hs_huge_foreach_locked(add_huge, &o);
	hs_boot_foreach(add_boot, &o);
	hs_lk_array_init(&ix->other, ix->entries, o.n);
	ix->live += o.n;
	return true;
}

bool hs_lk_index_build(struct hs_lk_index *ix)
{
	*ix = (struct hs_lk_index){
		.ops = { .find = ix_find, .prefetch = ix_prefetch, .walk = ix_walk } };
	if (!build_arenas(ix) || !build_others(ix))
		return false;
	ix->ops.n = ix->nmarks + ix->other.n;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	if (ix->narenas) {
		lo = (uintptr_t)ix->arenas[0].a->base;
		hi = (uintptr_t)ix->arenas[ix->narenas - 1].a->base + HS_ARENA_SIZE;
	}
	if (ix->other.n) {
		lo = ix->other.ops.lo < lo ? ix->other.ops.lo : lo;
		hi = ix->other.ops.hi > hi ? ix->other.ops.hi : hi;
	}
	ix->ops.lo = lo <= hi ? lo : 0;
	ix->ops.hi = lo <= hi ? hi : 0;
	return true;
}

void hs_lk_index_free(struct hs_lk_index *ix)
{
	hs_lk_unmap(ix->marks, ix->marks_bytes);
	hs_lk_unmap(ix->arenas, ix->arenas_bytes);
	hs_lk_unmap(ix->by_index, ix->by_index_bytes);
	hs_lk_unmap(ix->entries, ix->entries_bytes);
	*ix = (struct hs_lk_index){ 0 };
}
