/*
 * test_api.c — the malloc family's documented semantics.
 *
 * Linked with the whole shim (Makefile: tests/unit/hooks/), so this process,
 * Check included, allocates through heapscope. Every expectation below is
 * glibc's documented (or, where the manual is silent, observed 2.36)
 * behaviour, so the same file passes when built against plain glibc: that
 * is how the tests themselves are validated. Alignment entry points live in
 * test_align.c.
 *
 * Check forks a child per test (CK_FORK default): kept on purpose, it makes
 * every test also a fork-under-the-shim test.
 */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Sizes that cross every allocator boundary heapscope has: bins (<= 32 KiB
 * slot), buddy pages (<= 4 MiB arena), huge mappings (> 4 MiB). */
static const size_t class_sizes[] = {
	1, 15, 16, 17, 100, 1000, 4000, 4096, 20000, 32752, 32768, 40000,
	100000, 1 << 20, 3 << 20, (4 << 20) - 16, 4 << 20, 5 << 20, 9 << 20,
};
#define N_CLASS (sizeof class_sizes / sizeof class_sizes[0])

/* ---- malloc / free ---------------------------------------------------- */

START_TEST(malloc_zero_unique)
{
	enum { N = 64 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(0);
		ck_assert_msg(p[i] != NULL, "malloc(0) #%d returned NULL", i);
		for (int j = 0; j < i; j++)
			ck_assert_msg(p[i] != p[j], "malloc(0) #%d == #%d (%p)", i, j, p[i]);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
}
END_TEST

START_TEST(free_null_noop)
{
	errno = 55;
	free(NULL);
	ck_assert_int_eq(errno, 55);
	void *p = malloc(10);
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

/* glibc's manual: free preserves errno (since 2.33); the munmap inside a
 * huge free must not leak its errno either. */
START_TEST(free_preserves_errno)
{
	for (size_t i = 0; i < N_CLASS; i++) {
		void *p = malloc(class_sizes[i]);
		ck_assert_ptr_nonnull(p);
		memset(p, 1, class_sizes[i]);
		errno = 1234;
		free(p);
		ck_assert_msg(errno == 1234, "free of %zu-byte block changed errno to %d",
		              class_sizes[i], errno);
	}
	void *a = memalign(1 << 16, 1000);
	ck_assert_ptr_nonnull(a);
	errno = 1234;
	free(a);
	ck_assert_int_eq(errno, 1234);
	void *c = calloc(3, 5 << 20);
	ck_assert_ptr_nonnull(c);
	errno = 1234;
	free(c);
	ck_assert_int_eq(errno, 1234);
}
END_TEST

START_TEST(user_pointers_16_aligned)
{
	/* Every size to 2048, then a stride that is not a power of two so
	 * sizes land at many offsets inside the classes. */
	for (size_t n = 0; n <= 70000; n += (n < 2048 ? 1 : 37)) {
		void *p = malloc(n);
		ck_assert_msg(p != NULL, "malloc(%zu) NULL", n);
		ck_assert_msg((uintptr_t)p % 16 == 0, "malloc(%zu)=%p not 16-aligned", n, p);
		if (n)
			((char *)p)[n - 1] = 1;
		free(p);
	}
}
END_TEST

/* All blocks live at once, each filled with its own pattern and checked
 * only after all others were written: two blocks that overlap, or a header
 * written inside a neighbour, show up here. */
START_TEST(many_sizes_live_no_overlap)
{
	enum { N = 3000 };
	static void *p[N];
	static size_t sz[N];
	uint64_t rng = 42;
	for (int i = 0; i < N; i++) {
		unsigned r = (unsigned)tu_rand(&rng);
		sz[i] = (i % 50 == 0) ? 33000 + r % 300000 : (i % 7 == 0) ? r % 32768 : r % 600;
		p[i] = malloc(sz[i]);
		ck_assert_msg(p[i] != NULL, "malloc(%zu) NULL", sz[i]);
		tu_fill(p[i], sz[i], (uint64_t)i);
	}
	for (int i = 0; i < N; i++)
		ck_assert_msg(tu_check(p[i], sz[i], (uint64_t)i) == (size_t)-1,
		              "block %d (%zu bytes at %p) corrupted at offset %zu",
		              i, sz[i], p[i], tu_check(p[i], sz[i], (uint64_t)i));
	ck_assert_msg(tu_overlap(p, sz, N) < 0, "blocks overlap (index %d)", tu_overlap(p, sz, N));
	for (int i = 0; i < N; i += 2)
		free(p[i]);
	for (int i = 1; i < N; i += 2)
		ck_assert_msg(tu_check(p[i], sz[i], (uint64_t)i) == (size_t)-1,
		              "block %d corrupted after neighbours were freed", i);
	for (int i = 1; i < N; i += 2)
		free(p[i]);
}
END_TEST

START_TEST(usable_size)
{
	ck_assert_uint_eq(malloc_usable_size(NULL), 0);
	for (size_t i = 0; i < N_CLASS; i++) {
		size_t n = class_sizes[i];
		char *p = malloc(n);
		ck_assert_ptr_nonnull(p);
		size_t u = malloc_usable_size(p);
		ck_assert_msg(u >= n, "malloc_usable_size(malloc(%zu)) = %zu", n, u);
		/* The usable bytes really are usable: write all of them, then
		 * make neighbours and check nothing was clobbered either way. */
		memset(p, 0xA5, u);
		char *q = malloc(n);
		ck_assert_ptr_nonnull(q);
		memset(q, 0x5A, malloc_usable_size(q));
		/* (one assertion, not one per byte: each passing ck_assert
		 * is a message to the parent process) */
		size_t k = 0;
		while (k < u && (unsigned char)p[k] == 0xA5)
			k++;
		ck_assert_msg(k == u, "usable byte %zu of %zu (req %zu) clobbered", k, u, n);
		free(q);
		free(p);
	}
}
END_TEST

/* ---- huge / impossible requests --------------------------------------- */

START_TEST(impossible_requests_enomem)
{
	const size_t bad[] = { SIZE_MAX / 2, SIZE_MAX, SIZE_MAX - 4096, (size_t)1 << 62 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *p = tu_malloc(bad[i]);
		ck_assert_msg(p == NULL, "malloc(%zu) returned %p", bad[i], p);
		ck_assert_msg(errno == ENOMEM, "malloc(%zu): errno %d, want ENOMEM", bad[i], errno);
	}
	char *p = malloc(100);
	ck_assert_ptr_nonnull(p);
	tu_fill(p, 100, 7);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *q = tu_realloc(p, bad[i]);
		ck_assert_msg(q == NULL, "realloc(p, %zu) returned %p", bad[i], q);
		ck_assert_int_eq(errno, ENOMEM);
		ck_assert_msg(tu_check(p, 100, 7) == (size_t)-1, "failed realloc damaged p");
	}
	free(p);
}
END_TEST

/* ---- calloc ----------------------------------------------------------- */

START_TEST(calloc_overflow)
{
	const size_t pairs[][2] = {
		{ SIZE_MAX / 2, 3 }, { 3, SIZE_MAX / 2 }, { (size_t)1 << 33, (size_t)1 << 33 },
		{ SIZE_MAX, SIZE_MAX }, { SIZE_MAX, 2 },
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		errno = 0;
		void *p = tu_calloc(pairs[i][0], pairs[i][1]);
		ck_assert_msg(p == NULL, "calloc(%zu, %zu) returned %p", pairs[i][0], pairs[i][1], p);
		ck_assert_msg(errno == ENOMEM, "calloc(%zu, %zu): errno %d", pairs[i][0],
		              pairs[i][1], errno);
	}
	/* zero times anything is not an overflow */
	void *z = tu_calloc(0, SIZE_MAX);
	ck_assert_ptr_nonnull(z);
	free(z);
}
END_TEST

/* calloc must zero memory that was used before: allocate, dirty, free,
 * then calloc the same sizes (so recycled slots, pages and mappings are
 * what comes back) and look at every byte. */
START_TEST(calloc_zeroes_recycled)
{
	enum { K = 6 };
	for (size_t i = 0; i < N_CLASS; i++) {
		size_t n = class_sizes[i];
		int k = n > (1 << 20) ? 2 : K;
		void *p[K];
		for (int j = 0; j < k; j++) {
			p[j] = malloc(n);
			ck_assert_ptr_nonnull(p[j]);
			memset(p[j], 0xff, malloc_usable_size(p[j]));
		}
		for (int j = 0; j < k; j++)
			free(p[j]);
		for (int j = 0; j < k; j++) {
			/* vary the factorisation: calloc(n,1), calloc(1,n), calloc(n/8,8)... */
			size_t a = (j % 3 == 0) ? n : (j % 3 == 1) ? 1 : (n % 8 ? n : n / 8);
			size_t b = (j % 3 == 0) ? 1 : (j % 3 == 1) ? n : (n % 8 ? 1 : 8);
			p[j] = calloc(a, b);
			ck_assert_ptr_nonnull(p[j]);
			size_t off = tu_first_nonzero(p[j], n);
			ck_assert_msg(off == (size_t)-1, "calloc(%zu,%zu) byte %zu is 0x%02x",
			              a, b, off, ((unsigned char *)p[j])[off]);
		}
		for (int j = 0; j < k; j++)
			free(p[j]);
	}
}
END_TEST

/* ---- realloc ---------------------------------------------------------- */

START_TEST(realloc_null_is_malloc)
{
	for (size_t i = 0; i < N_CLASS; i++) {
		char *p = realloc(NULL, class_sizes[i]);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_ge(malloc_usable_size(p), class_sizes[i]);
		memset(p, 3, class_sizes[i]);
		free(p);
	}
}
END_TEST

/* glibc: realloc(p, 0) frees p and returns NULL. "Frees" is checked by
 * volume: if the blocks were kept, the address space would grow by
 * gigabytes; freed, it stays flat. */
START_TEST(realloc_zero_frees)
{
	long before = tu_vmsize_kb();
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(6 << 20);
		ck_assert_ptr_nonnull(p);
		((char *)p)[0] = 1;
		ck_assert_ptr_null(realloc(p, 0));
	}
	for (int i = 0; i < 20000; i++) {
		void *p = malloc(1000);
		ck_assert_ptr_nonnull(p);
		memset(p, 1, 1000);
		ck_assert_ptr_null(realloc(p, 0));
	}
	long grown = tu_vmsize_kb() - before;
	ck_assert_msg(grown < 64 * 1024, "VmSize grew by %ld KiB: realloc(p,0) does not free",
	              grown);
}
END_TEST

