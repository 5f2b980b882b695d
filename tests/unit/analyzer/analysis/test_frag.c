/*
 * test_frag.c — fragmentation figures on hand-built buddy states.
 *
 * The unusable free space index (Mel Gorman's, as Linux prints it in
 * /sys/kernel/debug/extfrag/unusable_index) is checked against values
 * worked out by hand from its definition:
 *     F_j = (TotalFree - sum_{i>=j} 2^i k_i) / TotalFree,
 * and the per-class figures against a snapshot written as cells, joined
 * with leak records by address.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/frag.h"

#define EPS 1e-12

START_TEST(nothing_free)
{
	uint64_t nr[HS_SNAP_ORDERS] = { 0 };
	ck_assert_uint_eq(hs_free_pages(nr), 0);
	ck_assert_int_eq(hs_largest_free_order(nr), -1);
	for (int j = 0; j < HS_SNAP_ORDERS; j++)    /* the kernel's convention */
		ck_assert_double_eq_tol(hs_unusable_index(nr, j), 1.0, EPS);
}
END_TEST

START_TEST(one_whole_arena_free)
{
	uint64_t nr[HS_SNAP_ORDERS] = { [10] = 1 };
	ck_assert_uint_eq(hs_free_pages(nr), 1024);
	ck_assert_int_eq(hs_largest_free_order(nr), 10);
	for (int j = 0; j < HS_SNAP_ORDERS; j++)
		ck_assert_double_eq_tol(hs_unusable_index(nr, j), 0.0, EPS);
}
END_TEST

START_TEST(only_single_pages)
{
	uint64_t nr[HS_SNAP_ORDERS] = { [0] = 37 };
	ck_assert_uint_eq(hs_free_pages(nr), 37);
	ck_assert_int_eq(hs_largest_free_order(nr), 0);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 0), 0.0, EPS);
	for (int j = 1; j < HS_SNAP_ORDERS; j++)
		ck_assert_double_eq_tol(hs_unusable_index(nr, j), 1.0, EPS);
}
END_TEST

START_TEST(mixed_orders)
{
	/* 2 x 1 page + 1 x 2 pages + 1 x 8 pages = 12 pages free */
	uint64_t nr[HS_SNAP_ORDERS] = { [0] = 2, [1] = 1, [3] = 1 };
	ck_assert_uint_eq(hs_free_pages(nr), 12);
	ck_assert_int_eq(hs_largest_free_order(nr), 3);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 0), 0.0, EPS);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 1), 2.0 / 12, EPS);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 2), 4.0 / 12, EPS);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 3), 4.0 / 12, EPS);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 4), 1.0, EPS);
	ck_assert_double_eq_tol(hs_unusable_index(nr, 10), 1.0, EPS);
}
END_TEST

START_TEST(index_never_decreases_with_order)
{
	uint64_t nr[HS_SNAP_ORDERS] = { 5, 3, 0, 7, 1, 0, 2, 0, 0, 1, 0 };
	double prev = -1;
	for (int j = 0; j < HS_SNAP_ORDERS; j++) {
		double f = hs_unusable_index(nr, j);
		ck_assert(f >= prev && f >= 0 && f <= 1);
		prev = f;
	}
}
END_TEST

START_TEST(point_from_sample)
{
	struct hs_tsample s = {
		.t_ms = 250, .live = 3000, .granted = 4096, .held = 8192,
		.nr_free = { [0] = 1, [1] = 0, [2] = 1 },
	};
	struct hs_point p;
	hs_frag_point(&s, &p);
	ck_assert_uint_eq(p.internal_bytes, 1096);
	ck_assert_double_eq_tol(p.heap_efficiency, 3000.0 / 8192, EPS);
	ck_assert_uint_eq(p.free_pages, 5);
	ck_assert_int_eq(p.largest_free_order, 2);
	ck_assert_double_eq_tol(p.unusable[1], 1.0 / 5, EPS);
	/* granted below live (counters lag): no negative fragmentation */
	s.granted = 100;
	hs_frag_point(&s, &p);
	ck_assert_uint_eq(p.internal_bytes, 0);
	/* nothing held: efficiency unknown, not a division by zero */
	s.held = 0;
	hs_frag_point(&s, &p);
	ck_assert(isnan(p.heap_efficiency));
}
END_TEST

/* A trace built by hand: one sample, an exit snapshot of one arena, the
 * final counters and the leak records of the blocks live at exit. */
static void build(struct hs_trace *tr, const char *cells, struct hs_tleak *leaks, size_t n)
{
	char err[300];
	memset(tr, 0, sizeof *tr);
	tr->samples = calloc(1, sizeof *tr->samples);
	tr->nsamples = 1;
	tr->samples[0] = (struct hs_tsample){
		.t_ms = 40, .live = 1000, .granted = 2000, .held = 4 << 20,
		.allocs = 12, .frees = 2, .nr_free = { [4] = 1 },
	};
	ck_assert_int_eq(hs_snaps_begin(&tr->snaps, "exit", 4, 40, 1000, 1, "exit", 4,
	                                err, sizeof err), 0);
	ck_assert_msg(hs_snaps_arena(&tr->snaps, 0, 0x7f0000400000ull, cells, strlen(cells),
	                             err, sizeof err) == 0, "%s", err);
	hs_snaps_finish(&tr->snaps);
	tr->leaks = leaks;
	tr->nleaks = n;
	tr->have_counters = true;
	tr->live_blocks = n;
}

