/*
 * thread.h — what the allocator keeps per thread, and the claim.
 *
 * One TLS block (struct hs_thread): the thread cache the inline paths pop
 * and push (fastpath.h), the counters they bump, the busy flag that sends
 * a signal handler's malloc elsewhere (boot.c). Initial-exec TLS in a
 * shared object costs a load of each variable's offset from the GOT, so
 * one block is one load for an entry point that touches all three.
 *
 * hs_header_claim: LIVE -> FREED in one atomic step, the first thing
 * every release does (header.h: the state is outside the check).
 *
 * Part of alloc.h, which includes it where HS_NR_BINS is known.
 */
#ifndef HS_THREAD_H
#define HS_THREAD_H

#include "header.h"

/* Per-thread cache: one singly linked list per bin, no lock. */
struct hs_tcache_bin {
	void    *head;                  /* slot (header address) list         */
	uint32_t count;
	uint32_t limit;                 /* flush half when count exceeds it;
	                                   0 while the cache is not live
	                                   (state 0 or 2), so the inline free
	                                   tests this alone                  */
};
struct hs_tcache {
	struct hs_tcache_bin bins[HS_NR_BINS];
	int state;                      /* 0 unset, 1 live, 2 torn down       */
};

struct hs_tstat {
	uint64_t allocs, frees;
	int64_t  live;                          /* bytes, since the last fold */
};

struct hs_thread {
	volatile int busy;              /* inside the allocator proper: a
	                                   malloc now comes from a signal
	                                   handler (boot.c)                   */
	int solo;                       /* the first thread to allocate: it
	                                   claims blocks without the lock
	                                   until there are threads
	                                   (hs_header_claim)                  */
	int seen;                       /* has allocated (heap.c)             */
	struct hs_tstat ts;             /* counters, folded on slow paths     */
	struct hs_tcache tc;            /* the thread cache                   */
};
extern __thread struct hs_thread hs_thread;
#define hs_busy (hs_thread.busy)
#define hs_ts   (hs_thread.ts)
#define hs_tc   (hs_thread.tc)

/* Set for good once a second thread may free blocks: from then on two
 * threads may free one block at once. */
extern volatile int hs_threaded;

/* LIVE -> FREED in one atomic step: true for the one caller that made
 * it. w0 is the word the caller saw LIVE (and vetted); on false it holds
 * what is there now (a racing free won, or the block was never LIVE).
 *
 * With threads, a locked compare-and-swap: of racing frees, the one
 * whose lock comes first wins. The lock prefix is a full barrier: it
 * waits for every store before it (the program's own, often to lines
 * not in cache yet) and holds up every load after it; on churn1 with
 * checks that was 10% of the run (8 ms of 83, 1M frees). While one
 * thread alone allocates and frees, the same instruction without the
 * lock: one instruction, so a signal handler that frees the block too
 * sees it before or after, never between the test and the store. That
 * thread is the first to allocate (heap.c marks it `solo`).
 * pthread_create and thrd_create set hs_threaded before the new thread
 * exists (hooks/hook_thread.c); any other thread (libc's timer and AIO
 * helpers, clone) sets it at its first claim, which locks: the one gap
 * is a free on the first thread racing that very claim on the same
 * block. */
static inline bool hs_header_claim(struct hs_header *h, uint64_t *w0)
{
	uint64_t to = hs_w0_with_state(*w0, HS_FREED);
#if defined(__x86_64__)
	if (__builtin_expect(!hs_threaded, 1)) {
		if (__builtin_expect(hs_thread.solo, 1)) {
			bool ok;
			__asm__ volatile("cmpxchgq %3, %1"
			                 : "=@ccz"(ok), "+m"(*(uint64_t *)(void *)h), "+a"(*w0)
			                 : "r"(to) : "memory");
			return ok;
		}
		hs_threaded = 1;        /* a second thread claims: lock from now on */
		atomic_thread_fence(memory_order_seq_cst);
	}
#endif
	return __atomic_compare_exchange_n((uint64_t *)(void *)h, w0, to, false,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

#endif
