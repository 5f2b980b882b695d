/*
 * test_checks.c — heap error checks through the real entry points (the
 * whole shim is linked in, so this process runs on our malloc): canaries,
 * the quarantine and its fill, free records, the vetting of bad releases,
 * and no false positive for any size, alignment or resize.
 *
 * Settings are read from the initial environment, so main() re-executes
 * itself once with checks and recording on, HEAPSCOPE_QUARANTINE=64k and
 * the trace in a temporary directory. Errors are counted with hs_error_count(); their stderr lines
 * are expected noise.
 */
#include <check.h>
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
#include "testutil.h"

#define QUARANTINE (64 * 1024)

void *_Znwm(size_t n);
void *_Znam(size_t n);
void _ZdlPv(void *p);
void _ZdaPv(void *p);

/* Push everything this thread holds through the quarantine's exit check. */
static void flush_quarantine(void)
{
	hs_quarantine_drain();
}

static unsigned long errors_during_drain(void)
{
	unsigned long before = hs_error_count();
	flush_quarantine();
	return hs_error_count() - before;
}

START_TEST(checks_are_on)
{
	ck_assert_msg(hs_guard == HS_CANARY, "hs_guard %zu: checks not on", hs_guard);
	ck_assert_uint_eq(hs_cfg.quarantine_bytes, QUARANTINE);
}
END_TEST

/* Every size up to past the fill bound, written to its last byte, grown
 * and shrunk by realloc, freed, drained: not one report. */
START_TEST(no_false_positive_any_size)
{
	unsigned long before = hs_error_count();
	for (size_t n = 0; n <= HS_FILL_MAX + 64; n++) {
		char *p = tu_malloc(n);
		ck_assert_ptr_nonnull(p);
		tu_fill(p, n, n);
		p = tu_realloc(p, n + 13);
		tu_fill(p, n + 13, n);
		p = tu_realloc(p, n / 2 + 1);
		ck_assert_uint_eq(tu_check(p, n / 2 + 1, n), (size_t)-1);
		free(p);
		char *c = tu_calloc(1, n);
		ck_assert_uint_eq(tu_first_nonzero(c, n), (size_t)-1);
		free(c);
	}
	static const size_t big[] = { 40000, 100000, 1 << 20, 5 << 20, 9 << 20 };
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
		char *p = tu_malloc(big[i]);
		memset(p, 7, big[i]);
		p = tu_realloc(p, big[i] * 2 + 3);
		memset(p, 8, big[i] * 2 + 3);
		p = tu_realloc(p, big[i] / 3);
		free(p);
	}
	ck_assert_uint_eq(errors_during_drain(), 0);
	ck_assert_uint_eq(hs_error_count(), before);
}
END_TEST

/* The fill of a freed block stays inside its slot: blocks of every
 * small size side by side (consecutive slots of a fresh slab), every
 * other one freed and the quarantine drained: the live neighbours keep
 * a valid header and their bytes. */
START_TEST(fill_stays_in_its_slot)
{
	enum { N = 32 };
	for (size_t n = 0; n <= 2 * HS_FILL_MAX / 16; n++) {
		char *p[N];
		for (int i = 0; i < N; i++) {
			p[i] = tu_malloc(n);
			tu_fill(p[i], n, (uint64_t)i);
		}
		for (int i = 0; i < N; i += 2)
			free(p[i]);
		flush_quarantine();
		for (int i = 1; i < N; i += 2) {
			const struct hs_header *h = hs_header_of(p[i]);
			ck_assert_msg(hs_header_valid(h) && h->state == HS_LIVE && h->size == n,
			              "size %zu: the header of a live neighbour was overwritten", n);
			ck_assert_uint_eq(tu_check(p[i], n, (uint64_t)i), (size_t)-1);
			free(p[i]);
		}
	}
}
END_TEST

START_TEST(no_false_positive_aligned)
{
	unsigned long before = hs_error_count();
	for (size_t align = 16; align <= 8192; align *= 2)
		for (size_t n = 0; n < 300; n += 7) {
			void *p = NULL;
			ck_assert_int_eq(posix_memalign(&p, align, n), 0);
			ck_assert_uint_eq((uintptr_t)p % align, 0);
			memset(p, 0x33, n);
			free(p);
			p = memalign(align, n);
			memset(p, 0x44, n);
			p = tu_realloc(p, n + 100);
			memset(p, 0x45, n + 100);
			free(p);
		}
	ck_assert_uint_eq(errors_during_drain(), 0);
	ck_assert_uint_eq(hs_error_count(), before);
}
END_TEST

