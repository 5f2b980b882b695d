/*
 * sweep_trace.c — what sweep reads from traces, on top of the analyzer's
 * reader (trace_read.h) and symbolizer (symbolize.h).
 *
 * Site keys. A stack id is a number private to one trace, and its return
 * addresses move with every run (ASLR). What stays is, per frame, the
 * object file and the address within it: the `M` line the frame falls in
 * (the latest one read before the `S` line that covers it, as the
 * symbolizer decides) gives path and load bias, and ip - bias is the file
 * address. A key is those pairs, innermost first; two runs' stacks are
 * the same site exactly when their keys are equal.
 *
 * The census lines (`N`, `n`, see preload/faults/fault_census.c) are not in the
 * analyzer's model (its reader skips tags it does not know), so they are
 * read here with a plain line scan.
 */
#include "sweep.h"
#include "trace/symbolize.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const struct hs_tmodule *module_of(const struct hs_trace *tr,
                                          const struct hs_tstack *s, uint64_t ip)
{
	size_t lim = s->nmodules < tr->nmodules ? s->nmodules : tr->nmodules;
	for (size_t j = lim; j-- > 0;) {
		const struct hs_tmodule *m = &tr->modules[j];
		if (ip >= m->start && ip < m->end)
			return m;
	}
	return NULL;
}

char *sw_stack_key(const struct hs_trace *tr, uint32_t id, unsigned frames)
{
	const struct hs_tstack *s = hs_trace_stack(tr, id);
	if (!s)
		return hs_xstrdup("?");
	size_t n = s->n;
	if (frames && n > frames)
		n = frames;
	size_t cap = 64, len = 0;
	char *k = hs_xmalloc(cap);
	k[0] = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t ip = tr->ips[s->first + i];
		const struct hs_tmodule *m = module_of(tr, s, ip);
		const char *path = m && m->path ? m->path : "";
		size_t need = len + strlen(path) + 24;
		if (need > cap) {
			cap = need * 2;
			k = hs_xrealloc(k, cap);
		}
		len += (size_t)snprintf(k + len, cap - len, "%s+%" PRIx64 ";", path,
		                        m ? ip - m->bias : ip);
	}
	return k;
}

static int site_by_key(const void *a, const void *b)
{
	const struct sw_census_site *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->nth > y->nth) - (x->nth < y->nth);
}

static int site_by_nth(const void *a, const void *b)
{
	const struct sw_census_site *x = a, *y = b;
	return (x->nth > y->nth) - (x->nth < y->nth);
}

static int fn_index(const char *name)
{
	for (int i = 0; i < HS_NR_FNS; i++)
		if (strcmp(hs_alloc_fn_name[i], name) == 0)
			return i;
	return -1;
}

bool sw_read_census(const char *path, const struct hs_trace *tr, unsigned frames,
                    struct sw_census *c)
{
	memset(c, 0, sizeof *c);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char *line = NULL;
	size_t lcap = 0, cap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		char fn[16];
		uint64_t nth, size, total;
		uint32_t stack;
		if (line[0] == 'n' && line[1] == ' ' &&
		    sscanf(line, "n %" SCNu64, &total) == 1) {
			c->have_total = true;
			c->total = total;
		} else if (line[0] == 'N' && line[1] == ' ' &&
		           sscanf(line, "N %" SCNu64 " %15s %" SCNu64 " %" SCNu32,
		                  &nth, fn, &size, &stack) == 4) {
			c->stacks++;
			hs_grow((void **)&c->sites, &cap, c->nsites + 1, sizeof *c->sites);
			struct sw_census_site *s = &c->sites[c->nsites++];
			s->key = sw_stack_key(tr, stack, frames);
			s->nth = nth;
			s->stack = stack;
			s->fn = fn_index(fn);
			s->size = size;
		}
	}
	free(line);
	fclose(f);
	/* Stacks that differ only below --site-frames are one site: keep the
	 * earliest call of each key. */
	if (c->nsites) {
		qsort(c->sites, c->nsites, sizeof *c->sites, site_by_key);
		size_t k = 0;
		for (size_t i = 0; i < c->nsites; i++) {
			if (k && strcmp(c->sites[k - 1].key, c->sites[i].key) == 0) {
				free(c->sites[i].key);
				continue;
			}
			c->sites[k++] = c->sites[i];
		}
		c->nsites = k;
		qsort(c->sites, c->nsites, sizeof *c->sites, site_by_nth);
	}
	return true;
}

void sw_census_free(struct sw_census *c)
{
	for (size_t i = 0; i < c->nsites; i++)
		free(c->sites[i].key);
	free(c->sites);
	memset(c, 0, sizeof *c);
}

