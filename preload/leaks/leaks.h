/*
 * leaks.h — the leak scan (preload/leaks/): what it owns and offers.
 *
 *   leaks.c        the scan: prepare, collect (index, roots, classify),
 *                  write the `C`, `B`, `Z` and `V` lines
 *   leakindex.c    the live blocks from the allocator's own structures
 *   leakarray.c    a node set over a sorted array (huge, boot blocks)
 *   leakrecords.c  the exit records
 *   leakexit.c     where the exiting thread's live frames begin
 *   leakgraph.c    memcheck's classification over the block graph
 *   leakroots.c    the roots: writable segments, thread stacks,
 *   leakmaps.c     registers, TLS (/proc/self/maps, thread list)
 *   leakthreads.c
 *
 * May call: record/ (the trace, stack ids), alloc/ (the live-block walk,
 * locks) and internal.h.
 */
#ifndef HS_LEAKS_H
#define HS_LEAKS_H

#include "alloc/alloc.h"

#include "alloc/world.h"

/* The thread that runs the scan: its stack is live from sp up (below it
 * are the scan's own frames); regs are more roots (at a signal, the
 * interrupted registers, which the handler's frame may not hold); memory
 * in [skip_lo, skip_hi) is not a root (an alternate signal stack the
 * scan runs on, holding only its own frames). */
struct hs_lk_self {
	uintptr_t sp;
	const uintptr_t *regs;
	size_t    nregs;
	uintptr_t skip_lo, skip_hi;
};

/* Classify every live block (memcheck's four kinds) and write the `C`,
 * `B`, `Z` and `V` lines, in three steps around a world stop
 * (hooks/ending.c):
 *   prepare  before it: looks up what needs the loader's lock (our own
 *            object, the unwind to the frame that called exit); false if
 *            the scan is not to run (already done, nothing recorded);
 *   collect  while the other threads are stopped (w; NULL if they were
 *            not) and every allocator lock is held: the walk and the
 *            classification; false on failure (hs_leaks_failure says
 *            why). May be called again after hs_leaks_discard;
 *   write    after they were resumed: the `C`, `B`, `Z` and `V` lines. */
bool hs_leaks_prepare(void);
bool hs_leaks_collect(const struct hs_world *w, const struct hs_lk_self *self);
void hs_leaks_discard(void);
const char *hs_leaks_failure(void);
void hs_leaks_write(void);

#endif
