/*
 * report.h — the two report writers: memcheck-style text (report_text.c)
 * and the versioned JSON report (report_json.c, docs/JSON-REPORT.md).
 */
#ifndef HS_REPORT_H
#define HS_REPORT_H

#include <stdio.h>

#include "analysis/analyze.h"

#define HS_JSON_VERSION 1

struct hs_report_opts {
	unsigned    show_kinds;    /* bit per enum hs_leak_kind: records listed */
	bool        quiet;         /* text: only what was found, and notes     */
	const char *tool_version;  /* "0.1.0"; NULL: left out                  */
	int         killed_by;     /* the signal that killed the process, as
	                              `run` saw it, when the trace has no end
	                              record (SIGKILL); 0: not known         */
};

/* Why the leak scan did not run, or NULL if it did ("killed by SIGKILL:
 * no leak scan", the shim's own reason, ...): into buf. */
const char *hs_report_no_scan(const struct hs_analysis *a, const struct hs_report_opts *o,
                              char *buf, size_t cap);

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
void hs_json_frame(FILE *f, const char *function, const char *file, unsigned line,
                   const char *module, uint64_t address, bool inlined);

#endif
