/*
 * svg_sites.c — the live heap over time split by allocation site: the
 * TOP_SITES sites with the most bytes at the peak as stacked areas, and
 * "other sites" on top (the live heap of the samples minus theirs).
 * A site's bytes at each sample are its `U` values carried forward
 * (analysis/profile.h). Drawn with the line chart's axes (svg_chart.c):
 * each area is the sum of its own site and those below it, drawn
 * largest first so each band shows one site.
 */
#include "svg.h"

#include <stdlib.h>
#include <string.h>

#define TOP_SITES 8

static const char *const colours[TOP_SITES + 1] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
	"#17becf", "#c7c7c7",
};

/* "fn (file.c:12)" of a site's innermost frame. */
static void site_name(const struct hs_analysis *a, uint32_t stack, char *buf, size_t cap)
{
	const struct hs_frame *fr;
	char where[1200];
	if (!hs_display(a, stack, &fr)) {
		snprintf(buf, cap, "(stack not recorded)");
		return;
	}
	snprintf(buf, cap, "%s%s", fr[0].function ? fr[0].function : "???",
	         hs_text_where(&fr[0], where, sizeof where));
}

void hs_svg_sites_chart(FILE *f, const struct hs_analysis *a)
{
	const struct hs_trace *tr = a->tr;
	const struct hs_profile *p = &a->profile;
	size_t n = tr->nsamples, top[TOP_SITES];
	size_t k = hs_profile_top(p, HS_BY_PEAK, TOP_SITES, top);
	double *t = hs_xmalloc((n + 1) * sizeof *t), *live = hs_xmalloc((n + 1) * sizeof *live);
	double *y[TOP_SITES + 1];
	char names[TOP_SITES][160];
	hs_series(tr, HS_SERIES_LIVE, t, live);
	for (size_t i = 0; i <= k; i++)
		y[i] = hs_xcalloc(n + 1, sizeof *y[i]);
	/* y[i]: sites 0..i stacked; y[k]: the whole live heap (at least that) */
	for (size_t i = 0; i < k; i++) {
		hs_profile_series(p, top[i], t, n, y[i]);
		for (size_t j = 0; i && j < n; j++)
			y[i][j] += y[i - 1][j];
		site_name(a, p->sites[top[i]].stack, names[i], sizeof names[i]);
	}
	for (size_t j = 0; j < n; j++)
		y[k][j] = k && y[k - 1][j] > live[j] ? y[k - 1][j] : live[j];
	struct hs_chart c = {
		.title = "The live heap by allocation site",
		.subtitle = k ? "the sites with the most bytes at the peak, stacked; other sites on top"
		              : "no heap profile in this trace",
		.ylabel = "live heap", .yunit = HS_Y_BYTES,
		.empty_note = "no samples in this trace",
	};
	/* largest first: other sites (the whole heap), then the top sites */
	c.lines[c.nlines++] = (struct hs_line){ "other sites", colours[TOP_SITES], t, y[k], n,
	                                        false, true };
	for (size_t i = k; i-- > 0;)
		c.lines[c.nlines++] = (struct hs_line){ names[i], colours[i], t, y[i], n, false, true };
	hs_svg_line_chart(f, &c);
	for (size_t i = 0; i <= k; i++)
		free(y[i]);
	free(t);
	free(live);
}
