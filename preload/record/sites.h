/*
 * sites.h — the heap profile by allocation site: per-thread counters
 * indexed by stack id, updated inline by the entry points (hookentry.h,
 * fastpath.h, the checked free) and merged by the sampler (sites.c,
 * sites_write.c).
 *
 * A site is an interned allocation stack. Each thread owns a table of
 * struct hs_site_ctr indexed by stack id (ids are dense, 1..count; 0 is
 * "not recorded"). The owner updates its entries with plain loads and
 * stores: no lock, no atomic read-modify-write. The sampler reads every
 * registered thread's table under the registry lock and adds them up; an
 * aligned 64-bit store is one instruction on the targets we support, so
 * a reader sees the old value or the new one, never half of each.
 * Blocks freed by another thread than the one that allocated them make
 * that thread's entry go negative; the sums are right.
 *
 * What each entry counts (docs/TRACE-FORMAT.md, `Q` lines):
 *   calls      successful allocation calls at this site (realloc included)
 *   bytes      bytes those calls asked for
 *   temporary  blocks freed before the same thread allocated again
 *              (heaptrack's definition): the thread remembers the last
 *              block it allocated (as ~address: the leak scan reads TLS
 *              and must not find it there), and a free of that very block
 *              counts
 *   live       bytes allocated here minus bytes freed of blocks from here
 *   at_peak    live as it was at the heap's peak, kept lazily: a new peak
 *              bumps hs_site_epoch (O(1)), and the first update of an entry
 *              after that copies live into at_peak before changing it; an
 *              entry whose epoch is the current one has its value at the
 *              peak in at_peak, any other entry has not changed since the
 *              peak, so its live is that value.
 *
 * The peak. Live bytes can only fall at a free, so a free that finds the
 * heap above the highest value seen so far ends a new peak: it bumps the
 * epoch before its own update. The thread's view of the live heap is the
 * global total at its last fold (base, set by hs_sites_on_fold from the
 * sampler's tick) plus its own unfolded delta (hs_ts.live): exact in a
 * single-threaded program, off by what other threads have not folded yet
 * in a threaded one. The test is one compare on the free path against
 * room = peak + peak/512 - base: a new peak is noted when it passes the
 * old one by 0.2%, so a heap that creeps upward by a few bytes at a time
 * does not pay for a new peak on every free. A peak reached by a rise
 * without frees, then left by a free, is exact.
 */
#ifndef HS_SITES_H
#define HS_SITES_H

#include "record.h"

/* One site in one thread's table. 48 bytes. The three fields every
 * allocation adds to are not next to each other: GCC would pair two
 * neighbours into one SSE add, six instructions where two do. */
struct hs_site_ctr {
	uint64_t calls;
	int64_t  at_peak;
	uint64_t bytes;
	uint64_t temporary;
	int64_t  live;
	uint32_t epoch;                 /* hs_site_epoch when at_peak was set  */
	uint32_t unused;
};
_Static_assert(sizeof(struct hs_site_ctr) == 48, "hs_site_ctr is 48 bytes");

enum hs_site_state {
	HS_SITES_NEW = 0,               /* not looked at yet                   */
	HS_SITES_OFF,                   /* not recording: tab is &none, cap 1  */
	HS_SITES_ON,                    /* registered: tab is its own mapping  */
	HS_SITES_RETIRED,               /* thread exit ran: counts go to the
	                                   process's table of ended threads    */
};

/* This thread's table and its peak bookkeeping. */
struct hs_site_tls {
	struct hs_site_ctr *tab;        /* indexed by stack id                 */
	uint32_t cap;                   /* entries in tab; 0 = none yet        */
	uint32_t state;                 /* enum hs_site_state                  */
	uintptr_t last;                 /* ~address of the last block this thread
	                                   allocated: inverted, so that the leak
	                                   scan does not take it for a pointer
	                                   that keeps the block reachable     */
	int64_t  room;                  /* hs_ts.live above this: a new peak   */
	int64_t  base;                  /* global live bytes at the last fold  */
	struct hs_site_tls *next;       /* the registry of live threads        */
	bool     armed;                 /* its end will run hs_sites_thread_exit */
	size_t   map_len;               /* bytes of tab's mapping              */
	struct hs_site_ctr none;        /* the table while not recording      */
};
extern __thread __attribute__((visibility("hidden"))) struct hs_site_tls hs_st;
/* Bumped at every new peak (starts at 1, so a fresh entry, epoch 0, never
 * looks current). */
extern _Atomic uint32_t hs_site_epoch __attribute__((visibility("hidden")));

/* The slow halves: a table to grow or register, an entry's first change
 * since the peak (hs_site_keep_peak), a new peak, a failed allocation.
 * The inline halves below call them last, with nothing to keep across
 * the call, so they cost the entry points no registers. */
void hs_site_alloc_slow(uint32_t stack, size_t n, const void *p);
void hs_site_free_slow(uint32_t stack, size_t n, const void *p);
void hs_site_peak(void);
void hs_site_keep_peak(struct hs_site_ctr *e, uint32_t epoch);
/* realloc moved or resized a block: the old one (old_n bytes from
 * old_stack) is released, q (n bytes from stack) allocated; q NULL: it
 * failed. Not a temporary allocation either way. */
void hs_site_realloc(uint32_t old_stack, size_t old_n, uint32_t stack, size_t n,
                     const void *q);

/* An allocation call returned p (NULL: it failed, which the slow path
 * takes as the moment memory ran out). */
