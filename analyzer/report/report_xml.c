/*
 * report_xml.c — the report as memcheck's XML (valgrind's
 * docs/internals/xml-output-protocol4.txt, protocol 4), for IDEs and CI
 * plugins that read `valgrind --xml=yes`.
 *
 * The stream has memcheck's order: preamble, pid/ppid, tool, args, a
 * RUNNING status, the heap errors (one <error> per context, as the text
 * report groups them), a FINISHED status, then one <error> per loss
 * record listed (smallest first, numbered "loss record i of n" as in
 * the text report), <errorcounts> for the heap errors (memcheck leaves
 * leaks out of it) and <suppcounts>.
 *
 * What heapscope does not know is left out or fixed, never made up: the
 * thread of an error is not recorded (tid is always 1); the stack of an
 * overrun or a write after free is where it was found (free, realloc,
 * exit), not the write itself; the times of the two statuses are 0 and
 * the time of the last heap sample. Text is escaped for XML; control
 * characters and bytes that are not UTF-8 become '?'.
 */
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		if (*p == '&')
			fputs("&amp;", f);
		else if (*p == '<')
			fputs("&lt;", f);
		else if (*p == '>')
			fputs("&gt;", f);
		else if (*p < 0x20 && *p != '\t')
			fputc('?', f);
		else if (*p < 0x80)
			fputc(*p, f);
		else {
			int n = hs_utf8_len(p);
			if (n) {
				fwrite(p, 1, (size_t)n, f);
				p += n;
				continue;
			}
			fputc('?', f);
		}
		p++;
	}
}

static void elem(FILE *f, const char *indent, const char *tag, const char *s)
{
	fprintf(f, "%s<%s>", indent, tag);
	text(f, s);
	fprintf(f, "</%s>\n", tag);
}

static void frame(FILE *f, const struct hs_frame *fr)
{
	fprintf(f, "    <frame>\n      <ip>0x%" PRIX64 "</ip>\n", fr->address);
	if (fr->module)
		elem(f, "      ", "obj", fr->module);
	if (fr->function)
		elem(f, "      ", "fn", fr->function);
	if (fr->file) {
		const char *slash = strrchr(fr->file, '/');
		if (slash && slash != fr->file) {
			char *dir = hs_xstrdup(fr->file);
			dir[slash - fr->file] = 0;
			elem(f, "      ", "dir", dir);
			free(dir);
		}
		elem(f, "      ", "file", slash ? slash + 1 : fr->file);
		if (fr->line)
			fprintf(f, "      <line>%u</line>\n", fr->line);
	}
	fputs("    </frame>\n", f);
}

static void stack(FILE *f, const struct hs_analysis *a, uint32_t id)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, id, &fr);
	fputs("  <stack>\n", f);
	if (!n)               /* the protocol wants a frame: the unknown one */
		fputs("    <frame>\n      <ip>0x0</ip>\n    </frame>\n", f);
	for (size_t i = 0; i < n; i++)
		frame(f, &fr[i]);
	fputs("  </stack>\n", f);
}

static void suppression(FILE *f, struct hs_gensupp *g)
{
	fputs("  <suppression>\n    <sname>insert_a_suppression_name_here</sname>\n", f);
	elem(f, "    ", "skind", g->kind);
	if (g->aux[0])
		elem(f, "    ", "skaux", g->aux);
	for (size_t i = 0; i < g->nframes; i++) {
		bool fun = strncmp(g->frames[i], "fun:", 4) == 0;
		fprintf(f, "    <sframe> <%s>", fun ? "fun" : "obj");
		text(f, g->frames[i] + 4);
		fprintf(f, "</%s> </sframe>\n", fun ? "fun" : "obj");
	}
	/* names never hold "]]>" (valgrind relies on the same) */
	fputs("    <rawtext>\n<![CDATA[\n", f);
	hs_gensupp_print(f, g);
	fputs("]]>\n    </rawtext>\n  </suppression>\n", f);
	hs_gensupp_free(g);
}

static const char *err_kind(unsigned kind)
{
	switch (kind) {
	case HS_ERR_MISMATCHED_FREE:  return "MismatchedFree";
	case HS_ERR_HEAP_OVERFLOW:
	case HS_ERR_WRITE_AFTER_FREE: return "InvalidWrite";
	}
	return "InvalidFree";     /* invalid, double, realloc of a freed block */
}

static void heap_error(FILE *f, const struct hs_analysis *a, const struct hs_err_rec *r,
                       unsigned unique, bool gen)
{
	const struct hs_terror *e = r->first;
	fprintf(f, "<error>\n  <unique>0x%x</unique>\n  <tid>1</tid>\n", unique);
	elem(f, "  ", "kind", err_kind(e->kind));
	elem(f, "  ", "what", hs_err_title(e->kind));
	stack(f, a, e->stack);
	char addr[400];
	snprintf(addr, sizeof addr, "Address 0x%" PRIX64 "%s%s", e->addr,
	         e->detail[0] ? ": " : "", e->detail);
	elem(f, "  ", "auxwhat", addr);
	if (e->alloc_stack) {
		elem(f, "  ", "auxwhat", "Block was alloc'd at");
		stack(f, a, e->alloc_stack);
	}
	if (e->free_stack) {
		elem(f, "  ", "auxwhat", "Block was freed at");
		stack(f, a, e->free_stack);
	}
	if (gen) {
		struct hs_gensupp g;
		if (hs_gensupp_error(&g, a, r))
			suppression(f, &g);
	}
	fputs("</error>\n\n", f);
}

