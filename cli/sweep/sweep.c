/*
 * sweep.c — `heapscope sweep`: which allocation failures does a program
 * survive?
 *
 * 1. The clean run (HEAPSCOPE_CENSUS=1, no failure): the fault engine's
 *    own count of allocation calls, and for each distinct stack the
 *    number of its first call (preload/faults/fault_census.c). Its definitely
 *    lost blocks are the baseline for "leaked". If the program is a
 *    wrapper that execs the real one, the last image of the started
 *    process is the target; its generation is passed to every run so
 *    that only that image counts and fails (HEAPSCOPE_FAIL_ONLY).
 * 2. The plan: --mode=site fails each site's first call K, --mode=nth
 *    every K in 1..N; each as nth=K (transient) and/or after=K
 *    (persistent).
 * 3. The runs, -j at a time, each classified from its exit and its trace.
 *    A run belongs to the site of the failure that mattered: the first
 *    injected one, except for a crash, which is blamed on the last one
 *    injected before it (after=K fails every later call too, and the
 *    NULL that was dereferenced is the most recent). In site mode a run
 *    whose first failure is not at the planned site (a program that does
 *    not repeat its allocations exactly) still counts, at the site where
 *    it really failed, and is reported as off-site.
 */
#include "sweep.h"
#include "exit_status.h"
#include "shim_path.h"
#include "trace/trace_files.h"
#include "trace/symbolize.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const sw_outcome_name[SW_NR_OUTCOMES] = {
	"handled", "leaked", "hung", "crashed",
};

struct sweep {
	struct sw_opts o;
	struct sw_env env;
	struct sw_summary sum;
	struct sw_census census;
	struct sw_lost baseline;
	struct sw_sitetab sites;
	bool   tty;
	double t0;                  /* when the sweep started                 */
	double last_progress;
};

#define EXIT_CANNOT 3

/* ---- the clean run --------------------------------------------------------- */

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Run p alone to its end; false if it could not be started. */
static bool run_alone(struct sweep *w, struct sw_proc *p, double timeout)
{
	if (!sw_start(&w->env, p, timeout))
		return false;
	struct sw_proc *one[1] = { p };
	while (!sw_wait_any(one, 1, 0.5))
		if (sw_interrupted()) {
			sw_kill_all(one, 1);
			return false;
		}
	return true;
}

/* The first lines of run idx's output, to stderr. */
static void show_output(const struct sweep *w, size_t idx)
{
	char name[64];
	snprintf(name, sizeof name, "/r%zu.out", idx);
	char *path = hs_xmalloc(strlen(w->env.dir) + sizeof name);
	strcpy(path, w->env.dir);
	strcat(path, name);
	FILE *f = fopen(path, "r");
	char line[512];
	for (int i = 0; f && i < 10 && fgets(line, sizeof line, f); i++)
		fputs(line, stderr);
	if (f)
		fclose(f);
	free(path);
}

