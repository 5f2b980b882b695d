/*
 * report_text.c — the report people read, in memcheck's shape so that
 * anyone who has read valgrind output can read this: errors as they are
 * found, then HEAP SUMMARY, the loss records (smallest first, so the
 * biggest ends up next to the summary), LEAK SUMMARY and ERROR SUMMARY.
 * Every line starts with ==PID==.
 */
#include "report.h"
#include "report_mem.h"
#include "util.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

struct out {
	FILE *f;
	char prefix[32];
};

/* One report line. Names, paths and messages come from the trace, which
 * is untrusted: control characters (a terminal escape sequence, say) are
 * printed as '?'. */
static void vline(FILE *f, const char *prefix, const char *fmt, va_list ap0)
{
	char small[1024], *buf = small;
	va_list ap;
	va_copy(ap, ap0);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof small) {
		buf = hs_xmalloc((size_t)n + 1);
		va_copy(ap, ap0);
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	fprintf(f, "%s%s\n", prefix, buf);
	if (buf != small)
		free(buf);
}

void hs_text_line(FILE *f, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(f, prefix, fmt, ap);
	va_end(ap);
}

static void line(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(o->f, o->prefix, fmt, ap);
	va_end(ap);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Where a frame is, as memcheck writes it: " (file.c:12)", " (file.c)",
 * " (in module)" or "". */
const char *hs_text_where(const struct hs_frame *f, char *buf, size_t cap)
{
	buf[0] = 0;
	if (f->file && f->line)
		snprintf(buf, cap, " (%s:%u)", base_name(f->file), f->line);
	else if (f->file)
		snprintf(buf, cap, " (%s)", base_name(f->file));
	else if (f->module)
		snprintf(buf, cap, " (in %s)", f->module);
	return buf;
}

void hs_text_frames(FILE *f, const char *prefix, const struct hs_analysis *a, uint32_t stack)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr);
	if (!n) {
		hs_text_line(f, prefix, "   (stack not recorded)");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char where[1200];
		hs_text_line(f, prefix, "   %s 0x%" PRIX64 ": %s%s", i ? "by" : "at", fr[i].address,
		             fr[i].function ? fr[i].function : "???",
		             hs_text_where(&fr[i], where, sizeof where));
	}
}

/* The frames of a stack as shown; they are looked up here, on demand. */
static void frames(struct out *o, const struct hs_analysis *a, uint32_t stack)
{
	hs_text_frames(o->f, o->prefix, a, stack);
}

size_t hs_report_notes(const struct hs_analysis *a, char (*notes)[1024], size_t max)
{
	const struct hs_trace *tr = a->tr;
	size_t n = 0;
#define NOTE(...) do { if (n < max) snprintf(notes[n++], sizeof notes[0], __VA_ARGS__); } while (0)
	if (tr->error[0])
		NOTE("the trace is damaged (%s); this report covers the lines before it",
		     tr->error);
	if (tr->end == HS_END_NONE && tr->lines && !tr->error[0])
		NOTE("the trace has no end record: the process did not finish "
		     "normally (killed?), so leak records and counters may be missing");
	if (tr->end_from_wait) {
		char sig[48];
		NOTE("the trace has no end record: the process was killed by %s, which "
		     "no handler sees, so leak records and counters are missing",
		     hs_signal_text(tr->end_value, sig, sizeof sig));
	}
	for (size_t i = 0; i < tr->nnotes; i++) {
		if (i == 3) {
			NOTE("heapscope lost detail %zu more times", tr->nnotes - 3);
			break;
		}
		NOTE("heapscope lost detail during the run: %s", tr->notes[i]);
	}
	if (tr->undefined_refs)
		NOTE("%zu records name stacks the trace never defined; they are shown "
		     "as not recorded", tr->undefined_refs);
	if (tr->scan.result == HS_SCAN_PARTIAL)
		NOTE("the leak scan ran while %" PRIu64 " other thread%s kept running (%s): "
		     "blocks %s used then may be misclassified", tr->scan.running,
		     tr->scan.running == 1 ? "" : "s", tr->scan.detail,
		     tr->scan.running == 1 ? "it" : "they");
#undef NOTE
	return n;
}

/* Like memcheck, stop listing after this many error contexts: past that
 * the text is not read anyway, and the JSON report has them all. */
