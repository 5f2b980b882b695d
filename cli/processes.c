/*
 * processes.c — the reports of every process of a run, and `heapscope
 * report`.
 *
 * A run leaves one trace per process image (trace/trace_files.h). Each is
 * reported under its own ==pid== prefix, as memcheck does with
 * --trace-children=yes: the other processes first, in the order they
 * ended, each in full when it found something and in one line when not;
 * the process started last, always in full, so that its summary ends the
 * output. A trace that cannot be used is named in one line and the rest
 * are still reported: an empty file (the process ended before it wrote
 * anything), a damaged one (reported up to the damage), an exec whose new
 * image left no trace.
 */
#include "cli.h"
#include "report/report.h"
#include "trace/trace_files.h"
#include "trace/trace_read.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

struct tally {
	size_t processes, found, unusable;
	bool problems, failed;
};

/* Trace i of the set: read it, complete its ending from the wait status
 * (the process started, killed by a signal no handler sees), report. */
static void one(const struct hs_cli *c, struct hs_trace_files *s, size_t i, bool is_main,
                FILE *text, const struct hs_cli_wait *w, struct tally *t)
{
	const struct hs_trace_file *f = &s->f[i];
	t->processes++;
	if (f->size == 0) {
		fprintf(stderr, "heapscope: ==%s== %s: empty trace: the process ended before it "
		        "wrote anything (killed, or its writes failed)\n", f->id, f->path);
		t->unusable++;
		return;
	}
	struct hs_trace tr;
	if (hs_trace_read(f->path, &tr) < 0) {
		fprintf(stderr, "heapscope: %s\n", tr.error);
		t->failed = true;
		t->unusable++;
	}
	if (is_main && w && tr.end == HS_END_NONE && !tr.error[0] && WIFSIGNALED(w->status)) {
		tr.end = HS_END_SIGNAL;
		tr.end_value = WTERMSIG(w->status);
		tr.end_from_wait = true;
	}
	bool found = false;
	if (tr.lines) {
		struct hs_cli_dest d = { .text = text, .id = f->id, .main = is_main,
		                         .brief = !is_main };
		if (hs_cli_report(c, &tr, &d, &found) < 0)
			t->failed = true;
	}
	t->problems |= found;
	t->found += found;
	if (tr.end == HS_END_EXEC && !hs_trace_files_has_next(s, i) && c->no_children)
		fprintf(stderr, "heapscope: ==%s== %s called exec; the program it started "
		        "was not traced (--no-children)\n", f->id, tr.exe ? tr.exe : f->path);
	else if (tr.end == HS_END_EXEC && !hs_trace_files_has_next(s, i))
		fprintf(stderr, "heapscope: ==%s== %s called exec, and the program it started "
		        "wrote no trace (a static or setuid program ignores LD_PRELOAD, or its "
		        "trace could not be created)\n", f->id, tr.exe ? tr.exe : f->path);
	hs_trace_free(&tr);
}

void hs_cli_report_set(const struct hs_cli *c, struct hs_trace_files *s, long main,
                       FILE *text, const struct hs_cli_wait *w, const char *where,
                       bool *problems, bool *failed)
{
	struct tally t = { 0 };
	/* --log-file: one file for every process, as memcheck's, or with %p
	 * one per process (out NULL: hs_cli_report opens it); --log-fd */
	char *name;
	FILE *out = hs_cli_text_open(c, text, &name);
	if (!out && name) {
		free(name);
		*problems = false;
		*failed = true;
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		if ((long)i != main)
			one(c, s, i, false, out, w, &t);
	if (main >= 0)
		one(c, s, (size_t)main, true, out, w, &t);
	if (hs_cli_text_close(out, name, text) < 0)
		t.failed = true;
	if (s->n > 1 && !c->quiet && where)
		fprintf(stderr, "heapscope: %zu processes traced, %zu with leaks or errors%s; "
		        "their traces: %s\n", t.processes, t.found,
		        t.unusable ? " (some traces unusable, said above)" : "", where);
	*problems = t.problems;
	*failed = t.failed;
}

/* `heapscope report TRACE...` or `heapscope report DIR`. One file is
 * reported as it is; a directory or several files as a run. */
int hs_cmd_report(struct hs_cli *c)
{
	if (hs_cli_load_supps(c) < 0)
		return HS_EXIT_USAGE;
	struct hs_trace_files s = { 0 };
	char err[1024];
	struct stat st;
	bool dir = c->nargs == 1 && stat(c->args[0], &st) == 0 && S_ISDIR(st.st_mode);
	int bad = 0;
	if (dir) {
		bad = hs_trace_files_dir(c->args[0], &s, err, sizeof err);
		if (!bad && !s.n) {
			snprintf(err, sizeof err, "%s: no *.trace files in it", c->args[0]);
			bad = -1;
		}
	} else {
		for (int i = 0; i < c->nargs && !bad; i++)
			bad = hs_trace_files_add(&s, c->args[i], err, sizeof err);
	}
	if (bad) {
		fprintf(stderr, "heapscope: %s\n", err);
		hs_trace_files_free(&s);
		return HS_EXIT_TRACE;
	}
	long main = hs_trace_files_order(&s, 0);
	if (main < 0)
		main = (long)s.n - 1;         /* no `P` lines: the last one ended last */
	bool problems, failed;
	hs_cli_report_set(c, &s, main, stdout, NULL, dir ? c->args[0] : "as given",
	                  &problems, &failed);
	hs_trace_files_free(&s);
	if (problems && c->error_exitcode)
		return c->error_exitcode;
	return failed ? HS_EXIT_TRACE : 0;
}
