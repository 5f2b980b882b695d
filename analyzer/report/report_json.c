/*
 * report_json.c — the machine-readable report (docs/JSON-REPORT.md).
 *
 * Addresses are strings ("0x7f..."): 64-bit values do not survive JSON
 * parsers that use doubles. Unknown values are null, never a guess: no
 * counters without a `C` line, no fragmentation or VmSize figures without
 * samples.
 */
#include "report.h"
#include "report_mem.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* One stack frame as DESIGN.md's JSON frame object (no trailing comma). */
void hs_json_frame(FILE *f, const char *function, const char *file, unsigned line,
                   const char *module, uint64_t address, bool inlined)
{
	fputs("{\"function\": ", f);
	hs_json_string(f, function);
	fputs(", \"file\": ", f);
	hs_json_string(f, file);
	if (line)
		fprintf(f, ", \"line\": %u", line);
	else
		fputs(", \"line\": null", f);
	fputs(", \"module\": ", f);
	hs_json_string(f, module);
	fprintf(f, ", \"address\": \"0x%" PRIx64 "\", \"inlined\": %s}", address,
	        inlined ? "true" : "false");
}

static void frames(FILE *f, const struct hs_frame *fr, size_t n, const char *ind)
{
	if (!n) {
		fputs("[]", f);
		return;
	}
	fputs("[\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s  ", ind);
		hs_json_frame(f, fr[i].function, fr[i].file, fr[i].line, fr[i].module,
		              fr[i].address, fr[i].inlined);
		fputs(i + 1 < n ? ",\n" : "\n", f);
	}
	fprintf(f, "%s]", ind);
}

static void amount(FILE *f, const char *key, uint64_t blocks, uint64_t bytes, bool comma)
{
	fprintf(f, "    \"%s\": {\"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64 "}%s\n",
	        key, blocks, bytes, comma ? "," : "");
}

static void opt_u64(FILE *f, const char *key, bool have, uint64_t v)
{
	if (have)
		fprintf(f, "    \"%s\": %" PRIu64 ",\n", key, v);
	else
		fprintf(f, "    \"%s\": null,\n", key);
}

static void header(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o)
{
	const struct hs_trace *tr = a->tr;
	fprintf(f, "{\n  \"version\": %d,\n", HS_JSON_VERSION);
	if (o->tool_version) {
		fputs("  \"heapscope\": ", f);
		hs_json_string(f, o->tool_version);
		fputs(",\n", f);
	}
	fputs("  \"trace\": ", f);
	hs_json_string(f, tr->file);
	fputs(",\n  \"program\": ", f);
	hs_json_string(f, tr->exe);
	fputs(",\n  \"command\": ", f);
	hs_json_string(f, tr->argv);
	if (tr->have_process)
		fprintf(f, ",\n  \"pid\": %ld,\n  \"ppid\": %ld,\n", tr->pid, tr->ppid);
	else
		fputs(",\n  \"pid\": null,\n  \"ppid\": null,\n", f);
	if (tr->end == HS_END_EXIT)
		fprintf(f, "  \"exit\": {\"code\": %d},\n", tr->end_value);
	else if (tr->end == HS_END_SIGNAL)
		fprintf(f, "  \"exit\": {\"signal\": %d},\n", tr->end_value);
	else
		fputs("  \"exit\": null,\n", f);
	char notes[8][1024];
	size_t nn = hs_report_notes(a, notes, 8);
	fprintf(f, "  \"complete\": %s,\n  \"notes\": [", nn ? "false" : "true");
	for (size_t i = 0; i < nn; i++) {
		fputs(i ? ", " : "", f);
		hs_json_string(f, notes[i]);
	}
	fputs("],\n", f);
}

/* summary.leak_scan: whether the scan ran and with which threads stopped
 * (docs/JSON-REPORT.md). */
static void leak_scan(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o)
{
	static const char *const status[] = {
		[HS_SCAN_COMPLETE] = "complete", [HS_SCAN_PARTIAL] = "partial",
		[HS_SCAN_SKIPPED] = "skipped",
	};
	const struct hs_tscan *s = &a->tr->scan;
	char why[1024];
	const char *no_scan = hs_report_no_scan(a, why, sizeof why);
	const char *st = s->result != HS_SCAN_NONE ? status[s->result]
	               : no_scan ? "not_run" : "unknown";
	fprintf(f, "    \"leak_scan\": {\"status\": \"%s\", \"reason\": ", st);
	if (no_scan)
		hs_json_string(f, no_scan);
	else if (s->result == HS_SCAN_NONE)
		hs_json_string(f, "the trace does not say whether other threads were "
		               "stopped (an older heapscope wrote it)");
	else
		hs_json_string(f, s->detail[0] ? s->detail : NULL);
	if (s->result == HS_SCAN_COMPLETE || s->result == HS_SCAN_PARTIAL)
		fprintf(f, ", \"threads\": %" PRIu64 ", \"stopped\": %" PRIu64 ", \"idle\": %"
		        PRIu64 ", \"running\": %" PRIu64 "},\n", s->threads, s->stopped,
		        s->idle, s->running);
	else
		fputs(", \"threads\": null, \"stopped\": null, \"idle\": null, "
		      "\"running\": null},\n", f);
}