struct keyed {
	char  *key;
	size_t blocks;
};

static int keyed_by_key(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Definitely lost blocks per site: a trace groups them by stack (`B`) or
 * lists them one by one (`L`, version 1); stacks that differ only beyond
 * `frames` frames are one site. */
void sw_lost_of(const struct hs_trace *tr, unsigned frames, struct sw_lost *out)
{
	memset(out, 0, sizeof *out);
	struct keyed *k = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < tr->nleaks; i++) {
		if (tr->leaks[i].kind != HS_LEAK_DEFINITE)
			continue;
		hs_grow((void **)&k, &cap, n + 1, sizeof *k);
		k[n].key = sw_stack_key(tr, tr->leaks[i].stack, frames);
		k[n++].blocks = tr->leaks[i].blocks;
		out->total += tr->leaks[i].blocks;
	}
	if (n)
		qsort(k, n, sizeof *k, keyed_by_key);
	out->keys = hs_xmalloc((n ? n : 1) * sizeof *out->keys);
	out->blocks = hs_xmalloc((n ? n : 1) * sizeof *out->blocks);
	for (size_t i = 0; i < n; i++) {
		if (out->n && strcmp(out->keys[out->n - 1], k[i].key) == 0) {
			out->blocks[out->n - 1] += k[i].blocks;
			free(k[i].key);
			continue;
		}
		out->keys[out->n] = k[i].key;
		out->blocks[out->n++] = k[i].blocks;
	}
	free(k);
}

void sw_lost_free(struct sw_lost *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->keys[i]);
	free(l->keys);
	free(l->blocks);
	memset(l, 0, sizeof *l);
}

/* Blocks the sorted baseline loses at key. */
static size_t count_in(const struct sw_lost *l, const char *key)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {                   /* first >= key */
		size_t mid = (lo + hi) / 2;
		if (strcmp(l->keys[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && strcmp(l->keys[lo], key) == 0 ? l->blocks[lo] : 0;
}

/* Leaked on the error path: some site lost more blocks than it does in
 * the clean run (a site that loses blocks in every run is not news). */
static bool more_lost(const struct sw_lost *run, const struct sw_lost *base)
{
	for (size_t i = 0; i < run->n; i++)
		if (run->blocks[i] > count_in(base, run->keys[i]))
			return true;
	return false;
}

void sw_read_result(const struct hs_trace *tr, unsigned frames,
                    const struct sw_lost *baseline, struct sw_result *r)
{
	memset(r, 0, sizeof *r);
	r->have_trace = true;
	r->nfaults = tr->nfaults;
	r->end = tr->end;
	r->end_value = tr->end_value;
	r->first_fn = -1;
	if (tr->nfaults) {
		const struct hs_tfault *first = &tr->faults[0];
		const struct hs_tfault *last = &tr->faults[tr->nfaults - 1];
		r->first_nth = first->nth;
		r->first_fn = first->fn;
		r->first_stack = first->stack;
		r->last_stack = last->stack;
		r->first_key = sw_stack_key(tr, first->stack, frames);
		r->last_key = sw_stack_key(tr, last->stack, frames);
	}
	struct sw_lost lost;
	sw_lost_of(tr, frames, &lost);
	r->lost_blocks = lost.total;
	r->leaked = more_lost(&lost, baseline);
	sw_lost_free(&lost);
}

void sw_result_free(struct sw_result *r)
{
	free(r->first_key);
	free(r->last_key);
	memset(r, 0, sizeof *r);
}

static char *dup_or_null(const char *s)
{
	return s ? hs_xstrdup(s) : NULL;
}

size_t sw_symbolize(struct hs_symbolizer *sym, uint32_t id, struct sw_frame **out)
{
	const struct hs_frame *fr;
	size_t n = hs_sym_stack(sym, id, &fr);
	/* Down to main: below it is the C runtime's start-up. */
	for (size_t i = 0; i < n; i++)
		if (!fr[i].inlined && fr[i].function && strcmp(fr[i].function, "main") == 0) {
			n = i + 1;
			break;
		}
	*out = n ? hs_xcalloc(n, sizeof **out) : NULL;
	for (size_t i = 0; i < n; i++) {
		(*out)[i].function = dup_or_null(fr[i].function);
		(*out)[i].file = dup_or_null(fr[i].file);
		(*out)[i].module = dup_or_null(fr[i].module);
		(*out)[i].line = fr[i].line;
		(*out)[i].address = fr[i].address;
		(*out)[i].inlined = fr[i].inlined;
	}
	return n;
}

void sw_frames_free(struct sw_frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].function);
		free(f[i].file);
		free(f[i].module);
	}
	free(f);
}
