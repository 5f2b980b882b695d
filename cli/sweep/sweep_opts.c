/*
 * sweep_opts.c — options of `heapscope sweep`.
 *
 * Long options take their value as --opt=V or --opt V, -j as -jN or -j N.
 * The first argument that is not an option, or everything after `--`, is
 * the program: its own options are never taken for ours. Every problem is
 * one line on stderr (the caller exits 2).
 */
#include "sweep.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs(
"usage: heapscope sweep [options] [--] PROGRAM [ARGS...]\n"
"\n"
"Runs PROGRAM once cleanly to count its allocation calls and allocating\n"
"call sites, then again and again, failing one allocation at a time, and\n"
"classifies what each run did:\n"
"  handled   it exited by itself (any exit status), or ended by the signal\n"
"            that ends the clean run, when one does\n"
"  leaked    it exited, but lost blocks that the clean run does not lose\n"
"  hung      it did not finish within the timeout (its process group is\n"
"            killed)\n"
"  crashed   it was killed by a signal; the table names the signal and the\n"
"            stack of the failed allocation (the unchecked call)\n"
"\n"
"options:\n"
"  --mode=site|nth       site (default): fail the first call from each\n"
"                        distinct allocating stack; nth: fail every call\n"
"                        number 1..N in turn\n"
"  --flavour=transient|persistent|both\n"
"                        fail once (nth=K), or every call from K on\n"
"                        (after=K), or both (default)\n"
"  -j N, --jobs N        runs in parallel (default: the number of CPUs)\n"
"  --timeout SEC         per run (default: 10 times the clean run, at\n"
"                        least 5 s)\n"
"  --site-frames N       tell sites apart by their N innermost frames only\n"
"                        (default: every recorded frame)\n"
"  --frames N            frames shown per site (default: down to main)\n"
"  --json FILE           write the results as JSON (- = stdout)\n"
"  --keep                keep the temporary directory of traces and outputs\n"
"  --quiet               no progress line\n"
"  --shard K/N           do only runs K, K+N, K+2N, ... of the plan (the K-th\n"
"                        of N shares) and write them with --json; one share\n"
"                        per machine\n"
"\n"
"heapscope sweep [--json FILE] [--frames N] --merge PART.json...\n"
"                        join the --json files of every shard of one sweep\n"
"                        into the result a single sweep gives\n"
"\n"
"Only the program's own process is failed: when PROGRAM is a wrapper that\n"
"execs the real program (a shell script), the last image exec'd by the\n"
"started process is the one counted and failed; forked children run\n"
"without injection.\n"
"\n"
"exit status: 0 no run crashed or hung, 1 some run crashed or hung,\n"
"2 a usage error, 3 the sweep could not be done (the clean run failed).\n",
	f);
}

static bool bad(const char *what, const char *val)
{
	fprintf(stderr, "heapscope sweep: %s: '%s' (see heapscope sweep --help)\n",
	        what, val ? val : "");
	return false;
}

static bool number(const char *s, long lo, long hi, long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	long v = strtol(s, &end, 10);
	if (*end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "--name=V" or "--name V": the value, advancing *i; NULL if not NAME. */
static const char *value(const char *name, int argc, char **argv, int *i, bool *missing)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

bool sw_parse_opts(struct sw_opts *o, int argc, char **argv, bool *help)
{
	memset(o, 0, sizeof *o);
	o->flavours = SW_TRANSIENT | SW_PERSISTENT;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o->jobs = ncpu > 0 ? (unsigned)ncpu : 1;
	*help = false;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool missing = false;
		long n;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			*help = true;
			return true;
		} else if (strcmp(a, "--keep") == 0) {
			o->keep = true;
		} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			o->quiet = true;
		} else if ((v = value("--mode", argc, argv, &i, &missing))) {
			if (strcmp(v, "nth") == 0)
				o->nth_mode = true;
			else if (strcmp(v, "site") != 0)
				return bad("--mode must be site or nth", v);
		} else if ((v = value("--flavour", argc, argv, &i, &missing)) ||
		           (v = value("--flavor", argc, argv, &i, &missing))) {
			if (strcmp(v, "transient") == 0)
				o->flavours = SW_TRANSIENT;
			else if (strcmp(v, "persistent") == 0)
				o->flavours = SW_PERSISTENT;
			else if (strcmp(v, "both") == 0)
				o->flavours = SW_TRANSIENT | SW_PERSISTENT;
			else
				return bad("--flavour must be transient, persistent or both", v);
		} else if (strncmp(a, "-j", 2) == 0 && a[2]) {
			if (!number(a + 2, 1, 1024, &n))
				return bad("-j needs a number from 1 to 1024", a + 2);
			o->jobs = (unsigned)n;
		} else if ((v = value("-j", argc, argv, &i, &missing)) ||
		           (v = value("--jobs", argc, argv, &i, &missing))) {
			if (!number(v, 1, 1024, &n))
				return bad("-j needs a number from 1 to 1024", v);
			o->jobs = (unsigned)n;
		} else if ((v = value("--timeout", argc, argv, &i, &missing))) {
			char *end;
			double t = strtod(v, &end);
			if (!*v || *end || !(t > 0) || t > 86400)
				return bad("--timeout needs seconds, more than 0", v);
			o->timeout = t;
		} else if ((v = value("--site-frames", argc, argv, &i, &missing))) {
			if (!number(v, 1, 256, &n))
				return bad("--site-frames needs a number from 1 to 256", v);
			o->site_frames = (unsigned)n;
		} else if ((v = value("--frames", argc, argv, &i, &missing))) {
			if (!number(v, 1, 256, &n))
				return bad("--frames needs a number from 1 to 256", v);
			o->show_frames = (unsigned)n;
		} else if ((v = value("--json", argc, argv, &i, &missing))) {
			o->json = v;
		} else if ((v = value("--shard", argc, argv, &i, &missing))) {
			unsigned sk, sn;
			char end;
			if (sscanf(v, "%u/%u%c", &sk, &sn, &end) != 2 || sk < 1 || sn > 100000
			    || sk > sn)
				return bad("--shard needs K/N with 1 <= K <= N", v);
			o->shard_k = sk;
			o->shard_n = sn;
		} else if (strcmp(a, "--merge") == 0) {
			o->merge = true;
		} else if (missing) {
			return bad("option needs a value", a);
		} else {
			return bad("unknown option", a);
		}
		if (missing)
			return bad("option needs a value", a);
	}
	if (o->merge && o->shard_n)
		return bad("--merge joins shards; it takes no --shard", "");
	if (o->shard_n && !o->json)
		return bad("--shard writes its part with --json FILE; give one", "");
	if (i >= argc)
		return bad(o->merge ? "--merge needs the JSON files of the shards"
		           : "no program to sweep", "");
	for (int j = i; o->merge && j < argc; j++)
		if (argv[j][0] == '-' && argv[j][1])
			return bad("--merge: options come before the files", argv[j]);
	o->args = argv + i;
	o->nargs = argc - i;
	return true;
}
