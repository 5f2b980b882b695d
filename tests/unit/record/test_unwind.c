/*
 * test_unwind.c — our DWARF unwinder (preload/unwind*.c), linked directly.
 *
 * On this process's own frames (built -O2, no frame pointers; plus an
 * alloca'd frame and a GCC stack-realigned one, whose CFA is read through
 * rbp) hs_unwind must give exactly the frames and stack pointers that a
 * libunwind cursor gives. Then the rules of a copy of this program's
 * .eh_frame segment, fenced by inaccessible pages, must equal those of
 * the original, and damaged copies (random bytes changed, or all noise)
 * must give "cannot" or some rule, never a read past the fence.
 */
#define UNW_LOCAL_ONLY
#include <check.h>
#include <libunwind.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record/unwind.h"

#define DEPTH 64

struct capture {
	int n, lu;
	uintptr_t ips[DEPTH], sps[DEPTH], lips[DEPTH], lsps[DEPTH];
};

/* stackcache.c's libunwind walk, as it is there. */
static __attribute__((noinline)) int walk_libunwind(uintptr_t ra, uintptr_t cfa,
                                                    uintptr_t *ips, uintptr_t *sps)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	if (unw_getcontext(&ctx) || unw_init_local(&cur, &ctx))
		return 0;
	int n = 0, guard = 0;
	while (unw_step(&cur) > 0 && n < DEPTH) {
		unw_word_t ip, sp;
		unw_get_reg(&cur, UNW_REG_IP, &ip);
		unw_get_reg(&cur, UNW_REG_SP, &sp);
		if (n == 0 && (ip != ra || sp != cfa)) {
			if (++guard > 16)
				return 0;
			continue;
		}
		ips[n] = ip;
		sps[n] = sp;
		n++;
	}
	return n;
}

/* The allocator's view: our caller is the program. */
static __attribute__((noinline)) void leaf(struct capture *c)
{
	uintptr_t ra = (uintptr_t)__builtin_return_address(0);
	uintptr_t cfa = (uintptr_t)__builtin_dwarf_cfa();
	c->n = hs_unwind(ra, cfa, DEPTH, c->ips, c->sps);
	c->lu = walk_libunwind(ra, cfa, c->lips, c->lsps);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void with_alloca(struct capture *c, int n)
{
	volatile char *p = __builtin_alloca(n);
	p[0] = 1;
	leaf(c);
	__asm__ volatile("" ::"r"(p) : "memory");
}

/* alloca plus an over-aligned local: GCC realigns the stack through a
 * DRAP register (CFA = *(rbp - 8), rbp saved at rbp + 0). */
static __attribute__((noinline)) void realigned(struct capture *c, int n)
{
	_Alignas(64) volatile char buf[64];
	volatile char *p = __builtin_alloca(n);
	buf[0] = p[0] = 2;
	with_alloca(c, n + 16);
	__asm__ volatile("" ::"r"(p), "r"(buf) : "memory");
}

static __attribute__((noinline)) void recurse(struct capture *c, int d)
{
	if (d == 0)
		realigned(c, 40);
	else if (d & 1)
		recurse(c, d - 1);
	else
		recurse(c, d - 1);
	__asm__ volatile("" ::: "memory");
}

static void same_as_libunwind(const struct capture *c, int min)
{
	ck_assert_int_ge(c->lu, min);
	ck_assert_int_eq(c->n, c->lu);
	for (int i = 0; i < c->n; i++) {
		ck_assert_msg(c->ips[i] == c->lips[i] && c->sps[i] == c->lsps[i],
		              "frame %d: ours %lx/%lx, libunwind %lx/%lx", i,
		              (unsigned long)c->ips[i], (unsigned long)c->sps[i],
		              (unsigned long)c->lips[i], (unsigned long)c->lsps[i]);
	}
}

START_TEST(own_frames_like_libunwind)
{
	struct capture c;
	leaf(&c);
	same_as_libunwind(&c, 3);               /* test, check, main ... */
	with_alloca(&c, 100);
	same_as_libunwind(&c, 4);
	realigned(&c, 200);
	same_as_libunwind(&c, 5);
	recurse(&c, 12);
	same_as_libunwind(&c, 17);
	/* the rules come from the cache the second time: still the same */
	recurse(&c, 12);
	same_as_libunwind(&c, 17);
}
END_TEST

START_TEST(depth_and_missing_key)
{
	uintptr_t ips[4], sps[4];
	uintptr_t ra = (uintptr_t)__builtin_return_address(0);
	/* a key no frame has: not found, the caller must use libunwind */
	ck_assert_int_eq(hs_unwind(ra, 8, 4, ips, sps), -HS_UNW_NOKEY);
	struct capture c;
	recurse(&c, 6);
	ck_assert_int_gt(c.n, 4);
}
END_TEST

/* ---- rules from a copy of our own .eh_frame segment ------------------- */

static struct hs_ehmod self;
static char *copy;                      /* the segment copy, fenced        */
static size_t seg_len, fenced_len;

/* Byte by byte, unseen by AddressSanitizer (sanitized_core.sh): the
 * segment holds the .rodata globals too, with their redzones. */
__attribute__((no_sanitize_address)) static void copy_bytes(char *to, const char *from,
                                                           size_t n)
{
	for (size_t i = 0; i < n; i++)
		to[i] = ((const volatile char *)from)[i];
}

static void copy_segment(void)
{
	ck_assert_int_eq(hs_unwind_find_module((uintptr_t)&leaf, &self), 0);
	seg_len = self.seg_hi - self.seg_lo;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (seg_len + page - 1) & ~(page - 1);
	fenced_len = body + 2 * page;
	char *m = mmap(NULL, fenced_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m + page, body, PROT_READ | PROT_WRITE), 0);
	/* end the copy at the fence, so a read past the segment faults */
	copy = m + page + (body - seg_len);
	copy_bytes(copy, (const char *)self.seg_lo, seg_len);
}

