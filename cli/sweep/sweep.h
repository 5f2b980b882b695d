/*
 * sweep.h — `heapscope sweep`: fail one allocation point at a time and
 * see what the program does.
 *
 *   sweep.c         the command: the clean run, the plan, the runs
 *   sweep_opts.c    options and usage
 *   sweep_exec.c    starting runs (shim, scope, private trace names),
 *                   waiting for them in parallel, timeouts
 *   sweep_sites.c   the table of sites, by key
 *   sweep_trace.c   what a run's trace says: the census, the injected
 *                   failures, definitely lost blocks, stacks as
 *                   run-independent keys, symbolized frames
 *   sweep_report.c  the summary table and the JSON (docs/SWEEP.md)
 *
 * A *site* is a distinct allocating stack, compared across runs by its
 * frames as (object path, file address) pairs, since load addresses move
 * from run to run.
 */
#ifndef HS_SWEEP_H
#define HS_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "trace/trace_read.h"

/* argv[0] is "sweep"; options and the program follow. */
int hs_cmd_sweep(int argc, char **argv);

/* Outcomes, best first: a site's outcome is the worst of its runs'. */
enum sw_outcome { SW_HANDLED = 0, SW_LEAKED, SW_HUNG, SW_CRASHED, SW_NR_OUTCOMES };
extern const char *const sw_outcome_name[SW_NR_OUTCOMES];

enum sw_flavour { SW_TRANSIENT = 1, SW_PERSISTENT = 2 };

struct sw_opts {
	bool     nth_mode;          /* --mode=nth (else site)                 */
	unsigned flavours;          /* SW_TRANSIENT | SW_PERSISTENT           */
	unsigned jobs;              /* -j                                     */
	double   timeout;           /* --timeout seconds; 0 = from clean run  */
	unsigned site_frames;       /* --site-frames: 0 = the whole stack     */
	unsigned show_frames;       /* frames printed per site (0 = to main)  */
	const char *json;           /* --json FILE, "-" = stdout               */
	bool     keep;              /* --keep the temp dir                    */
	bool     quiet;             /* no progress line                       */
	unsigned shard_k, shard_n;  /* --shard K/N; 0/0 = every run           */
	bool     merge;             /* --merge: args are the parts' JSON files */
	char   **args;              /* the program and its arguments          */
	int      nargs;
};

/* sweep_opts.c: parse argv[1..]; one line on stderr and false on error.
 * *help is set for --help (usage printed). */
bool sw_parse_opts(struct sw_opts *o, int argc, char **argv, bool *help);

/* ---- sweep_exec.c ---------------------------------------------------------- */
struct sw_env {
	const char *dir;            /* private temp dir (mkdtemp)             */
	const char *shim;           /* libheapscope.so                        */
	char *const *args;
	unsigned gen;               /* exec generation to inject in           */
};

/* One process to run: the clean census run (policy NULL) or a failing
 * one. Filled by sw_start, finished by the pool. */
struct sw_proc {
	size_t   idx;               /* run number (names its files)           */
	const char *policy;         /* HEAPSCOPE_FAIL, NULL = census run      */
	pid_t    pid;               /* also the process group                 */
	double   started, deadline; /* monotonic seconds                      */
	bool     timed_out;
	int      status;            /* from waitpid                           */
	double   seconds;           /* wall time                              */
};

double sw_now(void);
/* Start p (idx and policy set) in its own process group, its output in
 * DIR/rIDX.out, its traces named DIR/rIDX.%p. false (said) on failure. */
bool   sw_start(const struct sw_env *e, struct sw_proc *p, double timeout);
/* Wait until one of the running processes ends or passes its deadline
 * (then its group is killed and it is reaped). Returns the finished one,
 * or NULL after `tick` seconds with nothing finished. */
struct sw_proc *sw_wait_any(struct sw_proc **running, size_t n, double tick);
/* The trace pattern of run idx ("DIR/rIDX.%p"). Returns a new string. */
char  *sw_trace_pattern(const struct sw_env *e, size_t idx);
/* Remove every file of run idx (traces of all its processes, output). */
void   sw_remove_run(const struct sw_env *e, size_t idx);
/* Block SIGCHLD (sw_wait_any waits for it) and keep the terminal's
 * SIGINT/SIGTERM from leaving runs behind: they kill every running group. */
void   sw_signals_take(void);
void   sw_signals_give_back(void);
void   sw_kill_all(struct sw_proc **running, size_t n);
/* The signal that asked us to stop (SIGINT, SIGTERM, SIGHUP), or 0. */
int    sw_interrupted(void);

/* ---- sweep_trace.c ----------------------------------------------------------- */
struct sw_frame {
	char    *function, *file, *module;
	unsigned line;
	uint64_t address;
	bool     inlined;
};

/* What a finished run's target trace says. */
struct sw_result {
	bool     have_trace;
	uint64_t nfaults;           /* `F` lines                              */
	uint64_t first_nth;         /* first `F`                              */
	char    *first_key, *last_key;   /* site keys of first and last `F`   */
	uint32_t first_stack, last_stack;
	int      first_fn;          /* enum hs_alloc_fn of the first `F`      */
	bool     leaked;            /* definitely lost more than the clean run */
	uint64_t lost_blocks;       /* definitely lost blocks                 */
	enum hs_end_how end;
	int      end_value;
};

