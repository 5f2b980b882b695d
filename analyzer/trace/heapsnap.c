/*
 * heapsnap.c — heap snapshots: parsing the `h` cell grammar (version 1,
 * docs/TRACE-FORMAT.md) and looking things up in the result.
 *
 * The cells are checked as strictly as the rest of the trace: every run
 * must fit the arena, a free block must sit at a multiple of its size,
 * and the runs must cover exactly 1024 pages. A bad cell names itself
 * (position and text) in the message.
 */
#include "heapsnap.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -1;
}

int hs_snaps_begin(struct hs_snaps *ss, const char *kind, size_t kind_len,
                   uint64_t t_ms, uint64_t live, uint64_t version,
                   const char *label, size_t label_len, char *err, size_t errcap)
{
	(void)err;
	(void)errcap;
	struct hs_snap *s = HS_PUSH(ss->v, ss->n, ss->cap);
	memset(s, 0, sizeof *s);
	s->kind = hs_xstrndup(kind, kind_len);
	s->label = hs_xstrndup(label, label_len);
	s->t_ms = t_ms;
	s->live = live;
	s->version = (unsigned)(version > 1000 ? 1000 : version);
	/* A newer grammar: keep the snapshot's existence, skip its cells. */
	s->unreadable = version != HS_SNAP_CELLS_VERSION;
	return 0;
}

/* A decimal number at *p (at least one digit, at most max). */
static bool num(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
	}
	*p = s;
	*out = v;
	return true;
}

static bool lit(const char **p, const char *end, char c)
{
	if (*p < end && **p == c) {
		(*p)++;
		return true;
	}
	return false;
}

/* One run (without its repeat) from [p, end) into b; false if malformed. */
static bool run(const char *p, const char *end, struct hs_sblock *b)
{
	uint64_t a, n, u, c;
	memset(b, 0, sizeof *b);
	char t = *p++;
	switch (t) {
	case 'f':
	case 'F':
		if (!num(&p, end, HS_SNAP_ORDERS - 1, &a))
			return false;
		b->type = t == 'f' ? HS_SB_FREE : HS_SB_DIRTY;
		b->order = (uint8_t)a;
		b->npages = (uint16_t)(1u << a);
		break;
	case 'l':
		if (!num(&p, end, HS_SNAP_ARENA_PAGES, &n) || n == 0)
			return false;
		b->type = HS_SB_LARGE;
		b->npages = (uint16_t)n;
		break;
	case 's':
		if (!num(&p, end, 1u << 20, &a) || a == 0 || !lit(&p, end, ':')
		    || !num(&p, end, HS_SNAP_ARENA_PAGES, &n) || n == 0 || !lit(&p, end, ':')
		    || !num(&p, end, 1u << 24, &u) || !lit(&p, end, '/')
		    || !num(&p, end, 1u << 24, &c) || u > c || c * a > n * HS_SNAP_PAGE)
			return false;
		b->type = HS_SB_SLAB;
		b->npages = (uint16_t)n;
		b->slot = (uint32_t)a;
		b->used = (uint32_t)u;
		b->capacity = (uint32_t)c;
		break;
	case 'u':
		if (!num(&p, end, 1, &n) || n != 1)
			return false;
		b->type = HS_SB_UNKNOWN;
		b->npages = 1;
		break;
	default:
		return false;
	}
	return p == end;
}

static int read_cells(struct hs_snap *s, struct hs_sarena *a,
                      const char *cells, size_t len, char *err, size_t errcap);

int hs_snaps_arena(struct hs_snaps *ss, uint64_t index, uint64_t base,
                   const char *cells, size_t len, char *err, size_t errcap)
{
	if (!ss->n)
		return fail(err, errcap, "h line before any H line");
	struct hs_snap *s = &ss->v[ss->n - 1];
	if (s->unreadable)
		return 0;
	if (base % HS_SNAP_ARENA_BYTES)
		return fail(err, errcap, "arena base %llx is not a multiple of 4 MiB",
		            (unsigned long long)base);
	if (index > UINT32_MAX)
		return fail(err, errcap, "arena index %llu is out of range",
		            (unsigned long long)index);
	struct hs_sarena *a = HS_PUSH(s->arenas, s->narenas, s->cap_arenas);
	a->index = (uint32_t)index;
	a->base = base;
	a->first = s->nblocks;
	a->n = 0;
	/* A bad cell stops the read, but the model keeps what came before
	 * it: take this arena back out, so every arena left in the model
	 * covers its 1024 pages (hs_snap_block_at relies on that; fuzzing
	 * found an empty arena making it return a block past the array). */
	int rc = read_cells(s, a, cells, len, err, errcap);
	if (rc) {
		s->nblocks = a->first;
		s->narenas--;
	}
	return rc;
}

