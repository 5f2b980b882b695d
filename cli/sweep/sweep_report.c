/*
 * sweep_report.c — what a sweep found: a table grouped by site, worst
 * outcome first, and the JSON form (docs/SWEEP.md).
 *
 * A site that crashed, hung or leaked is shown with its whole stack down
 * to main, innermost first, as memcheck shows stacks: the first frame is
 * the program's call to the allocator, the unchecked call for a crash.
 * Handled sites take one line each.
 */
#include "sweep.h"
#include "report/report.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>

#define SWEEP_JSON_VERSION 1

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p;
}

static void frame_text(FILE *f, const struct sw_frame *fr)
{
	fputs(fr->function ? fr->function : "???", f);
	if (fr->file && fr->line)
		fprintf(f, " (%s:%u)", base_name(fr->file), fr->line);
	else if (fr->module)
		fprintf(f, " (in %s)", base_name(fr->module));
	else
		fprintf(f, " (0x%" PRIx64 ")", fr->address);
}

static const char *sig_name(int sig, char buf[16])
{
	const char *ab = sig ? sigabbrev_np(sig) : NULL;
	if (!sig)
		return "-";
	if (ab)
		snprintf(buf, 16, "SIG%s", ab);
	else
		snprintf(buf, 16, "signal %d", sig);
	return buf;
}

static const char *fn_name(int fn)
{
	return fn >= 0 && fn < HS_NR_FNS ? hs_alloc_fn_name[fn] : "?";
}

static void site_text(FILE *f, const struct sw_site *s, unsigned show)
{
	char sb[16];
	fprintf(f, "%-8s %-8s %5" PRIu64 "  %-7s ", sw_outcome_name[s->outcome],
	        sig_name(s->signal, sb), s->runs, fn_name(s->fn));
	if (s->nframes)
		frame_text(f, &s->frames[0]);
	else
		fputs("(stack not recorded)", f);
	/* a one-line site also names its caller: "__strdup (strdup.c:42)"
	 * alone does not say whose strdup it was */
	if (s->outcome == SW_HANDLED && s->nframes > 1) {
		fputs(" <- ", f);
		frame_text(f, &s->frames[1]);
	}
	/* mixed outcomes: say how many of each */
	int kinds = 0;
	for (int o = 0; o < SW_NR_OUTCOMES; o++)
		kinds += s->counts[o] != 0;
	if (kinds > 1) {
		fputs("  [", f);
		const char *sep = "";
		for (int o = SW_NR_OUTCOMES; o-- > 0;)
			if (s->counts[o]) {
				fprintf(f, "%s%" PRIu64 " %s", sep, s->counts[o], sw_outcome_name[o]);
				sep = ", ";
			}
		fputs("]", f);
	}
	fputc('\n', f);
	if (s->outcome == SW_HANDLED)
		return;
	size_t n = s->nframes;
	if (show && n > show)
		n = show;
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%35s%s ", "", i ? "by" : "at");
		frame_text(f, &s->frames[i]);
		fputc('\n', f);
	}
}

