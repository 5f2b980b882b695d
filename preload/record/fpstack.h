/*
 * fpstack.h — the inline half of fpstack.c: walk the frame pointers from
 * a free's caller and look the stack up in this thread's cache.
 */
#ifndef HS_FPSTACK_H
#define HS_FPSTACK_H

#include "trace.h"          /* HS_STACK_MAX, hs_stack_intern */

enum { HS_FPB_UNKNOWN, HS_FPB_BUSY, HS_FPB_KNOWN, HS_FPB_NONE };

/* This thread's stack, found once (hs_fp_find_bounds). */
struct hs_fp_bounds {
	uintptr_t lo, hi;
	unsigned depth;                 /* frames to record (hs_cfg)          */
	int state;
};
extern __thread struct hs_fp_bounds hs_fpb;

/* Interning looks a stack up in the shared table (hash, probe, compare
 * every frame). A program frees from few places, so each thread keeps the
 * ids of its recent free stacks by a 64-bit hash of the frames: a hit
 * skips the table. Two stacks with one hash (odds 2^-64 per pair) would
 * share an id: a wrong free stack, never a crash. */
#define HS_FP_CACHE 64
struct hs_fp_cache {
	uint64_t hash;                  /* 0: empty                           */
	uint32_t id;
};
extern __thread struct hs_fp_cache hs_fpc[HS_FP_CACHE];

void     hs_fp_find_bounds(void);
/* Intern a stack the cache missed, and remember it. */
uint32_t hs_fp_intern(const uintptr_t *ips, unsigned n, uint64_t hash);

/* See internal.h. The frames must lie on this thread's stack, each above
 * the last, starting above us (ips[] marks where we are): never a read of
 * memory that may be unmapped. */
static inline __attribute__((always_inline))
uint32_t hs_stack_capture_fp(uintptr_t ra, uintptr_t fp)
{
	uintptr_t ips[HS_STACK_MAX];
	unsigned n = 1;
	struct hs_fp_bounds *tb = &hs_fpb;
	if (unlikely(tb->state == HS_FPB_UNKNOWN))
		hs_fp_find_bounds();
	ips[0] = ra;
	uint64_t h = 0x6a09e667f3bcc909ull ^ ra;
	uintptr_t prev = (uintptr_t)ips;
	if (likely(tb->state == HS_FPB_KNOWN && prev >= tb->lo && prev < tb->hi)) {
		uintptr_t top = tb->hi - 16;
		unsigned depth = tb->depth;
		/* fp: the caller's frame; [fp] its caller's fp, [fp + 8] the
		 * return address into its caller */
		while (fp > prev && fp <= top && !(fp & 7) && n < depth) {
			const uintptr_t *f = (const uintptr_t *)fp;
			if (f[1] < 4096)
				break;
			ips[n++] = f[1];
			h = (h ^ f[1]) * 0x9E3779B97F4A7C15ull;
			h ^= h >> 32;
			prev = fp;
			fp = f[0];
		}
	}
	h = (h ^ n) * 0x9E3779B97F4A7C15ull;
	h |= 1;
	struct hs_fp_cache *c = &hs_fpc[(h >> 58) & (HS_FP_CACHE - 1)];
	if (likely(c->hash == h))
		return c->id;
	return hs_fp_intern(ips, n, h);
}

#endif
