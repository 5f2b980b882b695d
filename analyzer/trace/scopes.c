/*
 * scopes.c — see scopes.h for what and why.
 *
 * A unit's table lists every range of every DW_TAG_subprogram that has
 * code, found among the unit's top-level DIEs and inside namespaces (and,
 * for C++, classes and structs, where some compilers put definitions).
 * It is sorted by start; an address takes the last range starting at or
 * below it. If that range does not hold the address, or the one before
 * it overlaps it (a nested function), the table is not trusted for that
 * address and libdw answers: the fast answer is only given where it is
 * the same as libdw's.
 *
 * From the function, the descent takes at each level the child scope
 * (inlined instance, lexical block, try/catch block) whose ranges hold
 * the address: the scopes of a function nest and do not overlap, so the
 * path is unique. Only inlined instances and the function are kept.
 */
#include "scopes.h"
#include "util.h"

#include <dwarf.h>
#include <stdlib.h>

#define MAX_NEST  256           /* scope depth inside a function: bounds
                                   bad DWARF                              */
#define MAX_TYPES 16            /* namespace/class nesting searched       */

struct fn_range {
	Dwarf_Addr lo, hi;
	Dwarf_Die die;
};

struct unit {
	Dwarf_Off off;              /* the unit DIE's offset: the key         */
	struct fn_range *r;
	size_t n, cap;
};

struct hs_scopes {
	struct unit *units;
	size_t n, cap;
	size_t last;                /* consecutive addresses share a unit     */
};

struct hs_scopes *hs_scopes_new(void)
{
	return hs_xcalloc(1, sizeof(struct hs_scopes));
}

void hs_scopes_free(struct hs_scopes *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++)
		free(x->units[i].r);
	free(x->units);
	free(x);
}

static void add_function(struct unit *u, Dwarf_Die *fn)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	while ((off = dwarf_ranges(fn, off, &base, &lo, &hi)) > 0)
		if (hi > lo)
			*HS_PUSH(u->r, u->n, u->cap) = (struct fn_range){ lo, hi, *fn };
}

static void collect(struct unit *u, Dwarf_Die *parent, bool cxx, int depth)
{
	Dwarf_Die d;
	if (dwarf_child(parent, &d) != 0)
		return;
	do {
		int tag = dwarf_tag(&d);
		if (tag == DW_TAG_subprogram)
			add_function(u, &d);
		else if (depth < MAX_TYPES &&
		         (tag == DW_TAG_namespace || tag == DW_TAG_module ||
		          (cxx && (tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
		                   tag == DW_TAG_union_type))))
			collect(u, &d, cxx, depth + 1);
	} while (dwarf_siblingof(&d, &d) == 0);
}

static int by_lo(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static struct unit *unit_of(struct hs_scopes *x, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	if (x->last < x->n && x->units[x->last].off == off)
		return &x->units[x->last];
	for (size_t i = 0; i < x->n; i++)
		if (x->units[i].off == off)
			return &x->units[x->last = i];
	struct unit *u = HS_PUSH(x->units, x->n, x->cap);
	*u = (struct unit){ .off = off };
	x->last = x->n - 1;
	int lang = dwarf_srclang(cu);
	bool cxx = lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03 ||
	           lang == DW_LANG_C_plus_plus_11 || lang == DW_LANG_C_plus_plus_14;
	collect(u, cu, cxx, 0);
	if (u->n)
		qsort(u->r, u->n, sizeof *u->r, by_lo);
	return u;
}

/* The function whose range holds pc, when the table alone can tell. */
static Dwarf_Die *function_at(const struct unit *u, Dwarf_Addr pc)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) {               /* first range with lo > pc            */
		size_t mid = (lo + hi) / 2;
		if (u->r[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pc >= u->r[lo - 1].hi)
		return NULL;
	if (lo >= 2 && u->r[lo - 2].hi > u->r[lo - 1].lo)
		return NULL;            /* overlapping ranges: ask libdw         */
	return (Dwarf_Die *)&u->r[lo - 1].die;
}

static bool is_scope(int tag)
{
	return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block ||
	       tag == DW_TAG_try_block || tag == DW_TAG_catch_block;
}

int hs_scopes_at(struct hs_scopes *x, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **chain)
{
	*chain = NULL;
	Dwarf_Die *fn = function_at(unit_of(x, cu), pc);
	if (!fn)
		return hs_scopes_at_libdw(cu, pc, chain);
	Dwarf_Die path[MAX_NEST];       /* inlined instances, outermost first */
	int n = 0;
	Dwarf_Die cur = *fn;
	for (int depth = 0; depth < MAX_NEST; depth++) {
		Dwarf_Die d;
		bool found = false;
		if (dwarf_child(&cur, &d) == 0)
			do {
				if (is_scope(dwarf_tag(&d)) && dwarf_haspc(&d, pc) == 1) {
					found = true;
					break;
				}
			} while (dwarf_siblingof(&d, &d) == 0);
		if (!found)
			break;
		cur = d;
		if (dwarf_tag(&cur) == DW_TAG_inlined_subroutine)
			path[n++] = cur;
	}
	Dwarf_Die *out = hs_xmalloc((size_t)(n + 1) * sizeof *out);
	for (int i = 0; i < n; i++)
		out[i] = path[n - 1 - i];
	out[n] = *fn;
	*chain = out;
	return n + 1;
}

int hs_scopes_at_libdw(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **chain)
{
	Dwarf_Die *scopes = NULL, *all = NULL;
	*chain = NULL;
	if (dwarf_getscopes(cu, pc, &scopes) <= 0) {
		free(scopes);
		return 0;
	}
	/* dwarf_getscopes continues past an inlined instance into its
	 * abstract origin; the concrete nesting comes from the innermost
	 * scope's real parents. */
	int nall = dwarf_getscopes_die(&scopes[0], &all);
	free(scopes);
	if (nall <= 0) {
		free(all);
		return 0;
	}
	int n = 0;
	for (int i = 0; i < nall; i++) {
		int tag = dwarf_tag(&all[i]);
		if (tag == DW_TAG_inlined_subroutine)
			all[n++] = all[i];
		else if (tag == DW_TAG_subprogram) {
			all[n++] = all[i];
			break;
		}
	}
	if (n == 0) {
		free(all);
		return 0;
	}
	*chain = all;
	return n;
}
