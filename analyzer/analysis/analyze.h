/*
 * analyze.h — from a trace to what the reports print.
 *
 * Leak records are grouped by (kind, stack) and sorted by bytes, biggest
 * first; errors and injected faults are grouped by their stacks for the
 * text report (the JSON report lists every record). Suppressions are
 * applied here, so both reports agree on what was suppressed.
 *
 * Records hold stack ids, not frames: a writer asks hs_display for the
 * frames of what it prints, and only then are they looked up. Reports
 * that show little (the usual still-reachable-only run) then never open
 * libdwfl, and never libc's compressed debug info.
 */
#ifndef HS_ANALYZE_H
#define HS_ANALYZE_H

#include "profile.h"
#include "suppress.h"
#include "trace/symbolize.h"
#include "trace/trace_read.h"

struct hs_amount {
	uint64_t blocks, bytes;
};

struct hs_leak_rec {
	uint8_t  kind;                 /* enum hs_leak_kind                   */
	uint32_t stack;                /* frames: hs_display(a, stack, ...)   */
	struct hs_amount amount;
};

struct hs_err_rec {                /* E records with the same kind and stacks */
	const struct hs_terror *first; /* its stack, alloc_stack, free_stack  */
	uint64_t count;
};

struct hs_fault_rec {              /* F records with the same function and stack */
	const struct hs_tfault *first; /* its stack                           */
	uint64_t count;
	uint64_t benign;               /* of them, in an hs_benign_begin region */
};

struct hs_analysis {
	const struct hs_trace *tr;
	struct hs_symbolizer *sym;
	struct hs_amount kind[HS_NR_LEAK_KINDS];    /* not suppressed          */
	struct hs_amount suppressed;
	size_t suppressed_records;
	struct hs_leak_rec *leaks;     /* not suppressed, bytes descending     */
	size_t nleaks;
	struct hs_err_rec *errors;     /* not suppressed, in order of first appearance */
	size_t nerrors;
	uint64_t error_count;          /* E records not suppressed             */
	uint64_t errors_suppressed;
	size_t error_contexts_suppressed;
	bool *error_suppressed;        /* per tr->errors[i]                    */
	struct hs_fault_rec *faults;
	size_t nfaults;
	unsigned max_frames;           /* 0 = all                              */
	struct hs_supp_use {           /* each suppression that matched: leak  */
		const struct hs_supp *supp;/* records and error occurrences it hid */
		uint64_t count;
	} *supp_uses;                  /* in order of first use                */
	size_t nsupp_uses, cap_supp_uses;
	struct hs_profile profile;     /* the heap by allocation site          */
};

/* max_frames limits the frames shown per stack (0: all). supps may be NULL. */
void hs_analyze(struct hs_analysis *a, const struct hs_trace *tr,
                struct hs_symbolizer *sym, const struct hs_supps *supps,
                unsigned max_frames);
void hs_analysis_free(struct hs_analysis *a);

/* Frames to show for a stack: at most max_frames (0: all), and nothing
 * below main (the C runtime's start-up frames), as memcheck shows them.
 * Looked up on the first call (hs_sym_stack_to_main), cached after. */
size_t hs_display(const struct hs_analysis *a, uint32_t stack,
                  const struct hs_frame **out);

/* Did the run find what --error-exitcode is about: a definite, indirect
 * or possible leak, or a heap error (suppressed ones excluded)? */
bool hs_analysis_found_problems(const struct hs_analysis *a);
/* The same with the leak kinds that count chosen (bits of enum
 * hs_leak_kind; valgrind's --errors-for-leak-kinds). */
bool hs_analysis_found(const struct hs_analysis *a, unsigned leak_kinds);

#endif
