/*
 * options.c — command-line options of `heapscope run` and `report`.
 *
 * Long options take their value as --opt=V or --opt V. For `run`, the
 * first argument that is not an option (or everything after `--`) is the
 * program, so the program's own options are never taken for ours.
 * Every problem is one line on stderr and exit code 2.
 */
#include "cli.h"
#include "fail_policy.h"
#include "trace/trace_read.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hs_cli_usage(FILE *f)
{
	fputs(
"usage: heapscope run [options] [--] PROGRAM [ARGS...]\n"
"       heapscope [valgrind options] [--] PROGRAM [ARGS...]\n"
"       heapscope report [options] TRACE... | DIR\n"
"       heapscope sweep [options] [--] PROGRAM [ARGS...]\n"
"       heapscope --help | --version\n"
"\n"
"run     runs PROGRAM with libheapscope.so preloaded, then prints the leak\n"
"        and heap-error report of every process it started to stderr\n"
"        (==PID== before each line; one line for a process with nothing to\n"
"        report). Its traces stay in heapscope.PROG.PID/ (one entry in the\n"
"        current directory) unless -o names them.\n"
"report  prints the reports of an earlier run (to stdout): its directory,\n"
"        or trace files.\n"
"sweep   fails PROGRAM's allocations one point at a time and reports which\n"
"        calls it does not survive (heapscope sweep --help).\n"
"\n"
"Without a command, heapscope takes valgrind's memcheck options and\n"
"defaults (--leak-check=, --show-leak-kinds=, --errors-for-leak-kinds=,\n"
"--num-callers=, --log-file=, --log-fd=, --xml=yes --xml-file=,\n"
"--gen-suppressions=, --trace-children=, ...), so it can stand in for\n"
"valgrind in CTest, meson test --wrap and CI scripts; `run` takes them too.\n"
"The table: docs/VALGRIND.md, or man heapscope.\n"
"\n"
"options:\n"
"  -o FILE               run: name the traces FILE instead (%p is the process\n"
"                        id; without it, processes other than the one\n"
"                        started write FILE.PID). A file is never overwritten.\n"
"  --json FILE           also write the JSON report: FILE for the process\n"
"                        started, FILE.PID for each other one (or %p in FILE;\n"
"                        - = stdout, the process started only)\n"
"  --log-file FILE       write the text reports to FILE instead (%p: a file\n"
"                        per process)\n"
"  --leak-kinds=LIST     loss records to list: definite,indirect,possible,\n"
"                        reachable, all or none (default definite,indirect,\n"
"                        possible); every kind is counted in LEAK SUMMARY\n"
"                        (valgrind's --show-leak-kinds is accepted too)\n"
"  --stack-depth N       run: frames recorded per allocation (1-256);\n"
"                        report: frames shown per stack\n"
"  --suppressions FILE   valgrind ({ ... Memcheck:Leak ... }) or LeakSanitizer\n"
"                        (leak:PATTERN) suppressions; may be repeated\n"
"  --error-exitcode N    exit with N (1-255; 0: off) when a definite, indirect or\n"
"                        possible leak or a heap error was found in any\n"
"                        process\n"
"  -q, --quiet           print only what was found\n"
"  --no-children         run: do not trace the programs it execs (forked\n"
"                        children are always traced)\n"
"  --fail POLICY         run: inject allocation failures (HEAPSCOPE_FAIL),\n"
"                        e.g. nth=5 or prob=0.01,seed=1; the grammar:\n"
"                        heapscope help fail\n"
"  --html FILE           also write one self-contained HTML report (%p allowed):\n"
"                        summary, memory charts, heap maps, leaks with stacks\n"
"  --svg DIR             also write the charts and heap maps as SVG files\n"
"  --massif-out FILE     also write the heap over time in valgrind massif's\n"
"                        format, for ms_print and massif-visualizer (%p allowed)\n"
"  --folded FILE         also write the live bytes at the peak as folded stacks\n"
"                        (main;parse;xstrdup 12345), for flamegraph.pl and\n"
"                        speedscope (%p allowed)\n"
"  --sample-interval MS  run: sample VmSize and heap counters every MS\n"
"                        milliseconds (default 50; 0: at start and exit only)\n"
"  --abort-on-error      run: stop the program at the first heap error\n"
"                        (invalid, double or mismatched free, overrun, write\n"
"                        after free); the report is still written\n"
"  --no-checks           run: no canaries, quarantine or fill (faster; invalid,\n"
"                        double and mismatched frees are still caught)\n"
"  --quarantine BYTES    run: freed bytes held per thread before reuse, to catch\n"
"                        writes after free and double frees (k/m suffix;\n"
"                        default 256k; 0 = none)\n"
"  --help, --version\n"
"\n"
"exit status:\n"
"  run     the program's own status (128+N when killed by signal N), or the\n"
"          --error-exitcode value when problems were found (or when no\n"
"          complete trace could be read); 126 the program could not be\n"
"          executed, 127 it was not found, 2 a usage error, 1 heapscope\n"
"          itself failed\n"
"  report  0, or the --error-exitcode value when problems were found;\n"
"          1 when a trace is unreadable or damaged (the report shows what\n"
"          came before the damage); 2 a usage error\n", f);
}

