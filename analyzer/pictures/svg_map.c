/*
 * svg_map.c — a heap snapshot drawn page by page.
 *
 * Every page of every arena gets a state (free by block order, slab by
 * fill, large block, leaked); arenas are laid out in address order, 128
 * cells to a row, with each arena's base address on the left axis.
 *
 * Big heaps: at most MAX_CELLS cells are drawn. With more pages, a cell
 * stands for k pages (k a power of two) and shows the state that covers
 * most of them, except that a cell with any leaked page is drawn leaked
 * (a leak must never average away). Neighbouring cells of one colour in
 * a row become one rectangle, and all rectangles of a colour are one
 * <path>, so the file grows with the heap's variety, not its size: a
 * 2 GiB heap (512 arenas) is 32768 cells of 16 pages at most.
 */
#include "svg.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CELLS 32768
#define COLS      128
#define CW        7             /* cell width, px                          */
#define LEFT      140           /* room for the address labels            */
#define TOP       74

enum cat {
	C_FREE01, C_FREE23, C_FREE46, C_FREE7,
	C_SLAB0, C_SLAB1, C_SLAB2, C_SLAB3,
	C_LARGE_A, C_LARGE_B, C_POSSIBLE, C_LEAKED, C_UNKNOWN, NCAT
};

static const struct { const char *color, *label; } cats[NCAT] = {
	[C_FREE01]   = { "#e6550d", "free block of 4-8 KiB (order 0-1)" },
	[C_FREE23]   = { "#fdae6b", "free block of 16-32 KiB (order 2-3)" },
	[C_FREE46]   = { "#fde0c5", "free block of 64-256 KiB (order 4-6)" },
	[C_FREE7]    = { "#efefef", "free block of 512 KiB-4 MiB (order 7-10)" },
	[C_SLAB0]    = { "#c7e9c0", "bin slab, under 25% of slots used" },
	[C_SLAB1]    = { "#a1d99b", "bin slab, 25-50% used" },
	[C_SLAB2]    = { "#5fb86f", "bin slab, 50-75% used" },
	[C_SLAB3]    = { "#1b7a3a", "bin slab, 75-100% used" },
	[C_LARGE_A]  = { "#2f6fb5", "large block: one allocation (neighbours alternate shades)" },
	[C_LARGE_B]  = { "#7fb2e0", NULL },
	[C_POSSIBLE] = { "#f768a1", "possibly lost at exit" },
	[C_LEAKED]   = { "#b3001b", "leaked at exit (definitely or indirectly lost)" },
	[C_UNKNOWN]  = { "#000000", "unknown page state" },
};

static unsigned free_cat(unsigned order)
{
	return order <= 1 ? C_FREE01 : order <= 3 ? C_FREE23 : order <= 6 ? C_FREE46 : C_FREE7;
}

/* Page states of all arenas, in address order. */
static uint8_t *classify(const struct hs_snap *s, size_t pages)
{
	uint8_t *cat = hs_xmalloc(pages ? pages : 1);
	for (size_t i = 0; i < s->narenas; i++) {
		const struct hs_sarena *a = &s->arenas[i];
		uint8_t *c = cat + i * HS_SNAP_ARENA_PAGES;
		bool alt = false;
		for (size_t j = 0; j < a->n; j++) {
			const struct hs_sblock *b = &s->blocks[a->first + j];
			unsigned v = C_UNKNOWN;
			if (b->type == HS_SB_FREE || b->type == HS_SB_DIRTY) {
				v = free_cat(b->order);
			} else if (b->type == HS_SB_SLAB) {
				unsigned q = b->capacity ? (unsigned)(4 * (uint64_t)b->used / b->capacity) : 0;
				v = C_SLAB0 + (q > 3 ? 3 : q);
			} else if (b->type == HS_SB_LARGE) {
				v = alt ? C_LARGE_B : C_LARGE_A;
				alt = !alt;
			}
			memset(c + b->first, (int)v, b->npages);
		}
	}
	return cat;
}

/* Pages [p0, p1] of block b in arena a take category v (leaked wins). */
static void paint(const struct hs_snap *s, const struct hs_sarena *a,
                  const struct hs_sblock *b, size_t p0, size_t p1, uint8_t *cat, uint8_t v)
{
	if (p0 < b->first)
		p0 = b->first;
	if (p1 > b->first + b->npages - 1u)
		p1 = b->first + b->npages - 1u;
	uint8_t *c = cat + (size_t)(a - s->arenas) * HS_SNAP_ARENA_PAGES;
	for (size_t p = p0; p <= p1; p++)
		if (c[p] != C_LEAKED)
			c[p] = v;
}

