/*
 * test_leak_heuristics.c — the parts of preload/leaks/leakgraph.c beyond the
 * plain rules: memcheck's interior-pointer heuristics (std::string,
 * length64, new[] cookie, multiple inheritance) and blocks read through
 * the copy callback (memory that may vanish under the scan).
 */
#include "leakgraph_fixture.h"

static bool (*vtable_test)(uintptr_t, void *);

/* The kind of block blk after a classification with these heuristics on
 * and the first nroots root words. */
static int kind_with(size_t blk, unsigned heuristics, size_t nroots)
{
	init_graph();
	g.heuristics = heuristics;
	g.is_vtable = vtable_test;
	hs_lk_scan_root(&g, (uintptr_t)roots, (uintptr_t)(roots + nroots));
	hs_lk_classify(&g);
	return kind_of(addr(blk));
}

/* Heuristic h alone makes blk still reachable, and all the others
 * without h do not: h is the rule that matched. */
static void only_by(size_t blk, enum hs_lk_heuristic h, size_t nroots)
{
	ck_assert_int_eq(kind_with(blk, 1u << h, nroots), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_with(blk, HS_LK_HEUR_ALL & ~(1u << h), nroots), HS_LK_POSSIBLE);
}

static int newarray_setup(void)
{
	reset();
	size_t a = add(8 + 3 * 24);
	*word(a, 0) = 3;                /* element count                       */
	roots[0] = addr(a) + 8;
	return (int)a;
}

START_TEST(heuristic_newarray)
{
	size_t a = (size_t)newarray_setup();
	classify_roots(1);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_POSSIBLE);     /* off        */

	newarray_setup();
	ck_assert_int_eq(kind_with(a, HS_LK_HEUR_ALL, 1), HS_LK_REACHABLE);
	only_by(a, HS_LK_HEUR_NEWARRAY, 1);

	/* count that does not divide the rest: not a new[] cookie */
	newarray_setup();
	*word(a, 0) = 5;
	ck_assert_int_eq(kind_with(a, HS_LK_HEUR_ALL, 1), HS_LK_POSSIBLE);
}
END_TEST

START_TEST(heuristic_length64_and_stdstring)
{
	reset();
	size_t l = add(8 + 100), s = add(3 * 8 + 20 + 1), x = add(64);
	*word(l, 0) = 101;              /* 101 is not size - 8: not length64,
	                                   and does not divide 100: no new[]  */
	*word(s, 0) = 7;                /* length <= capacity                 */
	*word(s, 1) = 20;               /* capacity: 24 + 20 + 1 == size      */
	roots[0] = addr(l) + 8;
	roots[1] = addr(s) + 24;
	roots[2] = addr(x) + 24;        /* looks like neither                 */
	ck_assert_int_eq(kind_with(l, HS_LK_HEUR_ALL, 3), HS_LK_POSSIBLE);
	ck_assert_int_eq(kind_of(addr(s)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(x)), HS_LK_POSSIBLE);
	only_by(s, HS_LK_HEUR_STDSTRING, 3);

	*word(l, 0) = 100;              /* now a length64 block               */
	ck_assert_int_eq(kind_with(l, 1u << HS_LK_HEUR_LENGTH64, 3), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(s)), HS_LK_POSSIBLE);     /* not enabled */
	/* 100 also divides 100: a new[] cookie of one element, so only both
	 * rules off make it possibly lost */
	ck_assert_int_eq(kind_with(l, HS_LK_HEUR_ALL & ~(1u << HS_LK_HEUR_LENGTH64)
	                              & ~(1u << HS_LK_HEUR_NEWARRAY), 3), HS_LK_POSSIBLE);
}
END_TEST

static uintptr_t fake_vtables[2];
static bool is_fake_vtable(uintptr_t a, void *ctx)
{
	(void)ctx;
	return a == fake_vtables[0] || a == fake_vtables[1];
}