static void summary(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o)
{
	const struct hs_trace *tr = a->tr;
	fputs("  \"summary\": {\n", f);
	leak_scan(f, a, o);
	for (int k = 0; k < HS_NR_LEAK_KINDS; k++)
		amount(f, hs_leak_kind_json[k], a->kind[k].blocks, a->kind[k].bytes, true);
	amount(f, "suppressed", a->suppressed.blocks, a->suppressed.bytes, true);
	opt_u64(f, "allocs", tr->have_counters, tr->allocs);
	opt_u64(f, "frees", tr->have_counters, tr->frees);
	opt_u64(f, "peak_bytes", tr->have_counters, tr->peak_bytes);
	if (tr->have_counters)
		amount(f, "in_use_at_exit", tr->live_blocks, tr->live_bytes, true);
	else
		fputs("    \"in_use_at_exit\": null,\n", f);
	fprintf(f, "    \"errors\": %" PRIu64 ",\n    \"errors_suppressed\": %" PRIu64
	        ",\n    \"faults\": %zu\n  },\n", a->error_count, a->errors_suppressed,
	        tr->nfaults);
}

static void leaks(FILE *f, const struct hs_analysis *a, unsigned show)
{
	fputs("  \"leaks\": [", f);
	bool first = true;
	for (size_t i = 0; i < a->nleaks; i++) {
		const struct hs_leak_rec *r = &a->leaks[i];
		if (!(show & (1u << r->kind)))
			continue;
		fprintf(f, "%s\n    {\"kind\": \"%s\", \"blocks\": %" PRIu64 ", \"bytes\": %"
		        PRIu64 ", \"stack\": ", first ? "" : ",", hs_leak_kind_json[r->kind],
		        r->amount.blocks, r->amount.bytes);
		const struct hs_frame *fr;
		size_t n = hs_display(a, r->stack, &fr);
		frames(f, fr, n, "    ");
		fputs("}", f);
		first = false;
	}
	fputs(first ? "],\n" : "\n  ],\n", f);
}

static void stack_or_null(FILE *f, const struct hs_analysis *a, uint32_t id)
{
	const struct hs_frame *fr;
	if (!id) {
		fputs("null", f);
		return;
	}
	size_t n = hs_display(a, id, &fr);
	frames(f, fr, n, "    ");
}

static void errors(FILE *f, const struct hs_analysis *a)
{
	const struct hs_trace *tr = a->tr;
	fputs("  \"errors\": [", f);
	bool first = true;
	for (size_t i = 0; i < tr->nerrors; i++) {
		const struct hs_terror *e = &tr->errors[i];
		if (a->error_suppressed[i])
			continue;
		fprintf(f, "%s\n    {\"kind\": \"%s\", \"address\": \"0x%" PRIx64
		        "\", \"detail\": ", first ? "" : ",", hs_err_kind_name[e->kind], e->addr);
		hs_json_string(f, e->detail);
		const struct hs_frame *fr;
		size_t n = hs_display(a, e->stack, &fr);
		fputs(", \"stack\": ", f);
		frames(f, fr, n, "    ");
		fputs(", \"alloc_stack\": ", f);
		stack_or_null(f, a, e->alloc_stack);
		fputs(", \"free_stack\": ", f);
		stack_or_null(f, a, e->free_stack);
		fputs("}", f);
		first = false;
	}
	fputs(first ? "],\n" : "\n  ],\n", f);
}

static void faults(FILE *f, const struct hs_analysis *a)
{
	const struct hs_trace *tr = a->tr;
	fputs("  \"faults\": [", f);
	for (size_t i = 0; i < tr->nfaults; i++) {
		const struct hs_tfault *x = &tr->faults[i];
		fprintf(f, "%s\n    {\"nth\": %" PRIu64 ", \"function\": \"%s\", \"size\": %"
		        PRIu64 ", \"benign\": %s, \"stack\": ", i ? "," : "", x->nth,
		        hs_alloc_fn_name[x->fn], x->size, x->benign ? "true" : "false");
		const struct hs_frame *fr;
		size_t n = hs_display(a, x->stack, &fr);
		frames(f, fr, n, "    ");
		fputs("}", f);
	}
	fputs(tr->nfaults ? "\n  ],\n" : "],\n", f);
}

/* `fragmentation` and `vmsize`: report_mem.c (docs/JSON-MEMORY.md). */
static void samples(FILE *f, const struct hs_analysis *a)
{
	hs_json_memory(f, a->tr);
}

void hs_json_stack(FILE *f, const struct hs_analysis *a, uint32_t stack, const char *ind)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr);
	frames(f, fr, n, ind);
}

void hs_report_json(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o)
{
	header(f, a, o);
	summary(f, a, o);
	leaks(f, a, o->show_kinds);
	errors(f, a);
	faults(f, a);
	samples(f, a);
	hs_json_profile(f, a);          /* report_profile.c */
	fputs("}\n", f);
}
