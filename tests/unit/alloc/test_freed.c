/*
 * test_freed.c — the ring of large blocks freed (alloc/freed.c).
 *
 * A page block freed back to the buddy is remembered with its size,
 * allocation stack and free record word; the newest note of an address
 * wins; the ring reaches back HS_FREED_RING frees and no further; bin
 * blocks are not noted (their FREED header stays where it was).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"

static void *big(size_t n, uint32_t stack)
{
	void *p = hs_heap_alloc(n, HS_ALIGN, HS_KIND_MALLOC, stack);
	ck_assert_ptr_nonnull(p);
	return p;
}

static void release(void *p)
{
	enum hs_where w;
	struct hs_header *h = hs_heap_lookup(p, &w);
	ck_assert_ptr_nonnull(h);
	ck_assert(hs_heap_release(p, h, w));
}

START_TEST(noted_with_size_and_stack)
{
	size_t saved = hs_guard;
	hs_guard = HS_CANARY;           /* a canary: room for a free record */
	char *p = big(100000, 77);
	uint64_t rec = 0x1234567890abcdefull;
	memcpy(p + 8, &rec, 8);         /* what a checked free writes there */
	release(p);
	struct hs_freed f;
	ck_assert(hs_freed_find(p, &f));
	ck_assert_ptr_eq(f.user, p);
	ck_assert_uint_eq(f.size, 100000);
	ck_assert_uint_eq(f.alloc_stack, 77);
	ck_assert_uint_eq(f.record, rec);
	/* the same address again: the newest note answers */
	char *q = big(100000, 78);
	ck_assert_ptr_eq(q, p);         /* the buddy hands back the same pages */
	release(q);
	ck_assert(hs_freed_find(p, &f));
	ck_assert_uint_eq(f.alloc_stack, 78);
	/* not an address that was freed */
	ck_assert(!hs_freed_find(p + 16, &f));
	hs_guard = saved;
}
END_TEST

START_TEST(bin_blocks_not_noted)
{
	char *p = big(100, 5);
	release(p);
	/* (its pages may have held a page block noted before: that note,
	 * not one of this block, may answer) */
	struct hs_freed f;
	ck_assert(!hs_freed_find(p, &f) || (f.size != 100 && f.alloc_stack != 5));
}
END_TEST

/* Notes of headers made here (hs_freed_note is what hs_heap_recycle
 * calls for page blocks and mappings). */
static _Alignas(16) unsigned char hdrs[4][64];

static void note(unsigned i, size_t size)
{
	struct hs_header *h = (struct hs_header *)hdrs[i];
	hs_header_set(h, size, HS_BIN_LARGE, HS_KIND_MALLOC, i + 100);
	hs_freed_note(h);
}

START_TEST(reaches_back_one_ring)
{
	struct hs_freed f;
	void *first = hdrs[0] + HS_HEADER_SIZE;
	note(0, 5000);
	for (unsigned i = 0; i + 1 < HS_FREED_RING; i++)
		note(1 + i % 3, 6000);
	ck_assert_msg(hs_freed_find(first, &f), "lost before %u notes", HS_FREED_RING);
	ck_assert_uint_eq(f.size, 5000);
	ck_assert_uint_eq(f.alloc_stack, 100);
	note(1, 6000);
	ck_assert_msg(!hs_freed_find(first, &f), "still found after %u notes",
	              HS_FREED_RING + 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("freed");
	TCase *t = tcase_create("freed");
	tcase_add_test(t, noted_with_size_and_stack);
	tcase_add_test(t, bin_blocks_not_noted);
	tcase_add_test(t, reaches_back_one_ring);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
