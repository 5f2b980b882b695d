/*
 * svg_files.c — `heapscope report --svg DIR`: each picture as a file.
 *
 *   vmsize.svg        memory over time, with the growth verdict
 *   efficiency.svg    heap efficiency and fragmentation over time
 *   free-orders.svg   free memory per buddy order at exit
 *   heapmap-exit.svg, heapmap-peak.svg, heapmap-signal-N.svg,
 *   heapmap-api-LABEL.svg   one per snapshot (N counts from 1; a label
 *                     used twice gets -2, -3 ...)
 */
#include "svg.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int write_one(const char *dir, const char *name, FILE *log,
                     void (*fn)(FILE *, const void *, const void *),
                     const void *a, const void *b)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path = hs_xmalloc(len);
	snprintf(path, len, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	int rc = 0;
	if (!f) {
		fprintf(stderr, "heapscope: cannot write %s: %s\n", path, strerror(errno));
		rc = -1;
	} else {
		fn(f, a, b);
		if (ferror(f) | (fclose(f) != 0)) {
			fprintf(stderr, "heapscope: error writing %s\n", path);
			rc = -1;
		} else if (log) {
			fprintf(log, "heapscope: wrote %s\n", path);
		}
	}
	free(path);
	return rc;
}

static void do_growth(FILE *f, const void *tr, const void *g)
{
	hs_svg_growth(f, tr, g);
}

static void do_eff(FILE *f, const void *fr, const void *unused)
{
	(void)unused;
	hs_svg_efficiency(f, fr);
}

static void do_orders(FILE *f, const void *fr, const void *unused)
{
	(void)unused;
	hs_svg_free_orders(f, fr);
}

static void do_map(FILE *f, const void *tr, const void *s)
{
	hs_svg_heapmap(f, tr, s, NULL);
}

/* A file-name-safe copy of a label. */
static void safe(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 1 < cap; s++)
		out[n++] = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		           (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_' ? *s : '_';
	out[n] = 0;
}

int hs_svg_write_dir(const char *dir, const struct hs_trace *tr, FILE *log)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "heapscope: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	struct hs_vmgrowth g;
	struct hs_frag fr;
	hs_vmgrowth(tr, &g);
	hs_frag_compute(&fr, tr);
	int rc = 0;
	rc |= write_one(dir, "vmsize.svg", log, do_growth, tr, &g);
	rc |= write_one(dir, "efficiency.svg", log, do_eff, &fr, NULL);
	rc |= write_one(dir, "free-orders.svg", log, do_orders, &fr, NULL);
	unsigned nsig = 0;
	for (size_t i = 0; i < tr->snaps.n; i++) {
		const struct hs_snap *s = &tr->snaps.v[i];
		char name[160], lab[80];
		if (s->unreadable)
			continue;
		if (!strcmp(s->kind, "signal")) {
			snprintf(name, sizeof name, "heapmap-signal-%u.svg", ++nsig);
		} else if (!strcmp(s->kind, "api")) {
			safe(lab, sizeof lab, s->label);
			unsigned same = 0;
			for (size_t j = 0; j < i; j++)
				same += !strcmp(tr->snaps.v[j].kind, "api") &&
				        !strcmp(tr->snaps.v[j].label, s->label);
			if (same)
				snprintf(name, sizeof name, "heapmap-api-%s-%u.svg", lab, same + 1);
			else
				snprintf(name, sizeof name, "heapmap-api-%s.svg", lab);
		} else {
			safe(lab, sizeof lab, s->kind);
			snprintf(name, sizeof name, "heapmap-%s.svg", lab);
		}
		rc |= write_one(dir, name, log, do_map, tr, s);
	}
	hs_frag_free(&fr);
	return rc ? -1 : 0;
}
