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
#include "analysis/frametree.h"
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

/* A site's frames, outermost first, by function name (or module). */
static void add_site(const struct hs_analysis *a, struct hs_ftree *t, uint32_t stack,
                     uint64_t bytes)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr);
	const char **name = hs_xmalloc((n ? n : 1) * sizeof *name);
	const char **where = hs_xmalloc((n ? n : 1) * sizeof *where);
	for (size_t k = 0; k < n; k++) {
		const struct hs_frame *f = &fr[n - 1 - k];
		const char *m = f->module ? strrchr(f->module, '/') : NULL;
		char w[1200] = "";
		if (f->file)
			snprintf(w, sizeof w, "%s:%u", f->file, f->line);
		name[k] = hs_ftree_intern(t, f->function ? f->function : m ? m + 1 : "???");
		where[k] = hs_ftree_intern(t, w);
	}
	hs_ftree_add(t, name, where, n, "(stack not recorded)", bytes);
	free(name);
	free(where);
}

static unsigned colour(const char *name)
{
	unsigned h = 5381;
	for (const char *c = name; *c; c++)
		h = h * 33 + (unsigned char)*c;
	return h % (sizeof palette / sizeof palette[0]);
}

/* Boxes of node i at (x, row), w pixels wide, and its children below. */
static void draw(FILE *f, const struct hs_ftree *t, size_t i, double x, double w, int row,
                 uint64_t total)
{
	const struct hs_fnode *nd = hs_fnode(t, i);
	char b[32];
	double y = TOP + row * ROW;
	fputs("<g><title>", f);
	hs_xml_text(f, nd->label);
	if (nd->detail[0]) {
		fputs(" (", f);
		hs_xml_text(f, nd->detail);
		fputs(")", f);
	}
	fprintf(f, ": %s bytes, %.1f%%</title><rect class=\"hs-flame-box\" x=\"%.1f\" y=\"%.0f\" "
	        "width=\"%.1f\" height=\"%d\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.5\"/>",
	        hs_commas(nd->bytes, b), total ? 100.0 * (double)nd->bytes / (double)total : 0,
	        x, y, w, ROW - 1, row ? palette[colour(nd->label)] : "#c8553d");
	size_t fit = w > 12 ? (size_t)((w - 6) / 6.5) : 0, len = strlen(nd->label);
	if (fit >= 3) {
		char label[256];
		snprintf(label, sizeof label, "%.*s%s", (int)(len <= fit ? len : fit - 2), nd->label,
		         len <= fit ? "" : "..");
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\">", x + 3, y + 12.5);
		hs_xml_text(f, label);
		fputs("</text>", f);
	}
	fputs("</g>\n", f);
	if (row + 1 >= MAX_ROWS)
		return;
	size_t nk, *kids = hs_ftree_children(t, i, &nk);
	double cx = x;
	for (size_t k = 0; k < nk; k++) {
		double cw = nd->bytes ? w * (double)hs_fnode(t, kids[k])->bytes / (double)nd->bytes : 0;
		if (cw >= 0.5)
			draw(f, t, kids[k], cx, cw, row + 1, total);
		cx += cw;
	}
	free(kids);
}

void hs_svg_flame(FILE *f, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	struct hs_ftree t;
	hs_ftree_init(&t, "all live bytes at the peak");
	uint64_t rest = 0;
	size_t shown = 0;
	for (size_t i = 0; i < p->nsites && p->sites[i].peak_live; i++) {
		if (shown++ < MAX_SITES)
			add_site(a, &t, p->sites[i].stack, p->sites[i].peak_live);
		else
			rest += p->sites[i].peak_live;
	}
	if (rest) {
		hs_fnode(&t, hs_ftree_child(&t, 1, "(other sites)", NULL))->bytes = rest;
		hs_fnode(&t, 1)->bytes += rest;
	}
	uint64_t total = hs_fnode(&t, 1)->bytes;
	int rows = total ? hs_ftree_depth(&t, 1) : 1;
	rows = rows > MAX_ROWS ? MAX_ROWS : rows;
	int h = TOP + rows * ROW + 30;
	char b[32], sub[200];
	snprintf(sub, sizeof sub, "%s bytes live at the peak%s; width is bytes, the bottom of "
	         "each column is the allocating function", hs_commas(total, b),
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
	if (total)
		draw(f, &t, 1, 10, W - 20, 0, total);
	else
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555555\">nothing "
		        "was live at the peak (or the trace has no heap profile)</text>\n", W / 2, TOP + 14);
	fputs("</svg>\n", f);
	hs_ftree_free(&t);
}
