/*
 * report_mem.c — memory over time and fragmentation in the reports.
 *
 * Unknown values are null (JSON) or left out (text), never guessed: no
 * samples means no figures, no exit snapshot means no per-class table,
 * no leak scan means no requested bytes per class.
 */
#include "report_mem.h"
#include "analysis/frag.h"
#include "analysis/growth.h"
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_POINTS 100         /* over-time entries in the JSON report   */

static void num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static void u64_or_null(FILE *f, bool have, uint64_t v)
{
	if (have)
		fprintf(f, "%" PRIu64, v);
	else
		fputs("null", f);
}

static void orders(FILE *f, const uint64_t *v)
{
	fputc('[', f);
	for (int k = 0; k < HS_SNAP_ORDERS; k++)
		fprintf(f, "%s%" PRIu64, k ? ", " : "", v[k]);
	fputc(']', f);
}

static void indices(FILE *f, const double *v)
{
	fputc('[', f);
	for (int k = 0; k < HS_SNAP_ORDERS; k++) {
		fputs(k ? ", " : "", f);
		num(f, v[k]);
	}
	fputc(']', f);
}

/* At most max entries of n, evenly spread, first and last included. */
static size_t pick(size_t i, size_t n, size_t max)
{
	return n <= max ? i : (size_t)((double)i * (double)(n - 1) / (double)(max - 1) + 0.5);
}

static void json_bins(FILE *f, const struct hs_frag *fr)
{
	fputs("    \"bins\": [", f);
	for (size_t i = 0; i < fr->nbins; i++) {
		const struct hs_bin_frag *b = &fr->bins[i];
		fprintf(f, "%s\n      {\"slot_size\": %u, \"slabs\": %" PRIu64 ", \"pages\": %"
		        PRIu64 ", \"capacity\": %" PRIu64 ", \"used\": %" PRIu64 ", \"fill\": ",
		        i ? "," : "", b->slot, b->slabs, b->pages, b->capacity, b->used);
		num(f, b->fill);
		fputs(", \"live_blocks\": ", f);
		u64_or_null(f, b->have_live, b->live_blocks);
		fputs(", \"live_bytes\": ", f);
		u64_or_null(f, b->have_live, b->live_bytes);
		fputs(", \"internal_bytes\": ", f);
		u64_or_null(f, b->have_live, b->internal_bytes);
		fputc('}', f);
	}
	fputs(fr->nbins ? "\n    ],\n" : "],\n", f);
}

static void json_fragmentation(FILE *f, const struct hs_frag *fr)
{
	if (!fr->have_sample || !fr->held) {     /* no sample, or no heap at all */
		fputs("  \"fragmentation\": null,\n", f);
		return;
	}
	fprintf(f, "  \"fragmentation\": {\n    \"t_ms\": %" PRIu64 ",\n"
	        "    \"free_blocks_per_order\": ", fr->t_ms);
	orders(f, fr->nr_free);
	fprintf(f, ",\n    \"free_pages\": %" PRIu64 ",\n    \"free_bytes\": %" PRIu64
	        ",\n    \"largest_free_order\": ", fr->free_pages, fr->free_pages * 4096);
	if (fr->largest_free_order >= 0)
		fprintf(f, "%d,\n    \"largest_free_bytes\": %" PRIu64 ",\n",
		        fr->largest_free_order, (uint64_t)4096 << fr->largest_free_order);
	else
		fputs("null,\n    \"largest_free_bytes\": null,\n", f);
	fputs("    \"unusable_index\": ", f);
	indices(f, fr->unusable);
	fprintf(f, ",\n    \"live_bytes\": %" PRIu64 ",\n    \"granted_bytes\": %" PRIu64
	        ",\n    \"held_bytes\": %" PRIu64 ",\n    \"internal_bytes\": %" PRIu64
	        ",\n    \"header_bytes\": ", fr->live, fr->granted, fr->held, fr->internal_bytes);
	u64_or_null(f, fr->have_blocks, fr->header_bytes);
	fputs(",\n    \"heap_efficiency\": ", f);
	num(f, fr->heap_efficiency);
	fprintf(f, ",\n    \"exit_snapshot\": %s,\n    \"dirty_free_pages\": ",
	        fr->snap ? "true" : "false");
	u64_or_null(f, fr->snap != NULL, fr->snap_dirty_pages);
	fputs(",\n", f);
	json_bins(f, fr);
	if (fr->snap) {
		bool j = fr->have_large_live;
		uint64_t slack = fr->large_pages * 4096 > fr->large_live_bytes ?
		                 fr->large_pages * 4096 - fr->large_live_bytes : 0;
		fprintf(f, "    \"large\": {\"blocks\": %" PRIu64 ", \"pages\": %" PRIu64
		        ", \"live_bytes\": ", fr->large_blocks, fr->large_pages);
		u64_or_null(f, j, fr->large_live_bytes);
		fputs(", \"slack_bytes\": ", f);
		u64_or_null(f, j, slack);
		fprintf(f, "},\n    \"huge\": {\"blocks\": %" PRIu64 ", \"usable_bytes\": %" PRIu64
		        ", \"requested_bytes\": %" PRIu64 "},\n", fr->huge_blocks,
		        fr->huge_usable, fr->huge_requested);
	} else {
		fputs("    \"large\": null,\n    \"huge\": null,\n", f);
	}
	fputs("    \"over_time\": [", f);
	size_t n = fr->nseries, m = n < JSON_POINTS ? n : JSON_POINTS;
	for (size_t i = 0; i < m; i++) {
		const struct hs_point *p = &fr->series[pick(i, n, JSON_POINTS)];
		fprintf(f, "%s\n      {\"t_ms\": %" PRIu64 ", \"heap_efficiency\": ", i ? "," : "",
		        p->t_ms);
		num(f, p->heap_efficiency);
		fprintf(f, ", \"internal_bytes\": %" PRIu64 ", \"free_pages\": %" PRIu64
		        ", \"largest_free_order\": ", p->internal_bytes, p->free_pages);
		if (p->largest_free_order >= 0)
			fprintf(f, "%d", p->largest_free_order);
		else
			fputs("null", f);
		fputs(", \"unusable_index\": ", f);
		indices(f, p->unusable);
		fputc('}', f);
	}
	fputs(m ? "\n    ]\n  },\n" : "]\n  },\n", f);
}

