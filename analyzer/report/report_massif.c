/*
 * report_massif.c — `--massif-out FILE`: the heap over time in valgrind
 * massif's file format, for ms_print and massif-visualizer.
 *
 * The file: `desc:`, `cmd:`, `time_unit: ms`, then snapshots
 *
 *   snapshot=N
 *   time=T                    ms since recording started
 *   mem_heap_B=B              live requested bytes
 *   mem_heap_extra_B=0        massif's headers and rounding; heapscope's
 *                             samples have them only together with slots
 *                             cached for reuse and the quarantine (up to
 *                             1 MiB a thread), which would drown the
 *                             program's own bytes in the graph
 *   mem_stacks_B=0
 *   heap_tree=empty|detailed|peak
 *
 * and for a detailed snapshot a tree, one node per line, a space of
 * indentation per level: `nK: BYTES DETAILS` with K children following.
 * The root is all the heap; its children are the frames that called the
 * allocator (innermost), theirs the callers, and so on; the children of
 * a node that hold less than 1% of the heap each are one line "in N
 * places, below massif's threshold (1.00%)", as massif writes them.
 *
 * Snapshots come from the samples (at most MAX_SNAPSHOTS, evenly spread):
 * every tenth of them detailed (per-site bytes from the `U` lines), the
 * last one detailed from the exact exit totals, and the peak (the `K`
 * line, per-site bytes at the peak from the `Q` lines) in its place in
 * time as the `peak` tree. A detailed snapshot's heap size is the sum of
 * its tree (ms_print wants no node above the total). Only the
 * MAX_TREE_SITES biggest sites go into a tree: any other holds less than
 * 1/MAX_TREE_SITES of the heap, far below the threshold, and is counted
 * in the root's "below threshold" line, which bounds the symbolization.
 */
#include "analysis/frametree.h"
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SNAPSHOTS  60
#define DETAILED_EVERY 10
#define MAX_TREE_SITES 2000
#define THRESHOLD      0.01

/* A site's frames, innermost first (massif's order), as massif labels
 * them: "0x4005c4: fn (file.c:12)". */
static void add_site(const struct hs_analysis *a, struct hs_ftree *t, uint32_t stack,
                     uint64_t bytes)
{
	const struct hs_frame *fr;
	size_t n = hs_display(a, stack, &fr);
	const char **label = hs_xmalloc((n ? n : 1) * sizeof *label);
	for (size_t i = 0; i < n; i++) {
		char l[1400], where[1200];
		snprintf(l, sizeof l, "0x%" PRIx64 ": %s%s", fr[i].address,
		         fr[i].function ? fr[i].function : "???",
		         hs_text_where(&fr[i], where, sizeof where));
		for (char *c = l; *c; c++)               /* '#' starts a comment */
			if (*c == '#')                   /* for ms_print          */
				*c = '_';
		label[i] = hs_ftree_intern(t, l);
	}
	hs_ftree_add(t, label, NULL, n, "0x0: ??? (stack not recorded)", bytes);
	free(label);
}

/* Node i and its subtree; extra, places: insignificant bytes in sites
 * that are not in the tree (the root's only). */
static void print_node(FILE *f, const struct hs_ftree *t, size_t i, unsigned depth,
                       uint64_t total, uint64_t extra, size_t places)
{
	const struct hs_fnode *x = hs_fnode(t, i);
	size_t nkids, nsig = 0, *kids = hs_ftree_children(t, i, &nkids);
	uint64_t small = extra;
	size_t nsmall = places;
	for (size_t k = 0; k < nkids; k++) {     /* most bytes first */
		if ((double)hs_fnode(t, kids[k])->bytes >= THRESHOLD * (double)total) {
			nsig++;
		} else {
			small += hs_fnode(t, kids[k])->bytes;
			nsmall += 1;
		}
	}
	fprintf(f, "%*sn%zu: %" PRIu64 " %s\n", (int)depth, "", nsig + (nsmall ? 1 : 0),
	        x->bytes + extra, x->label);
	for (size_t k = 0; k < nsig; k++)
		print_node(f, t, kids[k], depth + 1, total, 0, 0);
	if (nsmall)
		fprintf(f, "%*sn0: %" PRIu64 " in %zu place%s, below massif's threshold (%.2f%%)\n",
		        (int)depth + 1, "", small, nsmall, nsmall == 1 ? "" : "s", THRESHOLD * 100);
	free(kids);
}

static int by_value(const void *x, const void *y, void *arg)
{
	const double *v = arg;
	double a = v[*(const size_t *)x], b = v[*(const size_t *)y];
	return a > b ? -1 : a < b;
}

