/*
 * growth.c — growth verdicts from the samples; growth.h has the method
 * and its thresholds.
 */
#include "growth.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const hs_verdict_name[4] = { NULL, "flat", "plateau", "likely_leak" };

size_t hs_downsample_max(const double *t, const double *y, size_t n, size_t nb,
                         double *ot, double *oy)
{
	if (n <= nb) {
		memcpy(ot, t, n * sizeof *t);
		memcpy(oy, y, n * sizeof *y);
		return n;
	}
	double t0 = t[0], span = t[n - 1] - t[0];
	size_t out = 0, cur = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		size_t b = span > 0 ? (size_t)((t[i] - t0) / span * (double)nb) : 0;
		if (b >= nb)
			b = nb - 1;
		if (b != cur) {           /* a new bucket (empty ones are skipped) */
			cur = b;
			ot[out] = t[i];
			oy[out] = y[i];
			out++;
		} else if (y[i] > oy[out - 1]) {
			ot[out - 1] = t[i];
			oy[out - 1] = y[i];
		}
	}
	return out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Theil–Sen slope with Sen's confidence interval (growth.h, step 4). */
struct fit {
	double slope, lo, hi;
};

/* Mann–Kendall's variance of S for y[0..n), ties counted. */
static double mk_variance(const double *y, size_t n)
{
	double *v = hs_xmalloc((n ? n : 1) * sizeof *v);
	memcpy(v, y, n * sizeof *v);
	qsort(v, n, sizeof *v, cmp_double);
	double dn = (double)n, var = dn * (dn - 1) * (2 * dn + 5);
	for (size_t i = 0; i < n; ) {
		size_t j = i;
		while (j < n && v[j] == v[i])
			j++;
		double tp = (double)(j - i);
		var -= tp * (tp - 1) * (2 * tp + 5);
		i = j;
	}
	free(v);
	return var / 18;
}

static struct fit theil_sen_fit(const double *t, const double *y, size_t n)
{
	struct fit f = { 0, -INFINITY, INFINITY };
	if (n < 2)
		return f;
	double *s = hs_xmalloc(n * (n - 1) / 2 * sizeof *s);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (t[j] != t[i])
				s[k++] = (y[j] - y[i]) / (t[j] - t[i]);
	if (k) {
		qsort(s, k, sizeof *s, cmp_double);
		f.slope = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
		double c = HS_TREND_Z * sqrt(mk_variance(y, n));
		double m1 = floor(((double)k - c) / 2), m2 = ceil(((double)k + c) / 2);
		if (m1 >= 1)                      /* ranks are 1-based */
			f.lo = s[(size_t)m1 - 1];
		if (m2 + 1 <= (double)k)
			f.hi = s[(size_t)m2];
	}
	free(s);
	return f;
}

double hs_theil_sen(const double *t, const double *y, size_t n)
{
	return theil_sen_fit(t, y, n).slope;
}

/* Samples are taken on allocator slow paths (sampler.c): a stretch with
 * none means the allocator neither took nor gave back memory, so the
 * series holds its last value until the next sample. On a grid of nb
 * equal time buckets, each bucket gets the maximum of the samples in it
 * and of the value held into it from before. */
size_t hs_resample_held(const double *t, const double *y, size_t n, size_t nb,
                        double *ot, double *oy)
{
	if (n < 2 || t[n - 1] <= t[0]) {
		size_t k = n < nb ? n : nb;
		memcpy(ot, t, k * sizeof *t);
		memcpy(oy, y, k * sizeof *y);
		return k;
	}
	double t0 = t[0], span = t[n - 1] - t[0], held = y[0];
	size_t i = 0;
	for (size_t b = 0; b < nb; b++) {
		double lo = t0 + span * (double)b / (double)nb;
		double hi = t0 + span * (double)(b + 1) / (double)nb;
		double v = held, at = (lo + hi) / 2, best = -INFINITY;
		for (; i < n && (t[i] < hi || b == nb - 1); i++) {
			if (y[i] > best) {      /* the bucket's highest sample, and when */
				best = y[i];
				at = t[i];
			}
			held = y[i];
		}
		ot[b] = at;
		oy[b] = best > v ? best : v;
	}
	return nb;
}

/* The first of m bucket times at or after from, leaving at least least
 * points after it. */
