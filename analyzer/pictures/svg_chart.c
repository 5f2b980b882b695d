/*
 * svg_chart.c — charts over time and the free-blocks-per-order chart.
 *
 * Line series are downsampled by bucket maximum to at most MAX_POINTS
 * points (peaks survive; a run of a million samples draws as fast as one
 * of a hundred).
 */
#include "svg.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W 900
#define H 420
#define ML 80                   /* plot area margins */
#define MR 60
#define MT 70
#define MB 100
#define MAX_POINTS 600

static void open_svg(FILE *f, int w, int h, const char *title, const char *subtitle)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hs-chart\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans,Arial,sans-serif\" "
	        "font-size=\"12\">\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
	        w, h, w, h, w, h);
	fprintf(f, "<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" "
	        "font-weight=\"bold\">", w / 2);
	hs_xml_text(f, title);
	fputs("</text>\n", f);
	if (subtitle) {
		fprintf(f, "<text x=\"%d\" y=\"48\" text-anchor=\"middle\" fill=\"#333333\">", w / 2);
		hs_xml_text(f, subtitle);
		fputs("</text>\n", f);
	}
}

static void empty(FILE *f, int w, int h, const char *note)
{
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f6f6f6\" "
	        "stroke=\"#cccccc\"/>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
	        "fill=\"#555555\">", ML, MT, w - ML - MR, h - MT - MB, w / 2, (h + MT - MB) / 2);
	hs_xml_text(f, note);
	fputs("</text>\n</svg>\n", f);
}

static int decimals(double step)
{
	int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	return d > 6 ? 6 : d;
}

/* Legend entries in a row under the x-axis label. */
static void legend(FILE *f, const struct hs_line *l, int n, bool trend,
                   const char *trend_label, int y)
{
	int x = ML;
	for (int i = 0; i <= n; i++) {
		const char *name = i < n ? l[i].name : trend_label;
		if (i == n && !trend)
			break;
		const char *color = i < n ? l[i].color : "#1f77b4";
		bool dashed = i < n ? l[i].dashed : true;
		if (i < n && l[i].filled)
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"24\" height=\"10\" fill=\"%s\"/>\n",
			        x, y - 9, color);
		else
			fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
			        "stroke-width=\"%s\"%s/>\n", x, y - 4, x + 24, y - 4, color,
			        i < n ? "2.5" : "1.5", dashed ? " stroke-dasharray=\"6 4\"" : "");
		fprintf(f, "<text x=\"%d\" y=\"%d\">", x + 30, y);
		hs_xml_text(f, name);
		fputs("</text>\n", f);
		x += 40 + 7 * (int)strlen(name);
		if (x > W - 150 && i < n) {
			x = ML;
			y += 18;
		}
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median time between consecutive points. */
static double median_step(const double *t, size_t n)
{
	if (n < 2)
		return INFINITY;
	double *d = hs_xmalloc((n - 1) * sizeof *d);
	for (size_t i = 1; i < n; i++)
		d[i - 1] = t[i] - t[i - 1];
	qsort(d, n - 1, sizeof *d, cmp_d);
	double m = d[(n - 1) / 2];
	free(d);
	return m;
}

