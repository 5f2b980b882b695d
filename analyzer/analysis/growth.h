/*
 * growth.h — does memory grow steadily (a leak), grow then stop (a cache,
 * a warm-up), or stay flat? Judged from the samples (`T` lines) for VmSize,
 * VmRSS and the live heap, and from the `U` lines for each allocation site
 * (analysis/profile.c).
 *
 * The method, for one series y(t):
 *  1. Not judged (HS_VERDICT_NONE, and the sentence says why) with fewer
 *     than HS_GROWTH_MIN_SAMPLES samples or a run shorter than
 *     HS_GROWTH_MIN_MS: the second half of the run must hold at least four
 *     points for the trend test below to be able to say anything (four
 *     rising points are the fewest Mann–Kendall calls a rise at the 5%
 *     level). At the default 50 ms sampling that is about 0.4 s of run.
 *  2. Resample onto min(n, HS_GROWTH_BUCKETS) equal time buckets, each
 *     holding the maximum of its samples (at that sample's time), so
 *     short peaks survive and a series of any length costs the same.
 *     Samples come from allocator slow paths, so a stretch without any
 *     means the allocator neither took nor returned memory: an empty
 *     bucket holds the value of the last sample before it.
 *  3. rise = max(y) - y(first sample);
 *     flat  if rise < max(floor, HS_FLAT_SHARE * y(first)), where floor is
 *           the series' own: HS_FLAT_BYTES for VmSize and VmRSS (they move
 *           by pages and 4 MiB arenas), HS_FLAT_LIVE_BYTES for the live
 *           heap, HS_FLAT_SITE_BYTES for one site.
 *  4. Theil–Sen slopes (the median of the slopes between every pair of
 *     points: jumps and outliers cannot drag it, unlike least squares)
 *     over the whole run (s_all), over its second half in time (s_late,
 *     with Sen's confidence interval: the ranks (N -+ z*sqrt(Var S))/2 of
 *     the N pairwise slopes, Var S being Mann–Kendall's variance with
 *     ties, z = 1.645, so the lower end is a one-sided 95% bound) and over
 *     its last quarter (s_tail).
 *     likely_leak  if the lower bound of s_late is above 0 (the second
 *                  half rises, not by chance), s_late >= s_all / 2 (it
 *                  has not slowed down to a creep), s_tail >= s_late / 4
 *                  (still rising at the very end: growth that stopped
 *                  before the end is a plateau), and the second half rose
 *                  by s_late * T/2 >= max(flat threshold / 4, 5% of the
 *                  rise to where the second half's fit ends) (a trickle
 *                  after a big warm-up is not the story);
 *     plateau      otherwise: it grew, then stopped (or fell back).
 * The reported growth rate is s_late: how fast it grows now.
 *
 * The whole process (hs_vmgrowth): VmSize moves in arena-sized steps
 * (4 MiB), so a heap that leaks a few hundred KiB a second shows one or
 * two steps in a short run and VmSize alone reads as a plateau. When the
 * live heap is a likely leak and VmSize rose (plateau), the process
 * verdict is likely_leak at the live heap's rate (via_live); when VmSize
 * grows steadily but the live heap does not, the sentence says it is not
 * a heap leak (hs_process_sentence).
 */
#ifndef HS_GROWTH_H
#define HS_GROWTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/trace_read.h"

#define HS_GROWTH_BUCKETS      64
#define HS_GROWTH_MIN_SAMPLES  8
#define HS_GROWTH_MIN_MS       200
#define HS_FLAT_BYTES          (1024.0 * 1024.0)
#define HS_FLAT_LIVE_BYTES     (256.0 * 1024.0)
#define HS_FLAT_SITE_BYTES     (16.0 * 1024.0)
#define HS_FLAT_SHARE          0.05
#define HS_LEAK_LATE_SHARE     0.5      /* s_late >= this * s_all           */
#define HS_LEAK_TAIL_SHARE     0.25     /* s_tail >= this * s_late          */
#define HS_TREND_Z             1.645    /* one-sided 95%                    */

