/*
 * faults.h — allocation-failure injection: the policy and the decision.
 *
 * A policy is one string of comma-separated terms (DESIGN.md, "Fault
 * policy"): exactly one trigger
 *
 *   nth=N        fail the Nth matching call, once
 *   after=N      fail every matching call from the Nth on (persistent)
 *   every=N      fail matching calls N, 2N, 3N, ...
 *   prob=P       fail each matching call with probability P (0..1, or a
 *                percentage "5%"); seed=S picks the stream (default 0)
 *   limit=BYTES  fail a call that would grow the live heap past BYTES
 *                (K, M, G suffixes are powers of 1024)
 *
 * and any of these filters, which decide which calls "match":
 *
 *   times=N      at most N failures in all
 *   minsize=B    only calls asking for at least B bytes
 *   func=F|F..   only these entry points: malloc calloc realloc aligned
 *                new new[]
 *   caller=GLOB  only calls with a function matching GLOB on the stack
 *   thread=main  only the main thread (thread=all: any, the default)
 *
 * Counting is exact: every call of an allocation entry point counts one
 * (realloc and malloc(0) included, free never). Filters are applied first
 * and the trigger counts only the calls that pass them, as the kernel's
 * fault-injection `interval` does, so `nth=3,func=calloc` fails the third
 * calloc. With no filter, matching calls are all calls. The number stored
 * in an injected failure's record (the `F` line's nth) is always the
 * number among *all* calls since the policy was armed, so `nth=THAT` with
 * no filter reproduces the failure in a deterministic program.
 *
 * Policies stack: level 0 is HEAPSCOPE_FAIL (armed at init), each
 * hs_fault_push (hs_fail_begin) opens a region whose policy alone decides
 * until the matching pop; outer levels neither count nor fire meanwhile.
 * A pushed NULL policy is a region with injection off.
 *
 * Everything here runs inside malloc: no allocation, no stdio, no getenv;
 * the policy is parsed into a fixed struct.
 */
#ifndef HS_FAULTS_H
#define HS_FAULTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault_policy.h"

/* ---- the decision ------------------------------------------------------ */

/* What the entry point knows about the call it is serving. */
struct hs_fault_call {
	enum hs_fault_fn fn;
	size_t   size;          /* bytes requested (calloc: nmemb * size)     */
	size_t   freed;         /* realloc: requested size of the old block
	                           (live bytes it gives back); else 0         */
	uint32_t stack;         /* interned stack id, 0 = not captured: it is
	                           captured through the hooks only if caller=
	                           needs it                                   */
	int      main_thread;   /* 1 / 0, or -1 = unknown: worked out here
	                           only if thread=main needs it               */
};

/* What an injected failure leaves for the `F` trace line. */
struct hs_fault_record {
	uint64_t nth;           /* call number among all calls since armed   */
	enum hs_fault_fn fn;
	size_t   size;
	uint32_t stack;         /* the call's stack id (captured if needed)   */
	bool     benign;        /* inside hs_benign_begin/end on this thread  */
	bool     quiet;         /* do not write an `F` line: this stack has
	                           had HS_FAULT_LINES_PER_STACK already (see
	                           below); the failure is injected all the same */
	enum hs_fault_trigger trigger;   /* of the policy that failed it: a
	                           limit= failure is the moment memory ran out */
};

/* A persistent policy (after=N) in a retry loop fails the same call
 * millions of times; an `F` line for each would fill the disk. The first
 * HS_FAULT_LINES_PER_STACK failures of each stack, and at most
 * HS_FAULT_LINES_MAX in all, are written; the first failure left unwritten
 * puts a `!` line in the trace, so the report says it is incomplete. The
 * first failure of a stack, the one that finds an unchecked call, is
 * always among those written (until the total cap). */
#define HS_FAULT_LINES_PER_STACK 8
#define HS_FAULT_LINES_MAX       100000

/* The recorder's services that some terms need; any may be NULL, in which
 * case the term that needs it never matches (limit: never fails). The
 * default has live_bytes (hs_counters_read) and no stack services. */
struct hs_fault_hooks {
	/* limit=: live requested bytes now. */
	uint64_t (*live_bytes)(void);
	/* caller=: capture and intern the calling stack (0 = failed). */
	uint32_t (*capture)(void);
	/* caller=: function names of the frames of a stack, innermost first;
	 * returns how many were written (at most max); a frame whose name is
	 * unknown may be NULL. Names must stay valid (dladdr's do). */
	unsigned (*stack_names)(uint32_t stack, const char **names, unsigned max);
};
void hs_fault_set_hooks(const struct hs_fault_hooks *hooks);

