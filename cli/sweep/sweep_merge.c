/*
 * sweep_merge.c — `heapscope sweep --merge PART.json...`: the shards of
 * one sweep (--shard K/N, each on its own machine) joined into the
 * result a single sweep gives.
 *
 * A shard's JSON holds its runs with their plan index, its sites with
 * their keys (object file and file address per frame, the same on every
 * machine that runs the same binaries) and what the whole sweep shares:
 * program, mode, flavours, site frames, plan size, the clean run's
 * census. The parts must agree on all of that and together hold every
 * shard 1..N exactly once; otherwise the merge refuses and names the file.
 * Sites are then joined by key and everything a site says (runs,
 * outcomes, first failing call, the signal of its first crash in plan
 * order) is computed again from the runs, with the same code a sweep uses
 * (sw_site_file_run), so the result does not depend on how the runs were
 * split or in which order the parts come. Timings (wall time, run
 * seconds) are the parts' own: they are not expected to match.
 */
#include "sweep.h"
#include "exit_status.h"
#include "json_in.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PART_BYTES (1u << 30)

struct part {
	const char *file;
	struct jv   root;
	unsigned    k;              /* shard index                            */
	long       *site_of;        /* its site index -> the merged one       */
};

static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int refuse(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("heapscope sweep --merge: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return HS_EXIT_USAGE;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "heapscope sweep --merge: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = hs_xmalloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			if (cap >= MAX_PART_BYTES) {
				fprintf(stderr, "heapscope sweep --merge: %s: larger than 1 GiB\n", path);
				fclose(f);
				free(buf);
				return NULL;
			}
			buf = hs_xrealloc(buf, cap *= 2);
		}
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "heapscope sweep --merge: %s: read error\n", path);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static int64_t int_of(const struct jv *v, int64_t dflt)
{
	return v && v->type == JV_NUM && v->is_int ? v->i : dflt;
}

static double num_of(const struct jv *v)
{
	return v && v->type == JV_NUM ? v->num : 0;
}

static const char *str_of(const struct jv *v)
{
	return v && v->type == JV_STR ? v->str : NULL;
}

static const struct jv *path(const struct jv *v, const char *a, const char *b)
{
	v = jv_get(v, a);
	return b ? jv_get(v, b) : v;
}

/* What every part of one sweep shares, with the words for a refusal. */
static const struct { const char *a, *b, *what; } shared[] = {
	{ "tool", NULL, "tool" }, { "version", NULL, "format version" },
	{ "program", NULL, "program or its arguments" }, { "mode", NULL, "--mode" },
	{ "flavours", NULL, "--flavour" }, { "site_frames", NULL, "--site-frames" },
	{ "planned_runs", NULL, "number of planned runs" },
	{ "shard", "count", "number of shards" },
	{ "clean", "calls", "clean run's allocation call count" },
	{ "clean", "sites", "clean run's site count" },
	{ "clean", "image", "exec'd image failed" },
	{ "clean", "exit", "clean run's exit status" },
};

static int read_part(struct part *p)
{
	size_t len;
	char *text = slurp(p->file, &len);
	if (!text)
		return HS_EXIT_USAGE;
	char err[256];
	int rc = jv_parse(text, len, &p->root, err, sizeof err);
	free(text);
	if (rc < 0)
		return refuse("%s: not JSON: %s", p->file, err);
	if (!str_of(jv_get(&p->root, "tool")) || strcmp(str_of(jv_get(&p->root, "tool")),
	                                                "heapscope sweep") != 0)
		return refuse("%s: not the JSON of a heapscope sweep", p->file);
	int64_t k = int_of(path(&p->root, "shard", "index"), 0);
	int64_t n = int_of(path(&p->root, "shard", "count"), 0);
	if (k < 1 || n < 1 || k > n)
		return refuse("%s: not a shard (it has no \"shard\": made without --shard "
		              "K/N?)", p->file);
	p->k = (unsigned)k;
	const struct jv *runs = jv_get(&p->root, "runs"), *sites = jv_get(&p->root, "sites");
	if (!runs || runs->type != JV_ARR || !sites || sites->type != JV_ARR
	    || int_of(jv_get(&p->root, "planned_runs"), -1) < 0)
		return refuse("%s: a sweep result without runs, sites or planned_runs (from "
		              "an older heapscope?)", p->file);
	return 0;
}

static int check_same(const struct part *first, const struct part *p)
{
	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
		if (!jv_equal(path(&first->root, shared[i].a, shared[i].b),
		              path(&p->root, shared[i].a, shared[i].b)))
			return refuse("%s is not a shard of the same sweep as %s: its %s differs",
			              p->file, first->file, shared[i].what);
	return 0;
}

static int fn_of(const char *name)
{
	for (int f = 0; name && f < HS_NR_FNS; f++)
		if (strcmp(name, hs_alloc_fn_name[f]) == 0)
			return f;
	return -1;
}

