/*
 * test_profile.c — the heap profile from a hand-written trace: sites
 * joined from `Q` and `U`, sorted by peak bytes, each judged on its own
 * series (a steady grower, a cache that fills and stays, a small site, a
 * temporary-only site), the top lists, the carried-forward series, the
 * moment memory ran out, bad profile lines, and the two exports (folded
 * stacks summed by stack; massif trees whose node counts match).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analyze.h"
#include "report/report.h"

static char buf[1 << 20];

/* A 3 s run sampled every 50 ms. Site 1 grows 100,000 bytes a sample;
 * site 2 fills 204,800 bytes over the first second, then stays; site 3
 * holds 4 KiB; site 4 only makes temporary blocks; stack 0 is a site too. */
static size_t trace_text(void)
{
	size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + n, sizeof buf - n, __VA_ARGS__))
	PUT("HEAPSCOPE-TRACE 1\nP 100 1 0 /bin/prog\na prog\n");
	for (int s = 1; s <= 4; s++)
		PUT("S %d 1 40%d000\n", s, s);
	for (int i = 0; i <= 60; i++) {
		unsigned long t = 50ul * (unsigned)i;
		unsigned long s1 = 100000ul * (unsigned)i, s2 = i < 20 ? 10240ul * (unsigned)i : 204800;
		PUT("T %lu 20480 4096 1000 %lu %lu 4194304 10 5 0 0 0 0 0 0 0 0 0 0 0\n", t,
		    s1 + s2 + 4096, s1 + s2 + 4096);
		PUT("U %lu 1 %lu", t, s1);
		if (i <= 20)
			PUT(" 2 %lu", s2);
		if (i == 1)
			PUT(" 3 4096");
		PUT("\n");
	}
	PUT("K 3000 6208896\n");
	PUT("Q 1 61 6000000 0 6000000 6000000\n");
	PUT("Q 2 20 204800 0 204800 204800\n");
	PUT("Q 3 1 4096 0 4096 4096\n");
	PUT("Q 4 1000 32000 1000 0 0\n");
	PUT("Q 0 5 500 0 0 0\n");
	PUT("O limit 1500 3300000 65536 1\n");
	PUT("o 2 204800 1 3000000 3 4096\n");
	PUT("X exit 0\n");
#undef PUT
	return n;
}

static int read_text(const char *text, size_t len, struct hs_trace *tr)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int rc = hs_trace_read_stream(f, "test.trace", tr);
	fclose(f);
	return rc;
}

static const struct hs_site *find(const struct hs_profile *p, uint32_t stack)
{
	for (size_t i = 0; i < p->nsites; i++)
		if (p->sites[i].stack == stack)
			return &p->sites[i];
	return NULL;
}

START_TEST(sites_joined_sorted_and_judged)
{
	struct hs_trace tr;
	ck_assert_int_eq(read_text(buf, trace_text(), &tr), 0);
	struct hs_profile p;
	hs_profile_build(&p, &tr);
	ck_assert(p.have && p.judged && p.have_peak);
	ck_assert_uint_eq(p.nsites, 5);
	ck_assert_uint_eq(p.peak_live, 6208896);
	ck_assert_uint_eq(p.calls, 61 + 20 + 1 + 1000 + 5);
	ck_assert_uint_eq(p.temporary, 1000);
	/* by peak bytes: 1, 2, 3, then the two with none (more calls first) */
	ck_assert_uint_eq(p.sites[0].stack, 1);
	ck_assert_uint_eq(p.sites[1].stack, 2);
	ck_assert_uint_eq(p.sites[2].stack, 3);
	ck_assert_uint_eq(p.sites[3].stack, 4);
	ck_assert_uint_eq(p.sites[4].stack, 0);
	const struct hs_site *grow = find(&p, 1), *cache = find(&p, 2), *small = find(&p, 3);
	ck_assert_int_eq(grow->growth.verdict, HS_VERDICT_LIKELY_LEAK);
	ck_assert_double_eq_tol(grow->growth.rate, 2e6, 0.01 * 2e6);   /* 100 KB / 50 ms */
	ck_assert_int_eq(cache->growth.verdict, HS_VERDICT_PLATEAU);
	ck_assert_int_eq(small->growth.verdict, HS_VERDICT_FLAT);
	ck_assert_int_eq(find(&p, 4)->growth.verdict, HS_VERDICT_FLAT);
	ck_assert_uint_eq(grow->npoints, 61);
	hs_profile_free(&p);
	hs_trace_free(&tr);
}
END_TEST

START_TEST(top_lists_and_series)
{
	struct hs_trace tr;
	ck_assert_int_eq(read_text(buf, trace_text(), &tr), 0);
	struct hs_profile p;
	hs_profile_build(&p, &tr);
	size_t top[10], n;
	n = hs_profile_top(&p, HS_BY_CALLS, 2, top);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(p.sites[top[0]].stack, 4);
	ck_assert_uint_eq(p.sites[top[1]].stack, 1);
	n = hs_profile_top(&p, HS_BY_TEMPORARY, 10, top);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(p.sites[top[0]].stack, 4);
	n = hs_profile_top(&p, HS_BY_GROWTH, 10, top);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(p.sites[top[0]].stack, 1);
	n = hs_profile_top(&p, HS_BY_PEAK, 10, top);
	ck_assert_uint_eq(n, 3);                        /* those with peak bytes */
	/* site 2 is written until 1 s and carried forward after */
	double t[] = { 0.0, 0.52, 1.0, 2.5 }, y[4];
	hs_profile_series(&p, 1, t, 4, y);
	ck_assert_double_eq(y[0], 0);
	ck_assert_double_eq(y[1], 10240.0 * 10);
	ck_assert_double_eq(y[2], 204800);
	ck_assert_double_eq(y[3], 204800);
	/* the moment memory ran out, biggest holder first */
	ck_assert(p.oom && p.oom->limit);
	ck_assert_uint_eq(p.oom->nsites, 3);
	ck_assert_uint_eq(p.oom_sites[0].stack, 1);
	ck_assert_uint_eq(p.oom_sites[0].live, 3000000);
	ck_assert_uint_eq(p.oom_sites[2].stack, 3);
	hs_profile_free(&p);
	hs_trace_free(&tr);
}
END_TEST