static int usage_error(const struct hs_cli *c, const char *fmt, const char *arg)
{
	fprintf(stderr, "heapscope %s: ", c->cmd);
	fprintf(stderr, fmt, arg);
	fputs(" (see heapscope --help)\n", stderr);
	return -1;
}

int hs_cli_number(const char *who, const char *opt, int optlen, const char *v,
                  long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi) {
		fprintf(stderr, "%s: %.*s: '%s' is not a number from %ld to %ld\n",
		        who, optlen, opt, v, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

static int number(const struct hs_cli *c, const char *opt, const char *v,
                  long lo, long hi, long *out)
{
	char who[32];
	snprintf(who, sizeof who, "heapscope %s", c->cmd);
	return hs_cli_number(who, opt, (int)strlen(opt), v, lo, hi, out);
}

static int leak_kinds(const struct hs_cli *c, const char *v, unsigned *mask)
{
	char bad[64];
	if (hs_leak_kinds_parse(v, mask, bad, sizeof bad) == 0)
		return 0;
	fprintf(stderr, "heapscope %s: --leak-kinds: unknown kind '%s' "
	        "(definite, indirect, possible, reachable, all or none)\n", c->cmd, bad);
	return -1;
}

/* Options that take a value. */
enum { O_OUT, O_JSON, O_LOG, O_KINDS, O_DEPTH, O_SUPP, O_EXITCODE, O_FAIL,
       O_HTML, O_SVG, O_SAMPLE, O_QUAR, O_MASSIF, O_FOLDED };
static const struct { const char *name; int id; bool run_only; } valued[] = {
	{ "-o", O_OUT, true }, { "--json", O_JSON, false }, { "--log-file", O_LOG, false },
	{ "--leak-kinds", O_KINDS, false }, { "--show-leak-kinds", O_KINDS, false },
	{ "--stack-depth", O_DEPTH, false },
	{ "--suppressions", O_SUPP, false }, { "--error-exitcode", O_EXITCODE, false },
	{ "--fail", O_FAIL, true },
	{ "--html", O_HTML, false }, { "--svg", O_SVG, false },
	{ "--massif-out", O_MASSIF, false }, { "--folded", O_FOLDED, false },
	{ "--sample-interval", O_SAMPLE, true }, { "--quarantine", O_QUAR, true },
};

static int set_value(struct hs_cli *c, int id, const char *name, const char *v)
{
	long n;
	switch (id) {
	case O_OUT:
		if (!*v)
			return usage_error(c, "%s: empty file name", name);
		c->out = v;
		return 0;
	case O_JSON:
		if (!*v)
			return usage_error(c, "%s: empty file name", name);
		c->json = v;
		return 0;
	case O_LOG:
		if (!*v)
			return usage_error(c, "%s: empty file name", name);
		c->log_file = v;
		return 0;
	case O_KINDS:
		return leak_kinds(c, v, &c->show_kinds);
	case O_DEPTH:
		/* run: what the shim can record; report: what to show */
		if (number(c, name, v, 1, strcmp(c->cmd, "run") == 0 ? HS_MAX_RECORD_DEPTH
		           : HS_TRACE_MAX_FRAMES, &n) < 0)
			return -1;
		c->stack_depth = n;
		return 0;
	case O_SUPP:
		*HS_PUSH(c->supp_files, c->nsupp, c->cap_supp) = v;
		return 0;
	case O_EXITCODE:
		/* 0 is off, as valgrind's --error-exitcode=0 (valgrind_opts.c) */
		if (number(c, name, v, 0, 255, &n) < 0)
			return -1;
		c->error_exitcode = (int)n;
		return 0;
	case O_FAIL: {
		char err[320];
		if (!*v)
			return usage_error(c, "%s: empty policy", name);
		if (!hs_cli_fail_policy_ok(v, err, sizeof err)) {
			fprintf(stderr, "heapscope %s: --fail %s: %s\n", c->cmd, v, err);
			return -1;
		}
		c->fail = v;
		return 0;
	}
	case O_HTML:
	case O_SVG:
	case O_MASSIF:
	case O_FOLDED:
		if (!*v)
			return usage_error(c, "%s: empty file name", name);
		*(id == O_HTML ? &c->html : id == O_SVG ? &c->svg_dir
		  : id == O_MASSIF ? &c->massif_out : &c->folded) = v;
		return 0;
	case O_SAMPLE:
		return number(c, name, v, 0, 3600000, &c->sample_ms);
	case O_QUAR: {
		/* checked here, so a typo is a usage error and not a warning
		 * from inside the program */
		char *end;
		errno = 0;
		unsigned long long q = strtoull(v, &end, 10);
		if (end != v && (*end == 'k' || *end == 'K' || *end == 'm' || *end == 'M'))
			end++;
		if (!*v || *v == '-' || *end || errno || q > (1ull << 40))
			return usage_error(c, "--quarantine: expected a size in bytes (k "
			                   "or m suffix allowed), not '%s'", v);
		c->quarantine = v;
		return 0;
	}
	}
	return -1;
}

/* One option at argv[*i]; advances *i past its value. valgrind's own
 * options (valgrind_opts.c) come first: they are taken there or
 * rewritten as one of ours. */
static int option(struct hs_cli *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	char ours[64];
	int vg = hs_vg_option(c, a, ours, sizeof ours);
	if (vg < 0)
		return -1;
	if (vg == 1)
		return 0;
	if (vg == 2)                /* the value is kept: options point into it */
		a = *HS_PUSH(c->owned, c->nowned, c->cap_owned) = hs_xstrdup(ours);
	if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
		c->quiet = true;
		return 0;
	}
	if (strcmp(a, "--no-children") == 0 || strcmp(a, "--abort-on-error") == 0
	    || strcmp(a, "--no-checks") == 0) {
		if (strcmp(c->cmd, "run") != 0)
			return usage_error(c, "%s only applies to 'heapscope run'", a);
		if (strcmp(a, "--no-children") == 0)
			c->no_children = true;
		else if (strcmp(a, "--abort-on-error") == 0)
			c->abort_on_error = true;
		else
			c->no_checks = true;
		return 0;
	}
	for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
		size_t nl = strlen(valued[k].name);
		const char *v;
		if (strncmp(a, valued[k].name, nl) != 0)
			continue;
		if (a[nl] == '=')
			v = a + nl + 1;                       /* --opt=value          */
		else if (a[nl] == 0) {
			if (*i + 1 >= argc)
				return usage_error(c, "%s needs a value", valued[k].name);
			v = argv[++*i];                       /* --opt value, -o FILE */
		} else if (a[1] != '-')
			v = a + nl;                           /* -oFILE               */
		else
			continue;                             /* a longer option name */
		if (valued[k].run_only && strcmp(c->cmd, "run") != 0) {
			if (valued[k].id == O_OUT)
				return usage_error(c, "%s", "-o names the trace that 'run' "
				                   "writes; for the text report use --log-file");
			return usage_error(c, "%s only applies to 'heapscope run'",
			                   valued[k].name);
		}
		return set_value(c, valued[k].id, valued[k].name, v);
	}
	return usage_error(c, "unknown option '%s'", a);
}

