/*
 * test_fault_hooks.c — fault injection through the real malloc hooks
 * (this process runs on heapscope's allocator). limit= against the heap's
 * own live-byte counter must be exact in a single thread; an injected
 * failure returns NULL with ENOMEM and leaves a realloc'd block intact.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"
#include "faults/faults.h"

static uint64_t live(void)
{
	struct hs_counters c;
	hs_counters_read(&c);
	return c.live_bytes;
}

/* Check allocates in every ck_assert (it reports progress to the parent),
 * so each test does its allocations with no assertion in between, keeps
 * the results, closes the region, then asserts. */

START_TEST(limit_exact)
{
	char err[HS_FAULT_ERR_MAX];
	hs_faults_reset();
	int pushed = hs_fault_push("limit=1M", err, sizeof err);
	uint64_t base = live();
	size_t room = (1 << 20) - base;
	char *a = malloc(room - 100);                 /* up to 100 below      */
	errno = 0;
	void *over = malloc(101);                     /* one byte over        */
	int over_errno = errno;
	char *b = malloc(100);                        /* exactly at the limit */
	if (b)
		b[0] = 'x';
	void *grown = realloc(b, 101);                /* grows past: fails    */
	char *c = realloc(b, 50);                     /* shrinking: fine      */
	void *cz = calloc(51, 1);
	void *d = NULL;
	int pm = posix_memalign(&d, 64, 51);
	void *zero = malloc(0);                       /* no growth: fine      */
	long injected = hs_fault_pop();

	ck_assert_int_eq(pushed, 0);
	ck_assert_uint_lt(base, 1 << 20);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(over);
	ck_assert_int_eq(over_errno, ENOMEM);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(grown);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c[0], 'x');                  /* old block intact     */
	ck_assert_ptr_null(cz);
	ck_assert_int_eq(pm, ENOMEM);
	ck_assert_ptr_nonnull(zero);
	ck_assert_int_eq(injected, 4);
	free(zero);
	free(c);
	free(a);
	void *after = malloc(101);                    /* region closed        */
	ck_assert_ptr_nonnull(after);
	free(after);
}
END_TEST

START_TEST(counts_every_entry_point)
{
	char err[HS_FAULT_ERR_MAX];
	hs_faults_reset();
	int pushed = hs_fault_push("every=1,func=realloc", err, sizeof err);
	void *p = malloc(8);                          /* call 1: not realloc  */
	void *q = realloc(p, 16);                     /* call 2               */
	void *r = realloc(NULL, 16);                  /* call 3: realloc too  */
	void *z = malloc(0);                          /* call 4               */
	void *s = calloc(1, 1);                       /* call 5               */
	uint64_t calls = hs_fault_calls();
	long injected = hs_fault_pop();

	ck_assert_int_eq(pushed, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(q);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(calls, 5);
	ck_assert_int_eq(injected, 2);
	free(p);
	free(z);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault_hooks");
	TCase *t = tcase_create("hooks");
	tcase_add_test(t, limit_exact);
	tcase_add_test(t, counts_every_entry_point);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