static void json_series_stats(FILE *f, const char *key, const struct hs_growth *g,
                              double div, const char *unit, bool last)
{
	fprintf(f, "    \"%s\": {\"first_%s\": %.0f, \"peak_%s\": %.0f, \"last_%s\": %.0f, "
	        "\"growth_bytes_per_s\": ", key, unit, g->first / div, unit, g->peak / div,
	        unit, g->last / div);
	if (g->verdict != HS_VERDICT_NONE)
		num(f, g->rate);
	else
		fputs("null", f);
	fputs(", \"verdict\": ", f);
	if (g->verdict != HS_VERDICT_NONE)
		fprintf(f, "\"%s\"", hs_verdict_name[g->verdict]);
	else
		fputs("null", f);
	fprintf(f, "}%s\n", last ? "" : ",");
}

static void json_vmsize(FILE *f, const struct hs_trace *tr)
{
	if (!tr->nsamples) {
		fputs("  \"vmsize\": null,\n", f);
		return;
	}
	struct hs_vmgrowth g;
	hs_vmgrowth(tr, &g);
	const struct hs_growth *v = &g.vmsize;
	char s[200];
	fprintf(f, "  \"vmsize\": {\n    \"samples\": %zu,\n    \"duration_ms\": %.0f,\n"
	        "    \"first_kb\": %.0f,\n    \"peak_kb\": %.0f,\n    \"last_kb\": %.0f,\n"
	        "    \"growth_bytes_per_s\": ", tr->nsamples, v->duration_s * 1000,
	        v->first / 1024, v->peak / 1024, v->last / 1024);
	bool judged = v->verdict != HS_VERDICT_NONE;
	if (judged)
		num(f, v->rate);
	else
		fputs("null", f);
	fputs(",\n    \"overall_bytes_per_s\": ", f);
	if (judged)
		num(f, v->overall_rate);
	else
		fputs("null", f);
	fputs(",\n    \"verdict\": ", f);
	if (judged)
		fprintf(f, "\"%s\"", hs_verdict_name[v->verdict]);
	else
		fputs("null", f);
	fputs(",\n    \"summary\": ", f);
	hs_json_string(f, hs_process_sentence(v, &g.live, s, sizeof s));
	fputs(",\n", f);
	json_series_stats(f, "rss", &g.rss, 1024, "kb", false);
	json_series_stats(f, "live", &g.live, 1, "bytes", false);
	fputs("    \"series\": [", f);
	size_t n = tr->nsamples, m = n < 2 * JSON_POINTS ? n : 2 * JSON_POINTS;
	for (size_t i = 0; i < m; i++) {
		const struct hs_tsample *p = &tr->samples[pick(i, n, 2 * JSON_POINTS)];
		fprintf(f, "%s[%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 "]", i ? ", " : "",
		        p->t_ms, p->vmsize_kb, p->vmrss_kb, p->live);
	}
	fputs("],\n    \"series_columns\": [\"t_ms\", \"vmsize_kb\", \"vmrss_kb\", "
	      "\"live_bytes\"]\n  },\n", f);
}

