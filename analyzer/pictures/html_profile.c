/*
 * html_profile.c — the heap profile's section of the HTML report: the
 * sites that grow, the flame graph of the live bytes at the peak, the
 * live heap over time split by site, the top sites by peak bytes, calls
 * and temporary allocations, and who held the memory when an allocation
 * failed.
 */
#include "html.h"
#include "svg.h"

#include <inttypes.h>
#include <string.h>

#define HTML_TOP 20

static void cell_u64(FILE *f, uint64_t v)
{
	char b[32];
	fprintf(f, "<td class=\"n\">%s</td>", hs_commas(v, b));
}

static void site_table(FILE *f, const struct hs_analysis *a, enum hs_site_key key,
                       const char *title, size_t max)
{
	const struct hs_profile *p = &a->profile;
	size_t top[HTML_TOP], n = hs_profile_top(p, key, max < HTML_TOP ? max : HTML_TOP, top);
	char b[32];
	if (!n)
		return;
	fprintf(f, "<h3>%s</h3>\n<table class=\"sites\"><tr><th>peak bytes</th><th>exit bytes"
	        "</th><th>calls</th><th>bytes allocated</th><th>temporary</th><th>verdict</th>"
	        "<th>growth</th><th>allocated at</th></tr>\n", title);
	for (size_t i = 0; i < n; i++) {
		const struct hs_site *s = &p->sites[top[i]];
		fputs("<tr>", f);
		cell_u64(f, s->peak_live);
		cell_u64(f, s->exit_live);
		cell_u64(f, s->calls);
		cell_u64(f, s->bytes);
		cell_u64(f, s->temporary);
		fprintf(f, "<td%s>%s</td><td class=\"n\">",
		        s->growth.verdict == HS_VERDICT_LIKELY_LEAK ? " class=\"bad\"" : "",
		        s->growth.verdict ? hs_verdict_name[s->growth.verdict] : "not judged");
		if (s->growth.verdict == HS_VERDICT_LIKELY_LEAK)
			fprintf(f, "%s/s", hs_human_bytes(s->growth.rate, b, sizeof b));
		fputs("</td><td>", f);
		hs_html_stack(f, a, s->stack);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	if (p->nsites > n)
		fprintf(f, "<p class=\"muted\">%zu other sites not listed.</p>\n", p->nsites - n);
}

static void oom(FILE *f, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	const struct hs_toom *o = p->oom;
	char b1[32], b2[32];
	fprintf(f, "<h3 id=\"oom\">When memory ran out</h3>\n<p class=\"verdict likely_leak\">"
	        "At %.3f s an allocation of %s bytes failed (%s); %s bytes were live.</p>\n"
	        "<table class=\"oom\"><tr><th>live bytes then</th><th>share</th><th>allocated at"
	        "</th></tr>\n", (double)o->t_ms / 1000, hs_commas(o->size, b1),
	        o->limit ? "the --fail limit= ceiling" : "for real", hs_commas(o->live, b2));
	for (size_t i = 0; i < o->nsites && i < HTML_TOP; i++) {
		const struct hs_tusage *u = &p->oom_sites[i];
		fputs("<tr>", f);
		cell_u64(f, u->live);
		fprintf(f, "<td class=\"n\">%.1f%%</td><td>", o->live ? 100.0 * (double)u->live
		        / (double)o->live : 0.0);
		hs_html_stack(f, a, u->stack);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<p>The failing call:</p>", f);
	hs_html_stack(f, a, o->stack);
	fputs("\n", f);
}

void hs_html_profile(FILE *f, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	char b1[32], b2[32], b3[32];
	fputs("<section id=\"profile\"><h2>Heap profile by allocation site</h2>\n", f);
	if (!p->have && !p->oom) {
		fputs("<p class=\"note\">This trace has no heap profile (it was written by an "
		      "older heapscope, or the process did not reach its exit).</p></section>\n", f);
		return;
	}
	if (p->have) {
		fprintf(f, "<p>%s allocation sites, %s calls, %s bytes allocated", hs_commas(p->nsites, b1),
		        hs_commas(p->calls, b2), hs_commas(p->bytes, b3));
		if (p->have_peak)
			fprintf(f, "; the peak: %s bytes live at %.2f s", hs_commas(p->peak_live, b1),
			        (double)p->peak_t_ms / 1000);
		fputs(".</p>\n", f);
		size_t top[1];
		if (!p->judged) {
			fputs("<p class=\"muted\">Growth per site ", f);
			hs_xml_text(f, p->not_judged);
			fputs(".</p>\n", f);
		} else if (!hs_profile_top(p, HS_BY_GROWTH, 1, top)) {
			fputs("<p class=\"verdict flat\">No site grows steadily to the end of the run."
			      "</p>\n", f);
		}
		site_table(f, a, HS_BY_GROWTH, "Growing sites (likely leaks), fastest first", HTML_TOP);
		fputs("<div class=\"fig\">", f);
		hs_svg_flame(f, a);
		fputs("</div>\n<div class=\"fig\">", f);
		hs_svg_sites_chart(f, a);
		fputs("</div>\n", f);
		site_table(f, a, HS_BY_PEAK, "Top sites by live bytes at the peak", HTML_TOP);
		site_table(f, a, HS_BY_CALLS, "Top sites by allocation calls", 10);
		site_table(f, a, HS_BY_TEMPORARY, "Top sites by temporary allocations", 10);
	}
	if (p->oom)
		oom(f, a);
	fputs("</section>\n", f);
}