void hs_svg_line_chart(FILE *f, const struct hs_chart *c)
{
	open_svg(f, W, H, c->title, c->subtitle);
	double tmin = INFINITY, tmax = -INFINITY, ymax = 0;
	size_t total = 0;
	for (int i = 0; i < c->nlines; i++)
		for (size_t k = 0; k < c->lines[i].n; k++) {
			const struct hs_line *l = &c->lines[i];
			tmin = l->t[k] < tmin ? l->t[k] : tmin;
			tmax = l->t[k] > tmax ? l->t[k] : tmax;
			if (isfinite(l->y[k]) && l->y[k] > ymax)
				ymax = l->y[k];
			total++;
		}
	if (!total) {
		empty(f, W, H, c->empty_note ? c->empty_note : "no data");
		return;
	}
	if (tmax <= tmin)
		tmax = tmin + 1;
	const char *uname = "";
	double div = 1;
	if (c->yunit == HS_Y_BYTES)
		div = hs_byte_unit(ymax, &uname);
	else
		ymax = ymax > 1 ? ymax : 1;
	double ystep = hs_nice_step(ymax / div > 0 ? ymax / div : 1, 5);
	double ytop = ceil(ymax / div / ystep - 1e-9) * ystep;
	if (ytop <= 0)
		ytop = ystep;
	double xstep = hs_nice_step(tmax - tmin, 8);
	double x0 = floor(tmin / xstep) * xstep, x1 = ceil(tmax / xstep - 1e-9) * xstep;
	if (x1 <= x0)
		x1 = x0 + xstep;
	int pw = W - ML - MR, ph = H - MT - MB;
#define PX(t) (ML + ((t) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - (v) / div / ytop * ph)

	/* grid, ticks and labels */
	fputs("<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n", f);
	for (double v = 0; v <= ytop + ystep / 2; v += ystep)
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", ML,
		        MT + ph - v / ytop * ph, ML + pw, MT + ph - v / ytop * ph);
	for (double t = x0; t <= x1 + xstep / 2; t += xstep)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", PX(t), MT,
		        PX(t), MT + ph);
	fputs("</g>\n<g fill=\"#333333\">\n", f);
	int yd = decimals(ystep), xd = decimals(xstep);
	for (double v = 0; v <= ytop + ystep / 2; v += ystep)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", ML - 6,
		        MT + ph - v / ytop * ph + 4, yd, v);
	for (double t = x0; t <= x1 + xstep / 2; t += xstep)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n", PX(t),
		        MT + ph + 16, xd, t);
	fputs("</g>\n", f);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n"
	        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n",
	        ML, MT, ML, MT + ph, ML, MT + ph, ML + pw, MT + ph);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since start (s)</text>\n",
	        ML + pw / 2, MT + ph + 36);
	fprintf(f, "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">",
	        MT + ph / 2);
	hs_xml_text(f, c->ylabel);
	fprintf(f, " (%s)</text>\n", c->yunit == HS_Y_BYTES ? uname : "0 to 1");

	/* the series */
	double *bt = hs_xmalloc(MAX_POINTS * sizeof *bt), *by = hs_xmalloc(MAX_POINTS * sizeof *by);
	for (int i = 0; i < c->nlines; i++) {
		const struct hs_line *l = &c->lines[i];
		if (!l->n)
			continue;
		size_t m = hs_downsample_max(l->t, l->y, l->n, MAX_POINTS, bt, by);
		if (l->filled)          /* an area: from the axis, along, back */
			fprintf(f, "<polygon class=\"hs-area\" fill=\"%s\" stroke=\"#ffffff\" "
			        "stroke-width=\"0.5\" points=\"%.1f,%.1f ", l->color, PX(bt[0]), PY(0.0));
		else
			fprintf(f, "<polyline class=\"hs-series\" fill=\"none\" stroke=\"%s\" "
			        "stroke-width=\"2\" stroke-linejoin=\"round\"%s points=\"", l->color,
			        l->dashed ? " stroke-dasharray=\"6 4\"" : "");
		double gap = 3 * median_step(bt, m);
		for (size_t k = 0; k < m; k++) {
			if (!isfinite(by[k]))
				continue;
			/* no sample for a while: the allocator took no slow path, so
			 * nothing changed until the next one; hold, then step */
			if (k && bt[k] - bt[k - 1] > gap && isfinite(by[k - 1]))
				fprintf(f, " %.1f,%.1f", PX(bt[k]), PY(by[k - 1]));
			fprintf(f, "%s%.1f,%.1f", k ? " " : "", PX(bt[k]), PY(by[k]));
		}
		if (l->filled)
			fprintf(f, " %.1f,%.1f", PX(bt[m - 1]), PY(0.0));
		fputs("\"/>\n", f);
		if (m == 1 && isfinite(by[0]))   /* one sample: a dot, a line needs two */
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
			        PX(bt[0]), PY(by[0]), l->color);
	}
	free(bt);
	free(by);
	if (c->trend)
		fprintf(f, "<line class=\"hs-trend\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#1f77b4\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
		        PX(c->tx0), PY(c->ty0), PX(c->tx1), PY(c->ty1));
	legend(f, c->lines, c->nlines, c->trend, c->trend_label, MT + ph + 62);
	fputs("</svg>\n", f);
#undef PX
#undef PY
}

