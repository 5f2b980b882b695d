/*
 * trace_files.c — finding the traces a run left behind. The shim names them
 * (preload/record/trace_name.c, hs_trace_name): "%p" in HEAPSCOPE_OUT is the pid, or
 * "pid.gen" for the image after the gen-th exec; without %p, a child or
 * an exec'd image appends ".pid" / ".pid.gen".
 */
#include "trace_files.h"
#include "util.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *hs_trace_file_name(const char *pattern, long pid, unsigned gen)
{
	char id[48];
	if (gen)
		snprintf(id, sizeof id, "%ld.%u", pid, gen);
	else
		snprintf(id, sizeof id, "%ld", pid);
	return hs_expand_name(pattern, id, gen > 0);
}

/* The pattern as a glob(3) pattern: %p (or the appended id) is "*", and
 * the rest is quoted so that [, ?, * in a directory name match literally. */
static char *glob_of(const char *pattern)
{
	size_t n = strlen(pattern);
	char *g = hs_xmalloc(2 * n + 4), *o = g;
	bool had_p = false;
	for (const char *q = pattern; *q; q++) {
		if (q[0] == '%' && q[1] == 'p') {
			*o++ = '*';
			q++;
			had_p = true;
		} else if (q[0] == '%' && q[1] == '%') {
			*o++ = '%';
			q++;
		} else {
			if (strchr("[]*?\\", *q))
				*o++ = '\\';
			*o++ = *q;
		}
	}
	if (!had_p) {
		*o++ = '.';
		*o++ = '*';
	}
	*o = 0;
	return g;
}

/* pid and ppid from a trace's `P` line; false if it has none. */
static bool trace_parent(const char *path, long *pid, long *ppid)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[256];
	bool ok = fgets(line, sizeof line, f) && strncmp(line, "HEAPSCOPE-TRACE ", 16) == 0
	          && fgets(line, sizeof line, f) && sscanf(line, "P %ld %ld", pid, ppid) == 2;
	fclose(f);
	return ok;
}

void hs_trace_files_children(FILE *f, const char *pattern, long root_pid, long since)
{
	char *g = glob_of(pattern);
	glob_t gl;
	if (glob(g, 0, NULL, &gl) != 0) {
		free(g);
		return;
	}
	free(g);
	size_t n = gl.gl_pathc;
	long *pid = hs_xcalloc(n ? n : 1, sizeof *pid), *ppid = hs_xcalloc(n ? n : 1, sizeof *ppid);
	bool *ours = hs_xcalloc(n ? n : 1, sizeof *ours), *valid = hs_xcalloc(n ? n : 1, sizeof *valid);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		valid[i] = stat(gl.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)
		           && st.st_mtime >= since && trace_parent(gl.gl_pathv[i], &pid[i], &ppid[i])
		           && pid[i] != root_pid;
	}
	/* descendants: parent is the root or a descendant; repeat until stable */
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (!valid[i] || ours[i])
				continue;
			bool parent_ours = ppid[i] == root_pid;
			for (size_t j = 0; j < n && !parent_ours; j++)
				parent_ours = ours[j] && pid[j] == ppid[i];
			if (parent_ours)
				ours[i] = changed = true;
		}
	}
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += ours[i];
	if (count) {
		fprintf(f, "heapscope: %zu child process trace%s (see heapscope report FILE):",
		        count, count == 1 ? "" : "s");
		size_t shown = 0;
		for (size_t i = 0; i < n && shown < 10; i++)
			if (ours[i]) {
				fprintf(f, " %s", gl.gl_pathv[i]);
				shown++;
			}
		fprintf(f, "%s\n", count > shown ? " ..." : "");
	}
	free(pid);
	free(ppid);
	free(ours);
	free(valid);
	globfree(&gl);
}
