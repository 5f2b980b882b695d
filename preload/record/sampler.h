/*
 * sampler.h — samples (`T` lines) and heap snapshots (`H`/`h`/`g` lines)
 * written into the trace; docs/TRACE-FORMAT.md has the line formats.
 *
 *   sampler.c   when to sample, what a sample holds (/proc/self/status and
 *               the allocator's counters), SIGUSR2, the exit hook
 *   snapshot.c  the heap as cells: every page of every arena, encoded
 *               run-length, plus the huge mappings
 *
 * Entry points for the rest of the shim (declared here until the lead
 * moves them into internal.h):
 *   hs_sampler_tick(live)   from hs_counters_fold() (heap.c): a slow path
 *                           just folded this thread's counters; live is
 *                           the new global total
 *   hs_sampler_init()       from hs_init() once the trace is open (also
 *                           done lazily by the first tick)
 *   hs_sampler_exit()       from hs_finish() (ending.c) before the leak
 *                           scan: final sample and the exit snapshot
 *   hs_sample_now()         one `T` line now
 */
#ifndef HS_SAMPLER_H
#define HS_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define HS_SAMPLE_MS_DEFAULT 50
#define HS_CELLS_VERSION     1          /* `H` field 4: the `h` cell grammar */

/* ---- sampler.c ---------------------------------------------------------- */
void hs_sampler_init(void);
void hs_sampler_tick(int64_t live);
void hs_sampler_exit(void);
void hs_sample_now(void);
/* hs_snapshot(label) from heapscope.h: a sample and an `api` snapshot.
 * False when not recording or called from inside the allocator. */
bool hs_sampler_api_snapshot(const char *label);
/* The first allocation failure of the trace (how: "real", or "limit" for
 * a limit= policy): a sample, the `O`/`o` lines of who held the memory
 * (sites_write.c) and an `oom` heap snapshot. Later calls do nothing. */
void hs_sampler_oom(const char *how, size_t size, uint32_t stack);

/* VmSize, VmRSS, VmData in kB from the text of /proc/self/status (the
 * parser alone, for the unit tests); fields not found stay 0. */
struct hs_vm {
	uint64_t size_kb, rss_kb, data_kb;
};
void hs_vm_parse(const char *text, size_t len, struct hs_vm *out);
/* Read /proc/self/status (open/read into a stack buffer). */
bool hs_vm_read(struct hs_vm *out);

/* ---- snapshot.c ----------------------------------------------------------- */
/* What triggered a snapshot: the `H` line's kind field. */
enum hs_snap_kind { HS_SNAP_EXIT, HS_SNAP_PEAK, HS_SNAP_SIGNAL, HS_SNAP_API, HS_SNAP_OOM };

/* The cells of one arena (docs/TRACE-FORMAT.md, "Heap snapshots") into
 * out; returns the length without a NUL, or 0 if cap was too small.
 * HS_CELLS_MAX is always enough. Caller holds the buddy lock (or owns a
 * private arena, as the unit tests do). */
#define HS_CELLS_MAX ((size_t)24 * 1024)
size_t hs_snap_encode_arena(const struct hs_arena *a, char *out, size_t cap);

/* Take a snapshot and write it to the trace now. Returns false when it
 * could not be taken (no trace, out of memory). The caller must not hold
 * an allocator lock (sampler.c checks hs_busy for outside callers).
 * label: NULL for the kind's name. */
bool hs_snap_write(enum hs_snap_kind kind, const char *label, uint64_t t_ms,
                   uint64_t live);
/* Peak snapshots are kept in memory, newest only, and written once at
 * exit: take one now (replacing the kept one). */
bool hs_snap_keep_peak(uint64_t t_ms, uint64_t live);
void hs_snap_write_peak(void);
/* After fork: the kept peak belongs to the parent's trace. */
void hs_snap_forget_peak(void);

/* ---- bins.c: bytes in slots out of their slabs ------------------------- */

#endif