#define MAX_ERROR_CONTEXTS 1000

/* --gen-suppressions: the entry, unprefixed so it can be pasted */
static void gen_supp(struct out *o, struct hs_gensupp *g)
{
	hs_gensupp_print(o->f, g);
	hs_gensupp_free(g);
}

static void errors(struct out *o, const struct hs_analysis *a, bool gen)
{
	for (size_t i = 0; i < a->nerrors; i++) {
		if (i == MAX_ERROR_CONTEXTS) {
			line(o, "More than %d error contexts: the rest are not shown here "
			     "(the JSON report lists every error)", MAX_ERROR_CONTEXTS);
			line(o, "%s", "");
			break;
		}
		const struct hs_err_rec *r = &a->errors[i];
		line(o, "%s", hs_err_title(r->first->kind));
		frames(o, a, r->first->stack);
		if (r->first->detail[0])
			line(o, " Address 0x%" PRIX64 ": %s", r->first->addr, r->first->detail);
		else
			line(o, " Address 0x%" PRIX64, r->first->addr);
		if (r->first->alloc_stack) {
			line(o, " Block was alloc'd at");
			frames(o, a, r->first->alloc_stack);
		}
		if (r->first->free_stack) {
			line(o, " Block was freed at");
			frames(o, a, r->first->free_stack);
		}
		if (r->count > 1)
			line(o, " (%" PRIu64 " times with these stacks; the address is the "
			     "first one's)", r->count);
		if (gen) {
			struct hs_gensupp g;
			if (hs_gensupp_error(&g, a, r))
				gen_supp(o, &g);
		}
		line(o, "%s", "");
	}
}

static void faults(struct out *o, const struct hs_analysis *a)
{
	char b[32];
	for (size_t i = 0; i < a->nfaults; i++) {
		const struct hs_fault_rec *r = &a->faults[i];
		line(o, "Injected allocation failure%s: %s(%s) returned NULL (allocation "
		     "call #%" PRIu64 ")", r->benign == r->count ? " (benign)" : "",
		     hs_alloc_fn_name[r->first->fn], hs_commas(r->first->size, b),
		     r->first->nth);
		frames(o, a, r->first->stack);
		if (r->count > 1)
			line(o, " (%" PRIu64 " failures injected at this stack)", r->count);
		if (r->benign && r->benign < r->count)
			line(o, " (%" PRIu64 " of them benign: in an hs_benign_begin region)",
			     r->benign);
		line(o, "%s", "");
	}
}

const char *hs_signal_text(int sig, char *buf, size_t cap)
{
	const char *ab = sigabbrev_np(sig);
	snprintf(buf, cap, "signal %d%s%s%s", sig, ab ? " (SIG" : "", ab ? ab : "",
	         ab ? ")" : "");
	return buf;
}

/* How the process ended, as the summaries say it. */
static const char *ending_text(const struct hs_trace *tr, char *buf, size_t cap)
{
	char sig[48];
	switch (tr->end) {
	case HS_END_EXIT:
		snprintf(buf, cap, "exited with code %d", tr->end_value);
		break;
	case HS_END_SIGNAL:
		snprintf(buf, cap, "terminated by %s", hs_signal_text(tr->end_value, sig, sizeof sig));
		break;
	case HS_END_EXEC:
		snprintf(buf, cap, "called exec; the new program writes its own trace");
		break;
	case HS_END_NONE:
		snprintf(buf, cap, "no end record (killed, or still running)");
		break;
	}
	return buf;
}

/* Why there are no final counters or leak records: the shim's `W` line
 * when it skipped the scan, the signal `run` saw kill the process (its
 * wait status: end_from_wait), or what the trace's end says. */
