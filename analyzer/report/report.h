/*
 * report.h — the two report writers: memcheck-style text (report_text.c)
 * and the versioned JSON report (report_json.c, docs/JSON-REPORT.md).
 */
#ifndef HS_REPORT_H
#define HS_REPORT_H

#include <stdio.h>

#include "analysis/analyze.h"

#define HS_JSON_VERSION 1

/* valgrind's --leak-check (hs_report_opts.leak_check); 0 is heapscope's
 * default: records of show_kinds listed, definite, indirect and possible
 * leaks counted as errors. */
enum { HS_LEAK_CHECK_NO = 1, HS_LEAK_CHECK_SUMMARY, HS_LEAK_CHECK_FULL };

struct hs_report_opts {
	unsigned    show_kinds;    /* bit per enum hs_leak_kind: records listed */
	bool        quiet;         /* text: only what was found, and notes     */
	const char *tool_version;  /* "0.1.0"; NULL: left out                  */
	int         leak_check;    /* HS_LEAK_CHECK_*, 0: as above             */
	unsigned    error_kinds;   /* FULL: leak kinds counted as errors       */
	bool        gen_supps;     /* text, XML: a valgrind suppression after
	                              each error and loss record              */
};

/* Why the leak scan did not run, or NULL if it did ("killed by SIGKILL:
 * no leak scan", the shim's own reason, ...): into buf. */
const char *hs_report_no_scan(const struct hs_analysis *a, char *buf, size_t cap);

/* ---- report_memcheck.c: what the text and XML reports share ---------- */
/* memcheck's title for a heap error (enum hs_err_kind): CTest and other
 * log parsers count defects by these words. */
const char *hs_err_title(unsigned kind);
/* The leak kinds whose records are listed / counted as errors. */
unsigned hs_report_listed(const struct hs_report_opts *o);
unsigned hs_report_counted(const struct hs_report_opts *o);
/* A suppression in valgrind's format that matches a record: its kind
 * line ("Memcheck:Leak"), the aux line ("match-leak-kinds: definite", or
 * "") and one "fun:NAME" / "obj:PATH" line per frame. */
struct hs_gensupp {
	char   kind[32], aux[48];
	char **frames;
	size_t nframes;
};
/* false (nothing to free) when the record has no stack to match. */
bool hs_gensupp_leak(struct hs_gensupp *g, const struct hs_analysis *a,
                     const struct hs_leak_rec *r);
bool hs_gensupp_error(struct hs_gensupp *g, const struct hs_analysis *a,
                      const struct hs_err_rec *r);
/* As valgrind prints it: "{", the placeholder name, ..., "}". */
void hs_gensupp_print(FILE *f, const struct hs_gensupp *g);
void hs_gensupp_free(struct hs_gensupp *g);

/* ---- report_xml.c: memcheck's XML, protocol 4 (docs/VALGRIND.md) -------- */
struct hs_xml_info {
	char *const *tool_argv;    /* heapscope's command line up to the program */
	int          tool_argc;
	char *const *prog_argv;    /* the program's; NULL: from the trace     */
	int          prog_argc;
};
void hs_report_xml(FILE *out, const struct hs_analysis *a,
                   const struct hs_report_opts *o, const struct hs_xml_info *x);

void hs_report_text(FILE *out, const struct hs_analysis *a,
                    const struct hs_report_opts *o);
void hs_report_json(FILE *out, const struct hs_analysis *a,
                    const struct hs_report_opts *o);
/* One line for a process with nothing to report: how it ended, its
 * counts, "no leaks, no heap errors" (for a run's other processes). */
void hs_report_text_brief(FILE *out, const struct hs_analysis *a);
/* "signal 11 (SIGSEGV)" into buf. */
const char *hs_signal_text(int sig, char *buf, size_t cap);

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
/* Length (2..4) of the valid UTF-8 sequence starting with the byte >= 0x80
 * at s, or 0 when it is not one. */
int  hs_utf8_len(const unsigned char *s);
void hs_json_frame(FILE *f, const char *function, const char *file, unsigned line,
                   const char *module, uint64_t address, bool inlined);

#endif
