/*
 * test_leaks.c — the leak classification core (preload/leaks/leakgraph.c) on
 * hand-built block sets: blocks are carved from a static "heap" buffer,
 * roots are a static array of words, pointers are planted by hand, and the
 * expected kinds follow memcheck's rules.
 */
#include <stdlib.h>

#include "leakgraph_fixture.h"

static bool found(uintptr_t p, size_t blk)
{
	struct hs_lk_node n;
	return hs_lk_find(&g, p, &n) && n.start == addr(blk) && n.mark == &blocks[blk].mark;
}

START_TEST(find_ranges)
{
	reset();
	size_t a = add(32), z = add(0), c = add(1);
	init_graph();
	struct hs_lk_node n;
	ck_assert(found(addr(a), a));
	ck_assert(found(addr(a) + 31, a));
	ck_assert(!hs_lk_find(&g, addr(a) + 32, &n));     /* one past  */
	ck_assert(!hs_lk_find(&g, addr(a) - 1, &n));
	ck_assert(found(addr(z), z));                      /* size 0    */
	ck_assert(!hs_lk_find(&g, addr(z) + 1, &n));
	ck_assert(found(addr(c), c));
	ck_assert(!hs_lk_find(&g, addr(c) + 1, &n));
	ck_assert(!hs_lk_find(&g, 0, &n));
	ck_assert(!hs_lk_find(&g, UINTPTR_MAX, &n));
	/* a block the node set says is not one (a free slot) */
	blocks[c].mark = HS_LK_ABSENT;
	ck_assert(!hs_lk_find(&g, addr(c), &n));
}
END_TEST

static uintptr_t key_of(const void *p)
{
	return ((const struct hs_lk_entry *)p)->start;
}

START_TEST(sort_orders_by_start)
{
	struct hs_lk_entry b[200];
	uint32_t seed = 12345;
	for (size_t i = 0; i < 200; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (struct hs_lk_entry){ .start = (uintptr_t)(seed >> 4) * 16, .size = i };
	}
	uintptr_t sum = 0;
	for (size_t i = 0; i < 200; i++)
		sum += b[i].start * 3 + b[i].size;
	hs_lk_heapsort(b, 200, sizeof b[0], key_of);
	for (size_t i = 1; i < 200; i++)
		ck_assert_uint_le(b[i - 1].start, b[i].start);
	for (size_t i = 0; i < 200; i++)   /* same elements, whole            */
		sum -= b[i].start * 3 + b[i].size;
	ck_assert_uint_eq(sum, 0);
	/* the array node set sorts what it is given */
	for (size_t i = 0; i < 200; i++)
		b[i].start = (uintptr_t)((i % 70) * 1000 + i / 70) * 16;
	struct hs_lk_array a;
	hs_lk_array_init(&a, b, 200);
	for (size_t i = 1; i < 200; i++)
		ck_assert_uint_le(b[i - 1].start, b[i].start);
	hs_lk_heapsort(b, 0, sizeof b[0], key_of);
	hs_lk_heapsort(b, 1, sizeof b[0], key_of);
}
END_TEST

START_TEST(start_pointer_chain_is_reachable)
{
	reset();
	size_t a = add(48), b = add(24), c = add(8);
	*word(a, 2) = addr(b);          /* root -> a -> b -> c, start pointers */
	*word(b, 0) = addr(c);
	roots[5] = addr(a);
	classify_roots(8);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(c)), HS_LK_REACHABLE);
}
END_TEST

START_TEST(nothing_points_is_definite)
{
	reset();
	size_t a = add(100), b = add(0);
	classify_roots(8);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_UNREACHED);
	struct hs_lk_totals t;
	hs_lk_totals(&g, &t);
	ck_assert_uint_eq(t.blocks[HS_LK_UNREACHED], 2);
	ck_assert_uint_eq(t.bytes[HS_LK_UNREACHED], 100);
}
END_TEST

START_TEST(interior_pointer_is_possible_and_passes_it_on)
{
	reset();
	size_t a = add(64), b = add(32), c = add(16);
	roots[0] = addr(a) + 40;        /* interior only                       */
	*word(a, 0) = addr(b);          /* start pointer from a possible block */
	*word(b, 1) = addr(c) + 8;      /* interior from a possible block      */
	classify_roots(4);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_POSSIBLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_POSSIBLE);
	ck_assert_int_eq(kind_of(addr(c)), HS_LK_POSSIBLE);
}
END_TEST