static size_t first_from(const double *bt, size_t m, double from, size_t least)
{
	size_t i = 0;
	while (i < m && bt[i] < from)
		i++;
	if (m - i < least)
		i = m >= least ? m - least : 0;
	return i;
}

void hs_growth_judge_floor(const double *t, const double *y, size_t n, double floor_bytes,
                           struct hs_growth *g)
{
	memset(g, 0, sizeof *g);
	g->samples = n;
	if (!n)
		return;
	g->duration_s = t[n - 1] - t[0];
	g->first = y[0];
	g->last = y[n - 1];
	g->peak = y[0];
	for (size_t i = 0; i < n; i++)
		if (y[i] > g->peak)
			g->peak = y[i];
	double base = y[0];
	g->rise = g->peak - base > 0 ? g->peak - base : 0;
	g->flat = HS_FLAT_SHARE * base > floor_bytes ? HS_FLAT_SHARE * base : floor_bytes;
	if (n < HS_GROWTH_MIN_SAMPLES || g->duration_s * 1000 < HS_GROWTH_MIN_MS)
		return;

	double bt[HS_GROWTH_BUCKETS], by[HS_GROWTH_BUCKETS];
	size_t m = hs_resample_held(t, y, n, n < HS_GROWTH_BUCKETS ? n : HS_GROWTH_BUCKETS,
	                            bt, by);
	g->overall_rate = hs_theil_sen(bt, by, m);
	/* the second half in time (at least four points), the last quarter
	 * (at least three) */
	double mid = t[0] + g->duration_s / 2;
	size_t from = first_from(bt, m, mid, 4);
	struct fit late = theil_sen_fit(bt + from, by + from, m - from);
	g->rate = late.slope;
	g->rate_lo = late.lo;
	g->late_rise = g->rate * (t[n - 1] - mid);
	g->late_from = bt[from];
	g->late_to = t[n - 1];
	size_t tail = first_from(bt, m, t[0] + g->duration_s * 3 / 4, 3);
	g->tail_rate = hs_theil_sen(bt + tail, by + tail, m - tail);
	double r[HS_GROWTH_BUCKETS];      /* intercept: median residual */
	for (size_t i = from; i < m; i++)
		r[i - from] = by[i] - g->rate * bt[i];
	qsort(r, m - from, sizeof *r, cmp_double);
	size_t k = m - from;
	g->late_icept = k % 2 ? r[k / 2] : (r[k / 2 - 1] + r[k / 2]) / 2;

	/* the rise the late fit ends at, robust to an outlier (unlike peak) */
	double fit_rise = g->late_icept + g->rate * g->late_to - base;
	double enough = g->flat / 4 > HS_FLAT_SHARE * fit_rise ? g->flat / 4
	                : HS_FLAT_SHARE * fit_rise;
	if (g->rise < g->flat)
		g->verdict = HS_VERDICT_FLAT;
	else if (g->rate_lo > 0 && g->rate >= HS_LEAK_LATE_SHARE * g->overall_rate
	         && g->tail_rate >= HS_LEAK_TAIL_SHARE * g->rate && g->late_rise >= enough)
		g->verdict = HS_VERDICT_LIKELY_LEAK;
	else
		g->verdict = HS_VERDICT_PLATEAU;
}

void hs_growth_judge(const double *t, const double *y, size_t n, struct hs_growth *g)
{
	hs_growth_judge_floor(t, y, n, HS_FLAT_BYTES, g);
}

size_t hs_sparkline(const double *t, const double *y, size_t n, size_t width,
                    char *out, size_t cap)
{
	static const char *const bars[8] = {
		"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
	};
	size_t len = 0;
	if (cap)
		out[0] = 0;
	if (!n || !width || cap < 4)
		return 0;
	double *bt = hs_xmalloc(width * sizeof *bt), *by = hs_xmalloc(width * sizeof *by);
	size_t m = hs_resample_held(t, y, n, width, bt, by);
	double lo = by[0], hi = by[0];
	for (size_t i = 1; i < m; i++) {
		lo = by[i] < lo ? by[i] : lo;
		hi = by[i] > hi ? by[i] : hi;
	}
	for (size_t i = 0; i < m && len + 4 <= cap; i++) {
		int k = hi > lo ? (int)((by[i] - lo) / (hi - lo) * 7 + 0.5) : 0;
		memcpy(out + len, bars[k], 3);
		len += 3;
	}
	out[len] = 0;
	free(bt);
	free(by);
	return len;
}

