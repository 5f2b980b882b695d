/*
 * analyze.c — groups and suppresses (see analyze.h); symbolizes only what
 * a suppression must look at. The frames a report shows are looked up
 * when the report asks for them (hs_display), so a record that is not
 * printed (a still-reachable block under the default --leak-kinds, say)
 * costs no symbolization at all.
 */
#include "analyze.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- a map from a two-word key to a group index -------------------------- */
struct groupmap {
	struct { uint64_t k0, k1; size_t idx1; } *slots;   /* idx1 = index + 1 */
	size_t cap, used;
};

static size_t *group_slot(struct groupmap *m, uint64_t k0, uint64_t k1)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct groupmap n = { .cap = m->cap ? m->cap * 2 : 256 };
		n.slots = hs_xcalloc(n.cap, sizeof *n.slots);
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slots[i].idx1)
				continue;
			size_t j = hs_hash64(m->slots[i].k0 ^ hs_hash64(m->slots[i].k1)) & (n.cap - 1);
			while (n.slots[j].idx1)
				j = (j + 1) & (n.cap - 1);
			n.slots[j] = m->slots[i];
		}
		free(m->slots);
		n.used = m->used;
		*m = n;
	}
	size_t j = hs_hash64(k0 ^ hs_hash64(k1)) & (m->cap - 1);
	while (m->slots[j].idx1 && !(m->slots[j].k0 == k0 && m->slots[j].k1 == k1))
		j = (j + 1) & (m->cap - 1);
	if (!m->slots[j].idx1) {
		m->slots[j].k0 = k0;
		m->slots[j].k1 = k1;
		m->used++;
	}
	return &m->slots[j].idx1;
}

/* ---- display frames ---------------------------------------------------- */

size_t hs_display(const struct hs_analysis *a, uint32_t stack,
                  const struct hs_frame **out)
{
	return hs_sym_stack_to_main(a->sym, stack, a->max_frames, out);
}

/* The suppression that matched, as index + 1 in a->supp_uses (memcheck's
 * XML counts uses per suppression); 0 when none did. */
static size_t supp_use(struct hs_analysis *a, const struct hs_supp *sp)
{
	if (!sp)
		return 0;
	for (size_t i = 0; i < a->nsupp_uses; i++)
		if (a->supp_uses[i].supp == sp)
			return i + 1;
	struct hs_supp_use *u = HS_PUSH(a->supp_uses, a->nsupp_uses, a->cap_supp_uses);
	u->supp = sp;
	u->count = 0;
	return a->nsupp_uses;
}

/* A record is suppressed when an entry matches its whole stack; only ask
 * (and so symbolize the whole stack) when some entry is about this kind. */
static size_t leak_suppressed(struct hs_analysis *a, const struct hs_supps *supps,
                              const struct hs_leak_rec *r)
{
	if (!hs_supps_cover_leak(supps, r->kind))
		return 0;
	const struct hs_frame *all;
	size_t nall = hs_sym_stack(a->sym, r->stack, &all);
	return supp_use(a, hs_supps_match_leak(supps, r->kind, all, nall));
}

static size_t error_suppressed(struct hs_analysis *a, const struct hs_supps *supps,
                               const struct hs_terror *e)
{
	if (!hs_supps_cover_error(supps, e->kind))
		return 0;
	const struct hs_frame *all;
	size_t nall = hs_sym_stack(a->sym, e->stack, &all);
	return supp_use(a, hs_supps_match_error(supps, e->kind, all, nall));
}

/* ---- leaks --------------------------------------------------------------- */

