/*
 * hookentry.h — what every allocation and release entry point does, for
 * hook_malloc.c (the malloc family) and hook_cxx.c (operator new/delete),
 * written once.
 *
 *   alloc_entry   re-entrancy (a signal handler inside the allocator gets
 *                 boot memory), fault injection, the allocation stack, the
 *                 inline thread-cache path (with or without a canary), the
 *                 site's counters (record/sites.h);
 *   HS_FREE_ENTRY the inline release path, or the checked one (canary,
 *                 quarantine, free stack), or the slow one that vets and
 *                 reports. A macro, not a function: the free stack starts
 *                 at the exported function's own frame
 *                 (__builtin_frame_address(0) there is cheap: GCC sets the
 *                 frame up only on the branch that asks for it).
 */
#ifndef HS_HOOKENTRY_H
#define HS_HOOKENTRY_H

#include <errno.h>

#include "fastpath.h"
#include "faults/faults.h"
#include "record/sampler.h"
#include "record/sites.h"
#include "record/stackcache.h"

/* Optional parts, linked in when present (as in errors.c). */
__attribute__((weak)) bool hs_trace_active(void);
__attribute__((weak)) void hs_trace_printf(const char *fmt, ...);
__attribute__((weak)) void hs_trace_flush(void);
__attribute__((weak)) uint32_t hs_stack_capture(void);

/* Fault injection (faults.h), off the fast path: with no policy armed the
 * whole cost is the hs_faults_active() branch in the callers. An injected
 * failure touches no allocator state: NULL with errno ENOMEM. */
static __attribute__((noinline, cold)) bool injected(enum hs_fault_fn fn,
                                                     size_t size, size_t freed)
{
	struct hs_fault_call c = { .fn = fn, .size = size, .freed = freed,
	                           .stack = 0, .main_thread = -1 };
	struct hs_fault_record r;
	if (!hs_fault_should_fail(&c, &r))
		return false;
	if (r.stack == 0 && hs_stack_capture)
		r.stack = hs_stack_capture();
	/* Flushed at once: a failure is what may end the process next, by
	 * SIGKILL too (a timeout, the OOM killer), which no handler sees.
	 * There are few of these lines (faults.h: the caps). */
	if (!r.quiet && hs_trace_active && hs_trace_active()) {
		hs_trace_printf("F %lu %s %zu %u%s\n", (unsigned long)r.nth,
		                hs_fault_fn_name(r.fn), r.size, r.stack,
		                r.benign ? " benign" : "");
		if (hs_trace_flush)
			hs_trace_flush();
	}
	/* a live-heap ceiling: the moment memory ran out (once a trace) */
	if (r.trigger == HS_TRIG_LIMIT)
		hs_sampler_oom("limit", size, r.stack);
	errno = ENOMEM;
	return true;
}

/* The caller's stack id, once the shim is initialised and recording:
 * this thread's stack cache answers most calls inline (a cache exists
 * only once recording has started), the rest go to stacks.c. A macro, so
 * that the builtins name the exported function's own frame: its return
 * address is the program's call, and the word its frame pointer points
 * at is the program's rbp at the call (asking for the frame address makes
 * the function keep one: two instructions), which a stack found through
 * rbp depends on (stackcache.c). */
#define record_stack() record_stack_at(HS_PROGRAM_CALL)
/* The program's call as the exported function sees it: return address,
 * CFA, the program's rbp; for record_stack_at, here or out of line. */
#define HS_PROGRAM_CALL \
	(uintptr_t)__builtin_return_address(0), \
	(uintptr_t)__builtin_dwarf_cfa(), \
	*(const uintptr_t *)__builtin_frame_address(0)

static inline __attribute__((always_inline))
uint32_t record_stack_at(uintptr_t ra, uintptr_t cfa, uintptr_t bp)
{
	uint32_t id = hs_sc_hit(ra, cfa, bp);
	if (likely(id))
		return id;
	return hs_recording ? hs_stack_capture_from(ra, cfa, bp) : 0;
}

