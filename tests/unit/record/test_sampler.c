/*
 * test_sampler.c — the sampler's pieces, linked with the preload core:
 * /proc/self/status parsing, the `h` cell encoder on hand-built arenas
 * (every page state, repeats, a broken head) and on the real heap, and
 * the bins' granted-bytes counters.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/sampler.h"

START_TEST(status_parse)
{
	const char text[] =
		"Name:\tx\nVmPeak:\t  99999 kB\nVmSize:\t   12345 kB\nVmLck:\t       0 kB\n"
		"VmRSS:\t     678 kB\nVmData:\t    910 kB\nVmStk:\t 132 kB\n";
	struct hs_vm vm;
	hs_vm_parse(text, sizeof text - 1, &vm);
	ck_assert_uint_eq(vm.size_kb, 12345);
	ck_assert_uint_eq(vm.rss_kb, 678);
	ck_assert_uint_eq(vm.data_kb, 910);
	hs_vm_parse("VmSize: 7", 9, &vm);          /* last line without newline */
	ck_assert_uint_eq(vm.size_kb, 7);
	ck_assert_uint_eq(vm.rss_kb, 0);
}
END_TEST

START_TEST(status_read)
{
	struct hs_vm vm;
	ck_assert(hs_vm_read(&vm));
	ck_assert_uint_gt(vm.size_kb, 0);
	ck_assert_uint_gt(vm.rss_kb, 0);
	ck_assert_uint_le(vm.rss_kb, vm.size_kb);
}
END_TEST

static struct hs_arena *arena(void)
{
	struct hs_arena *a = calloc(1, sizeof *a);
	a->base = (char *)0x7f0000400000ull;
	return a;
}

static void block(struct hs_arena *a, size_t i, unsigned state, size_t n, struct hs_slab *s)
{
	a->pages[i].state = (uint8_t)state;
	a->pages[i].npages = (uint32_t)n;
	a->pages[i].slab = s;
	for (size_t k = 1; k < n; k++) {
		a->pages[i + k].state = PG_TAIL;
		a->pages[i + k].head = (uint32_t)i;
	}
}

static void free_block(struct hs_arena *a, size_t i, unsigned order, int dirty)
{
	a->pages[i].state = PG_FREE;
	a->pages[i].order = (uint8_t)order;
	a->pages[i].dirty = (uint8_t)dirty;
}

START_TEST(encode_every_state)
{
	struct hs_arena *a = arena();
	struct hs_slab s48 = { .slot_size = 48, .used = 3, .capacity = 341 };
	struct hs_slab s5k = { .slot_size = 5120, .used = 8, .capacity = 8 };
	block(a, 0, PG_SLAB, 4, &s48);
	block(a, 4, PG_LARGE, 10, NULL);
	free_block(a, 14, 1, 1);
	free_block(a, 16, 4, 0);
	block(a, 32, PG_SLAB, 10, &s5k);
	block(a, 42, PG_SLAB, 10, &s5k);
	block(a, 52, PG_SLAB, 10, &s5k);
	free_block(a, 62, 1, 0);
	for (unsigned o = 6; o <= 9; o++)
		free_block(a, (size_t)1 << o, o, 0);
	char out[HS_CELLS_MAX];
	size_t n = hs_snap_encode_arena(a, out, sizeof out);
	out[n] = 0;
	ck_assert_str_eq(out, "s48:4:3/341 l10 F1 f4 s5120:10:8/8*3 f1 f6 f7 f8 f9");
	ck_assert_uint_eq(hs_snap_encode_arena(a, out, 20), 0);   /* too small */
	free(a);
}
END_TEST

START_TEST(encode_whole_and_broken)
{
	struct hs_arena *a = arena();
	free_block(a, 0, HS_MAX_ORDER, 0);
	char out[HS_CELLS_MAX];
	size_t n = hs_snap_encode_arena(a, out, sizeof out);
	out[n] = 0;
	ck_assert_str_eq(out, "f10");
	/* heads that make no sense become unknown pages, one each */
	memset(a->pages, 0, sizeof a->pages);
	block(a, 0, PG_LARGE, 1020, NULL);
	a->pages[1020].state = PG_TAIL;          /* a tail where a head belongs */
	a->pages[1021].state = PG_TAIL;
	a->pages[1022].state = PG_LARGE;         /* runs past the arena */
	a->pages[1022].npages = 5;
	free_block(a, 1023, 3, 0);               /* misaligned free block */
	n = hs_snap_encode_arena(a, out, sizeof out);
	out[n] = 0;
	ck_assert_str_eq(out, "l1020 u1*4");
	free(a);
}
END_TEST

/* Sum of pages in a cell string (the analyzer's parser checks the rest). */
static unsigned pages_of(const char *cells, bool *has)
{
	unsigned total = 0;
	for (const char *p = cells; *p; ) {
		unsigned n = 0, rep = 1, order;
		char t = *p;
		if (t == 'f' || t == 'F') {
			sscanf(p + 1, "%u", &order);
			n = 1u << order;
		} else if (t == 'l' || t == 'u') {
			sscanf(p + 1, "%u", &n);
		} else if (t == 's') {
			unsigned slot, used, cap;
			sscanf(p + 1, "%u:%u:%u/%u", &slot, &n, &used, &cap);
		}
		const char *e = strchr(p, ' ');
		const char *star = memchr(p, '*', e ? (size_t)(e - p) : strlen(p));
		if (star)
			sscanf(star + 1, "%u", &rep);
		if (t == 'l' && n == 25)
			*has = true;
		total += n * rep;
		p = e ? e + 1 : p + strlen(p);
	}
	return total;
}

static void check_arena(struct hs_arena *a, void *ctx)
{
	char *out = malloc(HS_CELLS_MAX + 1);
	size_t n = hs_snap_encode_arena(a, out, HS_CELLS_MAX);
	ck_assert_uint_gt(n, 0);
	out[n] = 0;
	ck_assert_msg(pages_of(out, ctx) == 1024, "%s", out);
	free(out);
}

START_TEST(encode_real_heap)
{
	hs_secret_init();
	void *big = hs_heap_alloc(100000, 16, HS_KIND_MALLOC, 0);   /* 25 pages */
	void *small[100];
	for (int i = 0; i < 100; i++)
		small[i] = hs_heap_alloc(100, 16, HS_KIND_MALLOC, 0);
	struct hs_bins_usage u;
	hs_bins_usage(&u);
	ck_assert_uint_ge(u.granted, 100 * 128);     /* 100 + 16 bytes: 128-byte slots */
	ck_assert_uint_ge(u.slab_pages, 4);
	bool has = false;
	hs_buddy_foreach_arena(check_arena, &has);
	ck_assert(has);
	/* (lookup first: as call arguments, `w` could be read before the
	 * lookup in the same call sets it) */
	enum hs_where w;
	struct hs_header *h = hs_heap_lookup(big, &w);
	ck_assert_ptr_nonnull(h);
	hs_heap_release(big, h, w);
	for (int i = 0; i < 100; i++) {
		h = hs_heap_lookup(small[i], &w);
		ck_assert_ptr_nonnull(h);
		hs_heap_release(small[i], h, w);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sampler");
	TCase *tc = tcase_create("sampler");
	tcase_add_test(tc, status_parse);
	tcase_add_test(tc, status_read);
	tcase_add_test(tc, encode_every_state);
	tcase_add_test(tc, encode_whole_and_broken);
	tcase_add_test(tc, encode_real_heap);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
