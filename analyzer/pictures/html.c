/*
 * html.c — the HTML report (html.h): summary, memory over time,
 * fragmentation, heap maps, leaks with their stacks, heap errors and
 * injected failures, in that order.
 */
#include "html.h"
#include "analysis/frag.h"
#include "analysis/growth.h"
#include "svg.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static const char css[] =
	"body{font-family:'DejaVu Sans',Arial,sans-serif;margin:0;color:#222;background:#fafafa}"
	"header{background:#23395d;color:#fff;padding:14px 28px}"
	"header h1{margin:0;font-size:22px}header p{margin:4px 0 0;font-family:monospace}"
	"nav{padding:8px 28px;background:#e8edf3}nav a{margin-right:16px;color:#23395d}"
	"main{padding:6px 28px 40px}section{margin:18px 0 28px}"
	"h2{border-bottom:2px solid #23395d;padding-bottom:4px;font-size:19px}"
	"table{border-collapse:collapse;background:#fff;margin:6px 0}"
	"td,th{border:1px solid #ccd;padding:4px 10px;text-align:left;vertical-align:top}"
	"th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".verdict{font-size:16px;padding:8px 12px;border-left:5px solid #888;background:#fff}"
	".likely_leak{border-color:#b3001b}.plateau{border-color:#e6a000}.flat{border-color:#2ca02c}"
	".fig{background:#fff;border:1px solid #dde;margin:10px 0;padding:6px;overflow-x:auto}"
	"ol.stack{margin:0;padding-left:22px;font-family:monospace;font-size:12px}"
	".note{color:#8a4b00}.muted{color:#666}.bad{color:#b3001b;font-weight:bold}";

static void text(FILE *f, const char *s)
{
	hs_xml_text(f, s ? s : "");
}

/* A stack as shown; its frames are looked up here, on demand. */
void hs_html_stack(FILE *f, const struct hs_analysis *a, uint32_t id)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, id, &fr);
	if (!n) {
		fputs("<span class=\"muted\">stack not recorded</span>", f);
		return;
	}
	fputs("<ol class=\"stack\">", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "<li>0x%" PRIx64 " <b>", fr[i].address);
		text(f, fr[i].function ? fr[i].function : "???");
		fputs("</b>", f);
		if (fr[i].file) {
			fputs(" (", f);
			text(f, fr[i].file);
			if (fr[i].line)
				fprintf(f, ":%u", fr[i].line);
			fputs(")", f);
		} else if (fr[i].module) {
			fputs(" (in ", f);
			text(f, fr[i].module);
			fputs(")", f);
		}
		if (fr[i].inlined)
			fputs(" <i>inlined</i>", f);
		fputs("</li>", f);
	}
	fputs("</ol>", f);
}

static void row(FILE *f, const char *k, const char *v)
{
	fputs("<tr><th>", f);
	text(f, k);
	fputs("</th><td>", f);
	text(f, v);
	fputs("</td></tr>\n", f);
}

