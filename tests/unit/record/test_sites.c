/*
 * test_sites.c — the per-site counters (record/sites.h), linked with the
 * preload core and driven by hand the way the entry points drive them:
 * hs_site_alloc after an allocation, hs_site_free before the allocator's
 * own live count goes down (hs_ts.live is kept here as the allocator
 * would). Checked through the sampler's merge: calls, bytes, temporary
 * allocations (heaptrack's rule), live bytes, live bytes at the peak
 * (a peak that comes and goes, a later lower one, the exit), a table that
 * grows past its first size, realloc, and threads that end (their counts
 * move to the ended threads' table, or go there from the start when
 * their end is not armed) after freeing blocks of another.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "record/sites.h"
#include "record/trace.h"

#define MAXID 6000

static struct hs_site_sum got[MAXID];

static void collect(uint32_t id, const struct hs_site_sum *s, void *ctx)
{
	(void)ctx;
	if (id < MAXID)
		got[id] = *s;
}

static void merge(void)
{
	memset(got, 0, sizeof got);
	ck_assert(hs_sites_merge(true, collect, NULL));
}

/* What the entry points and the allocator do around a block. */
static void my_alloc(uint32_t id, size_t n, const void *p)
{
	hs_site_alloc(id, n, p);
	hs_ts.live += (int64_t)n;
}

static void my_free(uint32_t id, size_t n, const void *p)
{
	hs_site_free(id, n, p);
	hs_ts.live -= (int64_t)n;
}

static void setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	hs_recording = 1;
	hs_alloc_hooks.tick = hs_sites_on_fold;   /* as the sampler's tick does */
	hs_sites_init();
	/* the merge covers the stack ids handed out: make MAXID of them */
	for (uintptr_t k = 1; k <= MAXID; k++) {
		uintptr_t ip = 0x400000 + 16 * k;
		ck_assert_uint_eq(hs_stack_intern(&ip, 1), k);
	}
}

/* Fake block addresses: distinct, never dereferenced. */
static const void *addr(uintptr_t k)
{
	return (const void *)(0x10000 + 64 * k);
}

/* count blocks of one site and size at addr(first), addr(first + 1), ... */
static void allocs(uint32_t id, size_t n, uintptr_t first, uintptr_t count)
{
	for (uintptr_t k = 0; k < count; k++)
		my_alloc(id, n, addr(first + k));
}

static void frees(uint32_t id, size_t n, uintptr_t first, uintptr_t count)
{
	for (uintptr_t k = 0; k < count; k++)
		my_free(id, n, addr(first + k));
}

START_TEST(calls_bytes_temporary)
{
	setup();
	for (int i = 0; i < 100; i++) {          /* freed at once: temporary */
		my_alloc(10, 100, addr(1));
		my_free(10, 100, addr(1));
	}
	for (int i = 0; i < 50; i++) {          /* a freed after b came: not */
		my_alloc(11, 48, addr(2));
		my_alloc(12, 80, addr(3));
		my_free(11, 48, addr(2));
		my_free(12, 80, addr(3));
	}
	my_alloc(13, 1000, addr(4));             /* kept */
	merge();
	ck_assert_uint_eq(got[10].calls, 100);
	ck_assert_uint_eq(got[10].bytes, 10000);
	ck_assert_uint_eq(got[10].temporary, 100);
	ck_assert_int_eq(got[10].live, 0);
	ck_assert_uint_eq(got[11].temporary, 0);
	ck_assert_uint_eq(got[12].temporary, 50);
	ck_assert_int_eq(got[13].live, 1000);
	my_free(13, 1000, addr(4));
}
END_TEST

START_TEST(peak_per_site)
{
	setup();
	ck_assert_int_eq(hs_st.base + hs_ts.live, 0);   /* the last test freed all */
	/* phase 1: 20 + 30 blocks; phase 2, the peak: 40 + 50; phase 3 */
	allocs(20, 1000, 100, 20);
	allocs(21, 3000, 200, 30);
	frees(20, 1000, 100, 20);
	frees(21, 3000, 200, 30);
	allocs(22, 1000, 300, 40);
	allocs(23, 2000, 400, 50);
	frees(22, 1000, 300, 40);
	frees(23, 2000, 400, 50);
	allocs(21, 3000, 500, 10);
	merge();
	ck_assert_int_eq(got[20].at_peak, 0);
	ck_assert_int_eq(got[21].at_peak, 0);
	ck_assert_int_eq(got[22].at_peak, 40000);
	ck_assert_int_eq(got[23].at_peak, 100000);
	ck_assert_int_eq(got[21].live, 30000);
	int64_t peak;
	uint64_t when;
	hs_sites_peak_info(&peak, &when);
	ck_assert_int_eq(peak, 140000);          /* phase 2, exactly */
	frees(21, 3000, 500, 10);
}
END_TEST

