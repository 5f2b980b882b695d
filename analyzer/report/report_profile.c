/*
 * report_profile.c — the heap profile in the text and JSON reports
 * (docs/JSON-REPORT.md, "profile"; analysis/profile.h has the figures).
 *
 * Text: the sites that grow steadily first, each with its whole stack
 * (they are what the reader is after), then three tables of the top
 * sites by peak live bytes, by calls and by temporary allocations, one
 * line per site with its innermost frames; each table ends with what the
 * other sites add up to, so a program with a million sites prints the
 * same few dozen lines. Then who held the memory when an allocation
 * failed, if one did.
 *
 * JSON: the union of the top HS_PROFILE_JSON_SITES sites of each list
 * (and every likely leak among them), in peak order; `other` sums the
 * rest.
 */
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SITE_FRAMES 4                   /* frames in a one-line site        */

static const char *verdict_words(const struct hs_growth *g)
{
	switch (g->verdict) {
	case HS_VERDICT_LIKELY_LEAK: return "likely leak";
	case HS_VERDICT_PLATEAU:     return "plateau";
	case HS_VERDICT_FLAT:        return "flat";
	default:                     return "not judged";
	}
}

/* "fn (file.c:12) < caller (file.c:40) < ..." */
static const char *site_text(const struct hs_analysis *a, uint32_t stack, char *buf,
                             size_t cap)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr), len = 0;
	buf[0] = 0;
	if (!n)
		snprintf(buf, cap, "(stack not recorded)");
	for (size_t i = 0; i < n && i < SITE_FRAMES && len < cap; i++) {
		char where[1200];
		int k = snprintf(buf + len, cap - len, "%s%s%s", i ? " < " : "",
		                 fr[i].function ? fr[i].function : "???",
		                 hs_text_where(&fr[i], where, sizeof where));
		len += k > 0 ? (size_t)k : 0;
	}
	if (n > SITE_FRAMES && len + 8 < cap)
		snprintf(buf + len, cap - len, " < ...");
	return buf;
}

/* ---- text ----------------------------------------------------------------- */

struct list {
	const char *title;
	enum hs_site_key key;
	const char *unit;               /* what the rest line sums            */
};

static uint64_t key_value(const struct hs_site *s, enum hs_site_key key)
{
	return key == HS_BY_CALLS ? s->calls : key == HS_BY_TEMPORARY ? s->temporary
	       : s->peak_live;
}

static void text_growing(FILE *f, const char *pre, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	size_t top[HS_PROFILE_TOP], n = hs_profile_top(p, HS_BY_GROWTH, HS_PROFILE_TOP, top);
	char b1[32], b2[32], b3[32], b4[32];
	if (!p->judged) {
		hs_text_line(f, pre, "Growing sites: %s", p->not_judged);
		return;
	}
	if (!n) {
		hs_text_line(f, pre, "Growing sites: none (no site grows steadily to the end)");
		return;
	}
	hs_text_line(f, pre, "Growing sites (likely leaks), fastest first:");
	for (size_t i = 0; i < n; i++) {
		const struct hs_site *s = &p->sites[top[i]];
		hs_text_line(f, pre, " likely leak: grows %s/s, %s bytes at exit, %s at peak, "
		             "%s calls", hs_human_bytes(s->growth.rate, b1, sizeof b1),
		             hs_commas(s->exit_live, b2), hs_commas(s->peak_live, b3),
		             hs_commas(s->calls, b4));
		hs_text_frames(f, pre, a, s->stack);
	}
}

