/*
 * trace.h — plumbing between trace.c, modules.c, stacks.c, lifecycle.c and
 * the exit/exec hooks. internal.h holds the contract the rest of the shim
 * codes against; this file holds what only the recorder parts need.
 *
 * Lock order (never take them the other way round):
 *   loader lock (dl_iterate_phdr) -> stacks lock -> modules lock -> trace lock
 * The fork handlers take stacks, modules and trace in that order, so the
 * child can write its own preamble while it holds all three.
 */
#ifndef HS_TRACE_H
#define HS_TRACE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>

#include "record.h"

/* ---- a small lock that knows its owner -------------------------------- */
/* A spin-then-yield lock. The owner is the address of a thread-local byte,
 * so a fatal-signal handler can tell "I interrupted myself while holding
 * this" (do not wait) from "another thread holds it" (wait a little). The
 * locks here guard rare paths (new stacks, flushes), never the malloc fast
 * path, so spinning is cheaper than a futex round trip. */
struct hs_spin {
	_Atomic uintptr_t owner;        /* 0 = free, else the owner's token   */
};
extern __thread char hs_self_token;
#define HS_SELF ((uintptr_t)&hs_self_token)

static inline void hs_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline bool hs_spin_try(struct hs_spin *l)
{
	uintptr_t free_ = 0;
	return atomic_load_explicit(&l->owner, memory_order_relaxed) == 0 &&
	       atomic_compare_exchange_strong_explicit(&l->owner, &free_, HS_SELF,
	               memory_order_acquire, memory_order_relaxed);
}

static inline void hs_spin_lock(struct hs_spin *l)
{
	for (unsigned i = 0; !hs_spin_try(l); i++) {
		if (i < 100)
			hs_cpu_relax();
		else
			sched_yield();
	}
}

static inline void hs_spin_unlock(struct hs_spin *l)
{
	atomic_store_explicit(&l->owner, 0, memory_order_release);
}

static inline bool hs_spin_mine(struct hs_spin *l)
{
	return atomic_load_explicit(&l->owner, memory_order_relaxed) == HS_SELF;
}

/* After fork the child is the only thread: whoever held a lock is gone. */
static inline void hs_spin_reset(struct hs_spin *l)
{
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
}

/* ---- util.c (lead): the va_list form of hs_fmt ------------------------ */

/* ---- the trace file: constants ------------------------------------------ */
#define HS_TRACE_VERSION 2      /* 2: exit records grouped (B, Z, V), not L */
#define HS_TRACE_BUF     ((size_t)64 * 1024)
/* Set in the environment of a traced process for its descendants:
 * "PID.GEN", the pid and exec generation of the image that set it. An
 * image that finds its own pid there was exec'd from a traced image and
 * takes generation GEN+1; any other value means "a descendant". */
#define HS_LINEAGE_VAR   "HEAPSCOPE_TRACED"

/* ---- trace_name.c ------------------------------------------------------- */
#define HS_TRACE_NAME_MAX 1088          /* HEAPSCOPE_OUT (< 1024) + suffixes */
/* The file name for a trace (docs/TRACE-FORMAT.md, "Files"). pattern is
 * HEAPSCOPE_OUT or NULL for the default; "%p" becomes the pid, or
 * "pid.gen" for an exec'd image (gen > 0). Without %p a descendant appends
 * ".pid" (".pid.gen"). Returns the length, 0 if it does not fit. */
size_t hs_trace_name(char *out, size_t cap, const char *pattern,
                     const char *prog, int pid, unsigned gen, bool descendant);
/* This process's name: the first call reads HEAPSCOPE_OUT and the lineage
 * from the environment; a fork child passes fork_child and becomes
 * generation 0 of its own pid. false (said on stderr) if too long. */
bool hs_trace_my_name(char *out, size_t cap, bool fork_child);
/* The lineage value the exec'd image should see ("pid.gen"). */
void hs_trace_lineage(char *out, size_t cap);

/* ---- trace.c (the writer) ------------------------------------------------ */
/* Create a trace file safely: O_EXCL|O_NOFOLLOW, mode 0600. fd or -errno. */
int  hs_trace_create(const char *path);
/* Create path and write the preamble (header, P, a, M). The
 * named-file core of hs_trace_open; unit tests call it directly. */
bool hs_trace_start(const char *path);
/* Flush and stop recording: later lines are dropped (the X line is last). */
void hs_trace_close(void);
/* The pid the open trace belongs to (0 if none). A process that finds a
 * different getpid() is a vfork/clone child and must not touch it. */