int hs_cli_parse(struct hs_cli *c, int argc, char **argv, int first)
{
	bool run = strcmp(c->cmd, "run") == 0;
	c->show_kinds = 1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_INDIRECT
	                | 1u << HS_LEAK_POSSIBLE;
	c->sample_ms = -1;
	c->error_kinds = 1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_POSSIBLE;
	c->log_fd = c->xml_fd = -1;
	if (c->valgrind)
		hs_vg_defaults(c);
	c->argv = argv;
	c->argc_own = argc;
	c->args = hs_xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			c->argc_own = i + 1;
			while (++i < argc)
				c->args[c->nargs++] = argv[i];
			break;
		}
		if (a[0] == '-' && a[1]) {
			if (option(c, argc, argv, &i) < 0)
				return -1;
			continue;
		}
		if (run)
			c->argc_own = i;
		c->args[c->nargs++] = argv[i];
		if (run) {                 /* the program: the rest is its own     */
			while (++i < argc)
				c->args[c->nargs++] = argv[i];
			break;
		}
	}
	if (run && c->nargs == 0)
		return usage_error(c, "%s", "no program given (heapscope run [options] "
		                   "[--] PROGRAM [ARGS...])");
	if (!run && c->nargs == 0)
		return usage_error(c, "%s", "no trace given (heapscope report [options] "
		                   "TRACE... or DIR)");
	return hs_vg_check(c);
}