/* Contents survive every move between classes, up and down. */
START_TEST(realloc_preserves_across_classes)
{
	const size_t chain[] = {
		8, 24, 100, 500, 4000, 16000, 32752, 32768, 40000, 200000, 1 << 20,
		(4 << 20) - 100, 5 << 20, 9 << 20, 17 << 20, 6 << 20, 3 << 20, 300000,
		33000, 20000, 1000, 40, 1, 70000, 12 << 20, 50, 0x1000, 0x10000,
	};
	size_t n = 0;
	char *p = NULL;
	uint64_t seed = 1;
	for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
		size_t m = chain[i];
		char *q = realloc(p, m);
		ck_assert_msg(q != NULL, "realloc(%zu -> %zu) NULL", n, m);
		size_t keep = n < m ? n : m;
		size_t bad = tu_check(q, keep, seed);
		ck_assert_msg(bad == (size_t)-1, "realloc %zu -> %zu lost byte %zu", n, m, bad);
		ck_assert_uint_ge(malloc_usable_size(q), m);
		p = q;
		n = m;
		tu_fill(p, n, ++seed);
	}
	free(p);
}
END_TEST

START_TEST(realloc_same_and_small_steps)
{
	/* byte-by-byte growth: the common "append" pattern */
	char *p = NULL;
	for (size_t n = 1; n <= 5000; n++) {
		p = realloc(p, n);
		ck_assert_ptr_nonnull(p);
		p[n - 1] = (char)(n * 7);
	}
	size_t n = 1;
	while (n <= 5000 && p[n - 1] == (char)(n * 7))
		n++;
	ck_assert_msg(n == 5001, "byte %zu lost in growth", n - 1);
	char *q = realloc(p, 5000);
	ck_assert_ptr_nonnull(q);
	n = 1;
	while (n <= 5000 && q[n - 1] == (char)(n * 7))
		n++;
	ck_assert_msg(n == 5001, "byte %zu lost in same-size realloc", n - 1);
	free(q);
}
END_TEST