static int by_kind_addr(const void *x, const void *y)
{
	const struct hs_tlostpages *a = x, *b = y;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* One run's pages, arena by arena, where the snapshot has a block. */
static void paint_run(const struct hs_snap *s, uint64_t lo, uint64_t end, uint8_t *cat, uint8_t v)
{
	size_t i = 0, n = s->narenas;           /* first arena ending after lo */
	while (i < n) {
		size_t mid = i + (n - i) / 2;
		if (s->arenas[mid].base + HS_SNAP_ARENA_BYTES <= lo)
			i = mid + 1;
		else
			n = mid;
	}
	for (; i < s->narenas && s->arenas[i].base < end; i++) {
		const struct hs_sarena *a = &s->arenas[i];
		uint64_t p = lo > a->base ? lo : a->base;
		uint64_t stop = end < a->base + HS_SNAP_ARENA_BYTES ? end : a->base + HS_SNAP_ARENA_BYTES;
		while (p < stop) {
			const struct hs_sblock *b = hs_snap_block_at(s, p, NULL);
			if (!b)
				break;
			uint64_t b_end = a->base + ((uint64_t)(b->first + b->npages) << HS_SNAP_PAGE_SHIFT);
			uint64_t q = stop < b_end ? stop : b_end;
			if (b->type == HS_SB_LARGE || b->type == HS_SB_SLAB)
				paint(s, a, b, (size_t)((p - a->base) >> HS_SNAP_PAGE_SHIFT),
				      (size_t)((q - 1 - a->base) >> HS_SNAP_PAGE_SHIFT), cat, v);
			p = q;
		}
	}
}

/* Version 2: runs of pages holding lost blocks (`V`), painted where the
 * snapshot has a block; a huge block is leaked when a run covers it.
 * Overlapping runs are merged first, so a trace cannot make this paint a
 * page more than twice. */
static void mark_lost_pages(const struct hs_trace *tr, const struct hs_snap *s, uint8_t *cat,
                            bool *huge_leaked)
{
	size_t n = tr->nlost_pages;
	if (!n)
		return;
	struct hs_tlostpages *u = hs_xmalloc(n * sizeof *u);
	memcpy(u, tr->lost_pages, n * sizeof *u);
	qsort(u, n, sizeof *u, by_kind_addr);
	/* possibly lost first: lost blocks paint over it */
	for (int pass = 0; pass < 2; pass++) {
		uint8_t kind = pass ? HS_LEAK_DEFINITE : HS_LEAK_POSSIBLE;
		uint64_t lo = 0, end = 0;
		for (size_t i = 0; i <= n; i++) {
			bool mine = i < n && u[i].kind == kind;
			uint64_t a = mine ? u[i].addr : 0, e = mine ? u[i].addr + u[i].pages * HS_SNAP_PAGE : 0;
			if (mine && end && a <= end) {
				end = e > end ? e : end;
				continue;
			}
			if (end) {
				paint_run(s, lo, end, cat, pass ? C_LEAKED : C_POSSIBLE);
				for (size_t h = 0; h < s->nhuge; h++)
					if (s->huge[h].addr >= lo && s->huge[h].addr < end)
						huge_leaked[h] = true;
			}
			lo = a;
			end = e;
		}
	}
	free(u);
}

/* Leak records onto the pages they cover (exit snapshot only): version
 * 1's `L` lines, one per block. */
static void mark_leaks(const struct hs_trace *tr, const struct hs_snap *s, uint8_t *cat,
                       bool *huge_leaked)
{
	mark_lost_pages(tr, s, cat, huge_leaked);
	for (size_t i = 0; i < tr->nleaks; i++) {
		const struct hs_tleak *l = &tr->leaks[i];
		if (l->kind == HS_LEAK_REACHABLE || !l->addr)
			continue;
		uint8_t v = l->kind == HS_LEAK_POSSIBLE ? C_POSSIBLE : C_LEAKED;
		const struct hs_sarena *a;
		const struct hs_sblock *b = hs_snap_block_at(s, l->addr, &a);
		if (!b) {
			for (size_t h = 0; h < s->nhuge; h++)
				if (s->huge[h].addr == l->addr)
					huge_leaked[h] = true;
			continue;
		}
		if (b->type != HS_SB_LARGE && b->type != HS_SB_SLAB)
			continue;                  /* stale: freed before the snapshot */
		uint64_t lo = l->addr - HS_HEADER_BYTES - a->base, hi = l->addr + (l->bytes ? l->bytes : 1) - a->base;
		size_t p0 = (size_t)(lo >> HS_SNAP_PAGE_SHIFT), p1 = (size_t)((hi - 1) >> HS_SNAP_PAGE_SHIFT);
		if (b->type == HS_SB_LARGE) {
			p0 = b->first;
			p1 = b->first + b->npages - 1u;
		}
		paint(s, a, b, p0, p1, cat, v);
	}
}

/* k pages into one cell: leaked wins, then possibly lost, else the most
 * common state. */
static uint8_t *aggregate(const uint8_t *cat, size_t pages, size_t k, size_t *ncells)
{
	size_t n = pages / k;
	uint8_t *cell = hs_xmalloc(n ? n : 1);
	for (size_t c = 0; c < n; c++) {
		unsigned cnt[NCAT] = { 0 };
		for (size_t p = c * k; p < (c + 1) * k; p++)
			cnt[cat[p]]++;
		unsigned best = C_UNKNOWN;
		if (cnt[C_LEAKED])
			best = C_LEAKED;
		else if (cnt[C_POSSIBLE])
			best = C_POSSIBLE;
		else
			for (unsigned v = 0, most = 0; v < NCAT; v++)
				if (cnt[v] > most) {
					most = cnt[v];
					best = v;
				}
		cell[c] = (uint8_t)best;
	}
	*ncells = n;
	return cell;
}

struct layout {
	size_t k, cells, rows, cells_per_arena;
	int rh, gap;                 /* row height; gap between arenas (k <= 8) */
	size_t rows_per_arena;       /* k <= 8: whole rows per arena; else 0  */
};

static int row_y(const struct layout *L, size_t r)
{
	size_t arena = L->rows_per_arena ? r / L->rows_per_arena : 0;
	return TOP + (int)r * L->rh + (int)arena * L->gap;
}

static void draw_cells(FILE *f, const struct layout *L, const uint8_t *cell, size_t *rects)
{
	struct hs_sb path[NCAT];
	memset(path, 0, sizeof path);
	for (size_t r = 0; r < L->rows; r++) {
		int y = row_y(L, r);
		size_t c = r * COLS, end = c + COLS < L->cells ? c + COLS : L->cells;
		while (c < end) {
			size_t run = c + 1;
			while (run < end && cell[run] == cell[c])
				run++;
			int x = LEFT + (int)(c - r * COLS) * CW, w = (int)(run - c) * CW;
			hs_sb_printf(&path[cell[c]], "M%d %dh%dv%dh-%dz", x, y, w, L->rh, w);
			(*rects)++;
			c = run;
		}
	}
	for (int v = 0; v < NCAT; v++) {
		if (path[v].n)
			fprintf(f, "<path class=\"hs-cells\" fill=\"%s\" d=\"%.*s\"/>\n", cats[v].color,
			        (int)path[v].n, path[v].p);
		hs_sb_free(&path[v]);
	}
}

/* Base addresses on the left; a hover title per arena. */
static void draw_axis(FILE *f, const struct layout *L, const struct hs_snap *s, const uint8_t *cat)
{
	int lh = 12;
	if (L->rows_per_arena) {
		int ah = (int)L->rows_per_arena * L->rh + L->gap;
		size_t every = (size_t)((lh + ah - 1) / ah);
		for (size_t i = 0; i < s->narenas; i += every)
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0x%llx</text>\n",
			        LEFT - 6, row_y(L, i * L->rows_per_arena) + (L->rh < 10 ? 9 : L->rh - 1),
			        (unsigned long long)s->arenas[i].base);
	} else {
		size_t per_row = COLS / L->cells_per_arena;
		size_t every = (size_t)((lh + L->rh - 1) / L->rh);
		for (size_t r = 0; r < L->rows; r += every)
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0x%llx</text>\n",
			        LEFT - 6, row_y(L, r) + 9,
			        (unsigned long long)s->arenas[r * per_row].base);
		/* thin separators at the arena boundaries inside a row */
		fputs("<path stroke=\"#ffffff\" stroke-width=\"1\" d=\"", f);
		for (size_t c = L->cells_per_arena; c < COLS; c += L->cells_per_arena)
			fprintf(f, "M%d %dv%d", LEFT + (int)c * CW, TOP, (int)L->rows * L->rh);
		fputs("\"/>\n", f);
	}
	fputs("<g fill=\"#000000\" fill-opacity=\"0\">\n", f);
	for (size_t i = 0; i < s->narenas; i++) {
		const struct hs_sarena *a = &s->arenas[i];
		size_t c0 = i * L->cells_per_arena;
		size_t r = c0 / COLS, col = c0 % COLS;
		int w = (int)(L->cells_per_arena < COLS ? L->cells_per_arena : COLS) * CW;
		int h = L->rows_per_arena ? (int)L->rows_per_arena * L->rh : L->rh;
		size_t n[NCAT] = { 0 };
		for (size_t p = 0; p < HS_SNAP_ARENA_PAGES; p++)
			n[cat[i * HS_SNAP_ARENA_PAGES + p]]++;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"><title>arena %u at "
		        "0x%llx: %zu pages free, %zu in slabs, %zu in large blocks, %zu leaked"
		        "</title></rect>\n", LEFT + (int)col * CW, row_y(L, r), w, h, a->index,
		        (unsigned long long)a->base,
		        n[C_FREE01] + n[C_FREE23] + n[C_FREE46] + n[C_FREE7],
		        n[C_SLAB0] + n[C_SLAB1] + n[C_SLAB2] + n[C_SLAB3],
		        n[C_LARGE_A] + n[C_LARGE_B], n[C_LEAKED] + n[C_POSSIBLE]);
	}
	fputs("</g>\n", f);
}