static void leak_error(FILE *f, const struct hs_analysis *a, size_t k, unsigned unique,
                       bool gen)
{
	static const char *const kinds[HS_NR_LEAK_KINDS] = {
		"Leak_DefinitelyLost", "Leak_IndirectlyLost", "Leak_PossiblyLost",
		"Leak_StillReachable",
	};
	static const char *const words[HS_NR_LEAK_KINDS] = {
		"definitely lost", "indirectly lost", "possibly lost", "still reachable",
	};
	const struct hs_leak_rec *r = &a->leaks[k];
	char b1[32], b2[32];
	fprintf(f, "<error>\n  <unique>0x%x</unique>\n  <tid>1</tid>\n", unique);
	elem(f, "  ", "kind", kinds[r->kind]);
	fprintf(f, "  <xwhat>\n    <text>%s bytes in %s blocks are %s in loss record %zu of "
	        "%zu</text>\n", hs_commas(r->amount.bytes, b1), hs_commas(r->amount.blocks, b2),
	        words[r->kind], a->nleaks - k, a->nleaks);
	fprintf(f, "    <leakedbytes>%" PRIu64 "</leakedbytes>\n    <leakedblocks>%" PRIu64
	        "</leakedblocks>\n  </xwhat>\n", r->amount.bytes, r->amount.blocks);
	stack(f, a, r->stack);
	if (gen) {
		struct hs_gensupp g;
		if (hs_gensupp_leak(&g, a, r))
			suppression(f, &g);
	}
	fputs("</error>\n\n", f);
}

static void status(FILE *f, const char *state, uint64_t ms)
{
	uint64_t s = ms / 1000;
	fprintf(f, "<status>\n  <state>%s</state>\n  <time>%02" PRIu64 ":%02" PRIu64 ":%02"
	        PRIu64 ":%02" PRIu64 ".%03" PRIu64 " </time>\n</status>\n\n", state,
	        s / 86400, s / 3600 % 24, s / 60 % 60, s % 60, ms % 1000);
}

static void args(FILE *f, const struct hs_trace *tr, const struct hs_xml_info *x)
{
	fputs("<args>\n  <vargv>\n", f);
	for (int i = 0; i < x->tool_argc; i++)
		elem(f, "    ", i ? "arg" : "exe", x->tool_argv[i]);
	fputs("  </vargv>\n  <argv>\n", f);
	if (x->prog_argv) {
		for (int i = 0; i < x->prog_argc; i++)
			elem(f, "    ", i ? "arg" : "exe", x->prog_argv[i]);
	} else {
		/* a saved trace: its command line, words split at spaces */
		char *cmd = hs_xstrdup(tr->argv ? tr->argv : tr->exe ? tr->exe : "?");
		int i = 0;
		for (char *save = NULL, *w = strtok_r(cmd, " ", &save); w;
		     w = strtok_r(NULL, " ", &save))
			elem(f, "    ", i++ ? "arg" : "exe", w);
		free(cmd);
	}
	fputs("  </argv>\n</args>\n\n", f);
}

void hs_report_xml(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o,
                   const struct hs_xml_info *x)
{
	const struct hs_trace *tr = a->tr;
	fputs("<?xml version=\"1.0\"?>\n\n<valgrindoutput>\n\n"
	      "<protocolversion>4</protocolversion>\n<protocoltool>memcheck</protocoltool>\n\n"
	      "<preamble>\n  <line>heapscope, a memory error detector, in memcheck's XML</line>\n",
	      f);
	char line[64];
	snprintf(line, sizeof line, "Using heapscope %s", o->tool_version ? o->tool_version : "");
	elem(f, "  ", "line", line);
	fputs("  <line>Command: ", f);
	text(f, tr->argv ? tr->argv : tr->exe ? tr->exe : "?");
	fputs("</line>\n</preamble>\n\n", f);
	fprintf(f, "<pid>%ld</pid>\n<ppid>%ld</ppid>\n<tool>memcheck</tool>\n\n",
	        tr->have_process ? tr->pid : 0, tr->have_process ? tr->ppid : 0);
	args(f, tr, x);
	status(f, "RUNNING", 0);

	unsigned unique = 0;
	for (size_t i = 0; i < a->nerrors; i++)
		heap_error(f, a, &a->errors[i], unique++, o->gen_supps);
	status(f, "FINISHED", tr->nsamples ? tr->samples[tr->nsamples - 1].t_ms : 0);
	unsigned listed = hs_report_listed(o);
	for (size_t k = a->nleaks; k-- > 0;)
		if (listed & (1u << a->leaks[k].kind))
			leak_error(f, a, k, unique++, o->gen_supps);

	fputs("<errorcounts>\n", f);
	for (size_t i = 0; i < a->nerrors; i++)
		fprintf(f, "  <pair>\n    <count>%" PRIu64 "</count>\n    <unique>0x%zx</unique>\n"
		        "  </pair>\n", a->errors[i].count, i);
	fputs("</errorcounts>\n\n<suppcounts>\n", f);
	for (size_t i = 0; i < a->nsupp_uses; i++) {
		fprintf(f, "  <pair>\n    <count>%" PRIu64 "</count>\n", a->supp_uses[i].count);
		elem(f, "    ", "name", hs_supp_name(a->supp_uses[i].supp));
		fputs("  </pair>\n", f);
	}
	fputs("</suppcounts>\n\n</valgrindoutput>\n\n", f);
}
