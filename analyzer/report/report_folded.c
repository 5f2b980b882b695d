/*
 * report_folded.c — `--folded FILE`: the live bytes at the heap's peak as
 * folded stacks, the input of flamegraph.pl, speedscope and inferno:
 *
 *   main;parse_config;xstrdup 12345
 *
 * one line per distinct stack, frames outermost first joined by ';',
 * then a space and the bytes. Frames are function names (inlined calls
 * expanded, as the reports show them, down to main); a frame without a
 * name is its module in brackets, or [unknown]. ';' inside a name would
 * split it, so it is written as ':'. Sites whose stacks show the same
 * frames are added together. The HS_FOLDED_SITES sites with the most
 * bytes are written, the rest as one `[other sites]` line, so the file
 * (and the symbolization it costs) stays bounded with a million sites.
 */
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define HS_FOLDED_SITES 10000

struct folded {
	char    *stack;
	uint64_t bytes;
};

/* A name as a folded frame: ';' would split it, a line break end it. */
static void put_name(struct hs_sb *b, const char *s)
{
	size_t start = b->n;
	hs_sb_printf(b, "%s", s);
	for (char *c = b->p + start; *c; c++)
		if (*c == ';' || *c == '\n' || *c == '\r')
			*c = ':';
}

static char *folded_stack(const struct hs_analysis *a, uint32_t stack)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr);
	struct hs_sb b = { 0 };
	if (!n)
		hs_sb_printf(&b, "[stack not recorded]");
	for (size_t i = n; i-- > 0;) {
		if (i + 1 < n)
			hs_sb_printf(&b, ";");
		if (fr[i].function) {
			put_name(&b, fr[i].function);
		} else if (fr[i].module) {
			const char *m = strrchr(fr[i].module, '/');
			hs_sb_printf(&b, "[");
			put_name(&b, m ? m + 1 : fr[i].module);
			hs_sb_printf(&b, "]");
		} else {
			hs_sb_printf(&b, "[unknown]");
		}
	}
	return b.p;
}

static int by_stack(const void *x, const void *y)
{
	return strcmp(((const struct folded *)x)->stack, ((const struct folded *)y)->stack);
}

void hs_report_folded(FILE *f, const struct hs_analysis *a)
{
	const struct hs_profile *p = &a->profile;
	struct folded *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t rest = 0;
	for (size_t i = 0; i < p->nsites; i++) {      /* sites are in peak order */
		const struct hs_site *s = &p->sites[i];
		if (!s->peak_live)
			break;
		if (n == HS_FOLDED_SITES) {
			rest += s->peak_live;
			continue;
		}
		struct folded *e = HS_PUSH(v, n, cap);
		e->stack = folded_stack(a, s->stack);
		e->bytes = s->peak_live;
	}
	if (n)
		qsort(v, n, sizeof *v, by_stack);
	for (size_t i = 0; i < n; ) {
		size_t j = i;
		uint64_t sum = 0;
		for (; j < n && !strcmp(v[j].stack, v[i].stack); j++)
			sum += v[j].bytes;
		fprintf(f, "%s %" PRIu64 "\n", v[i].stack, sum);
		i = j;
	}
	if (rest)
		fprintf(f, "[other sites] %" PRIu64 "\n", rest);
	for (size_t i = 0; i < n; i++)
		free(v[i].stack);
	free(v);
}
