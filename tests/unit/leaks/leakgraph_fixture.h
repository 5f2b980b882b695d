/*
 * leakgraph_fixture.h — shared by the Check tests of preload/leaks/leakgraph.c:
 * blocks carved from a static "heap" buffer (with gaps, so neighbours
 * never touch), a static array of root words, and helpers to plant
 * pointers and read back kinds. One test binary includes it once.
 */
#ifndef LEAKGRAPH_FIXTURE_H
#define LEAKGRAPH_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "leaks/leakgraph.h"

#define MAXB 64

static _Alignas(16) unsigned char heap[1 << 16];
static uintptr_t roots[64];
static struct hs_lk_entry blocks[MAXB];
static uintptr_t scratch[3 * MAXB];
static size_t nblocks;
static size_t heap_used;
static struct hs_lk_array arr;
static struct hs_lk_graph g;

static void reset(void)
{
	memset(heap, 0, sizeof heap);
	memset(roots, 0, sizeof roots);
	nblocks = 0;
	heap_used = 64;             /* keep address 'heap' itself unused      */
}

/* A block of 'size' bytes at the next 16-aligned spot after a gap, so
 * that neighbouring blocks never touch. Returns its index. */
static size_t add(size_t size)
{
	ck_assert_uint_lt(nblocks, MAXB);
	uintptr_t start = (uintptr_t)heap + heap_used;
	heap_used += (size + 16 + 15) & ~(size_t)15;
	ck_assert_uint_le(heap_used, sizeof heap);
	blocks[nblocks] = (struct hs_lk_entry){ .start = start, .size = size };
	return nblocks++;
}

static uintptr_t *word(size_t blk, size_t index)
{
	return (uintptr_t *)(blocks[blk].start + index * sizeof(uintptr_t));
}

static uintptr_t addr(size_t blk)
{
	return blocks[blk].start;
}

/* A fresh graph over the blocks added so far (the array node set sorts
 * them and clears their marks). */
static void init_graph(void)
{
	hs_lk_array_init(&arr, blocks, nblocks);
	hs_lk_init(&g, &arr.ops, scratch);
}

static void classify_roots(size_t nroots)
{
	init_graph();
	hs_lk_scan_root(&g, (uintptr_t)roots, (uintptr_t)(roots + nroots));
	hs_lk_classify(&g);
}

static int kind_of(uintptr_t start)
{
	struct hs_lk_node n;
	ck_assert(hs_lk_find(&g, start, &n));
	ck_assert_uint_eq(n.start, start);
	return *n.mark & HS_LK_STATE;
}

#endif