/* Everything alloc_entry does not do inline; the program's call comes as
 * HS_PROGRAM_CALL (kind_fn: kind | fn << 8, so that all six arguments
 * travel in registers and the call is a jump). A malloc that arrives
 * while this thread is inside the allocator comes from a signal handler:
 * serve it without touching the heap. */
static __attribute__((noinline))
void *alloc_general(size_t n, size_t align, unsigned kind_fn, uintptr_t ra, uintptr_t cfa,
                    uintptr_t bp)
{
	unsigned kind = kind_fn & 0xFF;
	if (unlikely(hs_busy))
		return hs_boot_alloc(n, align, kind);
	if (unlikely(hs_faults_active()) && injected((enum hs_fault_fn)(kind_fn >> 8), n, 0))
		return NULL;
	uint32_t stack = record_stack_at(ra, cfa, bp);
	void *p;
	if (align > HS_ALIGN)
		p = hs_heap_alloc(n, align, kind, stack);
	else if (likely(!hs_guard))
		p = hs_fast_alloc(n, kind, stack, 0);
	else
		p = hs_fast_alloc(n, kind, stack, HS_CANARY);
	hs_site_alloc(stack, n, p);           /* the heap profile (sites.h) */
	return p;
}

/* The allocator alone (hs_detour: not recording, checks off, no fault
 * policy) takes a slot from the thread cache inline; everything else
 * goes out of line, so that the inline path needs no register the
 * exported function must save (the frame alloc_general's arguments need
 * is two instructions). */
static inline __attribute__((always_inline))
void *alloc_entry(size_t n, size_t align, unsigned kind, enum hs_fault_fn fn)
{
	if (likely(!hs_busy) && likely(!hs_detour.any) && likely(align <= HS_ALIGN)) {
		void *p = hs_fast_pop(n, kind, 0, 0);
		if (likely(p))
			return p;
	}
	return alloc_general(n, align, kind | (unsigned)fn << 8, HS_PROGRAM_CALL);
}

/* Everything but the inline and checked paths: vet, report, release. A
 * release from a signal handler inside the allocator only marks the block
 * freed (never reused) rather than race. */
static __attribute__((noinline)) void free_slow(void *p, unsigned accept,
                                                const char *call)
{
	int saved = errno;
	enum hs_where where;
	struct hs_header *h;
	/* vetted and claimed: FREED, ours; from a handler, left so */
	if (hs_release_vet(p, accept, call, &h, &where) && likely(!hs_busy)) {
		if (where != HS_IN_BOOT)
			hs_site_free(h->stack, h->size, p);   /* heap profile */
		hs_heap_free_claimed(p, h, where);
	}
	errno = saved;
}

/* Everything HS_FREE_ENTRY does not do inline: the inline release with
 * the heap profile's counts (recording, checks off), the checked release
 * (canary, quarantine, a free stack from the program's frame: its return
 * address ra and rbp bp), or the slow one. */
static __attribute__((noinline)) void free_general(void *p, unsigned accept, const char *call,
                                                   uintptr_t ra, uintptr_t bp)
{
	if (likely(!hs_busy)) {
		if (hs_guard) {
			hs_checked_free(p, ra, bp, accept, call);
			return;
		}
		if (hs_fast_free(p, accept, true))
			return;
	}
	free_slow(p, accept, call);
}

/* The allocator alone (checks off, not recording) releases inline with
 * no register the exported function must save; everything else, and the
 * frame the program's rbp is read from, is out of line. */
#define HS_FREE_ENTRY(p, accept, call) do {                                  \
	void *p_ = (p);                                                      \
	if (unlikely(!p_))                                                   \
		break;                                                       \
	if (likely(!hs_busy) && likely(!(hs_guard | hs_detour.why[HS_DETOUR_RECORD])) \
	    && likely(hs_fast_free(p_, (accept), false)))                    \
		break;                                                       \
	const uintptr_t *f_ = __builtin_frame_address(0);                    \
	free_general(p_, (accept), (call), f_[1], f_[0]);                    \
} while (0)

#endif
