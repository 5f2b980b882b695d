/*
 * test_growth.c — the growth verdict and its pieces on synthetic series:
 * steady growth (also as VmSize's 4 MiB steps, and with an outlier),
 * growth that plateaus (also with a long stretch without samples, as the
 * slow-path sampler produces), a flat series, too short a run, and the
 * downsampling, Theil–Sen and sparkline helpers; issue #16's shapes (a
 * slow leak after a warm-up, growth that stops at 70%, a trickle after a
 * big warm-up, noise without a trend) and the process verdict taken from
 * the live heap.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/growth.h"

#define MIB (1024.0 * 1024.0)

static double T[2000], Y[2000];

/* n samples every dt seconds of f(t). */
static size_t series(size_t n, double dt, double (*f)(double))
{
	for (size_t i = 0; i < n; i++) {
		T[i] = (double)i * dt;
		Y[i] = f(T[i]);
	}
	return n;
}

static double steady(double t) { return 40 * MIB + 20 * MIB * t; }
static double stairs(double t) { return 20 * MIB + 4 * MIB * floor(t / 0.2); }
static double plateau(double t) { return 30 * MIB + 16 * MIB * (t < 0.5 ? t / 0.5 : 1); }
static double flat(double t) { return 50 * MIB + 200e3 * sin(t * 40); }

START_TEST(steady_growth_is_a_likely_leak)
{
	size_t n = series(30, 0.05, steady);
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert_double_eq_tol(g.rate, 20 * MIB, 0.01 * 20 * MIB);
	ck_assert_double_eq_tol(g.overall_rate, 20 * MIB, 0.01 * 20 * MIB);
	ck_assert_double_eq_tol(g.duration_s, 1.45, 1e-9);
}
END_TEST

START_TEST(arena_steps_are_a_likely_leak)
{
	size_t n = series(60, 0.025, stairs);          /* 1.5 s of 4 MiB steps */
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert(g.rate > 10 * MIB && g.rate < 30 * MIB);  /* 20 MiB/s on average */
}
END_TEST

START_TEST(outlier_does_not_move_the_slope)
{
	size_t n = series(40, 0.05, steady);
	Y[35] += 500 * MIB;                  /* one wild sample */
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert_double_eq_tol(g.rate, 20 * MIB, 0.02 * 20 * MIB);
}
END_TEST

START_TEST(growth_then_stop_is_a_plateau)
{
	size_t n = series(30, 0.05, plateau);
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_PLATEAU);
	ck_assert_double_eq_tol(g.rate, 0, 1);
	ck_assert_double_eq_tol(g.rise, 16 * MIB, 1);
}
END_TEST

START_TEST(plateau_without_samples_is_still_a_plateau)
{
	/* samples during the fill only, then one at 1.5 s just before the
	 * program frees everything, and the exit sample after that */
	size_t n = series(11, 0.05, plateau);
	T[n] = 1.5;
	Y[n++] = 46 * MIB;
	T[n] = 1.503;
	Y[n++] = 30 * MIB;
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_PLATEAU);
}
END_TEST

START_TEST(growth_freed_at_the_end_is_not_a_leak)
{
	size_t n = series(30, 0.05, steady);
	for (size_t i = 24; i < n; i++)
		Y[i] = 40 * MIB;                 /* freed in the last 0.3 s */
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_ne(g.verdict, HS_VERDICT_LIKELY_LEAK);
}
END_TEST

START_TEST(small_wobble_is_flat)
{
	size_t n = series(100, 0.02, flat);
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_FLAT);
}
END_TEST

START_TEST(short_runs_are_not_judged)
{
	size_t n = series(4, 0.05, steady);
	struct hs_growth g;
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_NONE);
	n = series(30, 0.005, steady);       /* 145 ms */
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_NONE);
	hs_growth_judge(T, Y, 0, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_NONE);
	ck_assert_str_eq(hs_verdict_name[HS_VERDICT_LIKELY_LEAK], "likely_leak");
	ck_assert_str_eq(hs_verdict_name[HS_VERDICT_PLATEAU], "plateau");
	ck_assert_str_eq(hs_verdict_name[HS_VERDICT_FLAT], "flat");
}
END_TEST

/* The shape issue #16 measured: a 32-slot cache filled in the first
 * 50 ms (64 KiB), then a request log growing ~330 KB/s to the end, with
 * the live heap jittering by a few KiB of scratch blocks. The old rule
 * called it a plateau (its second half rose less than 1 MiB). */