/* The census of the clean run: each distinct site and its first call. */
struct sw_census_site {
	char    *key;
	uint64_t nth;               /* first call number from this site       */
	uint32_t stack;             /* its stack id in the clean trace        */
	int      fn;                /* enum hs_alloc_fn                       */
	uint64_t size;
};
struct sw_census {
	bool     have_total;        /* the `n` line was there                 */
	uint64_t total;             /* allocation calls counted               */
	uint64_t stacks;            /* `N` lines                              */
	struct sw_census_site *sites;     /* one per key, by nth              */
	size_t   nsites;
};

/* Definitely lost blocks per site key, sorted (the clean run's baseline). */
struct sw_lost {
	char   **keys;              /* sorted, each site once                 */
	size_t  *blocks;            /* definitely lost blocks per key         */
	size_t   n;                 /* keys                                   */
	size_t   total;             /* blocks                                 */
};

/* The key of a stack: "path+0xoff;..." for its first `frames` frames (0:
 * all). A frame outside any module is kept as its raw address. */
char *sw_stack_key(const struct hs_trace *tr, uint32_t id, unsigned frames);
/* Read the census (`N`, `n`) and definite losses of the clean trace. */
bool  sw_read_census(const char *path, const struct hs_trace *tr, unsigned frames,
                     struct sw_census *c);
void  sw_lost_of(const struct hs_trace *tr, unsigned frames, struct sw_lost *out);
void  sw_lost_free(struct sw_lost *l);
void  sw_census_free(struct sw_census *c);
/* Read a run's trace; baseline is the clean run's losses. */
void  sw_read_result(const struct hs_trace *tr, unsigned frames,
                     const struct sw_lost *baseline, struct sw_result *r);
void  sw_result_free(struct sw_result *r);
/* Symbolize a stack, innermost first, down to main; the frames are
 * copies (they outlive the symbolizer). */
struct hs_symbolizer;
size_t sw_symbolize(struct hs_symbolizer *sym, uint32_t id, struct sw_frame **out);
void  sw_frames_free(struct sw_frame *f, size_t n);

/* ---- sweep_report.c ---------------------------------------------------------- */
struct sw_run {
	size_t   index;             /* in the whole plan (shards keep it)     */
	uint64_t nth;               /* the planned call number                */
	enum sw_flavour flavour;
	bool     injected;          /* an `F` line was written                */
	bool     off_site;          /* site mode: injected elsewhere          */
	enum sw_outcome outcome;
	int      signal;            /* crashed: the signal                    */
	int      exit_code;         /* exited: its status, else -1            */
	long     site;              /* index in sites, -1 = none              */
	double   seconds;
};

struct sw_site {
	char    *key;
	struct sw_frame *frames;
	size_t   nframes;
	int      fn;                /* enum hs_alloc_fn, -1 unknown           */
	uint64_t first_nth;         /* smallest call number seen failing here */
	uint64_t counts[SW_NR_OUTCOMES];
	uint64_t runs;
	enum sw_outcome outcome;    /* worst                                  */
	int      signal;            /* of the crashed run first in the plan   */
	size_t   crash_index;       /* that run's plan index                  */
};

/* File run r under site s: its counts, first failing call, worst
 * outcome and crash signal. The result does not depend on the order the
 * runs come in (a sweep's finish order, a merge's file order). */
void sw_site_file_run(struct sw_site *s, const struct sw_run *r);

/* ---- sweep_sites.c: sites by key ------------------------------------------------ */
struct sw_sitetab {
	struct sw_site *sites;
	size_t n, cap;
	long  *slot;                /* open addressing: site index, -1 empty   */
	size_t slot_cap;
};
/* The index of the site with this key, or -1. */
long sw_site_find(const struct sw_sitetab *t, const char *key);
/* The index of the site with this key, added if new: its frames are
 * symbolized with sym (NULL: none) from stack. */
long sw_site_get(struct sw_sitetab *t, const char *key, struct hs_symbolizer *sym,
                 uint32_t stack, int fn);
/* Worst outcome first, then by first failing call; sites no run was
 * filed under are dropped; runs[].site is renumbered to match. */
void sw_sites_sort(struct sw_sitetab *t, struct sw_run *runs, size_t nruns);
void sw_sites_free(struct sw_sitetab *t);

struct sw_summary {
	const struct sw_opts *o;
	const struct sw_census *census;
	int      clean_exit;        /* exit status of the clean run           */
	int      clean_signal;      /* or the signal that ended it (0: none);
	                               runs ending by it ended as it did      */
	double   clean_seconds, seconds, timeout;
	unsigned gen;               /* the image injected in                  */
	struct sw_run  *runs;   size_t nruns;
	size_t   planned;           /* runs in the whole plan (all shards)    */
	struct sw_site *sites;  size_t nsites;
	uint64_t outcomes[SW_NR_OUTCOMES];
	uint64_t not_injected, off_site;
};

void sw_report_text(FILE *f, const struct sw_summary *s);
/* The table and --json of a summary; returns the sweep's exit status
 * (0, 1 when a run crashed or hung, 3 when the JSON could not be written). */
int  sw_report(const struct sw_summary *s);

/* ---- sweep_merge.c: --merge ----------------------------------------------------- */
/* Join the JSON of every shard of one sweep (o->args) into the result
 * one sweep gives; refuses parts of different sweeps, naming the file. */
int  sw_merge(struct sw_opts *o);
/* Returns 0, -1 when the file could not be written (said). */
int  sw_report_json(const char *path, const struct sw_summary *s);

#endif
