/*
 * test_leakindex.c — the leak scan's view of the allocator
 * (preload/leaks/leakindex.c), on blocks from the real allocator (linked
 * with the core): which block an address falls in, from the pagemap and
 * the slab or page geometry; the walks in address order; headers that a
 * one-byte underrun damaged (still blocks) and headers smashed beyond
 * trust (skipped, counted). The index is built with the allocator's
 * locks held: nothing is asserted before they are released (a failed
 * assertion would leave them held for the next test when Check does not
 * fork, as in tests/e2e/sanitized_core.sh), failures are noted instead.
 * Blocks of earlier tests may still be live then: only ours are counted.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leaks/leakindex.h"

#define NSMALL 400

struct blk {
	char  *p;
	size_t size;
	bool   live;
};

static struct blk b[NSMALL + 16];
static size_t nb;

static char *alloc(size_t size, size_t align)
{
	char *p = hs_heap_alloc(size, align, align > HS_ALIGN ? HS_KIND_ALIGNED : HS_KIND_MALLOC, 7);
	ck_assert_ptr_nonnull(p);
	memset(p, 0, size);
	b[nb++] = (struct blk){ p, size, true };
	return p;
}

static void release(struct blk *x)
{
	enum hs_where w;
	struct hs_header *h = hs_heap_lookup(x->p, &w);
	ck_assert_ptr_nonnull(h);
	hs_heap_release(x->p, h, w);
	x->live = false;
}

/* Small blocks of many sizes, page blocks, aligned blocks (their header
 * moved up in the slot, or onto its own page), a huge block; every third
 * small one freed again. */
static void make_heap(void)
{
	hs_secret_init();
	nb = 0;
	for (size_t i = 0; i < NSMALL; i++)
		alloc(i % 7 == 0 ? 0 : (i * 37) % 3000, HS_ALIGN);
	alloc(20000, HS_ALIGN);
	alloc(100000, HS_ALIGN);
	alloc(64, 256);
	alloc(1000, 1024);
	alloc(5000, 8192);
	alloc((size_t)5 << 20, HS_ALIGN);
	for (size_t i = 0; i < NSMALL; i += 3)
		release(&b[i]);
}

static char why[256];

