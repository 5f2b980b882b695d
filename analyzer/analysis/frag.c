/*
 * frag.c — fragmentation figures (frag.h has the definitions).
 */
#include "frag.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t hs_free_pages(const uint64_t nr_free[HS_SNAP_ORDERS])
{
	uint64_t pages = 0;
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		pages += nr_free[k] << k;
	return pages;
}

int hs_largest_free_order(const uint64_t nr_free[HS_SNAP_ORDERS])
{
	for (int k = HS_SNAP_ORDERS - 1; k >= 0; k--)
		if (nr_free[k])
			return k;
	return -1;
}

double hs_unusable_index(const uint64_t nr_free[HS_SNAP_ORDERS], int order)
{
	uint64_t total = hs_free_pages(nr_free), usable = 0;
	if (total == 0)
		return 1.0;
	for (int i = order; i < HS_SNAP_ORDERS; i++)
		usable += nr_free[i] << i;
	return (double)(total - usable) / (double)total;
}

void hs_frag_point(const struct hs_tsample *s, struct hs_point *p)
{
	memset(p, 0, sizeof *p);
	p->t_ms = s->t_ms;
	p->live = s->live;
	p->granted = s->granted;
	p->held = s->held;
	p->internal_bytes = s->granted > s->live ? s->granted - s->live : 0;
	p->free_pages = hs_free_pages(s->nr_free);
	p->largest_free_order = hs_largest_free_order(s->nr_free);
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		p->unusable[k] = hs_unusable_index(s->nr_free, k);
	p->heap_efficiency = s->held ? (double)s->live / (double)s->held : NAN;
}

static struct hs_bin_frag *bin_for(struct hs_frag *f, size_t *cap, uint32_t slot)
{
	for (size_t i = 0; i < f->nbins; i++)
		if (f->bins[i].slot == slot)
			return &f->bins[i];
	struct hs_bin_frag *b = HS_PUSH(f->bins, f->nbins, *cap);
	memset(b, 0, sizeof *b);
	b->slot = slot;
	return b;
}

static int by_slot(const void *x, const void *y)
{
	const struct hs_bin_frag *a = x, *b = y;
	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Slabs per class and large blocks from the snapshot; then the sizes of
 * the blocks live at exit from the leak records. */
static void from_snapshot(struct hs_frag *f, const struct hs_trace *tr)
{
	const struct hs_snap *s = f->snap;
	size_t cap = 0;
	uint64_t nr[HS_SNAP_ORDERS], free_pages;
	hs_snap_free_counts(s, nr, &free_pages, &f->snap_dirty_pages);
	for (size_t i = 0; i < s->nblocks; i++) {
		const struct hs_sblock *b = &s->blocks[i];
		if (b->type == HS_SB_SLAB) {
			struct hs_bin_frag *bf = bin_for(f, &cap, b->slot);
			bf->slabs++;
			bf->pages += b->npages;
			bf->capacity += b->capacity;
			bf->used += b->used;
		} else if (b->type == HS_SB_LARGE) {
			f->large_blocks++;
			f->large_pages += b->npages;
		}
	}
	for (size_t i = 0; i < s->nhuge; i++) {
		f->huge_blocks++;
		f->huge_usable += s->huge[i].usable;
		f->huge_requested += s->huge[i].requested;
	}
	/* The leak scan ran when there is a C line: then per-class requested
	 * bytes are exact. A version 2 trace gives them per slot size (`Z`);
	 * a version 1 trace has an `L` line per live block, placed here by
	 * its address in the snapshot. */
	bool joined = tr->have_counters;
	for (size_t i = 0; joined && i < tr->nclasses; i++) {
		const struct hs_tclass *c = &tr->classes[i];
		if (c->slot) {
			struct hs_bin_frag *bf = bin_for(f, &cap, c->slot);
			bf->live_blocks += c->blocks;
			bf->live_bytes += c->bytes;
		} else {
			f->large_live_bytes += c->bytes;
		}
	}
	for (size_t i = 0; joined && i < tr->nleaks; i++) {
		const struct hs_tleak *l = &tr->leaks[i];
		const struct hs_sblock *b = l->addr ? hs_snap_block_at(s, l->addr, NULL) : NULL;
		if (!b)
			continue;
		if (b->type == HS_SB_SLAB) {
			struct hs_bin_frag *bf = bin_for(f, &cap, b->slot);
			bf->live_blocks++;
			bf->live_bytes += l->bytes;
		} else if (b->type == HS_SB_LARGE) {
			f->large_live_bytes += l->bytes;
		}
	}
	f->have_large_live = joined;
	for (size_t i = 0; i < f->nbins; i++) {
		struct hs_bin_frag *bf = &f->bins[i];
		bf->fill = bf->capacity ? (double)bf->used / (double)bf->capacity : 0;
		bf->have_live = joined;
		uint64_t granted = bf->used * bf->slot;
		bf->internal_bytes = joined && granted > bf->live_bytes ? granted - bf->live_bytes : 0;
	}
	qsort(f->bins, f->nbins, sizeof *f->bins, by_slot);
}

void hs_frag_compute(struct hs_frag *f, const struct hs_trace *tr)
{
	memset(f, 0, sizeof *f);
	f->largest_free_order = -1;
	f->heap_efficiency = NAN;
	if (tr->nsamples) {
		f->series = hs_xmalloc(tr->nsamples * sizeof *f->series);
		f->nseries = tr->nsamples;
		for (size_t i = 0; i < tr->nsamples; i++)
			hs_frag_point(&tr->samples[i], &f->series[i]);
		const struct hs_tsample *s = &tr->samples[tr->nsamples - 1];
		const struct hs_point *p = &f->series[tr->nsamples - 1];
		f->have_sample = true;
		f->t_ms = s->t_ms;
		memcpy(f->nr_free, s->nr_free, sizeof f->nr_free);
		f->free_pages = p->free_pages;
		f->largest_free_order = p->largest_free_order;
		memcpy(f->unusable, p->unusable, sizeof f->unusable);
		f->live = s->live;
		f->granted = s->granted;
		f->held = s->held;
		f->internal_bytes = p->internal_bytes;
		f->heap_efficiency = p->heap_efficiency;
		f->have_blocks = true;
		f->live_blocks = s->allocs > s->frees ? s->allocs - s->frees : 0;
	}
	if (tr->have_counters) {
		f->have_blocks = true;
		f->live_blocks = tr->live_blocks;
	}
	f->header_bytes = f->live_blocks * HS_HEADER_BYTES;
	const struct hs_snap *s = hs_snaps_find(&tr->snaps, "exit");
	if (s && !s->unreadable) {
		f->snap = s;
		from_snapshot(f, tr);
	}
}

void hs_frag_free(struct hs_frag *f)
{
	free(f->bins);
	free(f->series);
	memset(f, 0, sizeof *f);
}
