/*
 * test_faults.c — the fault policy's decision: triggers, filters, exact
 * counts under threads (parser and glob: test_fault_policy.c; regions,
 * environment and API: test_fault_regions.c).
 *
 * Calls are simulated the way an entry point makes them: test the armed
 * flag, then ask hs_fault_should_fail. Exact call numbers are asserted,
 * never rates, except where a fixed seed makes a count deterministic.
 */
#include <check.h>

#include "check_main.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"
#include "faults/faults.h"

#include "fault_testutil.h"

/* ---- decision: triggers --------------------------------------------------- */

START_TEST(decide_nth)
{
	arm("nth=3");
	ck_assert_uint_eq(fail_mask(10), 1ull << 3);
	ck_assert_uint_eq(last.nth, 3);
	ck_assert_int_eq(last.fn, HS_FN_MALLOC);
	ck_assert_uint_eq(last.size, 16);
	ck_assert(!last.benign);
	ck_assert_uint_eq(hs_fault_calls(), 10);
	ck_assert_uint_eq(hs_fault_total(), 1);
}
END_TEST

START_TEST(decide_after)
{
	arm("after=3");
	ck_assert_uint_eq(fail_mask(10), 0x7f8);        /* 3..10 */
}
END_TEST

START_TEST(decide_every)
{
	arm("every=3");
	ck_assert_uint_eq(fail_mask(10), (1u << 3) | (1u << 6) | (1u << 9));
	arm("every=1");
	ck_assert_uint_eq(fail_mask(5), 0x3e);
}
END_TEST

/* Every entry point counts one call, malloc(0) and realloc included. */
START_TEST(decide_counts_every_call)
{
	arm("nth=4");
	ck_assert(!call(HS_FN_MALLOC, 0));
	ck_assert(!call(HS_FN_REALLOC, 10));
	ck_assert(!call(HS_FN_NEW, 1));
	ck_assert(call(HS_FN_ALIGNED, 0));
	ck_assert_uint_eq(last.nth, 4);
	ck_assert_int_eq(last.fn, HS_FN_ALIGNED);
	ck_assert_uint_eq(last.size, 0);
}
END_TEST

static uint64_t prob_mask(const char *policy, int n)
{
	arm(policy);
	return fail_mask(n);
}

START_TEST(decide_prob_reproducible)
{
	uint64_t a = prob_mask("prob=0.3,seed=7", 60);
	uint64_t b = prob_mask("prob=0.3,seed=7", 60);
	uint64_t c = prob_mask("prob=0.3,seed=8", 60);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, c);
	/* The rule itself: call m fails iff draw(seed, m) < P * 2^64. */
	uint64_t p30 = (uint64_t)(((unsigned __int128)3 << 64) / 10), want = 0;
	for (int m = 1; m <= 60; m++)
		if (hs_fault_draw(7, (uint64_t)m) < p30)
			want |= 1ull << m;
	ck_assert_uint_eq(a, want);
	/* Fixed seed, so this count is fixed too; it also shows P is used. */
	arm("prob=0.25,seed=1");
	int fails = 0;
	for (int i = 0; i < 4000; i++)
		fails += call(HS_FN_MALLOC, 8);
	ck_assert_msg(fails > 850 && fails < 1150, "prob=0.25 failed %d of 4000", fails);
	ck_assert_uint_eq(prob_mask("prob=0", 60), 0);
	ck_assert_uint_eq(prob_mask("prob=1", 60), ~1ull & ~(1ull << 61) & ~(1ull << 62) & ~(1ull << 63));
}
END_TEST

/* draw is splitmix64: check its first outputs for seed 0 (well-known
 * values of the reference generator). */
START_TEST(draw_is_splitmix64)
{
	ck_assert_uint_eq(hs_fault_draw(0, 1), 0xe220a8397b1dcdafull);
	ck_assert_uint_eq(hs_fault_draw(0, 2), 0x6e789e6aa1b965f4ull);
	ck_assert_uint_eq(hs_fault_draw(0, 3), 0x06c45d188009454full);
}
END_TEST

static uint64_t live_now;
static uint64_t live_bytes(void) { return live_now; }

START_TEST(decide_limit)
{
	struct hs_fault_hooks h = { .live_bytes = live_bytes };
	hs_fault_set_hooks(&h);
	arm("limit=1K");
	live_now = 900;
	ck_assert(!call(HS_FN_MALLOC, 124));             /* 1024: at the ceiling */
	ck_assert(call(HS_FN_MALLOC, 125));              /* 1025: over          */
	ck_assert_uint_eq(last.nth, 2);
	ck_assert_uint_eq(last.size, 125);
	ck_assert(!call3(HS_FN_REALLOC, 224, 100, 0, 1));  /* 900-100+224 = 1024 */
	ck_assert(call3(HS_FN_REALLOC, 225, 100, 0, 1));
	live_now = 2000;                                   /* already over      */
	ck_assert(!call3(HS_FN_REALLOC, 10, 100, 0, 1));  /* shrinking: never  */
	ck_assert(!call(HS_FN_MALLOC, 0));                /* no growth: never  */
	ck_assert(call(HS_FN_CALLOC, 1));
	live_now = 0;
	ck_assert(!call(HS_FN_NEW, 1024));
	ck_assert(call(HS_FN_NEW, 1025));
	arm("limit=0");
	ck_assert(!call(HS_FN_MALLOC, 0));
	ck_assert(call(HS_FN_MALLOC, 1));
	/* Without the recorder's live-bytes hook limit cannot judge: no fail. */
	struct hs_fault_hooks none = { 0 };
	hs_fault_set_hooks(&none);
	ck_assert(!call(HS_FN_MALLOC, 1));
}
END_TEST