/* One byte past the end, for sizes around every boundary that matters
 * (slot classes, the fill bound, page and mapping blocks). */
START_TEST(canary_catches_one_byte)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 24, 100, 1015, 1016, 1017,
	                                1020, 1024, 3000, 33000, 200000, 5 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = tu_malloc(sizes[i]);
		unsigned long before = hs_error_count();
		p[sizes[i]] = 'x';
		free(p);
		ck_assert_msg(hs_error_count() == before + 1,
		              "overrun of a %zu-byte block: %lu reports", sizes[i],
		              hs_error_count() - before);
	}
	/* told once: the block was repaired before it went on */
	ck_assert_uint_eq(errors_during_drain(), 0);
}
END_TEST

START_TEST(canary_checked_by_realloc)
{
	char *p = tu_malloc(50);
	unsigned long before = hs_error_count();
	p[50] = 0;
	p = tu_realloc(p, 5000);
	ck_assert_uint_eq(hs_error_count(), before + 1);
	p[5000] = 1;
	p = tu_realloc(p, 10);
	ck_assert_uint_eq(hs_error_count(), before + 2);
	free(p);
	ck_assert_uint_eq(hs_error_count(), before + 2);
}
END_TEST

/* A write after free anywhere in the filled part is found when the block
 * leaves the quarantine, the free record's word included. */
