/*
 * profile.h — the heap profile by allocation site, from the trace's `Q`
 * (totals), `U` (live bytes over time), `K` (the peak) and `O`/`o` (the
 * moment memory ran out) lines; docs/TRACE-FORMAT.md has the lines.
 *
 * A site is an allocation stack. For each one: the calls, bytes and
 * temporary allocations of the whole run, its live bytes at the heap's
 * peak and at exit, and a growth verdict (growth.h) judged on its live
 * bytes at each sample time: the `U` values carried forward (a site is
 * written only when it moved, so between two of its lines it held the
 * first value), ending at its exit value. Only sites that ever held
 * HS_FLAT_SITE_BYTES are judged; the others are flat by definition. When
 * the run is too short to judge, no site is judged either.
 *
 * Sites are sorted by peak live bytes (then exit bytes, calls, stack id),
 * as the JSON report lists them. The reports show the top ones (a
 * program with a million sites gets a readable report: HS_PROFILE_TOP
 * lines per list in the text, HS_PROFILE_JSON_SITES in the JSON, the
 * rest summed).
 */
#ifndef HS_PROFILE_H
#define HS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "growth.h"
#include "trace/trace_read.h"

#define HS_PROFILE_TOP        10      /* sites per list in the text report */
#define HS_PROFILE_JSON_SITES 200     /* sites per list in the JSON report */

struct hs_site {
	uint32_t stack;                 /* 0: allocations without a stack      */
	uint64_t calls, bytes, temporary;
	uint64_t peak_live, exit_live;  /* bytes                               */
	double   max_live;              /* the most it was seen holding        */
	struct hs_growth growth;        /* verdict NONE: not judged            */
	size_t   first, npoints;        /* its `U` points: points[first ...]   */
};

struct hs_site_point {
	double t;                       /* seconds                             */
	double live;                    /* bytes                               */
};

struct hs_profile {
	bool     have;                  /* the trace has `Q` lines             */
	struct hs_site *sites;          /* sorted, see above                   */
	size_t   nsites;
	struct hs_site_point *points;   /* `U` values, grouped by site         */
	uint64_t calls, bytes, temporary;    /* all sites together             */
	uint64_t peak_sum, exit_sum;    /* sum of peak_live, of exit_live       */
	bool     have_peak;             /* `K` */
	uint64_t peak_t_ms, peak_live;
	bool     judged;                /* the run is long enough (growth.h)   */
	char     not_judged[160];       /* why not, when it is not             */
	/* the moment memory ran out: tr->oom, and its sites by live bytes */
	const struct hs_toom *oom;      /* NULL: no allocation failed          */
	struct hs_tusage *oom_sites;    /* sorted, biggest first               */
};

void hs_profile_build(struct hs_profile *p, const struct hs_trace *tr);
void hs_profile_free(struct hs_profile *p);

/* What a list is sorted by. */
enum hs_site_key { HS_BY_PEAK, HS_BY_CALLS, HS_BY_TEMPORARY, HS_BY_GROWTH };
/* The indices (into p->sites) of the top n sites by key, biggest first;
 * HS_BY_GROWTH lists only likely leaks, by rate. Returns how many. */
size_t hs_profile_top(const struct hs_profile *p, enum hs_site_key key, size_t n,
                      size_t *out);

/* Live bytes of site i at the times t[0..n) (seconds, ascending): its
 * `U` values carried forward, 0 before the first. */
void hs_profile_series(const struct hs_profile *p, size_t i, const double *t, size_t n,
                       double *y);

#endif