/* Non-zero while some policy may fail a call. The entry points test it
 * first: with no policy it is the whole cost, one well-predicted branch on
 * a global that never changes (hidden, so one PC-relative load, no GOT). */
extern atomic_int hs_faults_armed __attribute__((visibility("hidden")));
static inline bool hs_faults_active(void)
{
	return __builtin_expect(atomic_load_explicit(&hs_faults_armed,
	                                             memory_order_relaxed), 0);
}

/* Count this call and decide. True: the caller must return its failure
 * (NULL, errno ENOMEM; operator new: its own failure path) without
 * touching the allocator, and write an `F` line from *rec. Call only when
 * hs_faults_active(); thread safe; preserves errno. */
bool hs_fault_should_fail(const struct hs_fault_call *call,
                          struct hs_fault_record *rec);

/* ---- policy levels ------------------------------------------------------ */
#define HS_FAULT_DEPTH 8        /* regions that can be open at once        */

/* Level 0 from HEAPSCOPE_FAIL (via hs_env). A bad policy is reported on
 * stderr, naming the variable and the term, and leaves injection off.
 * HEAPSCOPE_FAIL_ONLY limits it to one process image and HEAPSCOPE_CENSUS
 * arms a count-only level 0 (fault_census.c). Also installs the
 * recorder's hooks (hs_fault_use_recorder). */
void hs_faults_init_from_env(void);
/* Open a region with POLICY (NULL: injection off inside). 0 on success;
 * -1 bad policy (message in err), -2 too many regions open. On -1 and -2
 * a region with injection off is opened all the same, so that every push
 * is undone by exactly one pop. */
int  hs_fault_push(const char *policy, char *err, size_t errcap);
/* Close the innermost region: its injected count, or -1 if none is open. */
long hs_fault_pop(void);
/* Failures injected since the process started, all levels together. */
uint64_t hs_fault_total(void);
/* Calls counted by the innermost level (0 if it has no policy). */
uint64_t hs_fault_calls(void);
/* Back to no policy at all, counters zeroed (tests; fork-free contexts). */
void hs_faults_reset(void);

/* ---- sweep support (fault_census.c, fault_hooks.c) ---------------------- */
/* Install the recorder's stack capture and the in-process symbol reader
 * (symtab.h) as the hooks; called by hs_faults_init_from_env. */
void hs_fault_use_recorder(void);
/* HEAPSCOPE_FAIL_ONLY=PID[.GEN]: 1 if HEAPSCOPE_FAIL applies in this
 * image (or no scope was given), 0 if another image is the target, -1 if
 * the value is malformed (said on stderr). */
int  hs_fault_scope_here(void);
/* HEAPSCOPE_CENSUS=1: true if the census is on in this image (it then
 * writes `N` lines for new stacks and an `n` line at exit). */
bool hs_fault_census_init(void);
void hs_fault_census_stop(void);
/* The census `n` line for a fatal signal's handler: into buf, once;
 * returns its length (0: none). Async-signal-safe. */
size_t hs_fault_census_line(char *buf, size_t cap);
/* Level 0 counted call number nth: capture the stack into *stack if not
 * yet known and write an `N` line the first time that stack is seen. */
void hs_fault_census_note(uint64_t nth, const struct hs_fault_call *c,
                          uint32_t *stack);

/* Benign regions nest per thread; failures inside are marked benign. */
void hs_fault_benign_enter(void);
void hs_fault_benign_leave(void);

/* ---- pieces, exposed for the tests ------------------------------------- */
/* The m-th output (m >= 1) of the splitmix64 stream seeded with SEED. */
uint64_t hs_fault_draw(uint64_t seed, uint64_t m);
/* Shell-style glob: * ? [a-z] [!x] and \ escapes. */
bool hs_fault_glob(const char *pattern, const char *s);
/* Does GLOB match one of the n names (NULLs skipped)? Each name is tried
 * as is, without a compiler clone suffix (".isra.0", ".cold"), and for a
 * C++ mangled name (_Z...) as its qualified name ("ns::Class::fn"). */
bool hs_fault_names_match(const char *glob, const char *const *names, unsigned n);

#endif