void hs_cli_free(struct hs_cli *c)
{
	free(c->args);
	free(c->supp_files);
	hs_supps_free(c->supps);
	for (size_t i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
}

/* What valgrind's exit-time clean-up frees (__libc_freeres and
 * __gnu_cxx::__freeres, which it calls before its leak check) is still
 * allocated when heapscope's scan runs, inside the process, before
 * stdio is flushed: calling them there would free buffers the exit path
 * still uses. In valgrind's style those still-reachable blocks are
 * suppressed instead, so a clean program is clean under both tools:
 * stdio's buffers, and blocks allocated before the recorder started
 * (the loader's, and libstdc++'s emergency exception pool, 72,704
 * bytes), which have no stack. */
static const char runtime_supps[] =
	"{\n"
	"   heapscope:libc-stdio-buffer\n"
	"   Memcheck:Leak\n"
	"   match-leak-kinds: reachable\n"
	"   fun:malloc\n"
	"   fun:_IO_file_doallocate\n"
	"}\n";

static int load_runtime_supps(struct hs_supps *s)
{
	char err[512];
	if (hs_supps_parse(s, "(heapscope's runtime suppressions)", runtime_supps,
	                   sizeof runtime_supps - 1, err, sizeof err) < 0) {
		fprintf(stderr, "heapscope: %s\n", err);
		return -1;
	}
	hs_supps_add_unrecorded(s, "heapscope:runtime-start-up", 1u << HS_LEAK_REACHABLE);
	return 0;
}

int hs_cli_load_supps(struct hs_cli *c)
{
	char err[512];
	c->supps = hs_supps_new();
	if (c->runtime_supps && load_runtime_supps(c->supps) < 0)
		return -1;
	for (size_t i = 0; i < c->nsupp; i++)
		if (hs_supps_load(c->supps, c->supp_files[i], err, sizeof err) < 0) {
			fprintf(stderr, "heapscope: bad suppression file: %s\n", err);
			return -1;
		}
	return 0;
}