/* The clean run and what its trace says; see clean_run. */
static int census_run(struct sweep *w)
{
	struct sw_proc p = { .idx = 0, .policy = NULL };
	if (!run_alone(w, &p, w->o.timeout))
		return EXIT_CANNOT;
	w->sum.clean_seconds = p.seconds;
	char *pattern = sw_trace_pattern(&w->env, 0);
	const char *prog = w->o.args[0];
	if (p.timed_out) {
		fprintf(stderr, "heapscope sweep: the clean run of %s did not finish in time "
		        "without any injected failure; fix that first (its output is in "
		        "%s/r0.out)\n", prog, w->env.dir);
		w->o.keep = true;
		free(pattern);
		return EXIT_CANNOT;
	}
	/* A program may end by a signal as a matter of course (it kills
	 * itself, or aborts on purpose at the end): that is its clean ending,
	 * and a run that ends by the same signal ended as the clean run did. */
	if (WIFSIGNALED(p.status))
		w->sum.clean_signal = WTERMSIG(p.status);
	else
		w->sum.clean_exit = WEXITSTATUS(p.status);
	/* The target: the last image of the started process. */
	unsigned gen = 0;
	for (;; gen++) {
		char *next = hs_trace_file_name(pattern, p.pid, gen + 1);
		bool more = exists(next);
		free(next);
		if (!more || gen >= 1000)
			break;
	}
	char *path = hs_trace_file_name(pattern, p.pid, gen);
	free(pattern);
	w->env.gen = w->sum.gen = gen;
	struct hs_trace tr;
	if (!exists(path)) {
		/* Not started (our child said why in its output), or a static
		 * or setuid program, which ignores LD_PRELOAD. */
		show_output(w, 0);
		fprintf(stderr, "heapscope sweep: %s wrote no trace (exit status %d)%s\n",
		        prog, w->sum.clean_exit, w->sum.clean_exit >= 126 ? "" :
		        "; a static or setuid program ignores LD_PRELOAD");
		free(path);
		return EXIT_CANNOT;
	}
	if (hs_trace_read(path, &tr) < 0)
		fprintf(stderr, "heapscope sweep: warning: %s\n", tr.error);
	int rc = 0;
	if (!sw_read_census(path, &tr, w->o.site_frames, &w->census) ||
	    (!w->census.have_total && w->census.nsites == 0)) {
		fprintf(stderr, "heapscope sweep: the clean run's trace %s has no "
		        "census: is libheapscope.so from this build?\n", path);
		rc = EXIT_CANNOT;
	} else if (w->o.nth_mode && !w->census.have_total) {
		fprintf(stderr, "heapscope sweep: the clean run ended without its call "
		        "count (killed by a signal no handler sees, such as SIGKILL, or "
		        "by one the program handles itself); --mode=nth needs it, "
		        "--mode=site does not\n");
		rc = EXIT_CANNOT;
	}
	if (rc == 0) {
		sw_lost_of(&tr, w->o.site_frames, &w->baseline);
		/* Every site the clean run saw, symbolized once from its trace
		 * (a symbolizer per run trace would load the same debug info
		 * again for each new site). In site mode site k is the target
		 * of the runs planned for census entry k. */
		struct hs_symbolizer *sym = hs_sym_new(&tr, NULL);
		for (size_t i = 0; i < w->census.nsites; i++) {
			const struct sw_census_site *c = &w->census.sites[i];
			sw_site_get(&w->sites, c->key, sym, c->stack, c->fn);
		}
		hs_sym_free(sym);
	}
	hs_trace_free(&tr);
	free(path);
	return rc;
}

static int clean_run(struct sweep *w)
{
	int rc = census_run(w);
	if (!w->o.keep)
		sw_remove_run(&w->env, 0);
	return rc;
}

/* ---- the plan and the runs -------------------------------------------------- */

/* Every run of the plan, or with --shard K/N the runs whose plan index i
 * has i % N == K - 1: a fixed share whatever the machine, and spread
 * over the whole plan (crashes cluster at some sites; shares in blocks
 * would not take equally long). */
static void plan(struct sweep *w)
{
	uint64_t points = w->o.nth_mode ? w->census.total : w->census.nsites;
	unsigned per = (w->o.flavours & SW_TRANSIENT ? 1 : 0) +
	               (w->o.flavours & SW_PERSISTENT ? 1 : 0);
	w->sum.planned = (size_t)points * per;
	w->sum.runs = hs_xcalloc(w->sum.planned + 1, sizeof *w->sum.runs);
	size_t r = 0, i = 0;
	for (uint64_t k = 0; k < points; k++)
		for (unsigned f = SW_TRANSIENT; f <= SW_PERSISTENT; f <<= 1) {
			if (!(w->o.flavours & f))
				continue;
			size_t index = i++;
			if (w->o.shard_n && index % w->o.shard_n != w->o.shard_k - 1)
				continue;
			struct sw_run *run = &w->sum.runs[r++];
			run->index = index;
			run->nth = w->o.nth_mode ? k + 1 : w->census.sites[k].nth;
			run->flavour = f;
			run->site = w->o.nth_mode ? -1 : (long)k;
			run->exit_code = -1;
		}
	w->sum.nruns = r;
}