void sw_report_text(FILE *f, const struct sw_summary *s)
{
	const struct sw_opts *o = s->o;
	const struct sw_census *c = s->census;
	fprintf(f, "heapscope sweep: %s", o->args[0]);
	for (int i = 1; i < o->nargs; i++)
		fprintf(f, " %s", o->args[i]);
	fputc('\n', f);
	if (s->clean_signal) {
		char sb[16];
		fprintf(f, "clean run: killed by %s (runs that end so count as handled), "
		        "%.2f s, ", sig_name(s->clean_signal, sb), s->clean_seconds);
	} else {
		fprintf(f, "clean run: exit %d, %.2f s, ", s->clean_exit, s->clean_seconds);
	}
	if (c->have_total)
		fprintf(f, "%" PRIu64 " allocation calls", c->total);
	else
		fputs("allocation calls not counted (no exit record)", f);
	fprintf(f, " from %zu sites", c->nsites);
	if (s->gen)
		fprintf(f, "; failing in exec'd image %u (the program behind the wrapper)",
		        s->gen);
	fputc('\n', f);
	fprintf(f, "%s mode, %s: %zu runs, -j %u, timeout %.1f s, %.1f s in all\n",
	        o->nth_mode ? "nth" : "site",
	        o->flavours == (SW_TRANSIENT | SW_PERSISTENT) ? "transient+persistent" :
	        o->flavours == SW_TRANSIENT ? "transient" : "persistent",
	        s->nruns, o->jobs, s->timeout, s->seconds);
	if (o->shard_n)
		fprintf(f, "shard %u/%u: %zu of the plan's %zu runs (heapscope sweep --merge "
		        "joins the shards)\n", o->shard_k, o->shard_n, s->nruns, s->planned);
	if (s->nsites) {
		fprintf(f, "\n%-8s %-8s %5s  %-7s %s\n", "OUTCOME", "SIGNAL", "RUNS",
		        "CALL", "SITE (the failed allocation, innermost frame first)");
		for (size_t i = 0; i < s->nsites; i++)
			site_text(f, &s->sites[i], o->show_frames);
	}
	uint64_t per[SW_NR_OUTCOMES] = { 0 };
	for (size_t i = 0; i < s->nsites; i++)
		per[s->sites[i].outcome]++;
	fprintf(f, "\nsites: %" PRIu64 " crashed, %" PRIu64 " hung, %" PRIu64
	        " leaked, %" PRIu64 " handled\n", per[SW_CRASHED], per[SW_HUNG],
	        per[SW_LEAKED], per[SW_HANDLED]);
	fprintf(f, "runs:  %" PRIu64 " crashed, %" PRIu64 " hung, %" PRIu64
	        " leaked, %" PRIu64 " handled", s->outcomes[SW_CRASHED],
	        s->outcomes[SW_HUNG], s->outcomes[SW_LEAKED], s->outcomes[SW_HANDLED]);
	if (s->not_injected)
		fprintf(f, ", %" PRIu64 " injected nothing (the program made fewer "
		        "calls than in the clean run)", s->not_injected);
	fputc('\n', f);
	if (s->off_site)
		fprintf(f, "note: %" PRIu64 " runs failed a call from another site than "
		        "planned: the program does not allocate the same way every run "
		        "(threads, time, randomness); they are counted where they "
		        "failed\n", s->off_site);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_frames(FILE *f, const struct sw_frame *fr, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n        " : "\n        ", f);
		hs_json_frame(f, fr[i].function, fr[i].file, fr[i].line, fr[i].module,
		              fr[i].address, fr[i].inlined);
	}
	fputs(n ? "\n      ]" : "]", f);
}

static void json_signal(FILE *f, int sig)
{
	char sb[16];
	if (sig)
		fprintf(f, "%d, \"signal_name\": \"%s\"", sig, sig_name(sig, sb));
	else
		fputs("null, \"signal_name\": null", f);
}

static void json_outcomes(FILE *f, const uint64_t *c)
{
	fputc('{', f);
	for (int o = 0; o < SW_NR_OUTCOMES; o++)
		fprintf(f, "%s\"%s\": %" PRIu64, o ? ", " : "", sw_outcome_name[o], c[o]);
	fputc('}', f);
}

