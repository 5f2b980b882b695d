/*
 * trace_files.h — finding the traces a run left behind, named as the
 * shim names them (preload/record/trace_name.c, docs/TRACE-FORMAT.md).
 */
#ifndef HS_TRACE_FILES_H
#define HS_TRACE_FILES_H

#include <stdio.h>

/* The trace of image `gen` (0, then 1, 2 ... after each exec) of process
 * pid, named as the shim names it from the HEAPSCOPE_OUT pattern. */
char *hs_trace_file_name(const char *pattern, long pid, unsigned gen);
/* Say which descendants of root_pid wrote traces (files that match the
 * pattern, written since `since`), so the user knows where to look. */
void hs_trace_files_children(FILE *f, const char *pattern, long root_pid, long since);

#endif
