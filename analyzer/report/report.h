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
};

void hs_report_text(FILE *out, const struct hs_analysis *a,
                    const struct hs_report_opts *o);
void hs_report_json(FILE *out, const struct hs_analysis *a,
                    const struct hs_report_opts *o);

/* Why the report is incomplete, one sentence each, in a fixed order; the
 * text and JSON reports both print these. Returns the count; fills at
 * most max (each string static or owned by the trace). */
size_t hs_report_notes(const struct hs_analysis *a, char (*notes)[1024], size_t max);

/* Text report lines (report_text.c): one line with the prefix, control
 * characters shown as '?'; a stack as memcheck's "at"/"by" lines; where a
 * frame is (" (file.c:12)", " (in module)"). */
void hs_text_line(FILE *f, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void hs_text_frames(FILE *f, const char *prefix, const struct hs_analysis *a, uint32_t stack);
const char *hs_text_where(const struct hs_frame *fr, char *buf, size_t cap);

/* The heap profile (report_profile.c): the text section (quiet: only
 * growing sites and the moment memory ran out) and the JSON member
 * `"profile": ...` (the last one of the report, no trailing comma). */
void hs_text_profile(FILE *f, const char *prefix, const struct hs_analysis *a, bool quiet);
void hs_json_profile(FILE *f, const struct hs_analysis *a);
/* Exports of the profile that other tools read: valgrind massif's file
 * format (report_massif.c; ms_print, massif-visualizer) and folded stacks
 * of the live bytes at the peak (report_folded.c; flamegraph.pl,
 * speedscope). */
void hs_report_massif(FILE *f, const struct hs_analysis *a);
void hs_report_folded(FILE *f, const struct hs_analysis *a);
/* A stack as JSON frames (report_json.c); ind: the indentation. */
void hs_json_stack(FILE *f, const struct hs_analysis *a, uint32_t stack, const char *ind);

/* JSON string with quotes: escapes ", \ and control characters, and
 * replaces bytes that are not UTF-8 with U+FFFD, so any path or message
 * gives valid JSON. NULL prints null. */
void hs_json_string(FILE *out, const char *s);
void hs_json_frame(FILE *f, const char *function, const char *file, unsigned line,
                   const char *module, uint64_t address, bool inlined);

#endif