const char *hs_report_no_scan(const struct hs_analysis *a, char *buf, size_t cap)
{
	const struct hs_trace *tr = a->tr;
	char sig[48];
	if (tr->scan.result == HS_SCAN_SKIPPED) {
		snprintf(buf, cap, "%s", tr->scan.detail[0] ? tr->scan.detail
		         : "the leak scan was skipped");
		return buf;
	}
	if (tr->have_counters || a->nleaks)
		return NULL;
	const char *ab = tr->end_from_wait ? sigabbrev_np(tr->end_value) : NULL;
	if (ab)
		snprintf(buf, cap, "killed by SIG%s: no leak scan", ab);
	else if (tr->end_from_wait)
		snprintf(buf, cap, "killed by signal %d: no leak scan", tr->end_value);
	else if (tr->end == HS_END_SIGNAL)
		snprintf(buf, cap, "the process was terminated by %s before its exit path ran",
		         hs_signal_text(tr->end_value, sig, sizeof sig));
	else if (tr->end == HS_END_EXEC)
		snprintf(buf, cap, "the process called exec (its heap went with it)");
	else if (tr->end == HS_END_NONE)
		snprintf(buf, cap, "the trace has no end record (the process was killed, "
		         "or is still running)");
	else
		snprintf(buf, cap, "the leak scan did not run");
	return buf;
}

static void heap_summary(struct out *o, const struct hs_analysis *a, const char *no_scan)
{
	const struct hs_trace *tr = a->tr;
	char b1[32], b2[32], b3[32];
	line(o, "HEAP SUMMARY:");
	if (!tr->have_counters) {
		line(o, "    not available: %s", no_scan ? no_scan : "the trace has no final counters");
		return;
	}
	line(o, "    in use at exit: %s bytes in %s blocks", hs_commas(tr->live_bytes, b1),
	     hs_commas(tr->live_blocks, b2));
	line(o, "  total heap usage: %s allocs, %s frees, %s bytes at peak",
	     hs_commas(tr->allocs, b1), hs_commas(tr->frees, b2),
	     hs_commas(tr->peak_bytes, b3));
}

static void leaks(struct out *o, const struct hs_analysis *a, unsigned show, bool gen)
{
	static const char *const words[HS_NR_LEAK_KINDS] = {
		"definitely lost", "indirectly lost", "possibly lost", "still reachable",
	};
	char b1[32], b2[32];
	/* smallest first, numbered over every record as memcheck does */
	for (size_t k = a->nleaks; k-- > 0;) {
		const struct hs_leak_rec *r = &a->leaks[k];
		if (!(show & (1u << r->kind)))
			continue;
		line(o, "%s bytes in %s blocks are %s in loss record %zu of %zu",
		     hs_commas(r->amount.bytes, b1), hs_commas(r->amount.blocks, b2),
		     words[r->kind], a->nleaks - k, a->nleaks);
		frames(o, a, r->stack);
		if (gen) {
			struct hs_gensupp g;
			if (hs_gensupp_leak(&g, a, r))
				gen_supp(o, &g);
		}
		line(o, "%s", "");
	}
}

static void leak_summary(struct out *o, const struct hs_analysis *a, unsigned show,
                         bool summary_only)
{
	static const char *const labels[HS_NR_LEAK_KINDS] = {
		"   definitely lost", "   indirectly lost", "     possibly lost",
		"   still reachable",
	};
	char b1[32], b2[32];
	line(o, "LEAK SUMMARY:");
	for (int k = 0; k < HS_NR_LEAK_KINDS; k++)
		line(o, "%s: %s bytes in %s blocks", labels[k],
		     hs_commas(a->kind[k].bytes, b1), hs_commas(a->kind[k].blocks, b2));
	line(o, "        suppressed: %s bytes in %s blocks",
	     hs_commas(a->suppressed.bytes, b1), hs_commas(a->suppressed.blocks, b2));
	char hidden[64] = "";
	for (int k = 0; k < HS_NR_LEAK_KINDS; k++)
		if (!(show & (1u << k)) && a->kind[k].blocks) {
			strcat(hidden, hidden[0] ? ", " : "");
			strcat(hidden, hs_leak_kind_word[k]);
		}
	if (summary_only && a->nleaks)      /* --leak-check=summary */
		line(o, "Rerun with --leak-check=full to see details of leaked memory");
	else if (strcmp(hidden, "reachable") == 0)
		line(o, "Reachable blocks (those to which a pointer was found) are not shown.");
	else if (hidden[0])
		line(o, "Loss records of these kinds are not shown: %s.", hidden);
	if (hidden[0] && !summary_only)
		line(o, "To see them, rerun with: --leak-kinds=all");
}

static void ending(struct out *o, const struct hs_trace *tr)
{
	char how[160];
	if (tr->end != HS_END_NONE)
		line(o, "Process %s", ending_text(tr, how, sizeof how));
}