START_TEST(realloc_of_aligned_block)
{
	char *p = memalign(4096, 3000);
	ck_assert_ptr_nonnull(p);
	tu_fill(p, 3000, 9);
	char *q = realloc(p, 100000);
	ck_assert_ptr_nonnull(q);
	ck_assert(tu_check(q, 3000, 9) == (size_t)-1);
	q = realloc(q, 64);
	ck_assert_ptr_nonnull(q);
	ck_assert(tu_check(q, 64, 9) == (size_t)-1);
	free(q);
}
END_TEST

START_TEST(reallocarray_overflow)
{
	char *p = malloc(256);
	ck_assert_ptr_nonnull(p);
	tu_fill(p, 256, 5);
	errno = 0;
	void *q = tu_reallocarray(p, SIZE_MAX / 2, 3);
	ck_assert_ptr_null(q);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_msg(tu_check(p, 256, 5) == (size_t)-1, "reallocarray overflow touched p");
	errno = 0;
	q = tu_reallocarray(p, (size_t)1 << 40, (size_t)1 << 40);
	ck_assert_ptr_null(q);
	ck_assert_int_eq(errno, ENOMEM);
	/* p is still ours and still usable */
	q = reallocarray(p, 1000, 4);
	ck_assert_ptr_nonnull(q);
	ck_assert(tu_check(q, 256, 5) == (size_t)-1);
	free(q);
}
END_TEST

