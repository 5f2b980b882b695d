/*
 * cli.h — the heapscope command: options (options.c), `run` (run.c),
 * `report` and the reports of a run's processes (processes.c), the
 * report of one process (analysis.c).
 */
#ifndef HS_CLI_H
#define HS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/suppress.h"

#include "exit_status.h"

/* Deepest stack the shim records (HEAPSCOPE_STACK_DEPTH, preload/config.c). */
#define HS_MAX_RECORD_DEPTH 256

struct hs_cli {
	const char *cmd;              /* "run" or "report"                     */
	const char *out;              /* -o: the trace file `run` writes       */
	const char *json;             /* --json FILE, "-" = stdout             */
	const char *log_file;         /* --log-file FILE: the text report      */
	unsigned show_kinds;          /* --leak-kinds, bit per hs_leak_kind    */
	long stack_depth;             /* --stack-depth, 0 = shim's default     */
	const char **supp_files;      /* --suppressions, in order              */
	size_t nsupp, cap_supp;
	int error_exitcode;           /* 0 = not given                         */
	bool quiet, no_children;
	bool abort_on_error;          /* run: stop at the first heap error     */
	bool no_checks;               /* run: no canaries, quarantine, fill    */
	const char *quarantine;       /* run: --quarantine BYTES               */
	const char *fail;             /* --fail POLICY                         */
	const char *svg_dir;          /* --svg DIR: the pictures as files      */
	const char *html;             /* --html FILE (%p allowed)              */
	long sample_ms;               /* --sample-interval MS; -1 = default    */
	char **args;                  /* run: program and its arguments;
	                                 report: the traces or run directory   */
	int nargs;
	struct hs_supps *supps;       /* loaded by hs_cli_load_supps           */
};

/* Parse argv[first..]; on a problem print one line and return -1. */
int  hs_cli_parse(struct hs_cli *c, int argc, char **argv, int first);
int  hs_cli_load_supps(struct hs_cli *c);
void hs_cli_usage(FILE *f);

struct hs_trace;
struct hs_trace_files;

/* Where one process's report goes. */
struct hs_cli_dest {
	FILE *text;         /* the text report; NULL: --log-file with %p, a file
	                       per process                                     */
	const char *id;     /* "pid" or "pid.gen": %p in file names            */
	bool main;          /* the process started: --json FILE (the others
	                       FILE.<id> without %p), --html, --svg             */
	bool brief;         /* one line instead of the report when nothing was
	                       found (the run's other processes)               */
};

/* Report on a trace that has been read (completely or not). Sets
 * *problems when leaks or errors were found. Returns 0, or -1 when an
 * output file could not be written. (analysis.c) */
int  hs_cli_report(const struct hs_cli *c, const struct hs_trace *tr,
                   const struct hs_cli_dest *d, bool *problems);

/* How the process started ended, from waitpid (`run` knows it; `report`
 * does not: NULL). */
struct hs_cli_wait {
	int status;
};

/* Report on every trace of a run (processes.c): each other process first,
 * in the order they ended, one line each when nothing was found; the
 * process started (s->f[main]) last, in full. text: stderr for `run`,
 * stdout for `report` (--log-file overrides). where: the traces' place,
 * for the closing line. Sets *problems when any process had leaks or
 * errors, *failed when a trace could not be read or a report written. */
void hs_cli_report_set(const struct hs_cli *c, struct hs_trace_files *s, long main,
                       FILE *text, const struct hs_cli_wait *w, const char *where,
                       bool *problems, bool *failed);

int  hs_cmd_run(struct hs_cli *c);
int  hs_cmd_report(struct hs_cli *c);

#endif