/* slab of 48-byte slots at pages 0..3 (341 slots, 3 used), slab of
 * 64-byte slots at 4..7 (256 slots, 1 used), a 3-page large block at
 * 8..10, the rest free: 11 f0, 12 f2, 16 f4, 32 f5 ... */
static const char cells[] = "s48:4:3/341 s64:4:1/256 l3 f0 f2 f4 f5 f6 f7 f8 f9";

static void check_classes(const struct hs_frag *f)
{
	ck_assert_uint_eq(f->nbins, 2);
	ck_assert_uint_eq(f->bins[0].slot, 48);
	ck_assert_uint_eq(f->bins[0].capacity, 341);
	ck_assert_uint_eq(f->bins[0].used, 3);
	ck_assert_uint_eq(f->bins[0].live_blocks, 2);
	ck_assert_uint_eq(f->bins[0].live_bytes, 50);
	ck_assert_uint_eq(f->bins[0].internal_bytes, 3 * 48 - 50);
	ck_assert_double_eq_tol(f->bins[0].fill, 3.0 / 341, EPS);
	ck_assert_uint_eq(f->bins[1].slot, 64);
	ck_assert_uint_eq(f->bins[1].live_bytes, 40);
	ck_assert_uint_eq(f->bins[1].internal_bytes, 64 - 40);
	ck_assert_uint_eq(f->large_blocks, 1);
	ck_assert_uint_eq(f->large_pages, 3);
	ck_assert_uint_eq(f->large_live_bytes, 10000);
	ck_assert_uint_eq(f->snap_dirty_pages, 0);
}

/* Version 2: the same blocks as grouped records and per-class lines. */
START_TEST(per_class_from_class_lines)
{
	struct hs_tleak lk[] = {
		{ .blocks = 2, .bytes = 60, .stack = 1, .kind = HS_LEAK_DEFINITE },
		{ .blocks = 2, .bytes = 10030, .stack = 2, .kind = HS_LEAK_REACHABLE },
		{ .blocks = 1, .bytes = 1, .stack = 3, .kind = HS_LEAK_DEFINITE },
	};
	struct hs_tclass cls[] = {
		{ .slot = 48, .blocks = 2, .bytes = 50 },
		{ .slot = 64, .blocks = 1, .bytes = 40 },
		{ .slot = 0, .blocks = 1, .bytes = 10000 },
	};
	struct hs_trace tr;
	build(&tr, cells, lk, 3);
	tr.live_blocks = 5;
	tr.classes = cls;
	tr.nclasses = 3;
	struct hs_frag f;
	hs_frag_compute(&f, &tr);
	ck_assert(f.have_sample && f.snap);
	check_classes(&f);
	hs_frag_free(&f);
	hs_snaps_free(&tr.snaps);
	free(tr.samples);
}
END_TEST

START_TEST(per_class_from_snapshot_and_leaks)
{
	struct hs_tleak lk[] = {
		{ .addr = 0x7f0000400000ull + 16, .blocks = 1, .bytes = 20, .kind = HS_LEAK_DEFINITE },
		{ .addr = 0x7f0000400000ull + 48 + 16, .blocks = 1, .bytes = 30,
		  .kind = HS_LEAK_REACHABLE },
		{ .addr = 0x7f0000404000ull + 16, .blocks = 1, .bytes = 40, .kind = HS_LEAK_DEFINITE },
		{ .addr = 0x7f0000408000ull + 16, .blocks = 1, .bytes = 10000,
		  .kind = HS_LEAK_REACHABLE },
		{ .addr = 0x7f9999000010ull, .blocks = 1, .bytes = 1,
		  .kind = HS_LEAK_DEFINITE },                      /* not ours */
	};
	struct hs_trace tr;
	build(&tr, cells, lk, 5);
	struct hs_frag f;
	hs_frag_compute(&f, &tr);
	ck_assert(f.have_sample && f.snap);
	ck_assert_uint_eq(f.internal_bytes, 1000);
	ck_assert_uint_eq(f.live_blocks, 5);
	ck_assert_uint_eq(f.header_bytes, 5 * 16);
	check_classes(&f);
	hs_frag_free(&f);
	hs_snaps_free(&tr.snaps);
	free(tr.samples);
}
END_TEST

START_TEST(no_samples_no_figures)
{
	struct hs_trace tr;
	memset(&tr, 0, sizeof tr);
	struct hs_frag f;
	hs_frag_compute(&f, &tr);
	ck_assert(!f.have_sample && !f.snap && !f.have_blocks);
	ck_assert(isnan(f.heap_efficiency));
	ck_assert_int_eq(f.largest_free_order, -1);
	hs_frag_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frag");
	TCase *tc = tcase_create("frag");
	tcase_add_test(tc, nothing_free);
	tcase_add_test(tc, one_whole_arena_free);
	tcase_add_test(tc, only_single_pages);
	tcase_add_test(tc, mixed_orders);
	tcase_add_test(tc, index_never_decreases_with_order);
	tcase_add_test(tc, point_from_sample);
	tcase_add_test(tc, per_class_from_snapshot_and_leaks);
	tcase_add_test(tc, per_class_from_class_lines);
	tcase_add_test(tc, no_samples_no_figures);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