void hs_json_memory(FILE *f, const struct hs_trace *tr)
{
	struct hs_frag fr;
	hs_frag_compute(&fr, tr);
	json_fragmentation(f, &fr);
	hs_frag_free(&fr);
	json_vmsize(f, tr);
}

/* ---- text -------------------------------------------------------------- */

static void spark_line(FILE *f, const char *prefix, const char *name,
                       const struct hs_trace *tr, enum hs_series_id id,
                       const struct hs_growth *g, const struct hs_growth *live)
{
	size_t n = tr->nsamples;
	double *t = hs_xmalloc(n * sizeof *t), *y = hs_xmalloc(n * sizeof *y);
	hs_series(tr, id, t, y);
	char spark[3 * 40 + 1], a[32], b[32], s[200];
	hs_sparkline(t, y, n, 40, spark, sizeof spark);
	fprintf(f, "%s  %-7s %s  %s -> %s: %s\n", prefix, name, spark,
	        hs_human_bytes(g->first, a, sizeof a), hs_human_bytes(g->last, b, sizeof b),
	        hs_process_sentence(g, live, s, sizeof s));
	free(t);
	free(y);
}

/* Figures only where they mean something: a heap that held nothing from
 * the system has no efficiency (0 / 0), and where no page is free there
 * is no free space to call usable or not. */
static void text_fragmentation(FILE *f, const char *prefix, const struct hs_trace *tr)
{
	struct hs_frag fr;
	char a[32], b[32], c[32], d[32];
	hs_frag_compute(&fr, tr);
	if (!fr.held) {
		fprintf(f, "%sFRAGMENTATION at exit: none: the heap held no memory from the "
		        "system\n", prefix);
		hs_frag_free(&fr);
		return;
	}
	fprintf(f, "%sFRAGMENTATION at exit: heap efficiency %.0f%% (%s live of %s held "
	        "from the system)\n", prefix, fr.heap_efficiency * 100,
	        hs_human_bytes((double)fr.live, a, sizeof a),
	        hs_human_bytes((double)fr.held, b, sizeof b));
	fprintf(f, "%s  internal: %s (headers, rounding, cached slots); ", prefix,
	        hs_human_bytes((double)fr.internal_bytes, a, sizeof a));
	if (!fr.free_pages)
		fprintf(f, "no free pages\n");
	else
		fprintf(f, "free: %s, largest free block %s; unusable index for 64 KiB "
		        "blocks %.2f\n", hs_human_bytes((double)fr.free_pages * 4096, c, sizeof c),
		        fr.largest_free_order < 0 ? "none" :
		        hs_human_bytes(4096.0 * (double)(1u << fr.largest_free_order), d, sizeof d),
		        fr.unusable[4]);
	hs_frag_free(&fr);
}

void hs_text_memory(FILE *f, const char *prefix, const struct hs_trace *tr, bool quiet)
{
	if (!tr->nsamples) {
		if (!quiet)
			fprintf(f, "%sMEMORY OVER TIME: no samples (the program ended before the "
			        "first one, or sampling was off)\n%s\n", prefix, prefix);
		return;
	}
	struct hs_vmgrowth g;
	hs_vmgrowth(tr, &g);
	if (quiet && g.vmsize.verdict != HS_VERDICT_LIKELY_LEAK
	    && g.live.verdict != HS_VERDICT_LIKELY_LEAK)
		return;
	if (g.vmsize.verdict == HS_VERDICT_NONE) {
		char a[32], b[32], s[200];
		fprintf(f, "%sMEMORY OVER TIME: VmSize %s -> %s; %s\n", prefix,
		        hs_human_bytes(g.vmsize.first, a, sizeof a),
		        hs_human_bytes(g.vmsize.last, b, sizeof b),
		        hs_process_sentence(&g.vmsize, &g.live, s, sizeof s));
	} else {
		fprintf(f, "%sMEMORY OVER TIME: %zu samples over %.2f s\n", prefix,
		        tr->nsamples, g.vmsize.duration_s);
		spark_line(f, prefix, "VmSize", tr, HS_SERIES_VMSIZE, &g.vmsize, &g.live);
		if (!quiet)
			spark_line(f, prefix, "VmRSS", tr, HS_SERIES_RSS, &g.rss, &g.live);
		spark_line(f, prefix, "live", tr, HS_SERIES_LIVE, &g.live, NULL);
	}
	if (!quiet)
		text_fragmentation(f, prefix, tr);
	fprintf(f, "%s\n", prefix);
}