static char *dup_or_null(const struct jv *v)
{
	const char *s = str_of(v);
	return s ? hs_xstrdup(s) : NULL;
}

static size_t frames_of(const struct jv *stack, struct sw_frame **out)
{
	size_t n = stack && stack->type == JV_ARR ? stack->n : 0;
	*out = hs_xcalloc(n + 1, sizeof **out);
	for (size_t i = 0; i < n; i++) {
		const struct jv *f = &stack->items[i];
		struct sw_frame *fr = &(*out)[i];
		fr->function = dup_or_null(jv_get(f, "function"));
		fr->file = dup_or_null(jv_get(f, "file"));
		fr->module = dup_or_null(jv_get(f, "module"));
		fr->line = (unsigned)int_of(jv_get(f, "line"), 0);
		const char *a = str_of(jv_get(f, "address"));
		fr->address = a ? strtoull(a, NULL, 16) : 0;
		const struct jv *in = jv_get(f, "inlined");
		fr->inlined = in && in->type == JV_BOOL && in->b;
	}
	return n;
}

/* The part's sites into the merged table, by key. */
static int join_sites(struct part *p, struct sw_sitetab *tab)
{
	const struct jv *sites = jv_get(&p->root, "sites");
	p->site_of = hs_xcalloc(sites->n + 1, sizeof *p->site_of);
	for (size_t i = 0; i < sites->n; i++) {
		const struct jv *s = &sites->items[i];
		const char *key = str_of(jv_get(s, "key"));
		if (!key)
			return refuse("%s: a site without its key (from an older heapscope?)",
			              p->file);
		long g = sw_site_get(tab, key, NULL, 0, fn_of(str_of(jv_get(s, "function"))));
		struct sw_site *site = &tab->sites[g];
		if (!site->nframes) {
			sw_frames_free(site->frames, site->nframes);
			site->nframes = frames_of(jv_get(s, "stack"), &site->frames);
		}
		p->site_of[i] = g;
	}
	return 0;
}

static int outcome_of(const char *s)
{
	for (int o = 0; s && o < SW_NR_OUTCOMES; o++)
		if (strcmp(s, sw_outcome_name[o]) == 0)
			return o;
	return -1;
}

/* The part's runs into their places in the plan. */
static int place_runs(const struct part *p, unsigned nshards, struct sw_run *runs,
                      bool *seen, size_t planned)
{
	const struct jv *list = jv_get(&p->root, "runs");
	size_t nsites = jv_get(&p->root, "sites")->n;
	for (size_t i = 0; i < list->n; i++) {
		const struct jv *r = &list->items[i];
		int64_t idx = int_of(jv_get(r, "index"), -1);
		int outcome = outcome_of(str_of(jv_get(r, "outcome")));
		const char *flavour = str_of(jv_get(r, "flavour"));
		int64_t site = int_of(jv_get(r, "site"), -1);
		const struct jv *inj = jv_get(r, "injected"), *off = jv_get(r, "off_site");
		if (idx < 0 || (size_t)idx >= planned || (size_t)idx % nshards != p->k - 1
		    || outcome < 0 || !flavour || site >= (int64_t)nsites
		    || !inj || inj->type != JV_BOOL || (inj->b && site < 0))
			return refuse("%s: its run %zu is not one of shard %u's runs in this "
			              "plan", p->file, i, p->k);
		if (seen[idx])
			return refuse("%s: run %lld of the plan is there twice", p->file,
			              (long long)idx);
		seen[idx] = true;
		struct sw_run *w = &runs[idx];
		w->index = (size_t)idx;
		w->nth = (uint64_t)int_of(jv_get(r, "nth"), 0);
		w->flavour = strcmp(flavour, "persistent") == 0 ? SW_PERSISTENT : SW_TRANSIENT;
		w->outcome = (enum sw_outcome)outcome;
		w->signal = (int)int_of(jv_get(r, "signal"), 0);
		w->exit_code = (int)int_of(jv_get(r, "exit_code"), -1);
		w->site = site >= 0 ? p->site_of[site] : -1;
		w->injected = inj->b;
		w->off_site = off && off->type == JV_BOOL && off->b;
		w->seconds = num_of(jv_get(r, "seconds"));
	}
	return 0;
}

static unsigned flavours_of(const struct jv *v)
{
	unsigned f = 0;
	for (size_t i = 0; v && v->type == JV_ARR && i < v->n; i++) {
		const char *s = str_of(&v->items[i]);
		f |= s && strcmp(s, "transient") == 0 ? SW_TRANSIENT
		   : s && strcmp(s, "persistent") == 0 ? SW_PERSISTENT : 0;
	}
	return f;
}

