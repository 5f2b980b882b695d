/*
 * fault_policy.h — a fault policy string parsed into a struct: the part
 * of the fault engine that the heapscope command shares with the shim.
 *
 * `heapscope run --fail POLICY` checks the policy with this same parser
 * (fault_policy.c is linked into both), so that a policy the shim would
 * refuse is refused before anything runs, with the same message. The
 * grammar is in faults.h. Nothing here allocates or uses stdio.
 */
#ifndef HS_FAULT_POLICY_H
#define HS_FAULT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The allocation entry point a call came through. */
enum hs_fault_fn {
	HS_FN_MALLOC,           /* malloc                                      */
	HS_FN_CALLOC,           /* calloc                                      */
	HS_FN_REALLOC,          /* realloc, reallocarray                       */
	HS_FN_ALIGNED,          /* memalign, posix_memalign, aligned_alloc,
	                           valloc, pvalloc                             */
	HS_FN_NEW,              /* operator new (all overloads)                */
	HS_FN_NEW_ARRAY,        /* operator new[] (all overloads)              */
	HS_FN_COUNT
};
/* "malloc", "calloc", "realloc", "aligned", "new", "new[]": the names the
 * grammar and the trace's `F` line use. */
const char *hs_fault_fn_name(enum hs_fault_fn fn);

enum hs_fault_trigger {
	HS_TRIG_NONE = 0,
	HS_TRIG_NTH,
	HS_TRIG_AFTER,
	HS_TRIG_EVERY,
	HS_TRIG_PROB,
	HS_TRIG_LIMIT,
};

#define HS_FAULT_GLOB_MAX 128   /* caller glob, NUL included             */
#define HS_FAULT_ERR_MAX  256   /* enough for any parse message           */

struct hs_fault_policy {
	enum hs_fault_trigger trigger;
	uint64_t n;             /* nth, after, every: N >= 1                 */
	uint64_t prob;          /* prob: fail when draw < prob (P * 2^64)    */
	bool     prob_always;   /* prob=1: 2^64 does not fit in prob         */
	uint64_t seed;          /* prob: which reproducible stream            */
	uint64_t limit;         /* limit: live-heap ceiling in bytes          */
	uint64_t times;         /* failures allowed in all; 0 = no cap        */
	uint64_t minsize;       /* smallest request that matches              */
	unsigned funcs;         /* 1 << enum hs_fault_fn per allowed fn; 0 all */
	bool     main_only;     /* thread=main                                */
	char     caller[HS_FAULT_GLOB_MAX];  /* "" = any caller               */
	unsigned given;         /* one bit per term seen (duplicate check)    */
};

/* Parse TEXT into *out. On error returns false and writes one line (no
 * newline) naming the offending term into err[errcap]; *out is then
 * unspecified. Never allocates. */
bool hs_fault_parse(const char *text, struct hs_fault_policy *out,
                    char *err, size_t errcap);

#endif