static double issue16(double t)
{
	double cache = t < 0.05 ? 65536 * t / 0.05 : 65536;
	return cache + 330e3 * t + 4096 * ((int)(t * 1000) % 3);
}

START_TEST(slow_steady_growth_after_a_warm_up_is_a_likely_leak)
{
	size_t n = series(60, 0.05, issue16);          /* 3 s */
	struct hs_growth g;
	hs_growth_judge_floor(T, Y, n, HS_FLAT_LIVE_BYTES, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert_double_eq_tol(g.rate, 330e3, 0.05 * 330e3);
	ck_assert(g.rate_lo > 0 && g.rate_lo <= g.rate);
}
END_TEST

static double stops(double t) { return 1e6 * (t < 2.1 ? t : 2.1); }

START_TEST(growth_that_stops_before_the_end_is_a_plateau)
{
	size_t n = series(60, 0.05, stops);            /* grows for 70% of 3 s */
	struct hs_growth g;
	hs_growth_judge_floor(T, Y, n, HS_FLAT_LIVE_BYTES, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_PLATEAU);
	ck_assert_double_eq_tol(g.tail_rate, 0, 1);
}
END_TEST

static double trickle(double t) { return (t < 0.2 ? 50 * MIB * t : 10 * MIB) + 1024 * t; }

START_TEST(a_trickle_after_a_big_warm_up_is_a_plateau)
{
	size_t n = series(60, 0.05, trickle);
	struct hs_growth g;
	hs_growth_judge_floor(T, Y, n, HS_FLAT_LIVE_BYTES, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_PLATEAU);
}
END_TEST

/* No trend, only noise: the confidence bound keeps it from being called
 * a leak, whatever the slope of this particular draw. */
START_TEST(noise_without_a_trend_is_no_leak)
{
	uint64_t x = 88172645463325252ull;
	for (int seed = 0; seed < 50; seed++) {
		size_t n = 60;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			T[i] = (double)i * 0.05;
			Y[i] = 20 * MIB + (double)(x % (4u << 20));   /* +- 2 MiB */
		}
		struct hs_growth g;
		hs_growth_judge_floor(T, Y, n, HS_FLAT_LIVE_BYTES, &g);
		ck_assert_int_ne(g.verdict, HS_VERDICT_LIKELY_LEAK);
	}
}
END_TEST

START_TEST(too_few_samples_say_how_many_are_needed)
{
	size_t n = series(HS_GROWTH_MIN_SAMPLES - 1, 0.1, steady);
	struct hs_growth g;
	char b[200];
	hs_growth_judge(T, Y, n, &g);
	ck_assert_int_eq(g.verdict, HS_VERDICT_NONE);
	ck_assert_str_eq(hs_growth_sentence(&g, b, sizeof b),
	                 "not judged: 7 samples over 600 ms (need 8 over 200 ms)");
}
END_TEST

/* VmSize steps once (an arena) while the live heap grows steadily: the
 * process verdict is the live heap's. */