static struct hs_ehmod copied(void)
{
	intptr_t d = (intptr_t)copy - (intptr_t)self.seg_lo;
	struct hs_ehmod m = self;
	m.text_lo += d;
	m.text_hi += d;
	m.hdr += d;
	m.seg_lo += d;
	m.seg_hi += d;
	return m;
}

/* Addresses all over our text, the same each run. */
static uintptr_t addr_at(unsigned i)
{
	return self.text_lo + (uintptr_t)(i * 2654435761u) % (self.text_hi - self.text_lo);
}

START_TEST(copy_reads_same_rules)
{
	copy_segment();
	struct hs_ehmod m = copied();
	intptr_t d = (intptr_t)copy - (intptr_t)self.seg_lo;
	unsigned good = 0;
	for (unsigned i = 0; i < 5000; i++) {
		uintptr_t a = addr_at(i);
		uint64_t r = hs_cfi_rule(&self, a);
		ck_assert_uint_eq(r, hs_cfi_rule(&m, a + d));
		good += !(r & HS_R_CANNOT);
	}
	ck_assert_uint_gt(good, 4000);          /* nearly all code has FDEs */
	/* what the rule says for a function we know: rsp-based, RA at CFA-8 */
	uint64_t r = hs_cfi_rule(&self, (uintptr_t)&walk_libunwind);
	ck_assert_uint_eq(hs_r_cfa(r), HS_R_CFA_RSP);
	ck_assert_int_eq(hs_r_off(r), 8);
	ck_assert_int_eq(hs_r_ra_off(r), -8);
}
END_TEST

START_TEST(damaged_copies_never_read_outside)
{
	copy_segment();
	struct hs_ehmod m = copied();
	intptr_t d = (intptr_t)copy - (intptr_t)self.seg_lo;
	char *pristine = malloc(seg_len);
	memcpy(pristine, copy, seg_len);
	size_t hdr_off = self.hdr - self.seg_lo;
	srandom(13);
	unsigned cannot = 0, calls = 0;
	for (int round = 0; round < 3000; round++) {
		memcpy(copy, pristine, seg_len);
		int flips = 1 + (int)(random() % 8);
		for (int f = 0; f < flips; f++) {
			/* half in the header and its table, half anywhere */
			size_t at = (round & 1) ? hdr_off + (size_t)random() % 64
			                        : (size_t)random() % seg_len;
			if (at < seg_len)
				copy[at] = (char)random();
		}
		for (unsigned i = 0; i < 40; i++, calls++)
			cannot += !!(hs_cfi_rule(&m, addr_at((unsigned)random()) + d) & HS_R_CANNOT);
	}
	/* all noise: nothing parses as a table */
	for (size_t i = 0; i < seg_len; i++)
		copy[i] = (char)random();
	for (unsigned i = 0; i < 2000; i++)
		ck_assert(hs_cfi_rule(&m, addr_at(i) + d) & HS_R_CANNOT);
	/* a header pointing at the fence */
	m.hdr = m.seg_hi - 2;
	ck_assert(hs_cfi_rule(&m, addr_at(1) + d) & HS_R_CANNOT);
	free(pristine);
	ck_assert_uint_lt(cannot, calls);       /* and it was not all refused */
}
END_TEST

static Suite *unwind_suite(void)
{
	Suite *s = suite_create("unwind");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, own_frames_like_libunwind);
	tcase_add_test(tc, depth_and_missing_key);
	tcase_add_test(tc, copy_reads_same_rules);
	tcase_add_test(tc, damaged_copies_never_read_outside);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(unwind_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