enum hs_verdict {
	HS_VERDICT_NONE = 0,       /* not judged: too few samples or too short */
	HS_VERDICT_FLAT,
	HS_VERDICT_PLATEAU,
	HS_VERDICT_LIKELY_LEAK,
};
extern const char *const hs_verdict_name[4];   /* JSON: NULL, "flat", ... */

struct hs_growth {
	enum hs_verdict verdict;
	size_t samples;
	double duration_s;
	double first, last, peak, rise;  /* bytes                              */
	double rate;                     /* s_late, bytes per second           */
	double rate_lo;                  /* its lower confidence bound         */
	double overall_rate;             /* s_all                              */
	double tail_rate;                /* s_tail                             */
	double flat;                     /* the flat threshold it was held to  */
	bool   via_live;                 /* a process verdict taken from the
	                                    live heap (hs_vmgrowth)            */
	double late_rise;                /* s_late * T/2                       */
	double late_from, late_to;       /* seconds: the span s_late fits      */
	double late_icept;               /* y = late_icept + rate * t there    */
};

/* Judge y (bytes) against t (seconds, ascending), with the flat floor
 * floor (bytes); hs_growth_judge uses HS_FLAT_BYTES. */
void hs_growth_judge_floor(const double *t, const double *y, size_t n, double floor,
                           struct hs_growth *g);
void hs_growth_judge(const double *t, const double *y, size_t n, struct hs_growth *g);

/* Bucket-maximum downsampling: at most nb points into ot/oy (each the
 * maximum of its time bucket, at that maximum's time); returns the count.
 * n <= nb copies the input. */
size_t hs_downsample_max(const double *t, const double *y, size_t n, size_t nb,
                         double *ot, double *oy);

/* The held resampling of step 1: nb points (bucket middles). */
size_t hs_resample_held(const double *t, const double *y, size_t n, size_t nb,
                        double *ot, double *oy);

/* Theil–Sen slope of y over t (pairs with equal t are skipped); 0 when
 * fewer than two distinct times. */
double hs_theil_sen(const double *t, const double *y, size_t n);

/* A one-line chart: width UTF-8 block characters (▁..█) over equal time
 * buckets (held resampling), scaled from the minimum to the maximum. Returns bytes written;
 * out needs 3 * width + 1 bytes. */
size_t hs_sparkline(const double *t, const double *y, size_t n, size_t width,
                    char *out, size_t cap);

/* The three series of a trace. */
struct hs_vmgrowth {
	struct hs_growth vmsize, rss, live;
};
void hs_vmgrowth(const struct hs_trace *tr, struct hs_vmgrowth *g);

/* Which series of a trace: 0 VmSize, 1 VmRSS, 2 live heap bytes (all in
 * bytes); t in seconds. Fills arrays of tr->nsamples entries. */
enum hs_series_id { HS_SERIES_VMSIZE, HS_SERIES_RSS, HS_SERIES_LIVE, HS_SERIES_HELD };
void hs_series(const struct hs_trace *tr, enum hs_series_id id, double *t, double *y);

/* "grows steadily at 1.2 MiB/s — likely leak" etc.; buf of 160 bytes. */
const char *hs_growth_sentence(const struct hs_growth *g, char *buf, size_t cap);

/* The same for a whole-process series (VmSize, VmRSS), judged beside the
 * live heap's growth: steady process growth while the live heap is flat or
 * plateaus is said not to be a heap leak. live may be NULL. */
const char *hs_process_sentence(const struct hs_growth *g, const struct hs_growth *live,
                                char *buf, size_t cap);

/* Bytes in human units: "1.5 MiB", "312 KiB", "87 B". */
const char *hs_human_bytes(double v, char *buf, size_t cap);

#endif
