/*
 * stackcache.h — the hit half of stackcache.c, inline: the allocation
 * hooks (hookentry.h) look their caller's stack up here before calling
 * anything. stackcache.c says what an entry proves and why.
 */
#ifndef HS_STACKCACHE_H
#define HS_STACKCACHE_H

#include "trace.h"

#define HS_SC_ENTRIES 512               /* per thread, direct mapped       */
#define HS_SC_POOL    16384             /* frames per thread, all entries  */

struct hs_sc_frame {
	uintptr_t slot;                 /* where frame k's return address was */
	uintptr_t ip;                   /* ... and that address               */
};

/* 32 bytes: the table is 16 KiB, and the frames live apart, in a pool
 * filled in order, so memory is touched for the frames stacks really have
 * (entries sized for the deepest stack made a thread with a few hundred
 * call sites touch most of 264 KiB; docs/ARCHITECTURE.md). */
struct hs_sc_entry {
	uintptr_t ra, cfa;              /* the key; ra 0 = empty or filling   */
	uint32_t  id;                   /* interned stack                     */
	uint32_t  nf;                   /* frames after frame 0 (the key)     */
	uint32_t  gen;                  /* trace generation its S line is in  */
	uint32_t  off;                  /* frames 1 .. nf: pool[off ...]      */
};

/* This thread's cache: the table, then the pool, in one mapping. base is
 * NULL until the first stack is recorded (so a non-NULL base also says
 * recording is on), when the cache is off, or after thread exit (failed
 * then says not to map it again). pool_used is only ever moved by one
 * atomic add, so a signal handler that fills entries in the middle of a
 * fill takes frames of its own. */
struct hs_stack_cache {
	char    *base;
	int      depth;                 /* frames an entry can hold           */
	int      failed;
	_Atomic uint32_t pool_used;     /* frames handed out since the reset  */
	uint32_t epoch;                 /* resets so far                      */
};
extern __thread __attribute__((visibility("hidden"))) struct hs_stack_cache hs_sc;

#define HS_SC_TABLE_BYTES (HS_SC_ENTRIES * sizeof(struct hs_sc_entry))

static inline struct hs_sc_entry *hs_sc_slot(char *base, uintptr_t ra, uintptr_t cfa)
{
	/* cfa's varying bits (4..20 or so) rotated clear of ra's, so that
	 * two keys do not cancel out in the xor */
	uint64_t h = (ra ^ (cfa << 23 | cfa >> 41)) * 0x9E3779B97F4A7C15ull;
	return (struct hs_sc_entry *)base + (h >> (64 - 9));
}

static inline struct hs_sc_frame *hs_sc_pool(char *base)
{
	return (struct hs_sc_frame *)(base + HS_SC_TABLE_BYTES);
}
_Static_assert(HS_SC_ENTRIES == 1 << 9, "hs_sc_slot uses 9 bits");

static inline __attribute__((always_inline)) bool hs_sc_same(const struct hs_sc_frame *f)
{
	return *(const uintptr_t *)f->slot == f->ip;
}

/* The entry for the program's call (ra, cfa) if every frame it recorded
 * is still on the stack, else NULL. */
static inline __attribute__((always_inline))
struct hs_sc_entry *hs_sc_probe(uintptr_t ra, uintptr_t cfa)
{
	char *base = hs_sc.base;
	if (unlikely(!base))
		return NULL;
	struct hs_sc_entry *e = hs_sc_slot(base, ra, cfa);
	if (e->ra != ra || e->cfa != cfa)
		return NULL;
	/* In order, stopping at the first difference: a slot is known to
	 * lie on a live stack only when the frames below it matched.
	 * Unrolled: deep stacks spend most of the hit here. */
	const struct hs_sc_frame *f = hs_sc_pool(base) + e->off;
	unsigned k = e->nf;
	for (; k >= 4; k -= 4, f += 4)
		if (!hs_sc_same(&f[0]) || !hs_sc_same(&f[1]) ||
		    !hs_sc_same(&f[2]) || !hs_sc_same(&f[3]))
			return NULL;
	if (k >= 2) {
		if (!hs_sc_same(&f[0]) || !hs_sc_same(&f[1]))
			return NULL;
		f += 2;
		k -= 2;
	}
	if (k && !hs_sc_same(&f[0]))
		return NULL;
	/* Read the key again, after the check (stackcache.c: Signals). */
	atomic_signal_fence(memory_order_seq_cst);
	if (unlikely(e->ra != ra || e->cfa != cfa))
		return NULL;
	return e;
}

/* The id of a verified entry whose S line is known to be in the current
 * trace, else 0 (then hs_stack_capture_from asks stacks.c). */
static inline __attribute__((always_inline))
uint32_t hs_sc_hit(uintptr_t ra, uintptr_t cfa)
{
	struct hs_sc_entry *e = hs_sc_probe(ra, cfa);
	if (likely(e && e->gen == atomic_load_explicit(&hs_stack_trace_gen,
	                                               memory_order_relaxed)))
		return e->id;
	return 0;
}

#endif