int  hs_trace_owner(void);
/* The open trace's file name, NULL if none. */
const char *hs_trace_path(void);

/* Locked-region writing, for callers that build a line in place (S lines)
 * or must emit several lines atomically. room_locked returns space for at
 * least n bytes (flushing first if needed) or NULL if the trace is closed
 * or n is larger than the buffer; advance_locked commits n bytes. */
void  hs_trace_lock(void);
/* This thread holds the trace lock (a signal handler interrupted it). */
bool  hs_trace_lock_mine(void);
void  hs_trace_unlock(void);
char *hs_trace_room_locked(size_t n);
void  hs_trace_advance_locked(size_t n);
void  hs_trace_printf_locked(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool  hs_trace_writable_locked(void);

/* Fatal-signal path: write one line and flush, waiting for the lock only a
 * bounded time and not at all if this thread holds it. */
void hs_trace_emergency(const char *line, size_t n);

/* Fork: prepare flushes and (with stacks and modules) holds every lock;
 * the child opens its own trace and writes the preamble again. */
void hs_trace_fork_prepare(void);
void hs_trace_fork_parent(void);
void hs_trace_fork_child(void);

/* Exec: flush, write `X exec 0`, flush, keep the lock until the exec
 * either replaced us or failed; on failure the X line is cut off again
 * and recording goes on. begin returns false if this process has no trace
 * of its own (nothing to do). */
bool hs_trace_exec_begin(void);
void hs_trace_exec_failed(void);
/* Copy of an environment entry list with HS_LINEAGE_VAR set to the given
 * value, in mmap'd memory (hs_exec_env_free undoes it). NULL on failure. */
char **hs_exec_env(char *const envp[], const char *lineage);
void   hs_exec_env_free(char **env);

/* ---- modules.c: the module map (M lines) ------------------------------- */
/* Rescan the loaded objects if the loader says anything changed; new ones
 * are recorded and, if the trace is open, written as M lines. Takes the
 * loader lock, then the modules lock: call it with no recorder lock held. */
void hs_modules_refresh(void);
/* Write every known module (trace open, locks held by the caller). */
void hs_modules_emit_all_locked(void);
/* [lo, hi) of libheapscope's own executable text, found once; empty when
 * the shim is linked into a program rather than loaded as a library. */
void hs_modules_self_text(uintptr_t *lo, uintptr_t *hi);
/* /proc/self/exe, read once (static storage). */
const char *hs_modules_exe_path(void);
void hs_modules_lock(void);
void hs_modules_unlock(void);
void hs_modules_reset_child(void);

/* ---- stacks.c ------------------------------------------------------------ */
#define HS_STACK_MAX 256                /* hard cap on recorded frames     */
/* A new trace starts: no stack has its S line there yet (locks held).
 * Also bumps hs_stack_trace_gen. */
void hs_stacks_new_trace_locked(void);
/* Counts traces begun in this process (stackcache.c keeps, per entry, the
 * generation in which its stack's S line is known written). */
extern __attribute__((visibility("hidden"))) _Atomic uint32_t hs_stack_trace_gen;
/* Stack ids handed out so far: 1 .. hs_stack_count() are valid. */
uint32_t hs_stack_count(void);
/* id's S line is in the current trace. */
bool hs_stack_emitted(uint32_t id);
/* hs_stack_capture_from when the stack cache cannot answer: unwind
 * (through hs_stack_capture_at, which fills the cache) or 0. */
uint32_t hs_stack_capture_slow(uintptr_t ra, uintptr_t cfa, uintptr_t bp);
/* Make sure the current trace holds id's S line; returns id. Whoever
 * writes a line naming a stack id it did not just capture (E, L and F
 * lines: ids from block headers, or captured before a fork) calls this
 * first, e.g. hs_trace_printf("L ... %u\n", ..., hs_stack_ref(h->stack)).
 * Lead: this belongs in internal.h's stacks.c section. */
void hs_stacks_lock(void);
void hs_stacks_unlock(void);
void hs_stacks_reset_child(void);
/* Intern a given ip array (the capture-independent half; the benchmark
 * and unit tests use it). Returns the id, 0 on failure. */
uint32_t hs_stack_intern(const uintptr_t *ips, unsigned n);
/* Format "S id n ip..." into out; returns the length (0 if it won't fit). */
size_t hs_stack_format(char *out, size_t cap, uint32_t id,
                       const uintptr_t *ips, unsigned n);

#endif