static void text_list(FILE *f, const char *pre, const struct hs_analysis *a,
                      const struct list *l)
{
	const struct hs_profile *p = &a->profile;
	size_t top[HS_PROFILE_TOP], n = hs_profile_top(p, l->key, HS_PROFILE_TOP, top);
	char b[5][32], site[2048];
	if (!n)
		return;
	hs_text_line(f, pre, "%s:", l->title);
	hs_text_line(f, pre, "  %13s %13s %11s %11s  %-11s  %s", "peak bytes", "exit bytes",
	             "calls", "temporary", "verdict", "site");
	uint64_t shown = 0, total = l->key == HS_BY_CALLS ? p->calls
	                 : l->key == HS_BY_TEMPORARY ? p->temporary : p->peak_sum;
	/* Sites under 1% of the total join "other sites": a line each for
	 * libc's stdio buffer and the like would say nothing, and would cost
	 * every run the inflation of libc's debug info to name them. The
	 * list is in decreasing order: cut it at the first small one. */
	for (size_t i = 1; i < n; i++)
		if (key_value(&p->sites[top[i]], l->key) * 100 < total) {
			n = i;
			break;
		}
	for (size_t i = 0; i < n; i++) {
		const struct hs_site *s = &p->sites[top[i]];
		shown += key_value(s, l->key);
		hs_text_line(f, pre, "  %13s %13s %11s %11s  %-11s  %s", hs_commas(s->peak_live, b[0]),
		             hs_commas(s->exit_live, b[1]), hs_commas(s->calls, b[2]),
		             hs_commas(s->temporary, b[3]), verdict_words(&s->growth),
		             site_text(a, s->stack, site, sizeof site));
	}
	if (p->nsites > n)
		hs_text_line(f, pre, "  (%s other sites: %s %s)", hs_commas(p->nsites - n, b[0]),
		             hs_commas(total - shown, b[1]), l->unit);
}

static void text_oom(FILE *f, const char *pre, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	const struct hs_toom *o = p->oom;
	char b1[32], b2[32], site[2048];
	hs_text_line(f, pre, "OUT OF MEMORY at %.3f s: an allocation of %s bytes failed (%s); "
	             "%s bytes were live. Who held them:", (double)o->t_ms / 1000,
	             hs_commas(o->size, b1), o->limit ? "the --fail limit= ceiling"
	             : "for real", hs_commas(o->live, b2));
	uint64_t shown = 0;
	size_t n = o->nsites < HS_PROFILE_TOP ? o->nsites : HS_PROFILE_TOP;
	for (size_t i = 0; i < n; i++) {
		const struct hs_tusage *u = &p->oom_sites[i];
		shown += u->live;
		hs_text_line(f, pre, "  %13s %5.1f%%  %s", hs_commas(u->live, b1),
		             o->live ? 100.0 * (double)u->live / (double)o->live : 0.0,
		             site_text(a, u->stack, site, sizeof site));
	}
	if (o->live > shown)
		hs_text_line(f, pre, "  %13s         (other sites)", hs_commas(o->live - shown, b1));
	hs_text_line(f, pre, " The failing call:");
	hs_text_frames(f, pre, a, o->stack);
}

void hs_text_profile(FILE *f, const char *pre, const struct hs_analysis *a, bool quiet)
{
	static const struct list lists[] = {
		{ "Top sites by live bytes at the peak", HS_BY_PEAK, "bytes at the peak" },
		{ "Top sites by allocation calls", HS_BY_CALLS, "calls" },
		{ "Top sites by temporary allocations", HS_BY_TEMPORARY, "temporary allocations" },
	};
	const struct hs_profile *p = &a->profile;
	size_t top[1];
	bool growing = p->judged && hs_profile_top(p, HS_BY_GROWTH, 1, top);
	if (!p->have && !p->oom)
		return;
	if (quiet && !growing && !p->oom)
		return;
	char b1[32], b2[32], b3[32], b4[32];
	if (p->have) {
		char peak[96] = "";
		if (p->have_peak)
			snprintf(peak, sizeof peak, "; peak %s bytes live at %.2f s",
			         hs_commas(p->peak_live, b3), (double)p->peak_t_ms / 1000);
		hs_text_line(f, pre, "HEAP PROFILE: %s allocation sites, %s calls, %s bytes "
		             "allocated%s", hs_commas(p->nsites, b1), hs_commas(p->calls, b2),
		             hs_commas(p->bytes, b4), peak);
		if (!quiet || growing)
			text_growing(f, pre, a);
		for (size_t i = 0; i < sizeof lists / sizeof lists[0] && !quiet; i++)
			text_list(f, pre, a, &lists[i]);
	}
	if (p->oom)
		text_oom(f, pre, a);
	hs_text_line(f, pre, "%s", "");
}

/* ---- JSON ------------------------------------------------------------------ */

