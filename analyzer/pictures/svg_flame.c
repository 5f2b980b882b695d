/*
 * svg_flame.c — the live bytes at the heap's peak as a flame graph drawn
 * top down (an icicle): the top row is the whole heap, each row below
 * splits its parent among the functions it called, and the bottom of
 * each column is the function that called the allocator. Widths are
 * bytes. Frames are merged by function name along the same path, as
 * flamegraph.pl does with folded stacks; the same stacks are written by
 * `--folded`.
 *
 * Every box has a <title> (shown on hover: function, file:line, bytes,
 * share); names are written inside boxes wide enough for them. Boxes
 * narrower than half a pixel are left out (their bytes stay in their
 * parent's width); only the MAX_SITES biggest sites are drawn, the rest
 * is one "other sites" box; rows below MAX_ROWS are cut. No script: the
 * page stays static.
 */
#include "svg.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define W        1100
#define ROW      18
#define TOP      58
#define MAX_ROWS 40
#define MAX_SITES 2000

/* Warm colours, picked by the name's hash so a function keeps its colour. */
static const char *const palette[] = {
	"#f0a830", "#e8743b", "#d95f3d", "#f2c14e", "#eb8c45", "#dc7633",
};

struct fnode {
	const char *name;               /* the frame's function (not owned)    */
	const char *where;              /* file:line of its first site, or ""  */
	uint64_t bytes;
	size_t first, next;             /* children, siblings: index + 1       */
};

struct ftree {
	struct fnode *v;
	size_t n, cap;
	struct hs_strpool *pool;
};

static size_t fchild(struct ftree *t, size_t parent, const char *name, const char *where)
{
	for (size_t c = t->v[parent - 1].first; c; c = t->v[c - 1].next)
		if (t->v[c - 1].name == name)
			return c;
	struct fnode *x = HS_PUSH(t->v, t->n, t->cap);
	memset(x, 0, sizeof *x);
	x->name = name;
	x->where = where;
	x->next = t->v[parent - 1].first;
	t->v[parent - 1].first = t->n;
	return t->n;
}

static void add_site(const struct hs_analysis *a, struct ftree *t, uint32_t stack,
                     uint64_t bytes)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr), at = 1;
	t->v[0].bytes += bytes;
	if (!n) {
		at = fchild(t, at, hs_intern(t->pool, "(stack not recorded)"), "");
		t->v[at - 1].bytes += bytes;
	}
	for (size_t i = n; i-- > 0;) {        /* outermost first */
		char where[1200] = "", name[256];
		const char *m = fr[i].module ? strrchr(fr[i].module, '/') : NULL;
		snprintf(name, sizeof name, "%s", fr[i].function ? fr[i].function
		         : m ? m + 1 : "???");
		if (fr[i].file)
			snprintf(where, sizeof where, "%s:%u", fr[i].file, fr[i].line);
		at = fchild(t, at, hs_intern(t->pool, name), hs_intern(t->pool, where));
		t->v[at - 1].bytes += bytes;
	}
}

static unsigned colour(const char *name)
{
	unsigned h = 5381;
	for (const char *c = name; *c; c++)
		h = h * 33 + (unsigned char)*c;
	return h % (sizeof palette / sizeof palette[0]);
}

static int by_bytes(const void *x, const void *y, void *arg)
{
	const struct ftree *t = arg;
	uint64_t a = t->v[*(const size_t *)x - 1].bytes, b = t->v[*(const size_t *)y - 1].bytes;
	return a > b ? -1 : a < b;
}

