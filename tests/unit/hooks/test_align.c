/*
 * test_align.c — the aligned entry points: posix_memalign, memalign,
 * aligned_alloc, valloc, pvalloc.
 *
 * Linked with the whole shim like test_api.c. Where POSIX/C leave room
 * (memalign with an odd alignment) the expectation is what glibc 2.36 does,
 * observed natively on this machine:
 *   memalign(a <= 16, n)        -> plain malloc (16-aligned), a not checked
 *   memalign(non power of 2, n) -> alignment rounded up to the next power of 2
 *   memalign(a > SIZE_MAX/2+1)  -> NULL, errno EINVAL
 *   memalign(SIZE_MAX/2+1, n)   -> NULL, errno ENOMEM (valid, impossible)
 *   posix_memalign(bad a)       -> returns EINVAL, errno untouched,
 *                                  *memptr untouched
 */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { API_POSIX, API_MEMALIGN, API_ALIGNED_ALLOC, N_API };
static const char *api_name[N_API] = { "posix_memalign", "memalign", "aligned_alloc" };

static void *alloc_aligned(int api, size_t align, size_t n)
{
	void *p = NULL;
	switch (api) {
	case API_POSIX:
		if (posix_memalign(&p, align, n) != 0)
			p = NULL;
		return p;
	case API_MEMALIGN:
		return memalign(align, n);
	default:
		return aligned_alloc(align, n);
	}
}

/* Every power of two 1..1 MiB plus 2 and 8 MiB (above an arena), each with
 * sizes below, at and above the alignment; all blocks of one alignment are
 * live together and pattern-checked after all were written. */
START_TEST(every_power_of_two)
{
	enum { NS = 6 };
	for (size_t align = 1; align <= ((size_t)8 << 20); align <<= 1) {
		if (align == ((size_t)4 << 20))
			continue;                   /* the list asks for 1 MiB, 2, 8 */
		const size_t sizes[NS] = { 1, 24, 100, 5000, align, align + 17 };
		void *p[N_API][NS];
		for (int api = 0; api < N_API; api++)
			for (int s = 0; s < NS; s++) {
				/* posix_memalign requires a multiple of sizeof(void *) */
				if (api == API_POSIX && align < sizeof(void *)) {
					p[api][s] = NULL;
					continue;
				}
				p[api][s] = alloc_aligned(api, align, sizes[s]);
				ck_assert_msg(p[api][s] != NULL, "%s(%zu, %zu) NULL",
				              api_name[api], align, sizes[s]);
				ck_assert_msg((uintptr_t)p[api][s] % align == 0, "%s(%zu, %zu) = %p misaligned",
				              api_name[api], align, sizes[s], p[api][s]);
				ck_assert_msg((uintptr_t)p[api][s] % 16 == 0, "%s(%zu, %zu) = %p not 16-aligned",
				              api_name[api], align, sizes[s], p[api][s]);
				size_t u = malloc_usable_size(p[api][s]);
				ck_assert_msg(u >= sizes[s], "%s(%zu, %zu) = %p: malloc_usable_size %zu",
				              api_name[api], align, sizes[s], p[api][s], u);
				tu_fill(p[api][s], sizes[s], align * 8 + (size_t)(api * NS + s));
			}
		for (int api = 0; api < N_API; api++)
			for (int s = 0; s < NS; s++) {
				if (!p[api][s])
					continue;
				size_t bad = tu_check(p[api][s], sizes[s], align * 8 + (size_t)(api * NS + s));
				ck_assert_msg(bad == (size_t)-1, "%s(%zu, %zu) byte %zu clobbered",
				              api_name[api], align, sizes[s], bad);
			}
		for (int api = 0; api < N_API; api++)
			for (int s = 0; s < NS; s++)
				free(p[api][s]);
	}
}
END_TEST

START_TEST(posix_memalign_einval)
{
	const size_t bad[] = { 0, 1, 2, 3, 4, 12, 24, 48, 4095, 4097, 3 << 20,
	                       SIZE_MAX, SIZE_MAX / 2 + 2 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *sentinel = (void *)0x1234;
		void *p = sentinel;
		errno = 4321;
		int r = posix_memalign(&p, bad[i], 64);
		ck_assert_msg(r == EINVAL, "posix_memalign(%zu): returned %d, want EINVAL", bad[i], r);
		ck_assert_msg(errno == 4321, "posix_memalign(%zu) set errno to %d", bad[i], errno);
		/* POSIX: *memptr left unmodified or set to NULL */
		ck_assert_msg(p == sentinel || p == NULL, "posix_memalign(%zu) wrote %p", bad[i], p);
	}
}
END_TEST

START_TEST(posix_memalign_enomem)
{
	void *sentinel = (void *)0x1234, *p = sentinel;
	int r = posix_memalign(&p, 64, SIZE_MAX / 2);
	ck_assert_int_eq(r, ENOMEM);
	ck_assert(p == sentinel || p == NULL);
	p = sentinel;
	r = posix_memalign(&p, SIZE_MAX / 2 + 1, 10);      /* valid, impossible */
	ck_assert_int_eq(r, ENOMEM);
	/* size 0 is allowed and gives something free() takes */
	p = sentinel;
	ck_assert_int_eq(posix_memalign(&p, 16, 0), 0);
	ck_assert(p != sentinel);
	free(p);
}
END_TEST