START_TEST(possible_upgraded_to_reachable_rescans)
{
	reset();
	size_t a = add(64), b = add(32);
	*word(a, 3) = addr(b);
	roots[0] = addr(a) + 8;         /* first an interior pointer ...       */
	roots[7] = addr(a);             /* ... later a start pointer           */
	classify_roots(8);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_REACHABLE);
}
END_TEST

/* The leaked linked list of the e2e suite: head -> n1 -> n2 -> ... with
 * the head at the highest address, so the earlier (lower) nodes lead
 * their own cliques first and must be merged into the head's. */
START_TEST(lost_list_is_one_definite_many_indirect)
{
	reset();
	enum { N = 10 };
	size_t node[N + 1];
	for (int i = N; i >= 0; i--)
		node[i] = add(32);       /* node[0] (head) gets the top address */
	for (int i = 0; i < N; i++)
		*word(node[i], 1) = addr(node[i + 1]);
	uintptr_t head = addr(node[0]);
	ck_assert_uint_eq(node[0], nblocks - 1);
	classify_roots(8);
	ck_assert_int_eq(kind_of(head), HS_LK_UNREACHED);
	struct hs_lk_totals t;
	hs_lk_totals(&g, &t);
	ck_assert_uint_eq(t.blocks[HS_LK_UNREACHED], 1);
	ck_assert_uint_eq(t.blocks[HS_LK_INDIRECT], N);
	ck_assert_uint_eq(t.bytes[HS_LK_INDIRECT], N * 32);
	ck_assert_uint_eq(t.blocks[HS_LK_REACHABLE] + t.blocks[HS_LK_POSSIBLE], 0);
}
END_TEST

START_TEST(lost_cycle_lowest_address_leads)
{
	reset();
	size_t a = add(16), b = add(16), c = add(16);
	*word(a, 0) = addr(b);
	*word(b, 0) = addr(c) + 4;      /* interior counts in phase 2          */
	*word(c, 1) = addr(a);
	classify_roots(8);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_INDIRECT);
	ck_assert_int_eq(kind_of(addr(c)), HS_LK_INDIRECT);
}
END_TEST

/* A lost cycle reached from another lost cycle is indirectly lost as a
 * whole, wherever the two lie in memory and whichever block of it the
 * other points to: one definite block, the lowest of the cycle that
 * nothing else lost reaches (memcheck's answer; issue #15, class 5). */
static size_t ring_at(size_t *first, size_t n)
{
	for (size_t i = 0; i < n; i++)
		first[i] = add(16);
	for (size_t i = 0; i < n; i++)
		*word(first[i], 0) = addr(first[(i + 1) % n]);
	return first[0];
}

START_TEST(lost_cycle_reached_from_lost_cycle)
{
	for (int src_first = 0; src_first < 2; src_first++)
		for (size_t entry = 0; entry < 3; entry++) {
			reset();
			size_t src[2], dst[3];
			if (src_first) {
				ring_at(src, 2);
				ring_at(dst, 3);
			} else {
				ring_at(dst, 3);
				ring_at(src, 2);
			}
			*word(src[1], 1) = addr(dst[entry]);
			classify_roots(4);
			ck_assert_msg(kind_of(addr(src[0])) == HS_LK_UNREACHED,
			              "source first %d, entry %zu", src_first, entry);
			ck_assert_int_eq(kind_of(addr(src[1])), HS_LK_INDIRECT);
			for (size_t i = 0; i < 3; i++)
				ck_assert_msg(kind_of(addr(dst[i])) == HS_LK_INDIRECT,
				              "source first %d, entry %zu: dst[%zu]", src_first, entry, i);
		}
}
END_TEST

/* Three cycles in a chain, laid out in every order: one definite. */
START_TEST(chain_of_cycles_one_definite)
{
	static const int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	for (int o = 0; o < 6; o++) {
		reset();
		size_t c[3][3];
		for (int k = 0; k < 3; k++)
			ring_at(c[orders[o][k]], 3);
		*word(c[0][2], 1) = addr(c[1][1]);      /* c0 -> c1 -> c2 */
		*word(c[1][2], 1) = addr(c[2][2]) + 8;  /* interior counts  */
		classify_roots(4);
		struct hs_lk_totals t;
		hs_lk_totals(&g, &t);
		ck_assert_msg(t.blocks[HS_LK_UNREACHED] == 1, "order %d: %zu definite", o,
		              t.blocks[HS_LK_UNREACHED]);
		ck_assert_uint_eq(t.blocks[HS_LK_INDIRECT], 8);
		ck_assert_int_eq(kind_of(addr(c[0][0])), HS_LK_UNREACHED);
	}
}
END_TEST