void hs_series(const struct hs_trace *tr, enum hs_series_id id, double *t, double *y)
{
	for (size_t i = 0; i < tr->nsamples; i++) {
		const struct hs_tsample *s = &tr->samples[i];
		t[i] = (double)s->t_ms / 1000.0;
		switch (id) {
		case HS_SERIES_VMSIZE: y[i] = (double)s->vmsize_kb * 1024.0; break;
		case HS_SERIES_RSS:    y[i] = (double)s->vmrss_kb * 1024.0; break;
		case HS_SERIES_LIVE:   y[i] = (double)s->live; break;
		case HS_SERIES_HELD:   y[i] = (double)s->held; break;
		}
	}
}

void hs_vmgrowth(const struct hs_trace *tr, struct hs_vmgrowth *g)
{
	size_t n = tr->nsamples;
	double *t = hs_xmalloc((n ? n : 1) * sizeof *t), *y = hs_xmalloc((n ? n : 1) * sizeof *y);
	hs_series(tr, HS_SERIES_VMSIZE, t, y);
	hs_growth_judge(t, y, n, &g->vmsize);
	hs_series(tr, HS_SERIES_RSS, t, y);
	hs_growth_judge(t, y, n, &g->rss);
	hs_series(tr, HS_SERIES_LIVE, t, y);
	hs_growth_judge_floor(t, y, n, HS_FLAT_LIVE_BYTES, &g->live);
	free(t);
	free(y);
	/* VmSize moves in 4 MiB arena steps: a steady heap leak shows as a
	 * step or two in a short run (growth.h) */
	if (g->live.verdict == HS_VERDICT_LIKELY_LEAK && g->vmsize.verdict == HS_VERDICT_PLATEAU) {
		g->vmsize.verdict = HS_VERDICT_LIKELY_LEAK;
		g->vmsize.via_live = true;
		g->vmsize.rate = g->live.rate;
		g->vmsize.rate_lo = g->live.rate_lo;
	}
}

const char *hs_human_bytes(double v, char *buf, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	double a = fabs(v);
	while (a >= 1024 && u < 4) {
		a /= 1024;
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%.0f B", v);
	else
		snprintf(buf, cap, a < 10 ? "%.2f %s" : a < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

const char *hs_process_sentence(const struct hs_growth *g, const struct hs_growth *live,
                                char *buf, size_t cap)
{
	/* A process grows steadily for many reasons: a short run still
	 * touching its data, caches, mappings outside the heap. Called a
	 * leak only when the live heap agrees, or when it cannot be judged. */
	if (g->verdict == HS_VERDICT_LIKELY_LEAK && live
	    && (live->verdict == HS_VERDICT_FLAT || live->verdict == HS_VERDICT_PLATEAU)) {
		char a[32];
		snprintf(buf, cap, "grows steadily at %s/s, but the live heap does not: "
		         "not a heap leak", hs_human_bytes(g->rate, a, sizeof a));
		return buf;
	}
	return hs_growth_sentence(g, buf, cap);
}

const char *hs_growth_sentence(const struct hs_growth *g, char *buf, size_t cap)
{
	char a[32], b[32];
	switch (g->verdict) {
	case HS_VERDICT_LIKELY_LEAK:
		snprintf(buf, cap, "grows steadily at %s/s%s \u2014 likely leak",
		         hs_human_bytes(g->rate, a, sizeof a), g->via_live ?
		         " (the live heap's rate: VmSize moves in 4 MiB steps)" : "");
		break;
	case HS_VERDICT_PLATEAU:
		snprintf(buf, cap, "grows by %s, then plateaus (%s/s over the second half)",
		         hs_human_bytes(g->rise, a, sizeof a), hs_human_bytes(g->rate, b, sizeof b));
		break;
	case HS_VERDICT_FLAT:
		snprintf(buf, cap, "flat (rises at most %s)", hs_human_bytes(g->rise, a, sizeof a));
		break;
	default:
		if (!g->samples) {
			snprintf(buf, cap, "not judged: no samples");
			break;
		}
		snprintf(buf, cap, "not judged: %zu sample%s over %.0f ms (need %d over %d ms)",
		         g->samples, g->samples == 1 ? "" : "s", g->duration_s * 1000,
		         HS_GROWTH_MIN_SAMPLES, HS_GROWTH_MIN_MS);
	}
	return buf;
}