static void json_write(FILE *f, const struct sw_summary *s)
{
	const struct sw_opts *o = s->o;
	const struct sw_census *c = s->census;
	fprintf(f, "{\n  \"version\": %d,\n  \"tool\": \"heapscope sweep\",\n"
	        "  \"program\": [", SWEEP_JSON_VERSION);
	for (int i = 0; i < o->nargs; i++) {
		if (i)
			fputs(", ", f);
		hs_json_string(f, o->args[i]);
	}
	fprintf(f, "],\n  \"mode\": \"%s\",\n  \"flavours\": [%s%s%s],\n",
	        o->nth_mode ? "nth" : "site",
	        o->flavours & SW_TRANSIENT ? "\"transient\"" : "",
	        o->flavours == (SW_TRANSIENT | SW_PERSISTENT) ? ", " : "",
	        o->flavours & SW_PERSISTENT ? "\"persistent\"" : "");
	fprintf(f, "  \"site_frames\": %u,\n  \"planned_runs\": %zu,\n", o->site_frames,
	        s->planned);
	if (o->shard_n)
		fprintf(f, "  \"shard\": {\"index\": %u, \"count\": %u},\n", o->shard_k,
		        o->shard_n);
	fprintf(f, "  \"jobs\": %u,\n  \"timeout_seconds\": %.3f,\n"
	        "  \"wall_seconds\": %.3f,\n", o->jobs, s->timeout, s->seconds);
	if (s->clean_signal)
		fprintf(f, "  \"clean\": {\"exit\": {\"signal\": %d}, \"calls\": ", s->clean_signal);
	else
		fprintf(f, "  \"clean\": {\"exit\": {\"code\": %d}, \"calls\": ", s->clean_exit);
	if (c->have_total)
		fprintf(f, "%" PRIu64, c->total);
	else
		fputs("null", f);
	fprintf(f, ", \"sites\": %zu, \"seconds\": %.3f, \"image\": %u},\n",
	        c->nsites, s->clean_seconds, s->gen);
	fprintf(f, "  \"summary\": {\"runs\": %zu, \"outcomes\": ", s->nruns);
	json_outcomes(f, s->outcomes);
	fprintf(f, ", \"not_injected\": %" PRIu64 ", \"off_site\": %" PRIu64 "},\n",
	        s->not_injected, s->off_site);
	fputs("  \"sites\": [", f);
	for (size_t i = 0; i < s->nsites; i++) {
		const struct sw_site *t = &s->sites[i];
		fprintf(f, "%s\n    {\"outcome\": \"%s\", \"runs\": %" PRIu64 ", \"signal\": ",
		        i ? "," : "", sw_outcome_name[t->outcome], t->runs);
		json_signal(f, t->signal);
		fprintf(f, ", \"function\": \"%s\", \"first_nth\": %" PRIu64 ", \"outcomes\": ",
		        fn_name(t->fn), t->first_nth);
		json_outcomes(f, t->counts);
		fputs(",\n      \"key\": ", f);
		hs_json_string(f, t->key);
		fputs(",\n      \"stack\": ", f);
		json_frames(f, t->frames, t->nframes);
		fputs("}", f);
	}
	fputs(s->nsites ? "\n  ],\n  \"runs\": [" : "],\n  \"runs\": [", f);
	for (size_t i = 0; i < s->nruns; i++) {
		const struct sw_run *r = &s->runs[i];
		fprintf(f, "%s\n    {\"index\": %zu, \"nth\": %" PRIu64 ", \"flavour\": \"%s\", "
		        "\"policy\": \"%s=%" PRIu64 "\", \"outcome\": ", i ? "," : "", r->index,
		        r->nth, r->flavour == SW_TRANSIENT ? "transient" : "persistent",
		        r->flavour == SW_TRANSIENT ? "nth" : "after", r->nth);
		fprintf(f, "\"%s\", \"signal\": ", sw_outcome_name[r->outcome]);
		json_signal(f, r->signal);
		if (r->exit_code >= 0)
			fprintf(f, ", \"exit_code\": %d", r->exit_code);
		else
			fputs(", \"exit_code\": null", f);
		if (r->site >= 0)
			fprintf(f, ", \"site\": %ld", r->site);
		else
			fputs(", \"site\": null", f);
		fprintf(f, ", \"injected\": %s, \"off_site\": %s, \"seconds\": %.3f}",
		        r->injected ? "true" : "false", r->off_site ? "true" : "false",
		        r->seconds);
	}
	fputs(s->nruns ? "\n  ]\n}\n" : "]\n}\n", f);
}

int sw_report_json(const char *path, const struct sw_summary *s)
{
	bool out = strcmp(path, "-") == 0;
	FILE *f = out ? stdout : fopen(path, "w");
	if (!f) {
		fprintf(stderr, "heapscope sweep: cannot write %s: %m\n", path);
		return -1;
	}
	json_write(f, s);
	int bad = ferror(f);
	if (!out)
		bad |= fclose(f);
	else
		bad |= fflush(f);
	if (bad) {
		fprintf(stderr, "heapscope sweep: error writing %s\n", path);
		return -1;
	}
	return 0;
}

int sw_report(const struct sw_summary *s)
{
	const struct sw_opts *o = s->o;
	bool to_stdout = !(o->json && strcmp(o->json, "-") == 0);
	sw_report_text(to_stdout ? stdout : stderr, s);
	if (o->json && sw_report_json(o->json, s) < 0)
		return 3;
	return s->outcomes[SW_CRASHED] || s->outcomes[SW_HUNG] ? 1 : 0;
}
