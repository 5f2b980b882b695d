/*
 * cli.h — the heapscope command: options (options.c), `run` (run.c),
 * and the analysis both commands end with (analysis.c).
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
	const char *massif_out;       /* --massif-out FILE: massif's format    */
	const char *folded;           /* --folded FILE: stacks of peak bytes   */
	long sample_ms;               /* --sample-interval MS; -1 = default    */
	char **args;                  /* run: program and its arguments;
	                                 report: the trace                     */
	int nargs;
	struct hs_supps *supps;       /* loaded by hs_cli_load_supps           */
};

/* Parse argv[first..]; on a problem print one line and return -1. */
int  hs_cli_parse(struct hs_cli *c, int argc, char **argv, int first);
int  hs_cli_load_supps(struct hs_cli *c);
void hs_cli_usage(FILE *f);

struct hs_trace;

#define HS_OUT_JSON       1u  /* also write --json                        */
#define HS_OUT_FOUND_ONLY 2u  /* print the text only if something was found */

/* Report on a trace that has been read (completely or not): print the
 * text report (to text_out unless --log-file) and write --json if asked;
 * the trace's pid expands %p. Sets *problems when leaks or errors were
 * found. Returns 0, or -1 when an output file could not be written. */
int  hs_cli_report(const struct hs_cli *c, const struct hs_trace *tr, FILE *text_out,
                   unsigned flags, bool *problems);

int  hs_cmd_run(struct hs_cli *c);
int  hs_cmd_report(struct hs_cli *c);

#endif