/* Boxes of node i at (x, row), w pixels wide, and its children below. */
static void draw(FILE *f, struct ftree *t, size_t i, double x, double w, int row,
                 uint64_t total, size_t *drawn)
{
	struct fnode *nd = &t->v[i - 1];
	char b[32];
	double y = TOP + row * ROW;
	fputs("<g><title>", f);
	hs_xml_text(f, nd->name);
	if (nd->where[0]) {
		fputs(" (", f);
		hs_xml_text(f, nd->where);
		fputs(")", f);
	}
	fprintf(f, ": %s bytes, %.1f%%</title><rect class=\"hs-flame-box\" x=\"%.1f\" y=\"%.0f\" "
	        "width=\"%.1f\" height=\"%d\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.5\"/>",
	        hs_commas(nd->bytes, b), total ? 100.0 * (double)nd->bytes / (double)total : 0,
	        x, y, w, ROW - 1, row ? palette[colour(nd->name)] : "#c8553d");
	size_t fit = w > 12 ? (size_t)((w - 6) / 6.5) : 0, len = strlen(nd->name);
	if (fit >= 3) {
		char label[256];
		snprintf(label, sizeof label, "%.*s%s", (int)(len <= fit ? len : fit - 2), nd->name,
		         len <= fit ? "" : "..");
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\">", x + 3, y + 12.5);
		hs_xml_text(f, label);
		fputs("</text>", f);
	}
	fputs("</g>\n", f);
	(*drawn)++;
	if (row + 1 >= MAX_ROWS)
		return;
	size_t nk = 0, *kids;
	for (size_t c = nd->first; c; c = t->v[c - 1].next)
		nk++;
	kids = hs_xmalloc((nk ? nk : 1) * sizeof *kids);
	nk = 0;
	for (size_t c = nd->first; c; c = t->v[c - 1].next)
		kids[nk++] = c;
	qsort_r(kids, nk, sizeof *kids, by_bytes, t);
	double cx = x;
	for (size_t k = 0; k < nk; k++) {
		double cw = nd->bytes ? w * (double)t->v[kids[k] - 1].bytes / (double)nd->bytes : 0;
		if (cw >= 0.5)
			draw(f, t, kids[k], cx, cw, row + 1, total, drawn);
		cx += cw;
	}
	free(kids);
}

static int depth_of(const struct ftree *t, size_t i)
{
	int d = 0;
	for (size_t c = t->v[i - 1].first; c; c = t->v[c - 1].next) {
		int k = depth_of(t, c);
		d = k > d ? k : d;
	}
	return d + 1;
}

void hs_svg_flame(FILE *f, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	struct ftree t = { .pool = hs_strpool_new() };
	struct fnode *root = HS_PUSH(t.v, t.n, t.cap);
	memset(root, 0, sizeof *root);
	root->name = "all live bytes at the peak";
	root->where = "";
	uint64_t rest = 0;
	size_t shown = 0;
	for (size_t i = 0; i < p->nsites && p->sites[i].peak_live; i++) {
		if (shown++ < MAX_SITES)
			add_site(a, &t, p->sites[i].stack, p->sites[i].peak_live);
		else
			rest += p->sites[i].peak_live;
	}
	if (rest) {
		size_t o = fchild(&t, 1, "(other sites)", "");
		t.v[o - 1].bytes = rest;
		t.v[0].bytes += rest;
	}
	int rows = t.v[0].bytes ? depth_of(&t, 1) : 1;
	rows = rows > MAX_ROWS ? MAX_ROWS : rows;
	int h = TOP + rows * ROW + 30;
	char b[32], sub[200];
	snprintf(sub, sizeof sub, "%s bytes live at the peak%s; width is bytes, the bottom of "
	         "each column is the allocating function", hs_commas(t.v[0].bytes, b),
	         p->have_peak ? "" : " (no peak recorded)");
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hs-flame\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans,Arial,sans-serif\" "
	        "font-size=\"12\">\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
	        "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">"
	        "Who holds the memory at the peak (flame graph, top down)</text>\n"
	        "<text x=\"%d\" y=\"44\" text-anchor=\"middle\" fill=\"#333333\">", W, h, W, h, W, h,
	        W / 2, W / 2);
	hs_xml_text(f, sub);
	fputs("</text>\n", f);
	size_t drawn = 0;
	if (t.v[0].bytes)
		draw(f, &t, 1, 10, W - 20, 0, t.v[0].bytes, &drawn);
	else
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555555\">nothing "
		        "was live at the peak (or the trace has no heap profile)</text>\n", W / 2, TOP + 14);
	fputs("</svg>\n", f);
	free(t.v);
	hs_strpool_free(t.pool);
}