static void progress(struct sweep *w, size_t done, bool final)
{
	if (!w->tty || w->o.quiet)
		return;
	double now = sw_now();
	if (final) {                        /* the table takes its place */
		fputs("\r\033[K", stderr);
		return;
	}
	if (now - w->last_progress < 0.2)
		return;
	w->last_progress = now;
	double el = now - w->t0;
	const uint64_t *o = w->sum.outcomes;
	fprintf(stderr, "\rheapscope sweep: %zu/%zu runs, %" PRIu64 " crashed, %"
	        PRIu64 " hung, %" PRIu64 " leaked; %.0f s", done, w->sum.nruns,
	        o[SW_CRASHED], o[SW_HUNG], o[SW_LEAKED], el);
	if (done)
		fprintf(stderr, ", about %.0f s to go", el / (double)done *
		        (double)(w->sum.nruns - done));
	fputs("\033[K", stderr);
}

/* Classify finished run r (process p) and file it under its site. */
static void finish(struct sweep *w, struct sw_run *r, struct sw_proc *p)
{
	r->seconds = p->seconds;
	if (p->timed_out) {
		r->outcome = SW_HUNG;
	} else if (WIFSIGNALED(p->status)) {
		r->signal = WTERMSIG(p->status);
		r->outcome = r->signal == w->sum.clean_signal ? SW_HANDLED : SW_CRASHED;
	} else {
		r->outcome = SW_HANDLED;
		r->exit_code = WEXITSTATUS(p->status);
	}
	char *pattern = sw_trace_pattern(&w->env, p->idx);
	char *path = hs_trace_file_name(pattern, p->pid, w->env.gen);
	free(pattern);
	struct hs_trace tr;
	struct sw_result res;
	memset(&res, 0, sizeof res);
	if (exists(path)) {
		hs_trace_read(path, &tr);       /* a cut-off trace is read up to the cut */
		sw_read_result(&tr, w->o.site_frames, &w->baseline, &res);
	}
	free(path);
	long planned = r->site;
	r->site = -1;
	r->injected = res.nfaults > 0;
	if (r->injected) {
		if (r->outcome == SW_HANDLED && res.leaked)
			r->outcome = SW_LEAKED;
		bool crash = r->outcome == SW_CRASHED;
		const char *key = crash ? res.last_key : res.first_key;
		uint32_t stack = crash ? res.last_stack : res.first_stack;
		long s = sw_site_find(&w->sites, key);
		if (s < 0) {                     /* new: symbolize from this run */
			struct hs_symbolizer *sym = hs_sym_new(&tr, NULL);
			s = sw_site_get(&w->sites, key, sym, stack, res.first_fn);
			hs_sym_free(sym);
		}
		r->site = s;
		if (planned >= 0 && strcmp(res.first_key, w->sites.sites[planned].key) != 0) {
			r->off_site = true;
			w->sum.off_site++;
		}
		sw_site_file_run(&w->sites.sites[s], r);
		w->sum.outcomes[r->outcome]++;
	} else {
		w->sum.not_injected++;
	}
	if (res.have_trace)
		hs_trace_free(&tr);
	sw_result_free(&res);
	if (!w->o.keep)
		sw_remove_run(&w->env, p->idx);
}

static const char *policy_of(const struct sw_run *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s=%" PRIu64, r->flavour == SW_TRANSIENT ? "nth" : "after",
	         r->nth);
	return buf;
}