static void summary(FILE *f, const struct hs_analysis *a, const struct hs_vmgrowth *g,
                    const struct hs_frag *fr)
{
	const struct hs_trace *tr = a->tr;
	char b[256], c1[32], c2[32], c3[32];
	fputs("<section id=\"summary\"><h2>Summary</h2><table>\n", f);
	row(f, "program", tr->exe ? tr->exe : "?");
	row(f, "command", tr->argv ? tr->argv : "?");
	if (tr->end == HS_END_EXIT)
		snprintf(b, sizeof b, "exited with code %d", tr->end_value);
	else if (tr->end == HS_END_SIGNAL)
		snprintf(b, sizeof b, "killed by signal %d", tr->end_value);
	else if (tr->end == HS_END_EXEC)
		snprintf(b, sizeof b, "called exec (the new image has its own trace)");
	else
		snprintf(b, sizeof b, "unknown: the trace has no end record");
	row(f, "end", b);
	if (tr->have_counters) {
		snprintf(b, sizeof b, "%s allocs, %s frees, %s bytes at peak",
		         hs_commas(tr->allocs, c1), hs_commas(tr->frees, c2),
		         hs_commas(tr->peak_bytes, c3));
		row(f, "heap usage", b);
		snprintf(b, sizeof b, "%s bytes in %s blocks", hs_commas(tr->live_bytes, c1),
		         hs_commas(tr->live_blocks, c2));
		row(f, "in use at exit", b);
	} else {
		row(f, "heap usage", "not available: the trace has no final counters");
	}
	for (int k = 0; k < HS_NR_LEAK_KINDS; k++) {
		snprintf(b, sizeof b, "%s bytes in %s blocks", hs_commas(a->kind[k].bytes, c1),
		         hs_commas(a->kind[k].blocks, c2));
		row(f, hs_leak_kind_json[k], b);
	}
	snprintf(b, sizeof b, "%" PRIu64 " heap errors, %zu injected failures",
	         a->error_count, tr->nfaults);
	row(f, "errors", b);
	char s[200];
	snprintf(b, sizeof b, "VmSize %s", hs_process_sentence(&g->vmsize, &g->live, s, sizeof s));
	row(f, "memory growth", b);
	if (fr->have_sample && fr->held) {
		snprintf(b, sizeof b, "%.0f%%: %s live of %s held from the system",
		         fr->heap_efficiency * 100, hs_human_bytes((double)fr->live, c1, sizeof c1),
		         hs_human_bytes((double)fr->held, c2, sizeof c2));
		row(f, "heap efficiency", b);
	}
	fputs("</table>\n", f);
	char notes[8][1024];
	size_t nn = hs_report_notes(a, notes, 8);
	for (size_t i = 0; i < nn; i++) {
		fputs("<p class=\"note\">Note: ", f);
		text(f, notes[i]);
		fputs("</p>\n", f);
	}
	fputs("</section>\n", f);
}

static void memory(FILE *f, const struct hs_trace *tr, const struct hs_vmgrowth *g,
                   const struct hs_frag *fr)
{
	char s[200], l[200];
	const char *cls = g->vmsize.verdict ? hs_verdict_name[g->vmsize.verdict] : "none";
	fprintf(f, "<section id=\"memory\"><h2>Memory over time</h2>\n<p class=\"verdict %s\">"
	        "VmSize ", cls);
	text(f, hs_process_sentence(&g->vmsize, &g->live, s, sizeof s));
	fputs(".<br>Live heap ", f);
	text(f, hs_growth_sentence(&g->live, l, sizeof l));
	fprintf(f, ".</p>\n<p class=\"muted\">%zu samples. Verdicts: Theil\u2013Sen slopes "
	        "with a confidence bound (likely leak: the second half of the run rises, not "
	        "by chance, at a pace kept to the end; plateau: grew, then stopped; flat: "
	        "rose less than 1 MiB (live heap: 256 KiB) and 5%%).</p>\n<div class=\"fig\">",
	        tr->nsamples);
	hs_svg_growth(f, tr, g);
	fputs("</div>\n<div class=\"fig\">", f);
	hs_svg_efficiency(f, fr);
	fputs("</div>\n</section>\n", f);
}

