/*
 * html.h — `--html FILE`: the whole report as one self-contained page.
 *
 * Inline CSS and inline SVG only: no script, no font, no image, no link
 * to anything outside the file, so it opens offline, from a mail
 * attachment or a CI artefact, and renders the same everywhere.
 */
#ifndef HS_HTML_H
#define HS_HTML_H

#include <stdio.h>

#include "analysis/analyze.h"
#include "report/report.h"

/* At most this many heap maps are inlined (exit and peak first); all of
 * them are in `--svg DIR`. */
#define HS_HTML_MAX_MAPS 8

void hs_report_html(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o);

/* Parts of the page (html.c, html_profile.c): a stack as an ordered
 * list; the heap profile's section. */
void hs_html_stack(FILE *f, const struct hs_analysis *a, uint32_t id);
void hs_html_profile(FILE *f, const struct hs_analysis *a);

#endif