static int draw_legend(FILE *f, int y, const size_t used[NCAT])
{
	int col = 0;
	for (int v = 0; v < NCAT; v++) {
		if ((v == C_UNKNOWN && !used[v]) || !cats[v].label)
			continue;
		int x = 20 + col * 340;
		fprintf(f, "<rect class=\"hs-legend\" x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" "
		        "fill=\"%s\" stroke=\"#999999\" stroke-width=\"0.5\"/>", x, y - 10,
		        cats[v].color);
		if (v == C_LARGE_A)           /* the second shade in the same swatch */
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"7\" height=\"12\" fill=\"%s\"/>",
			        x + 7, y - 10, cats[C_LARGE_B].color);
		fprintf(f, "<text x=\"%d\" y=\"%d\">", x + 20, y);
		hs_xml_text(f, cats[v].label);
		fputs("</text>\n", f);
		if (++col == 3) {
			col = 0;
			y += 18;
		}
	}
	return col ? y + 18 : y;
}

static void title(FILE *f, const struct hs_snap *s, int width)
{
	char live[32];
	fprintf(f, "<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" "
	        "font-weight=\"bold\">Heap map ", width / 2);
	if (!strcmp(s->kind, "exit"))
		fputs("at exit", f);
	else if (!strcmp(s->kind, "peak"))
		fputs("near the peak of live bytes", f);
	else if (!strcmp(s->kind, "signal"))
		fputs("on SIGUSR2", f);
	else {
		fputs("'", f);
		hs_xml_text(f, s->label);
		fputs("'", f);
	}
	fprintf(f, " (t = %.3f s, %s live)</text>\n", (double)s->t_ms / 1000,
	        hs_human_bytes((double)s->live, live, sizeof live));
}

