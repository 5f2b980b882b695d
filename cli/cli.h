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
	const char *massif_out;       /* --massif-out FILE: massif's format    */
	const char *folded;           /* --folded FILE: stacks of peak bytes   */
	long sample_ms;               /* --sample-interval MS; -1 = default    */
	char **args;                  /* run: program and its arguments;
	                                 report: the traces or run directory   */
	int nargs;
	struct hs_supps *supps;       /* loaded by hs_cli_load_supps           */

	/* valgrind's options, translated (valgrind_opts.c, docs/VALGRIND.md) */
	bool valgrind;                /* `heapscope [valgrind options] PROG`:
	                                 valgrind's defaults                   */
	int leak_check;               /* HS_LEAK_CHECK_* (report.h); 0: ours   */
	unsigned error_kinds;         /* --errors-for-leak-kinds (leak_check
	                                 FULL): leak kinds that are errors     */
	int log_fd;                   /* --log-fd N; -1: not given             */
	bool xml;                     /* --xml=yes                             */
	const char *xml_file;         /* --xml-file (%p allowed)               */
	int xml_fd;                   /* --xml-fd N; -1: not given             */
	int gen_supps;                /* --gen-suppressions: 0 no, 1 yes, 2 all */
	bool runtime_supps;           /* valgrind mode: suppress what valgrind's
	                                 __libc_freeres would have freed       */
	bool shim_silent;             /* HEAPSCOPE_LOG=0: no error lines from
	                                 the shim on the program's stderr      */
	char **argv;                  /* our own command line, for the XML     */
	int argc_own;                 /*   heapscope's part of it (argv[0..n)) */
	const char *trace_dir;        /* valgrind's form: private trace dir    */
	bool child_silent;            /* --child-silent-after-fork=yes: report
	                                 the started pid's images only         */
	char **owned;                 /* strings the options point into        */
	size_t nowned, cap_owned;
};

/* valgrind_opts.c: one valgrind option at arg. Returns 1 when it was
 * one (taken, or accepted with a note), 2 when it was rewritten as
 * heapscope's own option into out (options.c parses that), 0 when it is
 * not a valgrind option, -1 after one line on stderr (a bad value, or an
 * option that heapscope cannot honour). */
int  hs_vg_option(struct hs_cli *c, const char *arg, char *out, size_t cap);
/* Valgrind's defaults, before the options (c->valgrind). */
void hs_vg_defaults(struct hs_cli *c);
/* After the options: what they need of each other. 0 or -1 (said). */
int  hs_vg_check(struct hs_cli *c);
/* Remove the private trace directory (valgrind's form, no -o). */
void hs_vg_cleanup(struct hs_cli *c);
/* Could argv[1] be the program of `heapscope PROG ARGS` (valgrind's
 * form): a path, or a command found in PATH? */
bool hs_vg_is_program(const char *arg);

/* Parse argv[first..]; on a problem print one line and return -1. */
int  hs_cli_parse(struct hs_cli *c, int argc, char **argv, int first);
void hs_cli_free(struct hs_cli *c);
int  hs_cli_load_supps(struct hs_cli *c);
/* A number in [lo, hi] from option opt (its first optlen characters are
 * named); else one line "WHO: OPT: 'V' is not a number from LO to HI". */
int  hs_cli_number(const char *who, const char *opt, int optlen, const char *v,
                   long lo, long hi, long *out);
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

/* Where the text reports of a run go: dflt, or --log-file (NULL when
 * it has %p: a file per process, opened by hs_cli_report), or --log-fd;
 * *name names it for messages. NULL with *name set: it cannot be
 * written (said). hs_cli_text_close closes what open opened (not dflt,
 * stdout, stderr), frees name, and returns -1 if writing failed. */
FILE *hs_cli_text_open(const struct hs_cli *c, FILE *dflt, char **name);
int   hs_cli_text_close(FILE *f, char *name, FILE *dflt);

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