START_TEST(a_run_too_short_judges_no_site)
{
	const char text[] = "HEAPSCOPE-TRACE 1\nP 1 1 0 /x\nS 1 1 401000\n"
		"T 0 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		"T 20 1 1 1 99999 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		"U 20 1 99999\nQ 1 3 99999 0 99999 99999\nX exit 0\n";
	struct hs_trace tr;
	ck_assert_int_eq(read_text(text, sizeof text - 1, &tr), 0);
	struct hs_profile p;
	hs_profile_build(&p, &tr);
	ck_assert(p.have && !p.judged);
	ck_assert(strstr(p.not_judged, "not judged: 2 samples over 20 ms"));
	ck_assert_int_eq(p.sites[0].growth.verdict, HS_VERDICT_NONE);
	hs_profile_free(&p);
	hs_trace_free(&tr);
}
END_TEST

START_TEST(bad_profile_lines)
{
	static const struct { const char *line, *says; } bad[] = {
		{ "U 10 1", "U line: 1 field after the first 1" },
		{ "U 10 1 2 3", "expected pairs" },
		{ "U 10 x 2", "stack id" },
		{ "Q 1 2 3 4 0 0", "4 temporary allocations of 2 calls" },
		{ "Q 1 2 3", "fields" },
		{ "K 1 2\nK 1 2", "second K line" },
		{ "o 1 2", "o line before the O line" },
		{ "O maybe 1 2 3 4", "neither 'real' nor 'limit'" },
		{ "O real 1 2 3 4\nO real 1 2 3 4", "second O line" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256];
		int len = snprintf(text, sizeof text, "HEAPSCOPE-TRACE 1\nP 1 1 0 /x\n%s\n", bad[i].line);
		struct hs_trace tr;
		ck_assert_int_eq(read_text(text, (size_t)len, &tr), -1);
		ck_assert_msg(strstr(tr.error, bad[i].says), "%s: %s", bad[i].line, tr.error);
		hs_trace_free(&tr);
	}
}
END_TEST

/* Every "nK:" line is followed by exactly K nodes one level deeper. */
static void check_tree(const char *text)
{
	const char *l = text;
	while ((l = strstr(l, "heap_tree=")) != NULL) {
		l = strchr(l, '\n') + 1;
		int stack_depth[4096], stack_left[4096], top = -1;
		while (*l == ' ' || *l == 'n') {
			int d = 0;
			while (l[d] == ' ')
				d++;
			if (l[d] != 'n')
				break;
			int k = atoi(l + d + 1);
			if (top >= 0) {
				ck_assert_int_eq(d, stack_depth[top] + 1);
				stack_left[top]--;
			} else {
				ck_assert_int_eq(d, 0);
			}
			stack_depth[++top] = d;
			stack_left[top] = k;
			while (top >= 0 && stack_left[top] == 0)
				top--;
			l = strchr(l, '\n') + 1;
		}
		ck_assert_int_eq(top, -1);
	}
}

START_TEST(exports)
{
	struct hs_trace tr;
	ck_assert_int_eq(read_text(buf, trace_text(), &tr), 0);
	struct hs_symbolizer *sym = hs_sym_new(&tr, NULL);
	struct hs_analysis a;
	hs_analyze(&a, &tr, sym, NULL, 0);
	char *out;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	hs_report_folded(f, &a);
	fclose(f);
	/* the frames have no symbols: one stack, the peak bytes summed */
	ck_assert_str_eq(out, "[unknown] 6208896\n");
	free(out);
	f = open_memstream(&out, &len);
	hs_report_massif(f, &a);
	fclose(f);
	ck_assert(!strncmp(out, "desc: ", 6));
	ck_assert(strstr(out, "\ncmd: prog\ntime_unit: ms\n"));
	const char *pk = strstr(out, "heap_tree=peak");
	ck_assert(pk && !strstr(pk + 1, "heap_tree=peak"));
	ck_assert(strstr(out, "time=3000\nmem_heap_B=6208896\n"));
	/* sites 1 and 2 each hold more than 1%, site 3 (4 KiB) less */
	ck_assert(strstr(out, "heap_tree=peak\nn3: 6208896 (heap allocation functions)"));
	ck_assert(strstr(out, "\n n0: 4096 in 1 place, below massif's threshold (1.00%)\n"));
	check_tree(out);
	free(out);
	hs_analysis_free(&a);
	hs_sym_free(sym);
	hs_trace_free(&tr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("profile");
	TCase *tc = tcase_create("profile");
	tcase_add_test(tc, sites_joined_sorted_and_judged);
	tcase_add_test(tc, top_lists_and_series);
	tcase_add_test(tc, a_run_too_short_judges_no_site);
	tcase_add_test(tc, bad_profile_lines);
	tcase_add_test(tc, exports);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