/* ---- fork ------------------------------------------------------------- */

/* The child inherits the heap: it can read, free and reuse the parent's
 * blocks, and nothing it does reaches the parent's copy. */
START_TEST(fork_inherits_heap)
{
	enum { N = 200 };
	void *p[N];
	size_t sz[N];
	for (int i = 0; i < N; i++) {
		sz[i] = (size_t)(i * 997) % 70000 + (i % 40 == 0 ? 5 << 20 : 0);
		p[i] = malloc(sz[i]);
		ck_assert_ptr_nonnull(p[i]);
		tu_fill(p[i], sz[i], (uint64_t)i);
	}
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int bad = 0;
		for (int i = 0; i < N; i++) {
			bad |= tu_check(p[i], sz[i], (uint64_t)i) != (size_t)-1;
			free(p[i]);
		}
		for (int i = 0; i < 2000; i++) {
			void *q = malloc((size_t)i * 31 % 50000);
			bad |= q == NULL;
			memset(q, 0xEE, (size_t)i * 31 % 50000);
			free(q);
		}
		_exit(bad);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(tu_check(p[i], sz[i], (uint64_t)i) == (size_t)-1,
		              "parent block %d changed by child", i);
		free(p[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim_api");
	TCase *t = tcase_create("malloc");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, malloc_zero_unique);
	tcase_add_test(t, free_null_noop);
	tcase_add_test(t, free_preserves_errno);
	tcase_add_test(t, user_pointers_16_aligned);
	tcase_add_test(t, many_sizes_live_no_overlap);
	tcase_add_test(t, usable_size);
	tcase_add_test(t, impossible_requests_enomem);
	suite_add_tcase(s, t);

	t = tcase_create("calloc");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, calloc_overflow);
	tcase_add_test(t, calloc_zeroes_recycled);
	suite_add_tcase(s, t);

	t = tcase_create("realloc");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, realloc_null_is_malloc);
	tcase_add_test(t, realloc_zero_frees);
	tcase_add_test(t, realloc_preserves_across_classes);
	tcase_add_test(t, realloc_same_and_small_steps);
	tcase_add_test(t, realloc_of_aligned_block);
	tcase_add_test(t, reallocarray_overflow);
	suite_add_tcase(s, t);

	t = tcase_create("fork");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, fork_inherits_heap);
	suite_add_tcase(s, t);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