START_TEST(process_verdict_follows_a_leaking_live_heap)
{
	struct hs_trace tr;
	memset(&tr, 0, sizeof tr);
	struct hs_tsample smp[60];
	memset(smp, 0, sizeof smp);
	for (size_t i = 0; i < 60; i++) {
		smp[i].t_ms = i * 50;
		smp[i].vmsize_kb = i < 10 ? 20480 : 24576;
		smp[i].vmrss_kb = 4096;
		smp[i].live = (uint64_t)(330e3 * (double)i * 0.05);
	}
	tr.samples = smp;
	tr.nsamples = 60;
	struct hs_vmgrowth g;
	hs_vmgrowth(&tr, &g);
	ck_assert_int_eq(g.live.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert_int_eq(g.vmsize.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert(g.vmsize.via_live);
	ck_assert_double_eq_tol(g.vmsize.rate, g.live.rate, 1e-9);
	char b[200];
	ck_assert(strstr(hs_process_sentence(&g.vmsize, &g.live, b, sizeof b), "likely leak"));
}
END_TEST

START_TEST(downsampling_keeps_peaks)
{
	size_t n = series(1000, 0.001, steady);
	Y[500] = 999 * MIB;
	double ot[50], oy[50];
	size_t m = hs_downsample_max(T, Y, n, 50, ot, oy);
	ck_assert_uint_le(m, 50);
	ck_assert_uint_ge(m, 49);
	double best = 0;
	for (size_t i = 0; i < m; i++)
		best = oy[i] > best ? oy[i] : best;
	ck_assert_double_eq(best, 999 * MIB);
	ck_assert_uint_eq(hs_downsample_max(T, Y, 10, 50, ot, oy), 10);
}
END_TEST

START_TEST(theil_sen_exact_on_a_line)
{
	double t[] = { 0, 1, 2, 3, 4 }, y[] = { 5, 8, 11, 14, 17 };
	ck_assert_double_eq_tol(hs_theil_sen(t, y, 5), 3.0, 1e-12);
	double t2[] = { 1, 1 }, y2[] = { 0, 5 };
	ck_assert_double_eq(hs_theil_sen(t2, y2, 2), 0);
}
END_TEST

START_TEST(sparkline_shape)
{
	size_t n = series(30, 0.05, steady);
	char out[3 * 20 + 1];
	size_t len = hs_sparkline(T, Y, n, 20, out, sizeof out);
	ck_assert_uint_eq(len, 60);
	ck_assert(strncmp(out, "\u2581", 3) == 0);           /* lowest first */
	ck_assert(strcmp(out + 57, "\u2588") == 0);          /* highest last */
	char tiny[3];
	ck_assert_uint_eq(hs_sparkline(T, Y, n, 20, tiny, sizeof tiny), 0);
}
END_TEST

START_TEST(sentences)
{
	struct hs_growth g = { .verdict = HS_VERDICT_LIKELY_LEAK, .rate = 1.5 * MIB };
	char b[160];
	ck_assert_str_eq(hs_growth_sentence(&g, b, sizeof b),
	                 "grows steadily at 1.50 MiB/s \u2014 likely leak");
	/* a process series is a leak only when the live heap agrees */
	struct hs_growth plateau = { .verdict = HS_VERDICT_PLATEAU }, none = { 0 };
	ck_assert_str_eq(hs_process_sentence(&g, &plateau, b, sizeof b),
	                 "grows steadily at 1.50 MiB/s, but the live heap does not: "
	                 "not a heap leak");
	ck_assert_str_eq(hs_process_sentence(&g, &g, b, sizeof b),
	                 "grows steadily at 1.50 MiB/s \u2014 likely leak");
	ck_assert_str_eq(hs_process_sentence(&g, &none, b, sizeof b),
	                 "grows steadily at 1.50 MiB/s \u2014 likely leak");
	ck_assert_str_eq(hs_process_sentence(&g, NULL, b, sizeof b),
	                 "grows steadily at 1.50 MiB/s \u2014 likely leak");
	ck_assert_str_eq(hs_human_bytes(87, b, sizeof b), "87 B");
	ck_assert_str_eq(hs_human_bytes(3.5 * 1024, b, sizeof b), "3.50 KiB");
	ck_assert_str_eq(hs_human_bytes(2048.0 * MIB, b, sizeof b), "2.00 GiB");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("growth");
	TCase *tc = tcase_create("growth");
	tcase_add_test(tc, steady_growth_is_a_likely_leak);
	tcase_add_test(tc, arena_steps_are_a_likely_leak);
	tcase_add_test(tc, outlier_does_not_move_the_slope);
	tcase_add_test(tc, growth_then_stop_is_a_plateau);
	tcase_add_test(tc, plateau_without_samples_is_still_a_plateau);
	tcase_add_test(tc, growth_freed_at_the_end_is_not_a_leak);
	tcase_add_test(tc, small_wobble_is_flat);
	tcase_add_test(tc, short_runs_are_not_judged);
	tcase_add_test(tc, slow_steady_growth_after_a_warm_up_is_a_likely_leak);
	tcase_add_test(tc, growth_that_stops_before_the_end_is_a_plateau);
	tcase_add_test(tc, a_trickle_after_a_big_warm_up_is_a_plateau);
	tcase_add_test(tc, noise_without_a_trend_is_no_leak);
	tcase_add_test(tc, too_few_samples_say_how_many_are_needed);
	tcase_add_test(tc, process_verdict_follows_a_leaking_live_heap);
	tcase_add_test(tc, downsampling_keeps_peaks);
	tcase_add_test(tc, theil_sen_exact_on_a_line);
	tcase_add_test(tc, sparkline_shape);
	tcase_add_test(tc, sentences);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
