/*
 * internal.h — the table of contents of libheapscope.so, and what every
 * part of it may use.
 *
 * The shim is built in layers; each folder owns one part and calls only
 * the folders below it (tests/e2e/layering.sh checks the #include lines
 * and the symbols every object file takes):
 *
 *   hooks/   the exported entry points (malloc family, operator new and
 *            delete, exit, exec, the heapscope.h API) and the process's
 *            life: start-up, fork, exit, fatal signals.     (hooks.h)
 *   leaks/   the reachability scan at exit.                 (leaks.h)
 *   checks/  heap error checks: canaries, quarantine, error reports.
 *                                                           (checks.h)
 *   faults/  the OOM policy: which call fails.              (faults.h)
 *   record/  the trace file, call stacks, the module map, samples and
 *            heap snapshots.                                (record.h)
 *   alloc/   the allocator: bins, buddy, huge mappings, the 16-byte
 *            header, the pagemap.                           (alloc.h)
 *   .        this file, util.c (output and environment without malloc)
 *            and config.c (the HEAPSCOPE_* settings).
 *
 * leaks/, checks/ and faults/ sit side by side: none calls another.
 * Where a lower part must let an upper one act (the allocator frees a
 * block that the checks want to quarantine), it goes through a table of
 * hooks the upper part fills in (struct hs_alloc_hooks, alloc.h).
 */
#ifndef HS_INTERNAL_H
#define HS_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#define HS_API     __attribute__((visibility("default")))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- util.c: output without stdio, environment without getenv --------- */
/* Format into buf: %s %d %u %zu %lu %x %p %c %%; returns length. */
int  hs_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int  hs_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
/* One line to stderr, prefixed "==PID== heapscope: ". errno preserved. */
void hs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Value of NAME in the initial environment, or NULL; no allocation. */
const char *hs_env(const char *name);

/* A thread the program cancels (pthread_cancel) dies at its next
 * cancellation point: open, read, write, close... If that is a call of
 * ours made while we hold a lock (the trace's, the sampler's), the lock
 * is never released and the process hangs at its next flush or at exit.
 * Such calls are bracketed with these. */
static inline int hs_cancel_off(void)
{
	int old = PTHREAD_CANCEL_ENABLE;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}
static inline void hs_cancel_restore(int old)
{
	if (old != PTHREAD_CANCEL_DISABLE)
		pthread_setcancelstate(old, NULL);
}

/* ---- config.c: HEAPSCOPE_* settings, read once at init ---------------- */
struct hs_config {
	int    enabled;         /* 0: plain allocator, nothing recorded       */
	int    stack_depth;     /* frames recorded per allocation             */
	size_t tcache_bytes;    /* per-thread cache budget                    */
	int    checks;          /* canaries, quarantine, fill (HEAPSCOPE_CHECKS;
	                           default: on when recording)                */
	size_t quarantine_bytes;/* per-thread quarantine budget, 0 = none     */
	int    abort_on_error;  /* stop at the first heap error               */
	int    stack_cache;     /* per-thread stack cache (record/stackcache.c) */
	int    unwind;          /* 1: our DWARF unwinder first (record/unwind.c),
	                           0: libunwind alone (HEAPSCOPE_UNWIND)      */
	int    unwind_stats;    /* say at exit which unwinder took how many   */
	int    unwind_verify;   /* check every cached or reused stack against
	                           libunwind; count differences (tests)      */
	int    log;             /* 0: hs_log writes nothing (HEAPSCOPE_LOG=0) */
};
extern struct hs_config hs_cfg;
void hs_config_init(void);

/* Start-up, as far as every part needs to know it (hooks/init.c sets
 * both): our constructor has run, and the trace is open so stacks are
 * captured. */
extern int hs_initialized;
extern int hs_recording;

#endif