void hs_svg_growth(FILE *f, const struct hs_trace *tr, const struct hs_vmgrowth *g)
{
	size_t n = tr->nsamples;
	double *t = hs_xmalloc((n + 1) * sizeof *t), *y[4];
	for (int i = 0; i < 4; i++)
		y[i] = hs_xmalloc((n + 1) * sizeof *y[i]);
	hs_series(tr, HS_SERIES_VMSIZE, t, y[0]);
	hs_series(tr, HS_SERIES_RSS, t, y[1]);
	hs_series(tr, HS_SERIES_HELD, t, y[2]);
	hs_series(tr, HS_SERIES_LIVE, t, y[3]);
	char a[160], b[160], sub[360];
	snprintf(sub, sizeof sub, "VmSize %s; live heap %s",
	         hs_process_sentence(&g->vmsize, &g->live, a, sizeof a),
	         hs_growth_sentence(&g->live, b, sizeof b));
	struct hs_chart c = {
		.title = "Memory over time: VmSize, VmRSS and the heap",
		.subtitle = sub, .ylabel = "memory", .yunit = HS_Y_BYTES,
		.lines = {
			{ "VmSize (address space)", "#1f77b4", t, y[0], n, false },
			{ "VmRSS (resident)", "#ff7f0e", t, y[1], n, false },
			{ "heap held from the system", "#7f7f7f", t, y[2], n, true },
			{ "live heap (requested bytes)", "#2ca02c", t, y[3], n, false },
		},
		.nlines = 4,
		.empty_note = "no samples in this trace: the program ended before the "
		              "first sample, or sampling was off (HEAPSCOPE_SAMPLE_MS=0)",
	};
	const struct hs_growth *v = &g->vmsize;
	if (v->verdict == HS_VERDICT_LIKELY_LEAK || v->verdict == HS_VERDICT_PLATEAU) {
		c.trend = true;
		c.tx0 = v->late_from;
		c.tx1 = v->late_to;
		c.ty0 = v->late_icept + v->rate * v->late_from;
		c.ty1 = v->late_icept + v->rate * v->late_to;
		c.trend_label = "VmSize trend, second half (Theil\u2013Sen)";
	}
	hs_svg_line_chart(f, &c);
	free(t);
	for (int i = 0; i < 4; i++)
		free(y[i]);
}

void hs_svg_efficiency(FILE *f, const struct hs_frag *fr)
{
	size_t n = fr->nseries;
	double *t = hs_xmalloc((n + 1) * sizeof *t), *y[3];
	for (int i = 0; i < 3; i++)
		y[i] = hs_xmalloc((n + 1) * sizeof *y[i]);
	for (size_t k = 0; k < n; k++) {
		const struct hs_point *p = &fr->series[k];
		t[k] = (double)p->t_ms / 1000.0;
		y[0][k] = p->heap_efficiency;
		y[1][k] = p->held ? (double)p->granted / (double)p->held : NAN;
		y[2][k] = p->free_pages ? p->unusable[4] : NAN;   /* nothing free: no index */
	}
	struct hs_chart c = {
		.title = "Heap efficiency and fragmentation over time",
		.subtitle = "efficiency = live requested bytes \u00f7 bytes held from the system; "
		            "unusable index: share of free memory too fragmented for a 64 KiB block",
		.ylabel = "share", .yunit = HS_Y_RATIO,
		.lines = {
			{ "live \u00f7 held (heap efficiency)", "#2ca02c", t, y[0], n, false },
			{ "granted \u00f7 held", "#1f77b4", t, y[1], n, true },
			{ "unusable free index, order 4 (64 KiB)", "#d62728", t, y[2], n, false },
		},
		.nlines = 3,
		.empty_note = "no samples in this trace",
	};
	hs_svg_line_chart(f, &c);
	free(t);
	for (int i = 0; i < 3; i++)
		free(y[i]);
}

static const char *order_size(int k)
{
	static const char *const s[HS_SNAP_ORDERS] = {
		"4K", "8K", "16K", "32K", "64K", "128K", "256K", "512K", "1M", "2M", "4M",
	};
	return s[k];
}