static void fragmentation(FILE *f, const struct hs_frag *fr)
{
	char a[32], b[32];
	fputs("<section id=\"fragmentation\"><h2>Fragmentation</h2>\n", f);
	if (!fr->have_sample || !fr->held) {
		fputs(fr->have_sample ? "<p class=\"note\">The heap held no memory from the system:"
		      " no fragmentation figures.</p></section>\n" : "<p class=\"note\">No samples "
		      "in this trace: no fragmentation figures.</p></section>\n", f);
		return;
	}
	fputs("<table>\n", f);
	fprintf(f, "<tr><th>live (requested) bytes</th><td class=\"n\">%s</td></tr>\n"
	        "<tr><th>granted (slots and pages handed out)</th><td class=\"n\">%s</td></tr>\n",
	        hs_human_bytes((double)fr->live, a, sizeof a),
	        hs_human_bytes((double)fr->granted, b, sizeof b));
	fprintf(f, "<tr><th>held from the system</th><td class=\"n\">%s</td></tr>\n"
	        "<tr><th>internal fragmentation (granted \u2212 requested)</th><td class=\"n\">"
	        "%s</td></tr>\n", hs_human_bytes((double)fr->held, a, sizeof a),
	        hs_human_bytes((double)fr->internal_bytes, b, sizeof b));
	if (fr->have_blocks)
		fprintf(f, "<tr><th>of which headers (16 bytes \u00d7 %" PRIu64 " blocks)</th>"
		        "<td class=\"n\">%s</td></tr>\n", fr->live_blocks,
		        hs_human_bytes((double)fr->header_bytes, a, sizeof a));
	fprintf(f, "<tr><th>heap efficiency (live \u00f7 held)</th><td class=\"n\">%.1f%%"
	        "</td></tr>\n<tr><th>free in buddy blocks</th><td class=\"n\">%s</td></tr>\n",
	        fr->heap_efficiency * 100, hs_human_bytes((double)fr->free_pages * 4096, a, sizeof a));
	if (fr->free_pages) {
		fputs("<tr><th>unusable free index per order</th><td class=\"n\">", f);
		for (int k = 0; k < HS_SNAP_ORDERS; k++)
			fprintf(f, "%s%.3f", k ? " " : "", fr->unusable[k]);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<div class=\"fig\">", f);
	hs_svg_free_orders(f, fr);
	fputs("</div>\n", f);
	if (!fr->snap) {
		fputs("<p class=\"note\">No exit snapshot: no per-class figures.</p>", f);
	} else if (fr->nbins) {
		fputs("<h3>Slabs per size class at exit</h3><table><tr><th>slot bytes</th>"
		      "<th>slabs</th><th>pages</th><th>slots used / capacity</th><th>fill</th>"
		      "<th>live blocks</th><th>requested bytes</th><th>internal bytes</th></tr>\n", f);
		for (size_t i = 0; i < fr->nbins; i++) {
			const struct hs_bin_frag *bf = &fr->bins[i];
			fprintf(f, "<tr><td class=\"n\">%u</td><td class=\"n\">%" PRIu64 "</td>"
			        "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64 " / %" PRIu64
			        "</td><td class=\"n\">%.0f%%</td>", bf->slot, bf->slabs, bf->pages,
			        bf->used, bf->capacity, bf->fill * 100);
			if (bf->have_live)
				fprintf(f, "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
				        "</td><td class=\"n\">%" PRIu64 "</td></tr>\n", bf->live_blocks,
				        bf->live_bytes, bf->internal_bytes);
			else
				fputs("<td colspan=\"3\" class=\"muted\">no leak scan</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
	fputs("</section>\n", f);
}

static int map_rank(const struct hs_snap *s)
{
	return !strcmp(s->kind, "exit") ? 0 : !strcmp(s->kind, "peak") ? 1 : 2;
}

static void maps(FILE *f, const struct hs_trace *tr)
{
	fputs("<section id=\"maps\"><h2>Heap maps</h2>\n", f);
	if (!tr->snaps.n)
		fputs("<p class=\"note\">No heap snapshot in this trace (the process did not "
		      "reach heapscope's exit path).</p>\n", f);
	unsigned shown = 0;
	for (int rank = 0; rank < 3; rank++)
		for (size_t i = 0; i < tr->snaps.n; i++) {
			const struct hs_snap *s = &tr->snaps.v[i];
			if (map_rank(s) != rank)
				continue;
			if (s->unreadable) {
				fprintf(f, "<p class=\"note\">Snapshot '%s' uses cell version %u, which "
				        "this heapscope cannot read.</p>\n", s->kind, s->version);
				continue;
			}
			if (shown++ >= HS_HTML_MAX_MAPS)
				continue;
			fputs("<div class=\"fig\">", f);
			hs_svg_heapmap(f, tr, s, NULL);
			fputs("</div>\n", f);
		}
	if (shown > HS_HTML_MAX_MAPS)
		fprintf(f, "<p class=\"muted\">%u more maps: see heapscope report --svg DIR.</p>\n",
		        shown - HS_HTML_MAX_MAPS);
	fputs("</section>\n", f);
}

static void leaks(FILE *f, const struct hs_analysis *a, unsigned show)
{
	char b1[32], b2[32];
	fputs("<section id=\"leaks\"><h2>Leaks</h2>\n", f);
	if (!a->tr->have_counters && !a->nleaks) {
		fputs("<p class=\"note\">Not available: the leak scan did not run.</p></section>\n", f);
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < a->nleaks; i++)
		n += (show >> a->leaks[i].kind) & 1;
	if (!n) {
		fputs("<p>No leaks of the kinds shown.</p></section>\n", f);
		return;
	}
	fputs("<table class=\"leaks\"><tr><th>kind</th><th>blocks</th><th>bytes</th>"
	      "<th>allocated at</th></tr>\n", f);
	for (size_t i = 0; i < a->nleaks; i++) {
		const struct hs_leak_rec *r = &a->leaks[i];
		if (!((show >> r->kind) & 1))
			continue;
		fprintf(f, "<tr><td%s>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>",
		        r->kind == HS_LEAK_DEFINITE ? " class=\"bad\"" : "",
		        hs_leak_kind_json[r->kind], hs_commas(r->amount.blocks, b1),
		        hs_commas(r->amount.bytes, b2));
		hs_html_stack(f, a, r->stack);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n</section>\n", f);
}

static void errors_and_faults(FILE *f, const struct hs_analysis *a)
{
	char b[32];
	fputs("<section id=\"errors\"><h2>Heap errors</h2>\n", f);
	if (!a->nerrors)
		fputs("<p>None.</p>\n", f);
	for (size_t i = 0; i < a->nerrors; i++) {
		const struct hs_err_rec *r = &a->errors[i];
		fprintf(f, "<h3>%s at 0x%" PRIx64 "%s</h3>", hs_err_kind_name[r->first->kind],
		        r->first->addr, r->count > 1 ? " (and more with the same stacks)" : "");
		if (r->first->detail && r->first->detail[0]) {
			fputs("<p>", f);
			text(f, r->first->detail);
			fputs("</p>", f);
		}
		hs_html_stack(f, a, r->first->stack);
		if (r->first->alloc_stack) {
			fputs("<p>allocated at</p>", f);
			hs_html_stack(f, a, r->first->alloc_stack);
		}
		if (r->first->free_stack) {
			fputs("<p>freed at</p>", f);
			hs_html_stack(f, a, r->first->free_stack);
		}
	}
	fputs("</section>\n<section id=\"faults\"><h2>Injected allocation failures</h2>\n", f);
	if (!a->nfaults)
		fputs("<p>None.</p>\n", f);
	else
		fputs("<table class=\"faults\"><tr><th>call #</th><th>function</th><th>size</th>"
		      "<th>times</th><th>benign</th><th>stack</th></tr>\n", f);
	for (size_t i = 0; i < a->nfaults; i++) {
		const struct hs_fault_rec *r = &a->faults[i];
		fprintf(f, "<tr><td class=\"n\">%" PRIu64 "</td><td>%s</td><td class=\"n\">%s</td>"
		        "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64 "</td><td>",
		        r->first->nth, hs_alloc_fn_name[r->first->fn],
		        hs_commas(r->first->size, b), r->count, r->benign);
		hs_html_stack(f, a, r->first->stack);
		fputs("</td></tr>\n", f);
	}
	fputs(a->nfaults ? "</table>\n</section>\n" : "</section>\n", f);
}

void hs_report_html(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o)
{
	const struct hs_trace *tr = a->tr;
	struct hs_vmgrowth g;
	struct hs_frag fr;
	hs_vmgrowth(tr, &g);
	hs_frag_compute(&fr, tr);
	const char *prog = tr->exe ? strrchr(tr->exe, '/') : NULL;
	prog = prog ? prog + 1 : tr->exe ? tr->exe : "?";
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
	      "heapscope: ", f);
	text(f, prog);
	fprintf(f, "</title>\n<style>%s</style>\n</head><body>\n<header><h1>heapscope report: ", css);
	text(f, prog);
	fputs("</h1><p>", f);
	text(f, tr->argv ? tr->argv : tr->exe);
	fprintf(f, "</p></header>\n<nav><a href=\"#summary\">summary</a><a href=\"#memory\">"
	        "memory over time</a><a href=\"#profile\">heap profile</a><a href="
	        "\"#fragmentation\">fragmentation</a><a href=\"#maps\">heap maps</a><a href="
	        "\"#leaks\">leaks</a><a href=\"#errors\">errors</a><a href=\"#faults\">injected "
	        "failures</a></nav>\n<main>\n");
	summary(f, a, &g, &fr);
	memory(f, tr, &g, &fr);
	hs_html_profile(f, a);          /* html_profile.c */
	fragmentation(f, &fr);
	maps(f, tr);
	leaks(f, a, o->show_kinds);
	errors_and_faults(f, a);
	fputs("</main>\n<footer class=\"muted\" style=\"padding:0 28px 20px\">heapscope ", f);
	text(f, o->tool_version ? o->tool_version : "");
	fputs(", from ", f);
	text(f, tr->file);
	fputs("</footer>\n</body></html>\n", f);
	hs_frag_free(&fr);
}
