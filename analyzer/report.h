/*
 * report.h — the two report writers: memcheck-style text (report_text.c)
 * and the versioned JSON report (report_json.c, docs/JSON-REPORT.md).
 */
#ifndef HS_REPORT_H
#define HS_REPORT_H

#include <stdio.h>

#include "analyze.h"

#define HS_JSON_VERSION 1

struct hs_report_opts {
	unsigned    show_kinds;    /* bit per enum hs_leak_kind: records listed */
	bool        quiet;         /* text: only what was found, and notes     */
	const char *tool_version;  /* "0.1.0"; NULL: left out                  */
};

void hs_report_text(FILE *out, const struct hs_analysis *a,
                    const struct hs_report_opts *o);
void hs_report_json(FILE *out, const struct hs_analysis *a,
                    const struct hs_report_opts *o);

/* Why the report is incomplete, one sentence each, in a fixed order; the
 * text and JSON reports both print these. Returns the count; fills at
 * most max (each string static or owned by the trace). */
size_t hs_report_notes(const struct hs_analysis *a, char (*notes)[1024], size_t max);

/* JSON string with quotes: escapes ", \ and control characters, and
 * replaces bytes that are not UTF-8 with U+FFFD, so any path or message
 * gives valid JSON. NULL prints null. */
void hs_json_string(FILE *out, const char *s);

/* ---- stats.c: the sampled numbers (`T` lines) ------------------------- */
struct hs_vmstats {
	size_t samples;
	bool   have_growth;        /* two samples at different times          */
	double growth_bytes_per_s; /* least-squares slope of VmSize           */
	uint64_t first_kb, last_kb, peak_kb;
};
struct hs_fragstats {
	bool     have;             /* at least one sample                     */
	uint64_t nr_free[HS_TRACE_ORDERS];   /* last sample                  */
	int      largest_free_order;         /* -1: no free block            */
	double   unusable[HS_TRACE_ORDERS];  /* kernel's unusable free index */
	uint64_t internal_bytes;   /* granted - live (headers, rounding)      */
	bool     have_efficiency;
	double   heap_efficiency;  /* live / held                             */
};
void hs_vmstats(const struct hs_trace *tr, struct hs_vmstats *out);
void hs_fragstats(const struct hs_trace *tr, struct hs_fragstats *out);

#endif
