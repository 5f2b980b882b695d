/*
 * report_memcheck.c — what the text and XML reports take from memcheck:
 * its error titles, the meaning of --leak-check for what is listed and
 * what counts as an error, and suppressions in valgrind's format
 * (--gen-suppressions).
 *
 * A generated suppression names the frames the report shows, innermost
 * first, each as `fun:` with the linkage (mangled) name as valgrind
 * writes it, or `obj:` with the module when the function is unknown. Its
 * first frame line is `fun:*`: memcheck's stacks begin inside the
 * allocator or deallocator (fun:malloc, fun:_ZdlPv ...), heapscope's at
 * the program's call to it, and which one was called is not in the trace.
 * `fun:*` matches that one frame under valgrind, and heapscope's
 * matcher takes it for the allocator frame it leaves out (suppress.h), so
 * the same entry works with both tools.
 */
#include "report.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

const char *hs_err_title(unsigned kind)
{
	switch (kind) {
	case HS_ERR_INVALID_FREE:
		return "Invalid free() / delete / delete[] / realloc()";
	case HS_ERR_DOUBLE_FREE:
		return "Invalid free() / delete / delete[] / realloc(): the block was "
		       "already freed (double free)";
	case HS_ERR_REALLOC_FREED:
		return "Invalid free() / delete / delete[] / realloc(): realloc() of a "
		       "block that was already freed";
	case HS_ERR_MISMATCHED_FREE:
		return "Mismatched free() / delete / delete []";
	case HS_ERR_HEAP_OVERFLOW:
		return "Heap block overrun: bytes past the end of the block were written";
	case HS_ERR_WRITE_AFTER_FREE:
		return "Write to a block after it was freed";
	}
	return "Heap error";
}

#define DEFAULT_COUNTED (1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_INDIRECT \
                         | 1u << HS_LEAK_POSSIBLE)

unsigned hs_report_listed(const struct hs_report_opts *o)
{
	if (o->leak_check == HS_LEAK_CHECK_NO || o->leak_check == HS_LEAK_CHECK_SUMMARY)
		return 0;
	return o->show_kinds;
}

unsigned hs_report_counted(const struct hs_report_opts *o)
{
	switch (o->leak_check) {
	case HS_LEAK_CHECK_NO:
	case HS_LEAK_CHECK_SUMMARY:
		return 0;
	case HS_LEAK_CHECK_FULL:
		return o->error_kinds;
	}
	return DEFAULT_COUNTED;
}

static void add_frame(struct hs_gensupp *g, size_t *cap, const char *type, const char *v)
{
	size_t len = strlen(type) + strlen(v) + 1;
	char *s = hs_xmalloc(len);
	snprintf(s, len, "%s%s", type, v);
	for (char *c = s; *c; c++)          /* names come from the trace */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	*HS_PUSH(g->frames, g->nframes, *cap) = s;
}

/* false for a stack that was not recorded: `fun:*` alone would match
 * every record of the kind */
static bool fill(struct hs_gensupp *g, const struct hs_analysis *a, uint32_t stack)
{
	size_t cap = 0;
	const struct hs_frame *f;
	size_t n = hs_display(a, stack, &f);
	g->frames = NULL;
	g->nframes = 0;
	if (!n)
		return false;
	add_frame(g, &cap, "fun:", "*");
	for (size_t i = 0; i < n; i++) {
		const char *fn = f[i].mangled ? f[i].mangled : f[i].function;
		if (fn)
			add_frame(g, &cap, "fun:", fn);
		else
			add_frame(g, &cap, "obj:", f[i].module ? f[i].module : "*");
	}
	return true;
}

bool hs_gensupp_leak(struct hs_gensupp *g, const struct hs_analysis *a,
                     const struct hs_leak_rec *r)
{
	snprintf(g->kind, sizeof g->kind, "Memcheck:Leak");
	snprintf(g->aux, sizeof g->aux, "match-leak-kinds: %s", hs_leak_kind_word[r->kind]);
	return fill(g, a, r->stack);
}

bool hs_gensupp_error(struct hs_gensupp *g, const struct hs_analysis *a,
                      const struct hs_err_rec *r)
{
	unsigned kind = r->first->kind;
	g->aux[0] = 0;
	if (kind == HS_ERR_HEAP_OVERFLOW || kind == HS_ERR_WRITE_AFTER_FREE) {
		/* memcheck's Addr<size>, the size from "Invalid write of size N" */
		const char *sz = strstr(r->first->detail, "of size ");
		unsigned n = sz ? (unsigned)strtoul(sz + 8, NULL, 10) : 0;
		if (n != 1 && n != 2 && n != 4 && n != 8 && n != 16)
			n = 1;
		snprintf(g->kind, sizeof g->kind, "Memcheck:Addr%u", n);
	} else {
		snprintf(g->kind, sizeof g->kind, "Memcheck:Free");
	}
	return fill(g, a, r->first->stack);
}

void hs_gensupp_print(FILE *f, const struct hs_gensupp *g)
{
	fprintf(f, "{\n   <insert_a_suppression_name_here>\n   %s\n", g->kind);
	if (g->aux[0])
		fprintf(f, "   %s\n", g->aux);
	for (size_t i = 0; i < g->nframes; i++)
		fprintf(f, "   %s\n", g->frames[i]);
	fputs("}\n", f);
}

void hs_gensupp_free(struct hs_gensupp *g)
{
	for (size_t i = 0; i < g->nframes; i++)
		free(g->frames[i]);
	free(g->frames);
	g->frames = NULL;
	g->nframes = 0;
}