/* The detailed tree of bytes[i] per site i (profile order) into t; the
 * sites left out add up to *rest bytes in *rest_places sites. */
static void tree_of(const struct hs_analysis *a, const double *bytes, struct hs_ftree *t,
                    uint64_t *rest, size_t *rest_places)
{
	const struct hs_profile *p = &a->profile;
	hs_ftree_init(t, "(heap allocation functions) malloc/new/new[], --alloc-fns, etc.");
	size_t *order = hs_xmalloc((p->nsites ? p->nsites : 1) * sizeof *order), m = 0;
	for (size_t i = 0; i < p->nsites; i++)
		if (bytes[i] >= 1)
			order[m++] = i;
	/* the biggest MAX_TREE_SITES go in; the rest are counted at the root */
	*rest = 0;
	*rest_places = 0;
	if (m > MAX_TREE_SITES) {
		qsort_r(order, m, sizeof *order, by_value, (void *)bytes);
		for (size_t k = MAX_TREE_SITES; k < m; k++)
			*rest += (uint64_t)bytes[order[k]];
		*rest_places = m - MAX_TREE_SITES;
		m = MAX_TREE_SITES;
	}
	for (size_t k = 0; k < m; k++)
		add_site(a, t, p->sites[order[k]].stack, (uint64_t)bytes[order[k]]);
	free(order);
}

static void snapshot(FILE *f, unsigned *num, uint64_t t_ms, uint64_t heap, const char *kind)
{
	fprintf(f, "#-----------\nsnapshot=%u\n#-----------\ntime=%" PRIu64 "\nmem_heap_B=%"
	        PRIu64 "\nmem_heap_extra_B=0\nmem_stacks_B=0\nheap_tree=%s\n", (*num)++,
	        t_ms, heap, kind);
}

static void detailed(FILE *f, const struct hs_analysis *a, unsigned *num, uint64_t t_ms,
                     const double *bytes, bool peak)
{
	struct hs_ftree t;
	uint64_t rest;
	size_t places;
	tree_of(a, bytes, &t, &rest, &places);
	uint64_t total = hs_fnode(&t, 1)->bytes + rest;
	snapshot(f, num, t_ms, total, peak ? "peak" : "detailed");
	print_node(f, &t, 1, 0, total, rest, places);
	hs_ftree_free(&t);
}

void hs_report_massif(FILE *f, const struct hs_analysis *a)
{
	const struct hs_trace *tr = a->tr;
	const struct hs_profile *p = &a->profile;
	size_t ns = tr->nsamples, n = p->nsites, shown = ns < MAX_SNAPSHOTS ? ns : MAX_SNAPSHOTS;
	fprintf(f, "desc: heapscope: live requested bytes (extra heap not recorded)\n"
	        "cmd: %s\ntime_unit: ms\n",
	        tr->argv ? tr->argv : tr->exe ? tr->exe : "?");
	double *bytes = hs_xmalloc((n ? n : 1) * sizeof *bytes), t;
	unsigned num = 0;
	bool peak_done = !p->have_peak;
	for (size_t k = 0; k < shown; k++) {
		size_t i = shown <= 1 ? k : (size_t)((double)k * (double)(ns - 1) / (double)(shown - 1) + 0.5);
		const struct hs_tsample *s = &tr->samples[i];
		if (!peak_done && p->peak_t_ms < s->t_ms) {
			for (size_t j = 0; j < n; j++)
				bytes[j] = (double)p->sites[j].peak_live;
			detailed(f, a, &num, p->peak_t_ms, bytes, true);
			peak_done = true;
		}
		bool last = k + 1 == shown;
		if (!p->have || !(last || k % DETAILED_EVERY == DETAILED_EVERY - 1)) {
			snapshot(f, &num, s->t_ms, s->live, "empty");
			continue;
		}
		t = (double)s->t_ms / 1000.0;
		for (size_t j = 0; j < n; j++)
			hs_profile_series(p, j, &t, 1, &bytes[j]);
		if (last && tr->nsites)           /* the exact totals at exit */
			for (size_t j = 0; j < n; j++)
				bytes[j] = (double)p->sites[j].exit_live;
		detailed(f, a, &num, s->t_ms, bytes, false);
	}
	if (!peak_done) {
		for (size_t j = 0; j < n; j++)
			bytes[j] = (double)p->sites[j].peak_live;
		detailed(f, a, &num, p->peak_t_ms, bytes, true);
	}
	free(bytes);
}