/* ---- decision: filters ---------------------------------------------------- */

START_TEST(filter_times)
{
	arm("after=2,times=3");
	ck_assert_uint_eq(fail_mask(10), (1u << 2) | (1u << 3) | (1u << 4));
	arm("every=2,times=2");
	ck_assert_uint_eq(fail_mask(10), (1u << 2) | (1u << 4));
	arm("prob=1,times=1");
	ck_assert_uint_eq(fail_mask(10), 1u << 1);
}
END_TEST

START_TEST(filter_minsize)
{
	static const size_t sizes[] = { 10, 200, 50, 300, 99, 100, 400 };
	arm("nth=2,minsize=100");               /* matching: calls 2, 4, 6, 7 */
	uint64_t got = 0;
	for (int i = 0; i < 7; i++)
		if (call(HS_FN_MALLOC, sizes[i]))
			got |= 1u << (i + 1);
	ck_assert_uint_eq(got, 1u << 4);
	ck_assert_uint_eq(last.nth, 4);                 /* among all calls */
	ck_assert_uint_eq(last.size, 300);
	arm("after=1,minsize=100");
	got = 0;
	for (int i = 0; i < 7; i++)
		if (call(HS_FN_MALLOC, sizes[i]))
			got |= 1u << (i + 1);
	ck_assert_uint_eq(got, (1u << 2) | (1u << 4) | (1u << 6) | (1u << 7));
}
END_TEST

START_TEST(filter_func)
{
	static const enum hs_fault_fn seq[] = {
		HS_FN_MALLOC, HS_FN_CALLOC, HS_FN_REALLOC, HS_FN_CALLOC,
		HS_FN_NEW, HS_FN_NEW_ARRAY, HS_FN_ALIGNED, HS_FN_NEW_ARRAY,
	};
	arm("nth=2,func=calloc");
	uint64_t got = 0;
	for (int i = 0; i < 8; i++)
		if (call(seq[i], 8))
			got |= 1u << (i + 1);
	ck_assert_uint_eq(got, 1u << 4);
	ck_assert_int_eq(last.fn, HS_FN_CALLOC);
	arm("every=1,func=new|new[]|aligned");
	got = 0;
	for (int i = 0; i < 8; i++)
		if (call(seq[i], 8))
			got |= 1u << (i + 1);
	ck_assert_uint_eq(got, (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8));
	arm("every=2,func=new[]");               /* 2nd new[] is call 8 */
	got = 0;
	for (int i = 0; i < 8; i++)
		if (call(seq[i], 8))
			got |= 1u << (i + 1);
	ck_assert_uint_eq(got, 1u << 8);
}
END_TEST

static void *thread_call(void *arg)
{
	(void)arg;
	/* main_thread unknown: the policy must work it out (not main here) */
	return (void *)(intptr_t)call3(HS_FN_MALLOC, 8, 0, 0, -1);
}

START_TEST(filter_thread)
{
	arm("after=1,thread=main");
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 0, 0));
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 0, 1));
	ck_assert_uint_eq(last.nth, 2);
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 0, -1));    /* this is main */
	pthread_t t;
	void *r;
	ck_assert_int_eq(pthread_create(&t, NULL, thread_call, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &r), 0);
	ck_assert_ptr_null(r);
	arm("nth=2,thread=main");               /* counts main-thread calls */
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 0, 1));
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 0, 0));
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 0, 1));
	ck_assert_uint_eq(last.nth, 3);
}
END_TEST

/* Fake recorder: stack ids 1..3 with names; counts lookups. */
static const char *const stack1[] = { "xmalloc", "parse_header.isra.0", "main" };
static const char *const stack2[] = { "xmalloc", NULL, "main" };
static const char *const stack3[] = { "_ZN2ns6Parser4readEv", "_Z4loadv", "main" };
static int lookups;
static uint32_t next_capture = 2;

static unsigned names_of(uint32_t id, const char **out, unsigned max)
{
	const char *const *s = id == 1 ? stack1 : id == 2 ? stack2 : id == 3 ? stack3 : NULL;
	lookups++;
	if (!s)
		return 0;
	for (unsigned i = 0; i < 3 && i < max; i++)
		out[i] = s[i];
	return 3;
}

static uint32_t capture(void) { return next_capture; }