START_TEST(shared_child_two_sources)
{
	reset();
	size_t a = add(16), c = add(16), b = add(16);
	*word(a, 0) = addr(c);
	*word(b, 1) = addr(c);
	classify_roots(4);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(c)), HS_LK_INDIRECT);
}
END_TEST

START_TEST(self_pointer_is_definite)
{
	reset();
	size_t a = add(16), b = add(16), s = add(16);
	*word(a, 0) = addr(a);                  /* points to itself only */
	*word(s, 0) = addr(s) + 8;              /* itself, and b          */
	*word(s, 1) = addr(b);
	classify_roots(4);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(s)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_INDIRECT);
}
END_TEST

START_TEST(two_lost_cycles_and_a_tail)
{
	reset();
	size_t x[2], y[4];
	ring_at(x, 2);
	size_t tail = add(16);                  /* tail -> y, nothing -> tail */
	ring_at(y, 4);
	*word(tail, 0) = addr(y[2]);
	classify_roots(4);
	ck_assert_int_eq(kind_of(addr(x[0])), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(x[1])), HS_LK_INDIRECT);
	ck_assert_int_eq(kind_of(addr(tail)), HS_LK_UNREACHED);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kind_of(addr(y[i])), HS_LK_INDIRECT);
	struct hs_lk_totals t;
	hs_lk_totals(&g, &t);
	ck_assert_uint_eq(t.blocks[HS_LK_UNREACHED], 2);
}
END_TEST

START_TEST(lost_block_does_not_demote_reachable)
{
	reset();
	size_t lost = add(16), kept = add(16);
	*word(lost, 0) = addr(kept);
	roots[2] = addr(kept);
	classify_roots(4);
	ck_assert_int_eq(kind_of(addr(lost)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(kept)), HS_LK_REACHABLE);
}
END_TEST

START_TEST(two_lost_trees_stay_separate)
{
	reset();
	size_t a = add(16), a1 = add(16), b = add(16), b1 = add(16), b2 = add(16);
	*word(a, 0) = addr(a1);
	*word(b, 0) = addr(b1);
	*word(b1, 1) = addr(b2);
	classify_roots(4);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(a1)), HS_LK_INDIRECT);
	ck_assert_int_eq(kind_of(addr(b1)), HS_LK_INDIRECT);
	ck_assert_int_eq(kind_of(addr(b2)), HS_LK_INDIRECT);
}
END_TEST

START_TEST(root_range_bounds_and_alignment)
{
	reset();
	size_t a = add(16), b = add(16), c = add(16);
	roots[0] = addr(a);
	roots[1] = addr(b);
	roots[2] = addr(c);
	init_graph();
	/* [roots+1 byte, roots+2 words+7): only roots[1] is a whole aligned
	 * word inside the range. */
	hs_lk_scan_root(&g, (uintptr_t)roots + 1, (uintptr_t)(roots + 2) + 7);
	hs_lk_classify(&g);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(c)), HS_LK_UNREACHED);
}
END_TEST

START_TEST(register_word_is_a_root)
{
	reset();
	size_t a = add(16), b = add(40);
	init_graph();
	hs_lk_root_word(&g, addr(a));
	hs_lk_root_word(&g, addr(b) + 39);
	hs_lk_classify(&g);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_POSSIBLE);
}
END_TEST

START_TEST(block_tail_beyond_size_not_scanned)
{
	reset();
	size_t a = add(12), b = add(16);
	/* word 1 of a starts at byte 8 and ends past a's 12 bytes: not a
	 * whole word of a, so not scanned */
	*word(a, 1) = addr(b);
	roots[0] = addr(a);
	classify_roots(1);
	ck_assert_int_eq(kind_of(addr(a)), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(addr(b)), HS_LK_UNREACHED);
}
END_TEST

/* A long chain must not recurse: one million nodes in a plain array,
 * linked from the last to the first, then from the first to the last. */