void hs_svg_free_orders(FILE *f, const struct hs_frag *fr)
{
	char sub[300], a[32], big[48] = "none";
	uint64_t nblocks = 0;
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		nblocks += fr->nr_free[k];
	if (fr->largest_free_order >= 0)
		snprintf(big, sizeof big, "order %d (%s)", fr->largest_free_order,
		         order_size(fr->largest_free_order));
	snprintf(sub, sizeof sub, "%s free in %llu blocks; largest free block: %s; "
	         "unusable index for 64 KiB blocks: %.2f",
	         hs_human_bytes((double)fr->free_pages * 4096, a, sizeof a),
	         (unsigned long long)nblocks, big, fr->unusable[4]);
	open_svg(f, W, H, "Free memory by buddy block size at exit (like /proc/buddyinfo)",
	         fr->have_sample ? sub : NULL);
	if (!fr->have_sample) {
		empty(f, W, H, "no samples in this trace: no buddy free counts");
		return;
	}
	int pw = W - ML - MR, ph = H - MT - MB;
	double maxb = 0;
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		if ((double)(fr->nr_free[k] << k) * 4096 > maxb)
			maxb = (double)(fr->nr_free[k] << k) * 4096;
	const char *uname;
	double div = hs_byte_unit(maxb > 0 ? maxb : 4096, &uname);
	double step = hs_nice_step(maxb / div > 0 ? maxb / div : 1, 5);
	double top = ceil(maxb / div / step - 1e-9) * step;
	if (top <= 0)
		top = step;
	fputs("<g stroke=\"#e3e3e3\">\n", f);
	for (double v = 0; v <= top + step / 2; v += step)
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", ML,
		        MT + ph - v / top * ph, ML + pw, MT + ph - v / top * ph);
	fputs("</g>\n<g fill=\"#333333\">\n", f);
	for (double v = 0; v <= top + step / 2; v += step)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", ML - 6,
		        MT + ph - v / top * ph + 4, decimals(step), v);
	for (int i = 0; i <= 4; i++)      /* right axis: the index, 0..1 */
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"#d62728\">%.2f</text>\n", ML + pw + 6,
		        MT + ph - i / 4.0 * ph + 4, i / 4.0);
	fputs("</g>\n", f);
	double slot = (double)pw / HS_SNAP_ORDERS;
	for (int k = 0; k < HS_SNAP_ORDERS; k++) {
		double bytes = (double)(fr->nr_free[k] << k) * 4096;
		double h = bytes / div / top * ph, x = ML + k * slot + slot * 0.15;
		fprintf(f, "<rect class=\"hs-bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		        "height=\"%.1f\" fill=\"#fd8d3c\"><title>order %d (%s blocks): %llu free "
		        "blocks, %s</title></rect>\n", x, MT + ph - h, slot * 0.7, h, k,
		        order_size(k), (unsigned long long)fr->nr_free[k],
		        hs_human_bytes(bytes, a, sizeof a));
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">"
		        "%llu</text>\n", x + slot * 0.35, MT + ph - h - 4,
		        (unsigned long long)fr->nr_free[k]);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n"
		        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\" "
		        "font-size=\"11\">%s</text>\n", x + slot * 0.35, MT + ph + 16, k,
		        x + slot * 0.35, MT + ph + 30, order_size(k));
	}
	fputs("<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"", f);
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		fprintf(f, "%s%.1f,%.1f", k ? " " : "", ML + (k + 0.5) * slot,
		        MT + ph - fr->unusable[k] * ph);
	fputs("\"/>\n", f);
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n",
		        ML + (k + 0.5) * slot, MT + ph - fr->unusable[k] * ph);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n"
	        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n",
	        ML, MT, ML, MT + ph, ML, MT + ph, ML + pw, MT + ph);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">buddy order k "
	        "(free block of 2^k pages; block size below)</text>\n", ML + pw / 2, MT + ph + 48);
	fprintf(f, "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">"
	        "free memory in blocks of order k (%s)</text>\n", MT + ph / 2, uname);
	fprintf(f, "<text transform=\"translate(%d,%d) rotate(90)\" text-anchor=\"middle\" "
	        "fill=\"#d62728\">unusable free index (0 to 1)</text>\n", W - 12, MT + ph / 2);
	int ly = MT + ph + 74;
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"18\" height=\"12\" fill=\"#fd8d3c\"/>"
	        "<text x=\"%d\" y=\"%d\">free memory per order (blocks on top)</text>\n"
	        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d62728\" stroke-width=\"2\"/>"
	        "<text x=\"%d\" y=\"%d\">unusable free index (share of free memory in "
	        "blocks below order k)</text>\n", ML, ly - 11, ML + 24, ly, ML + 300, ly - 5,
	        ML + 324, ly - 5, ML + 330, ly);
	fputs("</svg>\n", f);
}