START_TEST(exit_at_the_highest_point)
{
	setup();
	int64_t p0, p1;
	uint64_t when;
	hs_sites_peak_info(&p0, &when);
	int64_t rise = p0 - (hs_st.base + hs_ts.live) + 12345;   /* just above */
	my_alloc(30, (size_t)rise, addr(900));
	hs_sites_final_peak();                   /* the exit, no free after */
	hs_sites_peak_info(&p1, &when);
	ck_assert_int_eq(p1, p0 + 12345);
	merge();
	ck_assert_int_eq(got[30].at_peak, rise);
	my_free(30, (size_t)rise, addr(900));
}
END_TEST

START_TEST(table_grows)
{
	setup();
	my_alloc(40, 16, addr(1000));
	uint32_t cap = hs_st.cap;
	my_alloc(MAXID - 1, 32, addr(1001));     /* beyond the first table */
	ck_assert_uint_gt(hs_st.cap, cap);
	merge();
	ck_assert_int_eq(got[40].live, 16);
	ck_assert_int_eq(got[MAXID - 1].live, 32);
	my_free(40, 16, addr(1000));
	my_free(MAXID - 1, 32, addr(1001));
}
END_TEST

START_TEST(realloc_moves_bytes)
{
	setup();
	my_alloc(50, 100, addr(1100));
	hs_site_realloc(50, 100, 51, 400, addr(1101));
	hs_ts.live += 300;
	merge();
	ck_assert_int_eq(got[50].live, 0);
	ck_assert_uint_eq(got[50].temporary, 0);
	ck_assert_int_eq(got[51].live, 400);
	ck_assert_uint_eq(got[51].calls, 1);
	my_free(51, 400, addr(1101));
}
END_TEST

/* A thread whose end is armed (as hooks/hook_thread.c does) has a table
 * of its own until hs_thread_exit folds it; one that is not counts in the
 * ended threads' table from the start. Both free a block of the main
 * thread's and keep one of their own. */
static void *other_thread(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	if (k == 0)
		hs_sites_thread_armed();
	my_alloc(60, 500, addr(1200 + 10 * k));   /* kept past the thread */
	my_alloc(61, 70, addr(1201 + 10 * k));
	my_free(61, 70, addr(1201 + 10 * k));
	my_free(62, 900, addr(1202 + 10 * k));     /* the main thread's block */
	ck_assert_int_eq(hs_st.state, k == 0 ? HS_SITES_ON : HS_SITES_RETIRED);
	if (k == 0)
		hs_sites_thread_exit();            /* as hs_thread_exit does */
	return NULL;
}

START_TEST(ended_threads_are_kept)
{
	setup();
	for (uintptr_t k = 0; k < 2; k++) {
		my_alloc(62, 900, addr(1202 + 10 * k));
		pthread_t th;
		ck_assert_int_eq(pthread_create(&th, NULL, other_thread, (void *)k), 0);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
	}
	merge();
	ck_assert_int_eq(got[60].live, 1000);
	ck_assert_uint_eq(got[61].calls, 2);
	ck_assert_uint_eq(got[61].temporary, 2);
	ck_assert_int_eq(got[62].live, 0);       /* freed by the other threads */
	ck_assert_uint_eq(got[62].calls, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sites");
	TCase *tc = tcase_create("sites");
	tcase_add_test(tc, calls_bytes_temporary);
	tcase_add_test(tc, peak_per_site);
	tcase_add_test(tc, exit_at_the_highest_point);
	tcase_add_test(tc, table_grows);
	tcase_add_test(tc, realloc_moves_bytes);
	tcase_add_test(tc, ended_threads_are_kept);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);  /* one process: the counts carry on */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