static void set_prefix(struct out *o, const struct hs_trace *tr)
{
	if (tr->have_process)
		snprintf(o->prefix, sizeof o->prefix, "==%ld== ", tr->pid);
	else
		snprintf(o->prefix, sizeof o->prefix, "==?== ");
}

void hs_report_text_brief(FILE *f, const struct hs_analysis *a)
{
	const struct hs_trace *tr = a->tr;
	struct out o = { .f = f };
	set_prefix(&o, tr);
	char how[160], b1[32], b2[32], counts[96] = "";
	if (tr->have_counters)
		snprintf(counts, sizeof counts, "; %s allocs, %s frees", hs_commas(tr->allocs, b1),
		         hs_commas(tr->frees, b2));
	const char *cmd = tr->argv ? tr->argv : tr->exe ? tr->exe : "?";
	if (tr->end == HS_END_EXEC) {       /* its heap went with the exec */
		line(&o, "%s: called exec%s; no heap errors", cmd, counts);
		return;
	}
	char reason[256];
	const char *no = hs_report_no_scan(a, reason, sizeof reason);
	bool say = no && (tr->end != HS_END_EXIT || tr->scan.result == HS_SCAN_SKIPPED);
	line(&o, "%s: %s%s; %s%s%s%s, no heap errors", cmd, ending_text(tr, how, sizeof how),
	     counts, no ? "no leak scan" : "no leaks", say ? " (" : "", say ? no : "",
	     say ? ")" : "");
}

void hs_report_text(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *opt)
{
	const struct hs_trace *tr = a->tr;
	struct out o = { .f = f };
	set_prefix(&o, tr);
	bool q = opt->quiet;
	unsigned listed = hs_report_listed(opt), counted = hs_report_counted(opt);
	size_t shown = 0;
	for (size_t i = 0; i < a->nleaks; i++)
		if (listed & (1u << a->leaks[i].kind))
			shown++;

	if (!q) {
		line(&o, "Command: %s", tr->argv ? tr->argv : tr->exe ? tr->exe : "?");
		line(&o, "%s", "");
	}
	char why[1024];
	const char *no_scan = hs_report_no_scan(a, why, sizeof why);
	errors(&o, a, opt->gen_supps);
	faults(&o, a);
	if (!q) {
		heap_summary(&o, a, no_scan);
		line(&o, "%s", "");
	}
	hs_text_memory(f, o.prefix, tr, q);     /* report_mem.c */
	hs_text_profile(f, o.prefix, a, q);     /* report_profile.c */
	leaks(&o, a, listed, opt->gen_supps);
	if (opt->leak_check == HS_LEAK_CHECK_NO) {
		if (!q) {
			line(&o, "For a detailed leak analysis, rerun with: --leak-check=full");
			line(&o, "%s", "");
		}
	} else if (tr->have_counters && !a->nleaks && !a->suppressed.blocks) {
		if (!q) {
			line(&o, "All heap blocks were freed -- no leaks are possible");
			line(&o, "%s", "");
		}
	} else if (tr->have_counters || a->nleaks) {
		if (!q || shown) {
			leak_summary(&o, a, listed, opt->leak_check == HS_LEAK_CHECK_SUMMARY);
			line(&o, "%s", "");
		}
	} else if (!q) {
		line(&o, "LEAK SUMMARY: not available: %s", no_scan);
		line(&o, "%s", "");
	}
	uint64_t leak_errs = 0;
	for (size_t i = 0; i < a->nleaks; i++)
		if (counted & (1u << a->leaks[i].kind))
			leak_errs++;
	if (!q || a->error_count || leak_errs) {
		char b1[32], b2[32], b3[32], b4[32];
		line(&o, "ERROR SUMMARY: %s errors from %s contexts (suppressed: %s from %s)",
		     hs_commas(a->error_count + leak_errs, b1),
		     hs_commas(a->nerrors + leak_errs, b2),
		     hs_commas(a->errors_suppressed + a->suppressed_records, b3),
		     hs_commas(a->error_contexts_suppressed + a->suppressed_records, b4));
	}
	if (!q)
		ending(&o, tr);
	char notes[8][1024];
	size_t nn = hs_report_notes(a, notes, 8);
	for (size_t i = 0; i < nn; i++)
		line(&o, "NOTE: %s", notes[i]);
}