/* Check the parts, join them, report. */
static int merge(struct sw_opts *o, struct part *parts, size_t np, struct sw_sitetab *tab,
                 struct sw_run **runs_out, char ***args_out)
{
	for (size_t i = 0; i < np; i++) {
		int rc = read_part(&parts[i]);
		if (rc)
			return rc;
		if (i && (rc = check_same(&parts[0], &parts[i])))
			return rc;
	}
	const struct jv *root = &parts[0].root;
	unsigned nshards = (unsigned)int_of(path(root, "shard", "count"), 0);
	const char **who = hs_xcalloc(nshards + 1, sizeof *who);
	int rc = 0;
	for (size_t i = 0; i < np && !rc; i++) {
		if (who[parts[i].k])
			rc = refuse("%s and %s are the same shard (%u/%u)", who[parts[i].k],
			            parts[i].file, parts[i].k, nshards);
		who[parts[i].k] = parts[i].file;
	}
	for (unsigned k = 1; k <= nshards && !rc; k++)
		if (!who[k])
			rc = refuse("shard %u/%u is missing: give the JSON of every shard", k,
			            nshards);
	free(who);
	if (rc)
		return rc;

	size_t planned = (size_t)int_of(jv_get(root, "planned_runs"), 0);
	struct sw_run *runs = hs_xcalloc(planned + 1, sizeof *runs);
	bool *seen = hs_xcalloc(planned + 1, sizeof *seen);
	*runs_out = runs;
	for (size_t i = 0; i < np && !rc; i++)
		rc = join_sites(&parts[i], tab);
	for (size_t i = 0; i < np && !rc; i++)
		rc = place_runs(&parts[i], nshards, runs, seen, planned);
	for (size_t i = 0; i < planned && !rc; i++)
		if (!seen[i])
			rc = refuse("run %zu of the plan is in no part (a shard cut short?)", i);
	free(seen);
	if (rc)
		return rc;

	struct sw_census census = { 0 };
	const struct jv *calls = path(root, "clean", "calls");
	census.have_total = calls && calls->type == JV_NUM;
	census.total = (uint64_t)int_of(calls, 0);
	census.nsites = (size_t)int_of(path(root, "clean", "sites"), 0);
	struct sw_summary sum = {
		.o = o, .census = &census, .runs = runs, .nruns = planned, .planned = planned,
		.clean_exit = (int)int_of(jv_get(path(root, "clean", "exit"), "code"), -1),
		.clean_seconds = num_of(path(root, "clean", "seconds")),
		.timeout = num_of(jv_get(root, "timeout_seconds")),
		.gen = (unsigned)int_of(path(root, "clean", "image"), 0),
	};
	for (size_t i = 0; i < np; i++) {    /* the shards ran side by side */
		double s = num_of(jv_get(&parts[i].root, "wall_seconds"));
		if (s > sum.seconds)
			sum.seconds = s;
	}
	for (size_t i = 0; i < planned; i++) {
		const struct sw_run *r = &runs[i];
		sum.off_site += r->off_site;
		if (!r->injected) {
			sum.not_injected++;
			continue;
		}
		sw_site_file_run(&tab->sites[r->site], r);
		sum.outcomes[r->outcome]++;
	}
	sw_sites_sort(tab, runs, planned);
	sum.sites = tab->sites;
	sum.nsites = tab->n;

	const struct jv *prog = jv_get(root, "program");
	size_t nargs = prog && prog->type == JV_ARR ? prog->n : 0;
	char **args = hs_xcalloc(nargs + 1, sizeof *args);
	for (size_t i = 0; i < nargs; i++)
		args[i] = (char *)(str_of(&prog->items[i]) ? str_of(&prog->items[i]) : "?");
	*args_out = args;
	const char *mode = str_of(jv_get(root, "mode"));
	o->args = args;
	o->nargs = (int)nargs;
	o->nth_mode = mode && strcmp(mode, "nth") == 0;
	o->flavours = flavours_of(jv_get(root, "flavours"));
	o->site_frames = (unsigned)int_of(jv_get(root, "site_frames"), 0);
	o->jobs = (unsigned)int_of(jv_get(root, "jobs"), 1);
	o->merge = false;
	return sw_report(&sum);
}

int sw_merge(struct sw_opts *o)
{
	size_t np = (size_t)o->nargs;
	struct part *parts = hs_xcalloc(np + 1, sizeof *parts);
	for (size_t i = 0; i < np; i++)
		parts[i].file = o->args[i];
	struct sw_sitetab tab = { 0 };
	struct sw_run *runs = NULL;
	char **args = NULL;
	int rc = merge(o, parts, np, &tab, &runs, &args);
	for (size_t i = 0; i < np; i++) {
		jv_free(&parts[i].root);
		free(parts[i].site_of);
	}
	free(parts);
	free(runs);
	free(args);
	sw_sites_free(&tab);
	return rc;
}