START_TEST(memalign_small_alignment_is_malloc)
{
	const size_t al[] = { 0, 1, 2, 3, 5, 8, 12, 16 };
	for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
		void *p = memalign(al[i], 40);
		ck_assert_msg(p != NULL, "memalign(%zu, 40) NULL", al[i]);
		ck_assert_msg((uintptr_t)p % 16 == 0, "memalign(%zu) = %p", al[i], p);
		memset(p, 1, 40);
		free(p);
	}
}
END_TEST

START_TEST(memalign_rounds_up_non_power_of_two)
{
	const size_t al[][2] = {   /* asked, what glibc 2.36 aligns to */
		{ 24, 32 }, { 48, 64 }, { 96, 128 }, { 3000, 4096 }, { 5000, 8192 },
		{ 100000, 131072 }, { 3 << 20, 4 << 20 }, { 5 << 20, 8 << 20 },
	};
	for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
		for (size_t n = 1; n <= 100001; n += 50000) {
			char *p = memalign(al[i][0], n);
			ck_assert_msg(p != NULL, "memalign(%zu, %zu) NULL", al[i][0], n);
			ck_assert_msg((uintptr_t)p % al[i][1] == 0, "memalign(%zu, %zu) = %p, want %zu-aligned",
			              al[i][0], n, p, al[i][1]);
			ck_assert_msg(malloc_usable_size(p) >= n, "memalign(%zu, %zu) = %p: usable size %zu",
			              al[i][0], n, p, malloc_usable_size(p));
			memset(p, 7, n);
			free(p);
		}
	}
}
END_TEST

START_TEST(memalign_impossible)
{
	const size_t einval[] = { SIZE_MAX, SIZE_MAX / 2 + 2, SIZE_MAX - 4095 };
	for (size_t i = 0; i < sizeof einval / sizeof einval[0]; i++) {
		errno = 0;
		void *p = memalign(einval[i], 10);
		ck_assert_msg(p == NULL, "memalign(%zu) returned %p", einval[i], p);
		ck_assert_msg(errno == EINVAL, "memalign(%zu): errno %d, want EINVAL", einval[i], errno);
	}
	errno = 0;
	ck_assert_ptr_null(memalign(SIZE_MAX / 2 + 1, 10));
	ck_assert_int_eq(errno, ENOMEM);
	volatile size_t huge = SIZE_MAX / 2;
	errno = 0;
	ck_assert_ptr_null(memalign(1 << 20, huge));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(memalign(64, huge * 2));
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

/* C11 leaves an invalid alignment to the implementation; glibc 2.36 treats
 * aligned_alloc as memalign, 2.38 rejects non powers of two. Accept either,
 * but never a misaligned block. */
START_TEST(aligned_alloc_odd_alignment)
{
	errno = 0;
	ck_assert_ptr_null(aligned_alloc(SIZE_MAX, 10));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	void *p = aligned_alloc(48, 100);
	if (p) {
		ck_assert_msg((uintptr_t)p % 64 == 0, "aligned_alloc(48) = %p", p);
		free(p);
	} else {
		ck_assert_int_eq(errno, EINVAL);
	}
}
END_TEST

START_TEST(valloc_page_aligned)
{
	long page = sysconf(_SC_PAGESIZE);
	const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 40000, 1 << 20, 5 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = valloc(sizes[i]);
		ck_assert_msg(p != NULL, "valloc(%zu) NULL", sizes[i]);
		ck_assert_msg((uintptr_t)p % (uintptr_t)page == 0, "valloc(%zu) = %p", sizes[i], p);
		ck_assert_uint_ge(malloc_usable_size(p), sizes[i]);
		memset(p, 9, sizes[i]);
		free(p);
	}
	errno = 0;
	volatile size_t huge = SIZE_MAX - 100;
	ck_assert_ptr_null(valloc(huge));
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(pvalloc_rounds_to_page)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 40000, 1 << 20, (5 << 20) + 1 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t want = (sizes[i] + page - 1) / page * page;
		char *p = pvalloc(sizes[i]);
		ck_assert_msg(p != NULL, "pvalloc(%zu) NULL", sizes[i]);
		ck_assert_msg((uintptr_t)p % page == 0, "pvalloc(%zu) = %p", sizes[i], p);
		size_t u = malloc_usable_size(p);
		ck_assert_msg(u >= want, "pvalloc(%zu): usable %zu < %zu", sizes[i], u, want);
		memset(p, 9, want);             /* the whole rounded size is ours */
		free(p);
	}
	char *z = pvalloc(0);
	ck_assert_ptr_nonnull(z);
	ck_assert_uint_eq((uintptr_t)z % page, 0);
	free(z);
	errno = 0;
	volatile size_t huge = SIZE_MAX - 100;      /* rounding would wrap */
	ck_assert_ptr_null(pvalloc(huge));
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim_align");
	TCase *t = tcase_create("align");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, every_power_of_two);
	tcase_add_test(t, posix_memalign_einval);
	tcase_add_test(t, posix_memalign_enomem);
	tcase_add_test(t, memalign_small_alignment_is_malloc);
	tcase_add_test(t, memalign_rounds_up_non_power_of_two);
	tcase_add_test(t, memalign_impossible);
	tcase_add_test(t, aligned_alloc_odd_alignment);
	tcase_add_test(t, valloc_page_aligned);
	tcase_add_test(t, pvalloc_rounds_to_page);
	suite_add_tcase(s, t);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