void hs_svg_heapmap(FILE *f, const struct hs_trace *tr, const struct hs_snap *s,
                    struct hs_map_stats *stats)
{
	struct layout L = { .k = 1 };
	size_t pages = s->narenas * HS_SNAP_ARENA_PAGES;
	while (pages / L.k > MAX_CELLS)
		L.k *= 2;
	L.cells_per_arena = HS_SNAP_ARENA_PAGES / L.k ? HS_SNAP_ARENA_PAGES / L.k : 1;
	L.rows_per_arena = L.cells_per_arena >= COLS ? L.cells_per_arena / COLS : 0;
	L.gap = L.rows_per_arena ? 3 : 0;

	uint8_t *cat = classify(s, pages);
	bool *huge_leaked = hs_xcalloc(s->nhuge + 1, sizeof *huge_leaked);
	if (!strcmp(s->kind, "exit"))
		mark_leaks(tr, s, cat, huge_leaked);
	uint8_t *cell = aggregate(cat, pages, L.k, &L.cells);
	L.rows = (L.cells + COLS - 1) / COLS;
	L.rh = L.rows ? (int)(1100 / L.rows) : 8;
	L.rh = L.rh < 3 ? 3 : L.rh > 9 ? 9 : L.rh;
	int width = LEFT + COLS * CW + 30;
	int map_h = L.rows ? row_y(&L, L.rows - 1) + L.rh - TOP : 40;
	size_t used[NCAT] = { 0 };
	for (size_t c = 0; c < L.cells; c++)
		used[cell[c]]++;
	int huge_lines = s->nhuge > 8 ? 9 : (int)s->nhuge;
	int entries = used[C_UNKNOWN] ? 12 : 11;      /* legend: 3 per row */
	int height = TOP + map_h + 34 + 18 * ((entries + 2) / 3) + 18
	             + (s->nhuge ? 18 * (huge_lines + 1) : 0) + 4;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hs-heapmap\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans,Arial,sans-serif\" "
	        "font-size=\"11\">\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
	        width, height, width, height, width, height);
	title(f, s, width);
	char held[32];
	fprintf(f, "<text x=\"%d\" y=\"48\" text-anchor=\"middle\" fill=\"#333333\" "
	        "font-size=\"12\">%zu arena%s (%s), each 1024 pages of 4 KiB; 1 cell = %zu "
	        "page%s (%zu KiB), %d cells per row; arena base addresses on the left</text>\n",
	        width / 2, s->narenas, s->narenas == 1 ? "" : "s",
	        hs_human_bytes((double)pages * 4096, held, sizeof held), L.k,
	        L.k == 1 ? "" : "s", L.k * 4, COLS);
	if (L.k > 1)
		fprintf(f, "<text x=\"%d\" y=\"64\" text-anchor=\"middle\" fill=\"#555555\">a cell "
		        "shows the state of most of its %zu pages; any leaked page makes it red"
		        "</text>\n", width / 2, L.k);
	size_t rects = 0;
	if (!s->narenas)
		fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#555555\">no arenas: nothing was "
		        "allocated from the page heap</text>\n", LEFT, TOP + 20);
	else {
		draw_cells(f, &L, cell, &rects);
		draw_axis(f, &L, s, cat);
	}
	int y = draw_legend(f, TOP + map_h + 34, used);
	fprintf(f, "<text x=\"20\" y=\"%d\" fill=\"#555555\">Headers (16 bytes a block) and "
	        "rounding are smaller than a page: their bytes are in the fragmentation figures "
	        "(internal bytes, per size class).</text>\n", y);
	y += 18;
	if (s->nhuge) {
		uint64_t u = 0, r = 0;
		for (size_t i = 0; i < s->nhuge; i++)
			u += s->huge[i].usable, r += s->huge[i].requested;
		char a[32], b[32];
		fprintf(f, "<text x=\"20\" y=\"%d\" font-size=\"12\">huge blocks (each its own "
		        "mapping, not drawn above): %zu, %s usable, %s requested</text>\n", y + 6,
		        s->nhuge, hs_human_bytes((double)u, a, sizeof a),
		        hs_human_bytes((double)r, b, sizeof b));
		for (size_t i = 0; i < s->nhuge && i < 8; i++)
			fprintf(f, "<text x=\"36\" y=\"%d\"%s>0x%llx: %s%s</text>\n", y + 24 + 18 * (int)i,
			        huge_leaked[i] ? " fill=\"#b3001b\"" : "",
			        (unsigned long long)s->huge[i].addr,
			        hs_human_bytes((double)s->huge[i].requested, a, sizeof a),
			        huge_leaked[i] ? " (leaked)" : "");
		if (s->nhuge > 8)
			fprintf(f, "<text x=\"36\" y=\"%d\">... and %zu more</text>\n", y + 24 + 18 * 8,
			        s->nhuge - 8);
	}
	fputs("</svg>\n", f);
	if (stats)
		*stats = (struct hs_map_stats){ s->narenas, pages, L.k, L.cells, rects };
	free(cat);
	free(cell);
	free(huge_leaked);
}
