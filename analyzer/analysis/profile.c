/*
 * profile.c — the heap profile by site (profile.h): the `Q` totals and
 * the `U` points joined by stack id, each site's growth judged on its
 * live bytes at the sample times, the sites sorted.
 */
#include "profile.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- stack id -> site index ---------------------------------------------- */
struct idmap {
	uint64_t *slot;                 /* id << 32 | (index + 1); 0 empty      */
	size_t cap;
};

/* The index of id's site, adding one (zero counts) if it is new. */
static size_t site_of(struct hs_profile *p, struct idmap *m, uint32_t id, size_t *cap)
{
	size_t mask = m->cap - 1, j = hs_hash64(id) & mask;
	for (; m->slot[j]; j = (j + 1) & mask)
		if ((uint32_t)(m->slot[j] >> 32) == id)
			return (size_t)(m->slot[j] & 0xffffffffu) - 1;
	struct hs_site *s = HS_PUSH(p->sites, p->nsites, *cap);
	memset(s, 0, sizeof *s);
	s->stack = id;
	m->slot[j] = (uint64_t)id << 32 | p->nsites;
	return p->nsites - 1;
}

/* ---- building ---------------------------------------------------------------- */

static int by_peak(const void *x, const void *y)
{
	const struct hs_site *a = x, *b = y;
	if (a->peak_live != b->peak_live)
		return a->peak_live > b->peak_live ? -1 : 1;
	if (a->exit_live != b->exit_live)
		return a->exit_live > b->exit_live ? -1 : 1;
	if (a->calls != b->calls)
		return a->calls > b->calls ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static int by_live_desc(const void *x, const void *y)
{
	const struct hs_tusage *a = x, *b = y;
	if (a->live != b->live)
		return a->live > b->live ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* Group the `U` points by site (a counting sort: they stay in time order). */
static void group_points(struct hs_profile *p, const struct hs_trace *tr, size_t *idx)
{
	for (size_t i = 0; i < tr->nusage; i++)
		p->sites[idx[i]].npoints++;
	size_t at = 0;
	for (size_t s = 0; s < p->nsites; s++) {
		p->sites[s].first = at;
		at += p->sites[s].npoints;
		p->sites[s].npoints = 0;
	}
	p->points = hs_xmalloc((at ? at : 1) * sizeof *p->points);
	for (size_t i = 0; i < tr->nusage; i++) {
		struct hs_site *s = &p->sites[idx[i]];
		struct hs_site_point *pt = &p->points[s->first + s->npoints++];
		pt->t = (double)tr->usage[i].t_ms / 1000.0;
		pt->live = (double)tr->usage[i].live;
		if (pt->live > s->max_live)
			s->max_live = pt->live;
	}
}

void hs_profile_series(const struct hs_profile *p, size_t i, const double *t, size_t n,
                       double *y)
{
	const struct hs_site *s = &p->sites[i];
	const struct hs_site_point *pt = p->points + s->first, *end = pt + s->npoints;
	double v = 0;
	for (size_t k = 0; k < n; k++) {
		while (pt < end && pt->t <= t[k] + 1e-9)
			v = (pt++)->live;
		y[k] = v;
	}
}

/* Each site's verdict on the samples' time line (profile.h). */
static void judge_sites(struct hs_profile *p, const struct hs_trace *tr, bool have_totals)
{
	size_t n = tr->nsamples;
	double *t = hs_xmalloc((n ? n : 1) * sizeof *t), *y = hs_xmalloc((n ? n : 1) * sizeof *y);
	hs_series(tr, HS_SERIES_LIVE, t, y);        /* for the times */
	struct hs_growth probe;
	hs_growth_judge_floor(t, y, n, HS_FLAT_SITE_BYTES, &probe);
	p->judged = n >= HS_GROWTH_MIN_SAMPLES && probe.duration_s * 1000 >= HS_GROWTH_MIN_MS;
	if (!p->judged)
		hs_growth_sentence(&probe, p->not_judged, sizeof p->not_judged);
	for (size_t i = 0; i < p->nsites && p->judged; i++) {
		struct hs_site *s = &p->sites[i];
		hs_profile_series(p, i, t, n, y);
		/* the last sample is the exit's: the `Q` value is exact there */
		if (have_totals && tr->end == HS_END_EXIT && s->calls)
			y[n - 1] = (double)s->exit_live;
		if (s->max_live >= HS_FLAT_SITE_BYTES) {
			hs_growth_judge_floor(t, y, n, HS_FLAT_SITE_BYTES, &s->growth);
		} else {
			memset(&s->growth, 0, sizeof s->growth);
			s->growth.verdict = HS_VERDICT_FLAT;
			s->growth.samples = n;
			s->growth.last = y[n - 1];
			s->growth.flat = HS_FLAT_SITE_BYTES;
		}
	}
	free(t);
	free(y);
}

void hs_profile_build(struct hs_profile *p, const struct hs_trace *tr)
{
	memset(p, 0, sizeof *p);
	p->have = tr->nsites || tr->nusage;
	p->have_peak = tr->have_peak;
	p->peak_t_ms = tr->peak_t_ms;
	p->peak_live = tr->peak_live;
	if (tr->oom.have) {
		p->oom = &tr->oom;
		size_t n = tr->oom.nsites;
		p->oom_sites = hs_xmalloc((n ? n : 1) * sizeof *p->oom_sites);
		memcpy(p->oom_sites, tr->oom.sites, n * sizeof *p->oom_sites);
		qsort(p->oom_sites, n, sizeof *p->oom_sites, by_live_desc);
	}
	if (!p->have)
		return;
	size_t cap = 0, want = 2 * (tr->nsites + tr->nusage) + 16;
	struct idmap m = { .cap = 16 };
	while (m.cap < want)
		m.cap *= 2;
	m.slot = hs_xcalloc(m.cap, sizeof *m.slot);
	for (size_t i = 0; i < tr->nsites; i++) {
		const struct hs_tsite *q = &tr->sites[i];
		size_t at = site_of(p, &m, q->stack, &cap);   /* may move p->sites */
		struct hs_site *s = &p->sites[at];
		s->calls += q->calls;
		s->bytes += q->bytes;
		s->temporary += q->temporary;
		s->peak_live += q->peak_live;
		s->exit_live += q->exit_live;
	}
	size_t *idx = hs_xmalloc((tr->nusage ? tr->nusage : 1) * sizeof *idx);
	for (size_t i = 0; i < tr->nusage; i++)
		idx[i] = site_of(p, &m, tr->usage[i].stack, &cap);
	free(m.slot);
	group_points(p, tr, idx);
	free(idx);
	for (size_t i = 0; i < p->nsites; i++) {
		struct hs_site *s = &p->sites[i];
		if (!tr->nsites && s->npoints)          /* no totals: the last seen */
			s->exit_live = (uint64_t)p->points[s->first + s->npoints - 1].live;
		s->max_live = fmax(s->max_live, fmax((double)s->peak_live, (double)s->exit_live));
		p->calls += s->calls;
		p->bytes += s->bytes;
		p->temporary += s->temporary;
		p->peak_sum += s->peak_live;
		p->exit_sum += s->exit_live;
	}
	judge_sites(p, tr, tr->nsites != 0);
	/* sorting moves the sites, not their points (indexed by first) */
	qsort(p->sites, p->nsites, sizeof *p->sites, by_peak);
}

void hs_profile_free(struct hs_profile *p)
{
	free(p->sites);
	free(p->points);
	free(p->oom_sites);
	memset(p, 0, sizeof *p);
}

/* ---- top lists ------------------------------------------------------------ */

static double key_of(const struct hs_site *s, enum hs_site_key key)
{
	switch (key) {
	case HS_BY_PEAK:      return (double)s->peak_live;
	case HS_BY_CALLS:     return (double)s->calls;
	case HS_BY_TEMPORARY: return (double)s->temporary;
	case HS_BY_GROWTH:
		return s->growth.verdict == HS_VERDICT_LIKELY_LEAK ? s->growth.rate : 0;
	}
	return 0;
}

struct top_ctx {
	const struct hs_profile *p;
	enum hs_site_key key;
};

static int by_key(const void *x, const void *y, void *arg)
{
	const struct top_ctx *c = arg;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	double a = key_of(&c->p->sites[i], c->key), b = key_of(&c->p->sites[j], c->key);
	if (a != b)
		return a > b ? -1 : 1;
	return i < j ? -1 : i > j;      /* then in peak order */
}

size_t hs_profile_top(const struct hs_profile *p, enum hs_site_key key, size_t n,
                      size_t *out)
{
	size_t m = 0;
	if (key == HS_BY_PEAK) {               /* the sites' own order */
		for (size_t i = 0; i < p->nsites && m < n; i++)
			if (p->sites[i].peak_live)
				out[m++] = i;
		return m;
	}
	size_t *all = hs_xmalloc((p->nsites ? p->nsites : 1) * sizeof *all), k = 0;
	for (size_t i = 0; i < p->nsites; i++)
		if (key_of(&p->sites[i], key) > 0)
			all[k++] = i;
	struct top_ctx c = { p, key };
	qsort_r(all, k, sizeof *all, by_key, &c);
	m = k < n ? k : n;
	memcpy(out, all, m * sizeof *out);
	free(all);
	return m;
}
