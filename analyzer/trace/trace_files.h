/*
 * trace_files.h — the traces of one run: finding them and putting them in
 * order (docs/TRACE-FORMAT.md, "Files").
 *
 * A run leaves one trace per process image: the process started, each
 * forked child, each image an exec replaced (same pid, next generation).
 * They are found in a run directory (every *.trace file in it), by the
 * HEAPSCOPE_OUT pattern they were written with (the files it names that
 * come from the root process or a descendant, after a start time), or
 * given one by one. Each is then known by its `P` line (pid, parent) and
 * its place among the images of its pid (by modification time: an image
 * writes `X exec 0` and stops before the next one starts writing).
 */
#ifndef HS_TRACE_FILES_H
#define HS_TRACE_FILES_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <sys/types.h>

/* The trace of image `gen` (0, then 1, 2 ... after each exec) of process
 * pid, named as the shim names it from the HEAPSCOPE_OUT pattern. */
char *hs_trace_file_name(const char *pattern, long pid, unsigned gen);

struct hs_trace_file {
	char    *path;
	long     pid, ppid;          /* from the `P` line; -1 without one     */
	unsigned gen;                /* exec generation among this pid's files */
	char     id[48];             /* "pid" or "pid.gen"; without a `P` line,
	                                the file's name                        */
	struct timespec mtime;
	off_t    size;
};

struct hs_trace_files {
	struct hs_trace_file *f;
	size_t n, cap;
};

/* Every regular file named *.trace in dir. -1 (and a message in err) if
 * dir cannot be read. */
int  hs_trace_files_dir(const char *dir, struct hs_trace_files *s, char *err, size_t cap);
/* One file by name. -1 (message in err) if it is not a regular file. */
int  hs_trace_files_add(struct hs_trace_files *s, const char *path, char *err, size_t cap);
/* The files the HEAPSCOPE_OUT pattern names that the process root_pid or
 * one of its descendants wrote (their `P` lines say so), modified since
 * `since` (unix seconds). */
void hs_trace_files_pattern(struct hs_trace_files *s, const char *pattern, long root_pid,
                            long since);
/* Put the files in the order their processes ended (modification time),
 * number each pid's images 0, 1, 2 ..., and return the index of the main
 * trace: the last image of root_pid, or with root_pid 0 of the tree's
 * root (a pid whose parent has no trace here; the first such). -1 if
 * there is none. */
long hs_trace_files_order(struct hs_trace_files *s, long root_pid);
/* Drop every file but those of pid (its exec'd images). */
void hs_trace_files_keep_pid(struct hs_trace_files *s, long pid);
/* A later image of the same pid than file i exists in the set. */
bool hs_trace_files_has_next(const struct hs_trace_files *s, size_t i);
void hs_trace_files_free(struct hs_trace_files *s);

#endif
