/*
 * report_mem.h — the memory-over-time and fragmentation parts of the text
 * and JSON reports (docs/JSON-MEMORY.md describes the JSON keys).
 */
#ifndef HS_REPORT_MEM_H
#define HS_REPORT_MEM_H

#include <stdbool.h>
#include <stdio.h>

#include "trace/trace_read.h"

/* The JSON members `"fragmentation": ..., "vmsize": ...,` at two spaces
 * of indentation, each with its trailing comma (`profile` follows). */
void hs_json_memory(FILE *f, const struct hs_trace *tr);

/* Text lines, each starting with prefix ("==PID== "): sparklines and
 * verdicts, fragmentation at exit. quiet: only a likely leak is worth a
 * line. */
void hs_text_memory(FILE *f, const char *prefix, const struct hs_trace *tr, bool quiet);

#endif
