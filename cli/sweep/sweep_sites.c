/*
 * sweep_sites.c — the sites a sweep has seen, found by key (sweep.h: a
 * site is a distinct allocating stack, keyed by object file and file
 * address per frame). Open addressing over the key strings, load at most
 * one half; sites are only ever added, so indices stay valid until the
 * final sort, which renumbers the runs that point at them.
 */
#include "sweep.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;       /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static void rehash(struct sw_sitetab *t)
{
	size_t cap = t->slot_cap ? t->slot_cap * 2 : 256;
	long *slot = hs_xmalloc(cap * sizeof *slot);
	for (size_t i = 0; i < cap; i++)
		slot[i] = -1;
	for (size_t s = 0; s < t->n; s++) {
		size_t j = str_hash(t->sites[s].key) & (cap - 1);
		while (slot[j] >= 0)
			j = (j + 1) & (cap - 1);
		slot[j] = (long)s;
	}
	free(t->slot);
	t->slot = slot;
	t->slot_cap = cap;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const struct sw_sitetab *t, const char *key)
{
	size_t j = str_hash(key) & (t->slot_cap - 1);
	while (t->slot[j] >= 0 && strcmp(t->sites[t->slot[j]].key, key) != 0)
		j = (j + 1) & (t->slot_cap - 1);
	return j;
}

long sw_site_find(const struct sw_sitetab *t, const char *key)
{
	return t->slot_cap ? t->slot[probe(t, key)] : -1;
}

long sw_site_get(struct sw_sitetab *t, const char *key, struct hs_symbolizer *sym,
                 uint32_t stack, int fn)
{
	if ((t->n + 1) * 2 > t->slot_cap)
		rehash(t);
	size_t j = probe(t, key);
	if (t->slot[j] >= 0)
		return t->slot[j];
	hs_grow((void **)&t->sites, &t->cap, t->n + 1, sizeof *t->sites);
	struct sw_site *s = &t->sites[t->n];
	memset(s, 0, sizeof *s);
	s->key = hs_xstrdup(key);
	s->nframes = sym ? sw_symbolize(sym, stack, &s->frames) : 0;
	s->fn = fn;
	s->first_nth = UINT64_MAX;
	t->slot[j] = (long)t->n;
	return (long)t->n++;
}

struct ranked {
	struct sw_site s;
	size_t old;                  /* index before sorting */
};

static int site_order(const void *a, const void *b)
{
	const struct sw_site *x = &((const struct ranked *)a)->s;
	const struct sw_site *y = &((const struct ranked *)b)->s;
	if (x->outcome != y->outcome)
		return x->outcome > y->outcome ? -1 : 1;
	if (x->first_nth != y->first_nth)
		return x->first_nth > y->first_nth ? 1 : -1;
	return strcmp(x->key, y->key);   /* the same order on every machine */
}

void sw_site_file_run(struct sw_site *s, const struct sw_run *r)
{
	s->runs++;
	s->counts[r->outcome]++;
	if (r->nth < s->first_nth)
		s->first_nth = r->nth;
	if (r->outcome > s->outcome)
		s->outcome = r->outcome;
	if (r->outcome == SW_CRASHED && (!s->signal || r->index < s->crash_index)) {
		s->signal = r->signal;
		s->crash_index = r->index;
	}
}

void sw_sites_sort(struct sw_sitetab *t, struct sw_run *runs, size_t nruns)
{
	size_t n = t->n;
	struct ranked *v = hs_xcalloc(n + 1, sizeof *v);
	long *new_of_old = hs_xcalloc(n + 1, sizeof *new_of_old);
	for (size_t i = 0; i < n; i++) {
		v[i].s = t->sites[i];
		v[i].old = i;
	}
	qsort(v, n, sizeof *v, site_order);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].s.runs == 0) {
			/* a census site every run of which failed elsewhere (or
			 * the plan did not reach: nth mode past a call count) */
			new_of_old[v[i].old] = -1;
			free(v[i].s.key);
			sw_frames_free(v[i].s.frames, v[i].s.nframes);
			continue;
		}
		t->sites[k] = v[i].s;
		new_of_old[v[i].old] = (long)k++;
	}
	t->n = k;
	for (size_t r = 0; r < nruns; r++)
		if (runs[r].site >= 0)
			runs[r].site = new_of_old[runs[r].site];
	/* indices changed: the hash table no longer applies */
	free(t->slot);
	t->slot = NULL;
	t->slot_cap = 0;
	free(v);
	free(new_of_old);
}

void sw_sites_free(struct sw_sitetab *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->sites[i].key);
		sw_frames_free(t->sites[i].frames, t->sites[i].nframes);
	}
	free(t->sites);
	free(t->slot);
	memset(t, 0, sizeof *t);
}