/* The first failure, reported once the locks are released. */
static void note(bool ok, const char *fmt, ...)
{
	if (ok || why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
}

static int ours(uintptr_t start)
{
	for (size_t i = 0; i < nb; i++)
		if ((uintptr_t)b[i].p == start)
			return (int)i;
	return -1;
}

static bool find(const struct hs_lk_index *ix, uintptr_t p, struct hs_lk_node *n)
{
	return ix->ops.find(&ix->ops, p, n);
}

static void build(struct hs_lk_index *ix)
{
	why[0] = 0;
	hs_buddy_lock();
	hs_huge_lock();
	note(hs_lk_index_build(ix), "no memory for the index");
}

static void done(struct hs_lk_index *ix)
{
	hs_lk_index_free(ix);
	hs_huge_unlock();
	hs_buddy_unlock();
	ck_assert_msg(!why[0], "%s", why);
}

START_TEST(finds_every_live_block)
{
	make_heap();
	struct hs_lk_index ix;
	build(&ix);
	size_t live = 0;
	for (size_t i = 0; i < nb; i++) {
		uintptr_t s = (uintptr_t)b[i].p;
		struct hs_lk_node n, m;
		if (!b[i].live) {
			note(!find(&ix, s, &n), "freed block %zu found", i);
			continue;
		}
		live++;
		if (!find(&ix, s, &n)) {
			note(false, "block %zu (size %zu) not found", i, b[i].size);
			continue;
		}
		note(n.start == s && n.size == b[i].size, "block %zu: found %#lx size %zu", i,
		     (unsigned long)n.start, n.size);
		note(!(*n.mark & HS_LK_ABSENT), "block %zu marked absent", i);
		size_t span = b[i].size ? b[i].size : 1;    /* size 0 covers a byte */
		note(find(&ix, s + span - 1, &m) && m.start == s && m.mark == n.mark,
		     "last byte of block %zu", i);
		note(!find(&ix, s + span, &m) || m.start != s, "one past block %zu", i);
		note(!find(&ix, s - 1, &m), "header of block %zu", i);
		if (i < NSMALL)
			note(n.where == hs_size_to_bin(hs_room(b[i].size, hs_guard)),
			     "block %zu: bin %u", i, n.where);
		if (i == NSMALL + 1)
			note(n.where == HS_BIN_LARGE, "a page block in bin %u", n.where);
		if (i == nb - 1)
			note(n.where == HS_BIN_HUGE && n.copy, "a huge block in bin %u", n.where);
	}
	note(ix.ops.n >= live, "%zu blocks numbered, %zu live", ix.ops.n, live);
	note(ix.damaged + ix.skipped == 0, "damage seen in a sound heap");
	struct hs_lk_node n;
	note(!find(&ix, 0, &n), "address 0");
	note(!find(&ix, (uintptr_t)&n, &n), "a stack address");
	done(&ix);
}
END_TEST

struct order {
	uintptr_t last;
	size_t count, mine;
	bool reverse, bad;
};

static void in_order(void *arg, const struct hs_lk_node *n)
{
	struct order *o = arg;
	if (o->count && (o->reverse ? n->start >= o->last : n->start <= o->last))
		o->bad = true;
	o->last = n->start;
	o->count++;
	int i = ours(n->start);
	o->mine += i >= 0 && b[i].live;
}

START_TEST(walks_in_address_order)
{
	make_heap();
	size_t live = 0;
	for (size_t i = 0; i < nb; i++)
		live += b[i].live;
	struct hs_lk_index ix;
	build(&ix);
	for (int rev = 0; rev < 2; rev++) {
		struct order o = { .reverse = rev };
		ix.ops.walk(&ix.ops, rev, HS_LK_ABSENT, 0, rev ? HS_LK_WALK_WORDS : 0, in_order, &o);
		note(!o.bad, "walk (reverse %d) not in address order", rev);
		note(o.mine == live, "walk (reverse %d) met %zu of our %zu live blocks", rev,
		     o.mine, live);
		note(o.count >= o.mine, "walk counts");
	}
	done(&ix);
}
END_TEST

/* The graph over the allocator's node set: what a root points to is
 * reachable, a block hanging off a lost block is indirect. */
START_TEST(classifies_over_the_index)
{
	make_heap();
	char *kept = b[1].p, *lost = b[2].p;
	ck_assert_uint_ge(b[2].size, 8);
	*(char **)lost = b[5].p;                         /* lost -> b5          */
	uintptr_t roots[1] = { (uintptr_t)kept };
	struct hs_lk_index ix;
	build(&ix);
	uintptr_t *scratch = calloc(3 * ix.ops.n + 3, sizeof *scratch);
	struct hs_lk_graph g;
	hs_lk_init(&g, &ix.ops, scratch);
	hs_lk_scan_root(&g, (uintptr_t)roots, (uintptr_t)(roots + 1));
	hs_lk_classify(&g);
	struct hs_lk_node n;
	int k[3] = { -1, -1, -1 };
	if (find(&ix, (uintptr_t)kept, &n))
		k[0] = *n.mark & HS_LK_STATE;
	if (find(&ix, (uintptr_t)lost, &n))
		k[1] = *n.mark & HS_LK_STATE;
	if (find(&ix, (uintptr_t)b[5].p, &n))
		k[2] = *n.mark & HS_LK_STATE;
	free(scratch);
	done(&ix);
	ck_assert_int_eq(k[0], HS_LK_REACHABLE);
	ck_assert_int_eq(k[1], HS_LK_UNREACHED);
	ck_assert_int_eq(k[2], HS_LK_INDIRECT);
}
END_TEST

START_TEST(damaged_headers)
{
	make_heap();
	struct blk *under = &b[4], *smashed = &b[5], *large = &b[NSMALL + 1];
	ck_assert(under->live && smashed->live && large->live);
	under->p[-1] ^= 0x40;                          /* the check's top byte */
	memset(smashed->p - HS_HEADER_SIZE, 0xA5, HS_HEADER_SIZE);
	large->p[-2] ^= 0x01;                          /* two bytes in: still */
	struct hs_lk_index ix;
	build(&ix);
	struct hs_lk_node n;
	note(find(&ix, (uintptr_t)under->p, &n) && n.size == under->size, "underrun block");
	note(find(&ix, (uintptr_t)large->p, &n) && n.size == large->size, "page block");
	note(!find(&ix, (uintptr_t)smashed->p, &n), "smashed block found");
	note(ix.damaged == 2, "%zu damaged, want 2", ix.damaged);
	note(ix.skipped == 1 && ix.skipped_bytes >= smashed->size, "%zu skipped (%zu bytes)",
	     ix.skipped, ix.skipped_bytes);
	done(&ix);
	/* the next test (without fork) must not meet them */
	under->p[-1] ^= 0x40;
	large->p[-2] ^= 0x01;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leakindex");
	TCase *tc = tcase_create("index");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, finds_every_live_block);
	tcase_add_test(tc, walks_in_address_order);
	tcase_add_test(tc, classifies_over_the_index);
	tcase_add_test(tc, damaged_headers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