START_TEST(heuristic_multiple_inheritance)
{
	reset();
	fake_vtables[0] = 0x100000;
	fake_vtables[1] = 0x200000;
	size_t o = add(48);
	*word(o, 0) = fake_vtables[0];  /* primary base's vtable pointer      */
	*word(o, 2) = fake_vtables[1];  /* second base sub-object at +16      */
	roots[0] = addr(o) + 16;
	vtable_test = is_fake_vtable;
	ck_assert_int_eq(kind_with(o, HS_LK_HEUR_ALL, 1), HS_LK_REACHABLE);
	only_by(o, HS_LK_HEUR_MULTI, 1);

	*word(o, 2) = 0x300000;         /* not a vtable                        */
	ck_assert_int_eq(kind_with(o, HS_LK_HEUR_ALL, 1), HS_LK_POSSIBLE);
	vtable_test = NULL;
}
END_TEST

START_TEST(heuristic_needs_definite_prior)
{
	/* A heuristic match from a POSSIBLE block only gives POSSIBLE. */
	reset();
	size_t p = add(64), a = add(8 + 2 * 16);
	*word(a, 0) = 2;
	*word(p, 0) = addr(a) + 8;
	roots[0] = addr(p) + 16;
	ck_assert_int_eq(kind_with(p, HS_LK_HEUR_ALL, 1), HS_LK_POSSIBLE);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_POSSIBLE);
}
END_TEST

/* Blocks with copy set are read through g->copy; this one copies from a
 * shadow of the real words (to prove the copy is what is read) and
 * reports 'gone' past a cut-off address, as a vanished mapping would. */
static uintptr_t gone_from;
static size_t copies;
static size_t fake_copy(void *dst, uintptr_t src, size_t len, void *ctx)
{
	(void)ctx;
	copies++;
	if (src >= gone_from)
		return 0;
	if (src + len > gone_from)
		len = gone_from - src;
	memcpy(dst, (const void *)src, len);
	return len;
}

START_TEST(copied_blocks_read_through_copy)
{
	reset();
	size_t big = add(256), a = add(16), b = add(16), c = add(16);
	*word(big, 1) = addr(a);        /* before the cut-off: seen          */
	*word(big, 30) = addr(b);       /* after it: the memory is "gone"    */
	*word(big, 2) = addr(c) + 8;    /* interior                          */
	roots[0] = addr(big);
	blocks[big].copy = true;
	char buf[64];                   /* small: the block takes 4 chunks   */
	init_graph();
	g.copy = fake_copy;
	g.copy_buf = buf;
	g.copy_len = sizeof buf;
	g.heuristics = HS_LK_HEUR_ALL;
	gone_from = addr(big) + 128;
	copies = 0;
	hs_lk_scan_root(&g, (uintptr_t)roots, (uintptr_t)(roots + 1));
	hs_lk_classify(&g);
	ck_assert_uint_ge(copies, 2);
	ck_assert_int_eq(kind_of(addr(big)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(c)), HS_LK_POSSIBLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_UNREACHED);
}
END_TEST

START_TEST(loader_slack_counts_as_start)
{
	reset();
	size_t a = add(300), b = add(300);
	roots[0] = addr(a) + 112;       /* ld.so's rounded-up pointer        */
	roots[1] = addr(b) + 128;       /* past the slack: interior          */
	init_graph();
	hs_lk_scan_root_slack(&g, (uintptr_t)roots, (uintptr_t)(roots + 2), 128);
	hs_lk_classify(&g);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_POSSIBLE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leak_heuristics");
	TCase *tc = tcase_create("heuristics");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, heuristic_newarray);
	tcase_add_test(tc, heuristic_length64_and_stdstring);
	tcase_add_test(tc, heuristic_multiple_inheritance);
	tcase_add_test(tc, heuristic_needs_definite_prior);
	tcase_add_test(tc, copied_blocks_read_through_copy);
	tcase_add_test(tc, loader_slack_counts_as_start);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
