/*
 * record.h — the recorder (preload/record/): what it owns and offers.
 *
 *   trace.c, trace_name.c   the trace file: safe create, one buffer of
 *                           whole lines, fork and exec (trace.h)
 *   stacks.c, stackcache.c  call stacks: unwind, intern, a per-thread
 *                           cache of verified stacks
 *   fpstack.c               free stacks from frame pointers
 *   modules.c, symtab.c     the module map (M lines); ELF symbols for
 *                           the fault policy's caller= filter
 *   sampler.c, snapshot.c   samples over time and heap snapshots
 *                           (sampler.h)
 *   sites.c, sites_merge.c,  the heap profile by allocation site:
 *   sites_write.c
 *                           per-thread counters the entry points update
 *                           inline, merged by the sampler (sites.h)
 *
 * May call: alloc/ (counters, walks for the snapshots) and internal.h.
 */
#ifndef HS_RECORD_H
#define HS_RECORD_H

#include "alloc/alloc.h"

/* fpstack.h: hs_stack_capture_fp(ra, fp), a call stack from frame
 * pointers, starting at return address ra with the caller's frame pointer
 * fp; bounded by this thread's stack. Cheap enough for every free
 * (libunwind is not): frames without frame pointers are skipped or end
 * the walk, like ASan's fast unwinder. */

/* ---- stacks.c: call stacks, interned ---------------------------------- */
/* Unwind the caller's stack (frames inside heapscope skipped), intern it
 * and return its id (>= 1); 0 if recording is off or failed. Writes an
 * `S` line the first time a stack is seen. Re-entrancy safe. */
uint32_t hs_stack_capture(void);
/* The same for an allocation entry point that knows the program's call:
 * ra = its return address, cfa = the program's stack pointer after the
 * call (__builtin_dwarf_cfa()), bp = the program's rbp at the call (the
 * word __builtin_frame_address(0) points at). Served from a per-thread
 * cache of verified stacks when it can be (stackcache.c). */
uint32_t hs_stack_capture_from(uintptr_t ra, uintptr_t cfa, uintptr_t bp);
uint32_t hs_stack_capture_at(uintptr_t ra, uintptr_t cfa, uintptr_t bp, int depth);
void     hs_stack_cache_thread_exit(void);
/* The return addresses of an interned stack; returns n (0 if unknown). */
unsigned hs_stack_get(uint32_t id, const uintptr_t **ips);
/* An id about to be named in an E, L or F line: makes sure this trace
 * (a fork child's has its own) has the S line first. Returns id. */
uint32_t hs_stack_ref(uint32_t id);

/* ---- trace.c: the trace file (docs/TRACE-FORMAT.md) ------------------- */
/* Open the trace (safe create) and write the preamble; false if tracing is
 * off or the file could not be created (said once on stderr). */
bool hs_trace_open(void);
bool hs_trace_active(void);
/* Append one complete record line (must end in '\n'); thread safe,
 * no allocation. */
void hs_trace_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hs_trace_flush(void);

#endif
