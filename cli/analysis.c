/*
 * analysis.c — the report of one process, once its trace is read:
 * symbolize, apply suppressions, print the text report (or one line when
 * a process other than the one started has nothing to report) and write
 * the JSON, HTML and SVG ones. processes.c calls it for every trace of a
 * run.
 */
#include "cli.h"
#include "pictures/html.h"
#include "report/report.h"
#include "pictures/svg.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file called name, "-" being stdout; NULL (said) if it cannot be
 * written. */
static FILE *open_named(const char *name)
{
	if (strcmp(name, "-") == 0)
		return stdout;
	FILE *f = fopen(name, "w");
	if (!f)
		fprintf(stderr, "heapscope: cannot write %s: %s\n", name, strerror(errno));
	return f;
}

/* A report file: the name with %p as the process's id; a process other
 * than the one started writes NAME.<id> when the name has no %p. */
static FILE *open_out(const char *pattern, const struct hs_cli_dest *d, char **name)
{
	*name = hs_expand_name(pattern, d->id, !d->main);
	return open_named(*name);
}

static int close_out(FILE *f, const char *name)
{
	int bad = ferror(f);
	if (f == stdout)
		bad |= fflush(f) != 0;
	else
		bad |= fclose(f) != 0;
	if (bad)
		fprintf(stderr, "heapscope: error writing %s\n", name);
	return bad ? -1 : 0;
}

/* A descriptor given with --log-fd / --xml-fd: stdout and stderr as they
 * are, any other one through a copy, so that closing the stream leaves
 * the caller's descriptor open. */
static FILE *open_fd(int fd, char **name)
{
	*name = hs_xmalloc(24);
	snprintf(*name, 24, "descriptor %d", fd);
	if (fd == 1 || fd == 2) {
		fflush(fd == 1 ? stdout : stderr);
		return fd == 1 ? stdout : stderr;
	}
	int copy = dup(fd);
	FILE *f = copy < 0 ? NULL : fdopen(copy, "w");
	if (!f) {
		fprintf(stderr, "heapscope: cannot write to %s: %s\n", *name, strerror(errno));
		if (copy >= 0)
			close(copy);
	}
	return f;
}

static int close_any(FILE *f, const char *name)
{
	if (f == stderr)
		return fflush(f) == 0 ? 0 : -1;
	return close_out(f, name);
}

FILE *hs_cli_text_open(const struct hs_cli *c, FILE *dflt, char **name)
{
	*name = NULL;
	if (c->log_file && strstr(c->log_file, "%p"))
		return NULL;                    /* a file per process */
	if (c->log_file) {
		*name = hs_xstrdup(c->log_file);
		return open_named(*name);
	}
	if (c->log_fd >= 0)
		return open_fd(c->log_fd, name);
	return dflt;
}

int hs_cli_text_close(FILE *f, char *name, FILE *dflt)
{
	int rc = 0;
	if (f && f != dflt)
		rc = close_any(f, name);
	free(name);
	return rc;
}

/* --xml=yes: memcheck's XML (report_xml.c), to --xml-file or --xml-fd. */
static int write_xml(const struct hs_cli *c, const struct hs_analysis *a,
                     const struct hs_report_opts *o, const struct hs_cli_dest *d)
{
	char *name;
	FILE *f = c->xml_file ? open_out(c->xml_file, d, &name) : open_fd(c->xml_fd, &name);
	int rc = -1;
	if (f) {
		bool run = strcmp(c->cmd, "run") == 0;
		struct hs_xml_info x = {
			.tool_argv = c->argv, .tool_argc = c->argc_own,
			.prog_argv = run ? c->args : NULL, .prog_argc = run ? c->nargs : 0,
		};
		hs_report_xml(f, a, o, &x);
		rc = close_any(f, name);
	}
	free(name);
	return rc;
}

/* One more output file (named as the other reports): --html
 * (analyzer/pictures/html.c), --massif-out, --folded (analyzer/report/). */
enum extra { OUT_HTML, OUT_MASSIF, OUT_FOLDED };

static int write_extra(const char *pattern, enum extra what, const struct hs_analysis *a,
                       const struct hs_report_opts *o, const struct hs_cli_dest *d)
{
	char *name;
	FILE *f = open_out(pattern, d, &name);
	int rc = -1;
	if (f) {
		if (what == OUT_HTML)
			hs_report_html(f, a, o);
		else if (what == OUT_MASSIF)
			hs_report_massif(f, a);
		else
			hs_report_folded(f, a);
		rc = close_out(f, name);
	}
	free(name);
	return rc;
}

/* The text report. Frames are looked up while it is written (analyze.h),
 * and the symbolizer's warnings ("...: its frames are shown without
 * symbols") go to stderr, which is also where `run` prints the report:
 * write it to memory first, so that the warnings come before the report,
 * not in the middle of it. */
static void write_text(FILE *f, const struct hs_analysis *a, const struct hs_report_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem) {
		hs_report_text(f, a, o);
		return;
	}
	hs_report_text(mem, a, o);
	if (fclose(mem) == 0)
		fwrite(buf, 1, len, f);
	else
		hs_report_text(f, a, o);
	free(buf);
}

int hs_cli_report(const struct hs_cli *c, const struct hs_trace *tr,
                  const struct hs_cli_dest *d, bool *problems)
{
	int rc = 0;
	struct hs_symbolizer *sym = hs_sym_new(tr, stderr);
	struct hs_analysis a;
	hs_analyze(&a, tr, sym, c->supps,
	           strcmp(c->cmd, "report") == 0 ? (unsigned)c->stack_depth : 0);
	struct hs_report_opts o = {
		.show_kinds = c->show_kinds, .quiet = c->quiet, .tool_version = HS_VERSION,
		.leak_check = c->leak_check, .error_kinds = c->error_kinds,
		.gen_supps = c->gen_supps != 0,
	};
	*problems = hs_analysis_found(&a, hs_report_counted(&o));
	char *name = NULL;
	bool found = *problems || a.nerrors || a.nfaults;
	FILE *f = d->text ? d->text : open_out(c->log_file, d, &name);
	if (f && d->brief && !found) {
		if (!c->quiet)
			hs_report_text_brief(f, &a);
	} else if (f) {
		write_text(f, &a, &o);
	}
	if (!f || (!d->text && close_out(f, name) < 0))
		rc = -1;
	free(name);
	name = NULL;
	/* With "-" only the process started goes to stdout: one JSON document. */
	if (c->json && (d->main || strcmp(c->json, "-") != 0)) {
		f = open_out(c->json, d, &name);
		if (f) {
			hs_report_json(f, &a, &o);
			if (close_out(f, name) < 0)
				rc = -1;
		} else {
			rc = -1;
		}
		free(name);
	}
	/* --xml, --html, --massif-out, --folded and --svg: the process
	 * started only */
	if (c->xml && d->main && write_xml(c, &a, &o, d) < 0)
		rc = -1;
	if (c->html && d->main && write_extra(c->html, OUT_HTML, &a, &o, d) < 0)
		rc = -1;
	if (c->massif_out && d->main && write_extra(c->massif_out, OUT_MASSIF, &a, &o, d) < 0)
		rc = -1;
	if (c->folded && d->main && write_extra(c->folded, OUT_FOLDED, &a, &o, d) < 0)
		rc = -1;
	if (c->svg_dir && d->main && hs_svg_write_dir(c->svg_dir, tr, NULL) < 0)
		rc = -1;
	hs_analysis_free(&a);
	hs_sym_free(sym);
	return rc;
}