START_TEST(filter_caller)
{
	struct hs_fault_hooks h = { .stack_names = names_of, .capture = capture };
	hs_fault_set_hooks(&h);
	arm("every=1,caller=parse_*");
	lookups = 0;
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 1, 1));
	ck_assert_uint_eq(last.stack, 1);
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 2, 1));
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 1, 1));
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 2, 1));
	ck_assert_int_eq(lookups, 2);                   /* each stack once */
	next_capture = 1;                                /* stack 0: captured */
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 0, 1));
	ck_assert_uint_eq(last.stack, 1);
	ck_assert_int_eq(lookups, 2);
	/* A new policy never trusts the old verdicts. */
	arm("every=1,caller=main");
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 2, 1));
	ck_assert_int_eq(lookups, 3);
	/* nth counts the calls from matching stacks only. */
	arm("nth=2,caller=parse_header");
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 2, 1));
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 1, 1));
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 2, 1));
	ck_assert(call3(HS_FN_MALLOC, 8, 0, 1, 1));
	ck_assert_uint_eq(last.nth, 4);
	/* C++: the qualified name is matched. */
	arm("every=1,caller=ns::Parser::*");
	ck_assert(call3(HS_FN_NEW, 8, 0, 3, 1));
	ck_assert(!call3(HS_FN_NEW, 8, 0, 1, 1));
	arm("every=1,caller=load");
	ck_assert(call3(HS_FN_NEW, 8, 0, 3, 1));
	/* No stack and no way to get one: caller= cannot match. */
	struct hs_fault_hooks none = { .stack_names = names_of };
	hs_fault_set_hooks(&none);
	arm("every=1,caller=*");
	ck_assert(!call3(HS_FN_MALLOC, 8, 0, 0, 1));
}
END_TEST

START_TEST(filters_compose)
{
	static const struct { enum hs_fault_fn fn; size_t size; int main; } seq[] = {
		{ HS_FN_MALLOC, 500, 1 },   /* 1 wrong fn             */
		{ HS_FN_CALLOC,  50, 1 },   /* 2 too small            */
		{ HS_FN_CALLOC, 500, 0 },   /* 3 not main             */
		{ HS_FN_CALLOC, 500, 1 },   /* 4 match #1             */
		{ HS_FN_CALLOC, 100, 1 },   /* 5 match #2  fail       */
		{ HS_FN_MALLOC, 100, 1 },   /* 6 wrong fn             */
		{ HS_FN_CALLOC, 900, 1 },   /* 7 match #3  fail       */
		{ HS_FN_CALLOC, 900, 1 },   /* 8 match #4  times spent */
	};
	arm("after=2,func=calloc,minsize=100,thread=main,times=2");
	uint64_t got = 0;
	for (int i = 0; i < 8; i++)
		if (call3(seq[i].fn, seq[i].size, 0, 0, seq[i].main))
			got |= 1u << (i + 1);
	ck_assert_uint_eq(got, (1u << 5) | (1u << 7));
	ck_assert_uint_eq(hs_fault_total(), 2);
}
END_TEST

START_TEST(errno_kept)
{
	arm("every=2");
	errno = 1234;
	ck_assert(!call(HS_FN_MALLOC, 1));
	ck_assert(call(HS_FN_MALLOC, 1));
	ck_assert_int_eq(errno, 1234);
}
END_TEST

/* ---- threads: exact counts under contention ------------------------------ */

#define NTHREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	long fails = 0;
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++)
		fails += call3(HS_FN_MALLOC, 8, 0, 0, 0);
	return (void *)fails;
}

static long run_threads(void)
{
	pthread_t t[NTHREADS];
	long sum = 0;
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	return sum;
}

START_TEST(threads_exact)
{
	arm("every=7");
	ck_assert_int_eq(run_threads(), NTHREADS * PER_THREAD / 7);
	ck_assert_uint_eq(hs_fault_calls(), NTHREADS * PER_THREAD);
	arm("after=1,times=100");
	ck_assert_int_eq(run_threads(), 100);
	arm("nth=12345");
	ck_assert_int_eq(run_threads(), 1);
	ck_assert_uint_eq(last.nth, 12345);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("faults");
	TCase *d = tcase_create("decide");
	tcase_add_test(d, decide_nth);
	tcase_add_test(d, decide_after);
	tcase_add_test(d, decide_every);
	tcase_add_test(d, decide_counts_every_call);
	tcase_add_test(d, decide_prob_reproducible);
	tcase_add_test(d, draw_is_splitmix64);
	tcase_add_test(d, decide_limit);
	tcase_add_test(d, filter_times);
	tcase_add_test(d, filter_minsize);
	tcase_add_test(d, filter_func);
	tcase_add_test(d, filter_thread);
	tcase_add_test(d, filter_caller);
	tcase_add_test(d, filters_compose);
	tcase_add_test(d, errno_kept);
	tcase_add_test(d, threads_exact);
	suite_add_tcase(s, d);
	return s;
}

HS_CHECK_MAIN(suite)