static int run_all(struct sweep *w)
{
	size_t jobs = w->o.jobs, next = 0, done = 0, nrunning = 0;
	struct sw_proc *procs = hs_xcalloc(jobs, sizeof *procs);
	struct sw_proc **running = hs_xcalloc(jobs, sizeof *running);
	char (*policy)[48] = hs_xcalloc(jobs, sizeof *policy);
	size_t *run_of = hs_xcalloc(jobs, sizeof *run_of);
	int rc = 0;
	while (done < w->sum.nruns) {
		while (nrunning < jobs && next < w->sum.nruns) {
			/* a free slot: the proc whose address is not running */
			size_t slot = 0;
			for (; slot < jobs; slot++) {
				bool busy = false;
				for (size_t i = 0; i < nrunning; i++)
					busy |= running[i] == &procs[slot];
				if (!busy)
					break;
			}
			struct sw_proc *p = &procs[slot];
			memset(p, 0, sizeof *p);
			p->idx = next + 1;          /* r0 is the clean run */
			p->policy = policy_of(&w->sum.runs[next], policy[slot], sizeof policy[slot]);
			run_of[slot] = next;
			if (!sw_start(&w->env, p, w->sum.timeout)) {
				rc = EXIT_CANNOT;
				goto out;
			}
			running[nrunning++] = p;
			next++;
		}
		struct sw_proc *p = sw_wait_any(running, nrunning, 0.2);
		if (sw_interrupted()) {
			rc = 128 + sw_interrupted();
			goto out;
		}
		if (p) {
			for (size_t i = 0; i < nrunning; i++)
				if (running[i] == p) {
					running[i] = running[--nrunning];
					break;
				}
			finish(w, &w->sum.runs[run_of[p - procs]], p);
			done++;
		}
		progress(w, done, false);
	}
	progress(w, done, true);
out:
	if (nrunning) {
		sw_kill_all(running, nrunning);
		for (size_t i = 0; i < nrunning; i++)
			if (!w->o.keep)
				sw_remove_run(&w->env, running[i]->idx);
	}
	free(procs);
	free(running);
	free(policy);
	free(run_of);
	return rc;
}

/* ---- the command ------------------------------------------------------------ */

static char *make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	size_t len = strlen(tmp) + sizeof "/heapscope-sweep.XXXXXX";
	char *d = hs_xmalloc(len);
	snprintf(d, len, "%s/heapscope-sweep.XXXXXX", tmp);
	if (!mkdtemp(d)) {
		fprintf(stderr, "heapscope sweep: cannot create a directory in %s: %s\n",
		        tmp, strerror(errno));
		free(d);
		return NULL;
	}
	return d;
}

static void cleanup(struct sweep *w, char *dir)
{
	if (!dir)
		return;
	if (w->o.keep)
		fprintf(stderr, "heapscope sweep: traces and outputs kept in %s\n", dir);
	else if (rmdir(dir) != 0)
		fprintf(stderr, "heapscope sweep: %s not removed: %s\n", dir, strerror(errno));
	free(dir);
}

static void free_all(struct sweep *w)
{
	sw_sites_free(&w->sites);
	free(w->sum.runs);
	sw_census_free(&w->census);
	sw_lost_free(&w->baseline);
}

int hs_cmd_sweep(int argc, char **argv)
{
	struct sweep w;
	memset(&w, 0, sizeof w);
	bool help;
	if (!sw_parse_opts(&w.o, argc, argv, &help))
		return HS_EXIT_USAGE;
	if (help)
		return 0;
	if (w.o.merge)
		return sw_merge(&w.o);
	char *shim = hs_find_shim("heapscope sweep");
	if (!shim)
		return EXIT_CANNOT;
	char *dir = make_dir();
	if (!dir) {
		free(shim);
		return EXIT_CANNOT;
	}
	w.env = (struct sw_env){ .dir = dir, .shim = shim, .args = w.o.args };
	w.sum.o = &w.o;
	w.sum.census = &w.census;
	w.tty = isatty(2);
	w.t0 = sw_now();
	sw_signals_take();
	int rc = clean_run(&w);
	if (sw_interrupted())
		rc = 128 + sw_interrupted();
	if (rc == 0) {
		w.sum.timeout = w.o.timeout ? w.o.timeout : 10 * w.sum.clean_seconds;
		if (!w.o.timeout && w.sum.timeout < 5)
			w.sum.timeout = 5;
		plan(&w);
		rc = run_all(&w);
		w.sum.seconds = sw_now() - w.t0;
	}
	sw_signals_give_back();
	if (rc == 0) {
		sw_sites_sort(&w.sites, w.sum.runs, w.sum.nruns);
		w.sum.sites = w.sites.sites;
		w.sum.nsites = w.sites.n;
		rc = sw_report(&w.sum);
	} else if (rc > 128) {
		fprintf(stderr, "\nheapscope sweep: interrupted\n");
	}
	free_all(&w);
	cleanup(&w, dir);
	free(shim);
	return rc;
}