START_TEST(write_after_free_found)
{
	/* (a quarter of the 64 KiB budget is the most a block may take) */
	static const size_t sizes[] = { 16, 64, 1000, 3000, 12000 };
	static const size_t offs[] = { 0, 8, 15, 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (size_t k = 0; k <= sizeof offs / sizeof offs[0]; k++) {
			size_t off = k < 4 ? offs[k] : sizes[i] - 1;
			if (off >= HS_FILL_MAX)
				off = HS_FILL_MAX - 1;
			char *p = tu_malloc(sizes[i]);
			free(p);
			p[off] ^= 0x5a;
			ck_assert_msg(errors_during_drain() == 1,
			              "write at %zu of a freed %zu-byte block not found",
			              off, sizes[i]);
		}
}
END_TEST

/* The quarantine keeps a block from reuse while less than its budget was
 * freed after it, and lets it go once more was. */
START_TEST(quarantine_delays_reuse)
{
	flush_quarantine();
	char *p = tu_malloc(100);
	free(p);
	size_t freed = 0;
	int reused_early = 0, reused = 0;
	for (int i = 0; i < 4000 && !reused; i++) {
		char *q = tu_malloc(100);
		if (q == p) {
			if (freed + 2 * 128 < QUARANTINE)
				reused_early = 1;
			reused = 1;
		}
		free(q);
		freed += 100 + HS_HEADER_SIZE + HS_CANARY;
	}
	ck_assert_msg(!reused_early, "block reused after only %zu bytes of frees", freed);
	ck_assert_msg(reused, "block never left the quarantine (%zu bytes freed after it)", freed);
}
END_TEST

START_TEST(double_free_names_both_stacks)
{
	char *p = tu_malloc(48);
	free(p);
	char *volatile freed = p;           /* (the compiler frowns on reading it) */
	uint32_t fs = hs_free_record_get(freed);
	ck_assert_msg(fs != 0, "no free stack recorded");
	ck_assert_uint_ne(hs_header_of(freed)->stack, 0);
	unsigned long before = hs_error_count();
	errno = 4321;
	free(p);
	ck_assert_int_eq(errno, 4321);
	ck_assert_uint_eq(hs_error_count(), before + 1);
	ck_assert_ptr_null(tu_realloc(p, 100));
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(hs_error_count(), before + 2);
	/* the heap is intact: the block leaves quarantine cleanly */
	ck_assert_uint_eq(errors_during_drain(), 0);
}
END_TEST

START_TEST(bad_pointers_ignored)
{
	char local[32];
	char *volatile stack_addr = local + 16;
	char *p = tu_malloc(200);
	unsigned long before = hs_error_count();
	free(stack_addr);
	free(p + 32);
	free(p + 1);
	free((void *)(uintptr_t)0x10);
	ck_assert_uint_eq(hs_error_count(), before + 4);
	tu_fill(p, 200, 9);
	ck_assert_uint_eq(tu_check(p, 200, 9), (size_t)-1);
	free(p);
	ck_assert_uint_eq(hs_error_count(), before + 4);
}
END_TEST

/* An underrun into the header: reported once, the block never reused,
 * and later frees of it are not reported again as damage. One that
 * reached the stack id (p[-5]) leaves a block that is never trusted:
 * later frees say nothing. One that spared size and stack (the check's
 * last two bytes, p[-2]) leaves a block the free lets go of (without
 * reusing it): a second free is a double free, as memcheck says. */
START_TEST(damaged_header_told_once)
{
	char *p = tu_malloc(72), *q = tu_malloc(72);
	unsigned long before = hs_error_count();
	char *volatile hdr = p - 5;         /* (not an array the compiler knows) */
	*hdr ^= 0x40;
	free(p);
	free(p);
	ck_assert_uint_eq(hs_error_count(), before + 1);
	hdr = q - 2;
	*hdr ^= 0x40;
	free(q);
	ck_assert_uint_eq(hs_error_count(), before + 2);
	free(q);                            /* a double free, not damage  */
	ck_assert_uint_eq(hs_error_count(), before + 3);
	free(q);
	ck_assert_uint_eq(hs_error_count(), before + 4);
	for (int i = 0; i < 1000; i++) {
		char *r = tu_malloc(72);
		ck_assert_ptr_ne(r, p);
		ck_assert_ptr_ne(r, q);
	}
}
END_TEST

START_TEST(mismatches_reported_and_released)
{
	unsigned long before = hs_error_count();
	void *a = _Znwm(32), *b = _Znam(32), *c = tu_malloc(32);
	free(a);
	_ZdlPv(b);
	_ZdaPv(c);
	ck_assert_uint_eq(hs_error_count(), before + 3);
	_ZdlPv(_Znwm(8));
	_ZdaPv(_Znam(8));
	ck_assert_uint_eq(hs_error_count(), before + 3);
	/* released all the same: no double report when they leave */
	ck_assert_uint_eq(errors_during_drain(), 0);
}
END_TEST

static void *thread_waf(void *arg)
{
	char *p = tu_malloc(64);
	free(p);
	p[30] = 1;              /* found by this thread's exit drain */
	return NULL;
}

static void *thread_clean(void *arg)
{
	for (int i = 0; i < 20000; i++) {
		char *p = tu_malloc((size_t)(i % 700));
		memset(p, i, (size_t)(i % 700));
		free(p);
	}
	return NULL;
}

START_TEST(threads_drain_at_exit)
{
	unsigned long before = hs_error_count();
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, i ? thread_clean : thread_waf, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(hs_error_count(), before + 1);
}
END_TEST

int main(int argc, char **argv)
{
	if (!getenv("HS_TEST_CHECKS_CHILD")) {
		char dir[] = "/tmp/hs-test-checks.XXXXXX";
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		char out[64];
		snprintf(out, sizeof out, "%s/t.%%p.trace", dir);
		setenv("HS_TEST_CHECKS_CHILD", dir, 1);
		setenv("HEAPSCOPE_OUT", out, 1);
		setenv("HEAPSCOPE_QUARANTINE", "64k", 1);
		setenv("HEAPSCOPE_CHECKS", "1", 1);
		setenv("HEAPSCOPE_RECORD", "1", 1);     /* stacks (run.sh sets 0) */
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	Suite *s = suite_create("checks");
	TCase *tc = tcase_create("checks");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, checks_are_on);
	tcase_add_test(tc, no_false_positive_any_size);
	tcase_add_test(tc, fill_stays_in_its_slot);
	tcase_add_test(tc, no_false_positive_aligned);
	tcase_add_test(tc, canary_catches_one_byte);
	tcase_add_test(tc, canary_checked_by_realloc);
	tcase_add_test(tc, write_after_free_found);
	tcase_add_test(tc, quarantine_delays_reuse);
	tcase_add_test(tc, double_free_names_both_stacks);
	tcase_add_test(tc, bad_pointers_ignored);
	tcase_add_test(tc, damaged_header_told_once);
	tcase_add_test(tc, mismatches_reported_and_released);
	tcase_add_test(tc, threads_drain_at_exit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[96];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", getenv("HS_TEST_CHECKS_CHILD"));
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", getenv("HS_TEST_CHECKS_CHILD"));
	return failed ? 1 : 0;
}