static int by_bytes_desc(const void *x, const void *y)
{
	const struct hs_leak_rec *a = x, *b = y;
	if (a->amount.bytes != b->amount.bytes)
		return a->amount.bytes > b->amount.bytes ? -1 : 1;
	if (a->amount.blocks != b->amount.blocks)
		return a->amount.blocks > b->amount.blocks ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static void group_leaks(struct hs_analysis *a, const struct hs_supps *supps)
{
	const struct hs_trace *tr = a->tr;
	struct groupmap map = { 0 };
	struct hs_leak_rec *g = NULL;
	size_t ng = 0, cap = 0;
	for (size_t i = 0; i < tr->nleaks; i++) {
		const struct hs_tleak *l = &tr->leaks[i];
		size_t *slot = group_slot(&map, l->kind, l->stack);
		if (!*slot) {
			struct hs_leak_rec *r = HS_PUSH(g, ng, cap);
			memset(r, 0, sizeof *r);
			r->kind = l->kind;
			r->stack = l->stack;
			*slot = ng;
		}
		g[*slot - 1].amount.blocks += l->blocks;
		g[*slot - 1].amount.bytes += l->bytes;
	}
	free(map.slots);

	size_t kept = 0;
	for (size_t i = 0; i < ng; i++) {
		size_t use = leak_suppressed(a, supps, &g[i]);
		if (use) {
			a->supp_uses[use - 1].count++;
			a->suppressed.blocks += g[i].amount.blocks;
			a->suppressed.bytes += g[i].amount.bytes;
			a->suppressed_records++;
			continue;
		}
		a->kind[g[i].kind].blocks += g[i].amount.blocks;
		a->kind[g[i].kind].bytes += g[i].amount.bytes;
		g[kept++] = g[i];
	}
	if (kept)
		qsort(g, kept, sizeof *g, by_bytes_desc);
	a->leaks = g;
	a->nleaks = kept;
}

/* ---- errors and faults ----------------------------------------------------- */

static void group_errors(struct hs_analysis *a, const struct hs_supps *supps)
{
	const struct hs_trace *tr = a->tr;
	struct groupmap map = { 0 };
	size_t cap = 0;
	/* group -> record index + 1, or 0 when the group is suppressed;
	 * suppression is decided once per group (same kind, same stacks) */
	size_t *group_rec = NULL, grcap = 0, ngroups = 0;
	a->error_suppressed = hs_xcalloc(tr->nerrors ? tr->nerrors : 1, sizeof(bool));
	for (size_t i = 0; i < tr->nerrors; i++) {
		const struct hs_terror *e = &tr->errors[i];
		/* without its own stack an error shares nothing with another one
		 * but the kind: keep each apart, so each keeps its address */
		uint64_t k1 = e->stack ? (uint64_t)e->alloc_stack << 32 | e->free_stack
		                       : 1ull << 63 | i;
		size_t *slot = group_slot(&map, (uint64_t)e->kind << 32 | e->stack, k1);
		if (!*slot) {
			size_t rec = 0, use = error_suppressed(a, supps, e);
			if (!use) {
				struct hs_err_rec *r = HS_PUSH(a->errors, a->nerrors, cap);
				memset(r, 0, sizeof *r);
				r->first = e;
				rec = a->nerrors;
			} else {
				a->error_contexts_suppressed++;
			}
			/* a suppressed group keeps its suppression, as ~use */
			*HS_PUSH(group_rec, ngroups, grcap) = rec ? rec : ~use;
			*slot = ngroups;
		}
		size_t rec = group_rec[*slot - 1];
		if (rec <= a->nerrors) {
			a->errors[rec - 1].count++;
			a->error_count++;
		} else {
			a->supp_uses[~rec - 1].count++;
			a->error_suppressed[i] = true;
			a->errors_suppressed++;
		}
	}
	free(group_rec);
	free(map.slots);
}

static void group_faults(struct hs_analysis *a)
{
	const struct hs_trace *tr = a->tr;
	struct groupmap map = { 0 };
	size_t cap = 0;
	for (size_t i = 0; i < tr->nfaults; i++) {
		const struct hs_tfault *f = &tr->faults[i];
		size_t *slot = group_slot(&map, f->fn, f->stack);
		if (!*slot) {
			struct hs_fault_rec *r = HS_PUSH(a->faults, a->nfaults, cap);
			memset(r, 0, sizeof *r);
			r->first = f;
			*slot = a->nfaults;
		}
		a->faults[*slot - 1].count++;
		a->faults[*slot - 1].benign += f->benign;
	}
	free(map.slots);
}

void hs_analyze(struct hs_analysis *a, const struct hs_trace *tr,
                struct hs_symbolizer *sym, const struct hs_supps *supps,
                unsigned max_frames)
{
	memset(a, 0, sizeof *a);
	a->tr = tr;
	a->sym = sym;
	a->max_frames = max_frames;
	group_leaks(a, supps);
	group_errors(a, supps);
	group_faults(a);
	hs_profile_build(&a->profile, tr);
}

bool hs_analysis_found(const struct hs_analysis *a, unsigned leak_kinds)
{
	for (int k = 0; k < HS_NR_LEAK_KINDS; k++)
		if (leak_kinds & (1u << k) && a->kind[k].blocks)
			return true;
	return a->error_count != 0;
}

bool hs_analysis_found_problems(const struct hs_analysis *a)
{
	return hs_analysis_found(a, 1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_INDIRECT
	                            | 1u << HS_LEAK_POSSIBLE);
}

void hs_analysis_free(struct hs_analysis *a)
{
	free(a->leaks);
	free(a->errors);
	free(a->faults);
	free(a->error_suppressed);
	hs_profile_free(&a->profile);
	free(a->supp_uses);
	memset(a, 0, sizeof *a);
}