static void long_chain(bool down)
{
	enum { N = 1000000 };
	uintptr_t *mem = calloc(N, 2 * sizeof(uintptr_t));
	struct hs_lk_entry *b = calloc(N, sizeof *b);
	uintptr_t *st = calloc(3 * N, sizeof *st);
	ck_assert_ptr_nonnull(mem);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(st);
	for (size_t i = 0; i < N; i++) {
		b[i] = (struct hs_lk_entry){ .start = (uintptr_t)&mem[2 * i], .size = 16 };
		size_t next = down ? i - 1 : i + 1;
		mem[2 * i] = next < N ? (uintptr_t)&mem[2 * next] : 0;
	}
	size_t head = down ? N - 1 : 0;
	struct hs_lk_array la;
	struct hs_lk_graph lg;
	hs_lk_array_init(&la, b, N);
	hs_lk_init(&lg, &la.ops, st);
	uintptr_t root = (uintptr_t)&mem[2 * head];
	hs_lk_scan_root(&lg, (uintptr_t)&root, (uintptr_t)(&root + 1));
	hs_lk_classify(&lg);
	struct hs_lk_totals t;
	hs_lk_totals(&lg, &t);
	ck_assert_uint_eq(t.blocks[HS_LK_REACHABLE], N);

	/* same chain without the root: 1 definite (the head), the rest
	 * indirect */
	hs_lk_array_init(&la, b, N);
	hs_lk_init(&lg, &la.ops, st);
	hs_lk_classify(&lg);
	hs_lk_totals(&lg, &t);
	ck_assert_uint_eq(t.blocks[HS_LK_UNREACHED], 1);
	ck_assert_uint_eq(t.blocks[HS_LK_INDIRECT], N - 1);
	ck_assert_int_eq(b[head].mark & HS_LK_STATE, HS_LK_UNREACHED);

	/* closed into a ring: one cycle, its lowest address definite */
	mem[2 * (down ? 0 : N - 1)] = (uintptr_t)&mem[2 * head];
	hs_lk_array_init(&la, b, N);
	hs_lk_init(&lg, &la.ops, st);
	hs_lk_classify(&lg);
	hs_lk_totals(&lg, &t);
	ck_assert_uint_eq(t.blocks[HS_LK_UNREACHED], 1);
	ck_assert_uint_eq(t.blocks[HS_LK_INDIRECT], N - 1);
	ck_assert_int_eq(b[0].mark & HS_LK_STATE, HS_LK_UNREACHED);
	free(mem);
	free(b);
	free(st);
}

START_TEST(long_chain_iterative)
{
	long_chain(false);
	long_chain(true);
}
END_TEST

START_TEST(empty_block_set)
{
	struct hs_lk_array la;
	struct hs_lk_graph lg;
	uintptr_t r = 1234;
	hs_lk_array_init(&la, NULL, 0);
	hs_lk_init(&lg, &la.ops, NULL);
	hs_lk_scan_root(&lg, (uintptr_t)&r, (uintptr_t)(&r + 1));
	hs_lk_classify(&lg);
	struct hs_lk_node n;
	ck_assert(!hs_lk_find(&lg, 1234, &n));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leaks");
	TCase *tc = tcase_create("graph");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, find_ranges);
	tcase_add_test(tc, sort_orders_by_start);
	tcase_add_test(tc, start_pointer_chain_is_reachable);
	tcase_add_test(tc, nothing_points_is_definite);
	tcase_add_test(tc, interior_pointer_is_possible_and_passes_it_on);
	tcase_add_test(tc, possible_upgraded_to_reachable_rescans);
	tcase_add_test(tc, lost_list_is_one_definite_many_indirect);
	tcase_add_test(tc, lost_cycle_lowest_address_leads);
	tcase_add_test(tc, lost_cycle_reached_from_lost_cycle);
	tcase_add_test(tc, chain_of_cycles_one_definite);
	tcase_add_test(tc, shared_child_two_sources);
	tcase_add_test(tc, self_pointer_is_definite);
	tcase_add_test(tc, two_lost_cycles_and_a_tail);
	tcase_add_test(tc, lost_block_does_not_demote_reachable);
	tcase_add_test(tc, two_lost_trees_stay_separate);
	tcase_add_test(tc, root_range_bounds_and_alignment);
	tcase_add_test(tc, register_word_is_a_root);
	tcase_add_test(tc, block_tail_beyond_size_not_scanned);
	tcase_add_test(tc, long_chain_iterative);
	tcase_add_test(tc, empty_block_set);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