static int read_cells(struct hs_snap *s, struct hs_sarena *a,
                      const char *cells, size_t len, char *err, size_t errcap)
{
	const char *p = cells, *end = cells + len;
	unsigned page = 0, k = 0;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *te = sp ? sp : end;
		const char *star = memchr(p, '*', (size_t)(te - p));
		char tok[40];
		snprintf(tok, sizeof tok, "%.*s", (int)(te - p < 32 ? te - p : 32), p);
		k++;
		struct hs_sblock b;
		uint64_t rep = 1;
		const char *q = star ? star + 1 : te;
		if (te == p || !run(p, star ? star : te, &b)
		    || (star && (!num(&q, te, HS_SNAP_ARENA_PAGES, &rep) || q != te || rep < 2)))
			return fail(err, errcap, "h line: cell %u '%s' is not a cell "
			            "(fN FN lN sZ:N:U/C u1, optionally *R)", k, tok);
		for (uint64_t r = 0; r < rep; r++) {
			if (page + b.npages > HS_SNAP_ARENA_PAGES)
				return fail(err, errcap, "h line: cell %u '%s' runs past "
				            "the arena's 1024 pages (at page %u)", k, tok, page);
			if ((b.type == HS_SB_FREE || b.type == HS_SB_DIRTY) && page % b.npages)
				return fail(err, errcap, "h line: cell %u '%s': a free block "
				            "cannot start at page %u", k, tok, page);
			b.first = (uint16_t)page;
			*HS_PUSH(s->blocks, s->nblocks, s->cap_blocks) = b;
			a->n++;
			page += b.npages;
		}
		p = sp ? sp + 1 : end;
		if (sp && p == end)
			return fail(err, errcap, "h line: space at the end of the cells");
	}
	if (page != HS_SNAP_ARENA_PAGES)
		return fail(err, errcap, "h line: the cells cover %u pages, not 1024",
		            page);
	return 0;
}

int hs_snaps_huge(struct hs_snaps *ss, uint64_t addr, uint64_t usable,
                  uint64_t requested, char *err, size_t errcap)
{
	if (!ss->n)
		return fail(err, errcap, "g line before any H line");
	struct hs_snap *s = &ss->v[ss->n - 1];
	if (requested > usable)
		return fail(err, errcap, "g line: %llu bytes requested but only %llu usable",
		            (unsigned long long)requested, (unsigned long long)usable);
	*HS_PUSH(s->huge, s->nhuge, s->cap_huge) = (struct hs_shuge){ addr, usable, requested };
	return 0;
}

static int by_base(const void *x, const void *y)
{
	const struct hs_sarena *a = x, *b = y;
	return a->base < b->base ? -1 : a->base > b->base;
}

void hs_snaps_finish(struct hs_snaps *ss)
{
	/* A snapshot with no `h` line has arenas == NULL, and qsort's
	 * pointer is declared nonnull even for zero elements (found by
	 * fuzzing, UBSan): nothing to sort below two anyway. */
	for (size_t i = 0; i < ss->n; i++)
		if (ss->v[i].narenas > 1)
			qsort(ss->v[i].arenas, ss->v[i].narenas, sizeof *ss->v[i].arenas, by_base);
}

void hs_snaps_free(struct hs_snaps *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		struct hs_snap *s = &ss->v[i];
		free(s->kind);
		free(s->label);
		free(s->arenas);
		free(s->blocks);
		free(s->huge);
	}
	free(ss->v);
	memset(ss, 0, sizeof *ss);
}

const struct hs_snap *hs_snaps_find(const struct hs_snaps *ss, const char *kind)
{
	for (size_t i = ss->n; i-- > 0;)
		if (strcmp(ss->v[i].kind, kind) == 0)
			return &ss->v[i];
	return NULL;
}

const struct hs_sblock *hs_snap_block_at(const struct hs_snap *s, uint64_t addr,
                                         const struct hs_sarena **arena)
{
	uint64_t base = addr & ~(HS_SNAP_ARENA_BYTES - 1);
	size_t lo = 0, hi = s->narenas;
	while (lo < hi) {                     /* arenas are sorted by base */
		size_t mid = (lo + hi) / 2;
		if (s->arenas[mid].base < base)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->narenas || s->arenas[lo].base != base)
		return NULL;
	const struct hs_sarena *a = &s->arenas[lo];
	unsigned page = (unsigned)((addr - base) >> HS_SNAP_PAGE_SHIFT);
	const struct hs_sblock *b = s->blocks + a->first;
	lo = 0;
	hi = a->n;
	while (hi - lo > 1) {                 /* last block with first <= page */
		size_t mid = (lo + hi) / 2;
		if (b[mid].first <= page)
			lo = mid;
		else
			hi = mid;
	}
	if (arena)
		*arena = a;
	return &b[lo];
}

void hs_snap_free_counts(const struct hs_snap *s, uint64_t nr_free[HS_SNAP_ORDERS],
                         uint64_t *free_pages, uint64_t *dirty_pages)
{
	memset(nr_free, 0, HS_SNAP_ORDERS * sizeof *nr_free);
	*free_pages = *dirty_pages = 0;
	for (size_t i = 0; i < s->nblocks; i++) {
		const struct hs_sblock *b = &s->blocks[i];
		if (b->type != HS_SB_FREE && b->type != HS_SB_DIRTY)
			continue;
		nr_free[b->order]++;
		*free_pages += b->npages;
		if (b->type == HS_SB_DIRTY)
			*dirty_pages += b->npages;
	}
}