static inline __attribute__((always_inline))
void hs_site_alloc(uint32_t stack, size_t n, const void *p)
{
	struct hs_site_tls *st = &hs_st;
	uint32_t ep = atomic_load_explicit(&hs_site_epoch, memory_order_relaxed);
	if (likely(stack < st->cap) && likely(p != NULL)) {
		struct hs_site_ctr *e = &st->tab[stack];
		if (likely(e->epoch == ep)) {
			e->calls++;
			e->bytes += n;
			e->live += (int64_t)n;
			st->last = ~(uintptr_t)p;
			return;
		}
	}
	hs_site_alloc_slow(stack, n, p);
}

/* The program frees a live block of n bytes from site stack: the entry
 * to count it in, or NULL for anything unusual (a table to grow, an
 * entry's first change since the peak, a free that ends a new peak). Its
 * two halves let the inline free ask before it claims the block and count
 * after, and hand an unusual free to its slow path (which calls
 * hs_site_free) rather than make a call it must keep its registers
 * across. Called before the allocator's own count (hs_ts.live) goes down. */
static inline __attribute__((always_inline))
struct hs_site_ctr *hs_site_free_entry(uint32_t stack)
{
	struct hs_site_tls *st = &hs_st;
	uint32_t ep = atomic_load_explicit(&hs_site_epoch, memory_order_relaxed);
	if (unlikely(stack >= st->cap) || unlikely(hs_ts.live > st->room))
		return NULL;
	struct hs_site_ctr *e = &st->tab[stack];
	return likely(e->epoch == ep) ? e : NULL;
}

static inline __attribute__((always_inline))
void hs_site_free_apply(struct hs_site_ctr *e, size_t n, const void *p)
{
	struct hs_site_tls *st = &hs_st;
	e->live -= (int64_t)n;
	if (unlikely(~(uintptr_t)p == st->last)) {
		e->temporary++;
		st->last = 0;
	}
}

static inline __attribute__((always_inline))
void hs_site_free(uint32_t stack, size_t n, const void *p)
{
	struct hs_site_ctr *e = hs_site_free_entry(stack);
	if (likely(e))
		hs_site_free_apply(e, n, p);
	else
		hs_site_free_slow(stack, n, p);
}

/* realloc kept the block q where it was: n bytes from stack now, old_n
 * from old_stack before. Not a temporary allocation. */
static inline __attribute__((always_inline))
void hs_site_move(uint32_t old_stack, size_t old_n, uint32_t stack, size_t n, const void *q)
{
	struct hs_site_ctr *e = hs_site_free_entry(old_stack);
	if (unlikely(!e)) {
		hs_site_realloc(old_stack, old_n, stack, n, q);
		return;
	}
	e->live -= (int64_t)old_n;
	hs_site_alloc(stack, n, q);
}

/* ---- sites.c: the rest, off the fast path ---------------------------- */
/* At start-up, once recording is on: the fork handlers. */
void hs_sites_init(void);
/* From the sampler's tick: this thread just folded its counters and the
 * global live total is now `live`. */
void hs_sites_on_fold(int64_t live);
/* A thread's end (hooks/init.c, hs_thread_exit) folds its table into the
 * ended threads'. Only a thread whose end is known to come that way
 * (armed by hooks/hook_thread.c), or the main thread (the process ends
 * with it), registers a table of its own: the registry must never point
 * at the TLS of a thread that is gone. Others count in the ended
 * threads' table directly, under the lock. */
void hs_sites_thread_armed(void);
void hs_sites_thread_exit(void);

/* The merged view, for the sampler (caller holds the sampler's lock).
 * Its array grows with the threads' tables, at the same moments (a
 * table's growth, a thread's end): never from the timed samples, whose
 * mappings would move everything the program maps after them to other
 * addresses from one run to the next. */
struct hs_site_sum {
	uint64_t calls, bytes, temporary;
	int64_t  live, at_peak;
	int64_t  written;               /* live bytes in the site's last `U`  */
};
/* Add up every thread's table and the ended threads'; calls fn for each
 * site id in order, under the registry lock (fn must not allocate or
 * take that lock). full: all fields (at_peak resolved); otherwise only
 * live is summed. False if there is nothing to add up. */
bool hs_sites_merge(bool full, void (*fn)(uint32_t id, const struct hs_site_sum *s,
                                           void *ctx), void *ctx);
/* Remember what the `U` lines just written said (n sites); forget it all
 * in a fork child, whose trace is new. */
void hs_sites_set_written(const uint32_t *id, const int64_t *live, size_t n);
void hs_sites_forget_written(void);
/* The peak as the counters saw it: bytes and when (CLOCK_MONOTONIC_COARSE
 * nanoseconds). At exit, a heap that ends at its highest point makes the
 * exit the peak (hs_sites_final_peak). */
void hs_sites_peak_info(int64_t *live, uint64_t *when_ns);
void hs_sites_final_peak(void);
/* A fork child starts its own trace: the peak starts again from now. */
void hs_sites_restart(void);
bool hs_sites_counting(void);

/* ---- sites_write.c: the trace lines ---------------------------------- */
/* `U` lines for the sites whose live bytes moved since they were last
 * written (at most HS_SITES_PER_SAMPLE, the biggest moves first).
 * Throttled: a merge is skipped when the last one took more than 2% of
 * the time since. Caller holds the sampler's lock. */
#define HS_SITES_PER_SAMPLE 256
void hs_sites_sample(uint64_t t_ms);
/* At exit: the last `U` lines, the `K` line (the peak) and one `Q` line
 * per site. ms_of converts a CLOCK_MONOTONIC_COARSE time to the trace's
 * t_ms. */
void hs_sites_exit(uint64_t t_ms, uint64_t (*ms_of)(uint64_t ns));
/* The moment memory ran out: the `O` line and `o` lines with the live
 * bytes of the biggest sites. how: "real" or "limit". */
void hs_sites_oom(const char *how, uint64_t t_ms, uint64_t live, size_t size,
                  uint32_t stack);

#endif