static void num_or_null(FILE *f, bool have, double v)
{
	if (have && isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static void json_site(FILE *f, const struct hs_analysis *a, const struct hs_site *s,
                      bool first)
{
	bool judged = s->growth.verdict != HS_VERDICT_NONE;
	fprintf(f, "%s\n      {\"calls\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"temporary\": %"
	        PRIu64 ", \"peak_live_bytes\": %" PRIu64 ", \"exit_live_bytes\": %" PRIu64
	        ", \"growth_bytes_per_s\": ", first ? "" : ",", s->calls, s->bytes, s->temporary,
	        s->peak_live, s->exit_live);
	num_or_null(f, judged, s->growth.rate);
	fputs(", \"verdict\": ", f);
	if (judged)
		fprintf(f, "\"%s\"", hs_verdict_name[s->growth.verdict]);
	else
		fputs("null", f);
	fputs(", \"stack\": ", f);
	hs_json_stack(f, a, s->stack, "      ");
	fputc('}', f);
}

/* Which sites the JSON lists: the top of every list. */
static bool *json_pick(const struct hs_profile *p)
{
	bool *pick = hs_xcalloc(p->nsites ? p->nsites : 1, sizeof *pick);
	size_t *top = hs_xmalloc(HS_PROFILE_JSON_SITES * sizeof *top);
	static const enum hs_site_key keys[] = { HS_BY_PEAK, HS_BY_CALLS, HS_BY_TEMPORARY,
	                                         HS_BY_GROWTH };
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		size_t n = hs_profile_top(p, keys[k], HS_PROFILE_JSON_SITES, top);
		for (size_t i = 0; i < n; i++)
			pick[top[i]] = true;
	}
	free(top);
	return pick;
}

static void json_oom(FILE *f, const struct hs_analysis *a)
{
	const struct hs_toom *o = a->profile.oom;
	if (!o) {
		fputs("    \"oom\": null\n", f);
		return;
	}
	fprintf(f, "    \"oom\": {\"how\": \"%s\", \"t_ms\": %" PRIu64 ", \"size\": %" PRIu64
	        ", \"live_bytes\": %" PRIu64 ", \"stack\": ", o->limit ? "limit" : "real",
	        o->t_ms, o->size, o->live);
	hs_json_stack(f, a, o->stack, "      ");
	fputs(",\n      \"sites\": [", f);
	uint64_t shown = 0;
	for (size_t i = 0; i < o->nsites; i++) {
		const struct hs_tusage *u = &a->profile.oom_sites[i];
		shown += u->live;
		fprintf(f, "%s\n        {\"live_bytes\": %" PRIu64 ", \"stack\": ", i ? "," : "",
		        u->live);
		hs_json_stack(f, a, u->stack, "        ");
		fputc('}', f);
	}
	fprintf(f, "%s],\n      \"other_live_bytes\": %" PRIu64 "}\n", o->nsites ? "\n      " : "",
	        o->live > shown ? o->live - shown : 0);
}

void hs_json_profile(FILE *f, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	if (!p->have && !p->oom) {
		fputs("  \"profile\": null\n", f);
		return;
	}
	fprintf(f, "  \"profile\": {\n    \"sites_total\": %zu,\n    \"calls\": %" PRIu64
	        ",\n    \"bytes\": %" PRIu64 ",\n    \"temporary\": %" PRIu64 ",\n    \"peak\": ",
	        p->nsites, p->calls, p->bytes, p->temporary);
	if (p->have_peak)
		fprintf(f, "{\"t_ms\": %" PRIu64 ", \"live_bytes\": %" PRIu64 "}", p->peak_t_ms,
		        p->peak_live);
	else
		fputs("null", f);
	fputs(",\n    \"not_judged\": ", f);
	hs_json_string(f, p->judged ? NULL : p->not_judged);
	fputs(",\n    \"sites\": [", f);
	bool *pick = json_pick(p);
	struct hs_site other = { 0 };
	size_t listed = 0;
	for (size_t i = 0; i < p->nsites; i++) {
		const struct hs_site *s = &p->sites[i];
		if (pick[i]) {
			json_site(f, a, s, listed++ == 0);
			continue;
		}
		other.calls += s->calls;
		other.bytes += s->bytes;
		other.temporary += s->temporary;
		other.peak_live += s->peak_live;
		other.exit_live += s->exit_live;
	}
	free(pick);
	fprintf(f, "%s],\n    \"other\": {\"sites\": %zu, \"calls\": %" PRIu64 ", \"bytes\": %"
	        PRIu64 ", \"temporary\": %" PRIu64 ", \"peak_live_bytes\": %" PRIu64
	        ", \"exit_live_bytes\": %" PRIu64 "},\n", listed ? "\n    " : "",
	        p->nsites - listed, other.calls, other.bytes, other.temporary, other.peak_live,
	        other.exit_live);
	json_oom(f, a);
	fputs("  }\n", f);
}
