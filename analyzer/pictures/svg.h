/*
 * svg.h — the pictures, as hand-written SVG text (no library).
 *
 *   svg_util.c   text buffers, escaping, axis ticks, units
 *   svg_chart.c  line charts over time (memory, efficiency) and the
 *                free-blocks-per-order bar chart
 *   svg_map.c    heap maps: one cell per page, aggregated for big heaps
 *   svg_files.c  `heapscope report --svg DIR`: every picture as a file
 *
 * Every picture has a title, axes with units and a legend, so that it
 * reads without the code; each is one <svg> element with its own
 * xmlns, valid on its own and inline in the HTML report (no ids, so
 * several can share a page).
 */
#ifndef HS_SVG_H
#define HS_SVG_H

#include <stdbool.h>
#include <stdio.h>

#include "analysis/analyze.h"
#include "report/report.h"
#include "analysis/frag.h"
#include "analysis/growth.h"
#include "trace/heapsnap.h"
#include "trace/trace_read.h"
#include "util.h"

/* ---- svg_util.c ----------------------------------------------------------- */
/* (growable strings, struct hs_sb: util.h) */
/* Text for an SVG/HTML text node or attribute: & < > " ' escaped. */
void hs_xml_text(FILE *f, const char *s);

/* Axis ticks: a 1-2-5 step giving about `want` ticks over [0, max]. */
double hs_nice_step(double max, int want);

/* A byte unit for an axis whose largest value is max: divisor and name. */
double hs_byte_unit(double max, const char **name);

/* ---- svg_chart.c ---------------------------------------------------------- */
struct hs_line {
	const char   *name;
	const char   *color;
	const double *t, *y;            /* seconds; values in the chart's unit  */
	size_t        n;
	bool          dashed;
	bool          filled;           /* an area down to 0; draw the largest
	                                   first (stacked charts: cumulative) */
};

enum hs_yunit { HS_Y_BYTES, HS_Y_RATIO };

struct hs_chart {
	const char *title, *subtitle;
	const char *ylabel;             /* "memory", "share" ...               */
	enum hs_yunit yunit;            /* bytes (scaled to KiB/MiB/GiB) or 0..1 */
	struct hs_line lines[10];
	int nlines;
	bool   trend;                   /* a dashed fitted line, data coords   */
	double tx0, ty0, tx1, ty1;
	const char *trend_label;
	const char *empty_note;         /* drawn instead when nothing to plot  */
};
void hs_svg_line_chart(FILE *f, const struct hs_chart *c);

/* VmSize, VmRSS, live and held bytes over time, the VmSize trend. */
void hs_svg_growth(FILE *f, const struct hs_trace *tr, const struct hs_vmgrowth *g);
/* Heap efficiency and the unusable index (64 KiB requests) over time. */
void hs_svg_efficiency(FILE *f, const struct hs_frag *fr);
/* Free pages per buddy order at exit, with the unusable index. */
void hs_svg_free_orders(FILE *f, const struct hs_frag *fr);

/* ---- svg_flame.c, svg_sites.c: the heap profile ------------------------- */
/* The live bytes at the peak as a top-down flame graph (class hs-flame). */
void hs_svg_flame(FILE *f, const struct hs_analysis *a);
/* The live heap over time split by the biggest sites (stacked areas). */
void hs_svg_sites_chart(FILE *f, const struct hs_analysis *a);

/* ---- svg_map.c ------------------------------------------------------------ */
struct hs_map_stats {
	size_t arenas, pages, pages_per_cell, cells, rects;
};
/* The map of snapshot s; leaks (the trace's L lines) are drawn when s is
 * the exit snapshot. stats may be NULL. */
void hs_svg_heapmap(FILE *f, const struct hs_trace *tr, const struct hs_snap *s,
                    struct hs_map_stats *stats);

/* ---- svg_files.c ---------------------------------------------------------- */
/* Write every picture into dir (created if missing): vmsize.svg,
 * efficiency.svg, free-orders.svg, heapmap-<kind>[-<label>].svg. Says
 * what it wrote on log. Returns 0, or -1 when a file could not be
 * written (named on stderr). */
int hs_svg_write_dir(const char *dir, const struct hs_trace *tr, FILE *log);

#endif
