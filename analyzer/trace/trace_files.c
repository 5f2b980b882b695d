/*
 * trace_files.c — the traces of one run (trace_files.h).
 *
 * The shim names them (preload/record/trace_name.c, hs_trace_name): "%p"
 * in HEAPSCOPE_OUT is the pid, or "pid.gen" for the image after the
 * gen-th exec; without %p, a child or an exec'd image appends ".pid" /
 * ".pid.gen". Only a trace's first two lines are read here (the header
 * and `P`); the reports read the rest.
 */
#include "trace_files.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
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

int hs_trace_files_add(struct hs_trace_files *s, const char *path, char *err, size_t cap)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "%s: not a trace file (%s)", path,
		         S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		return -1;
	}
	struct hs_trace_file *f = HS_PUSH(s->f, s->n, s->cap);
	memset(f, 0, sizeof *f);
	f->path = hs_xstrdup(path);
	f->mtime = st.st_mtim;
	f->size = st.st_size;
	if (!trace_parent(path, &f->pid, &f->ppid)) {
		/* no `P` line: the id the name gives ("123.1.trace": 123.1) */
		f->pid = f->ppid = -1;
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		size_t n = strlen(base);
		if (n > 6 && strcmp(base + n - 6, ".trace") == 0)
			n -= 6;
		snprintf(f->id, sizeof f->id, "%.*s", (int)n, base);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hs_trace_files_dir(const char *dir, struct hs_trace_files *s, char *err, size_t cap)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, cap, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, ncap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 6 && strcmp(e->d_name + len - 6, ".trace") == 0)
			*HS_PUSH(names, n, ncap) = hs_xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);     /* a stable order to start from */
	char msg[512];
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = hs_xmalloc(len);
		snprintf(path, len, "%s/%s", dir, names[i]);
		hs_trace_files_add(s, path, msg, sizeof msg);   /* skips what is not a file */
		free(path);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* The pattern as a glob(3) pattern: %p (or the appended id) is "*", and
 * the rest is quoted so that [, ?, * in a directory name match literally. */
static char *glob_of(const char *pattern, bool with_p_only)
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
	if (!had_p && !with_p_only) {
		*o++ = '.';
		*o++ = '*';
	}
	*o = 0;
	return g;
}

void hs_trace_files_pattern(struct hs_trace_files *s, const char *pattern, long root_pid,
                            long since)
{
	/* Without %p the first process writes the name itself and the others
	 * NAME.<id>: two globs. */
	struct hs_trace_files all = { 0 };
	char msg[512];
	for (int pass = 0; pass < 2; pass++) {
		char *g = glob_of(pattern, pass == 0);
		glob_t gl;
		if (glob(g, 0, NULL, &gl) == 0) {
			for (size_t i = 0; i < gl.gl_pathc; i++)
				hs_trace_files_add(&all, gl.gl_pathv[i], msg, sizeof msg);
			globfree(&gl);
		}
		free(g);
		if (strstr(pattern, "%p"))
			break;
	}
	/* the root and its descendants: parent is the root or one of them */
	bool *ours = hs_xcalloc(all.n ? all.n : 1, sizeof *ours);
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < all.n; i++) {
			struct hs_trace_file *f = &all.f[i];
			if (ours[i] || f->pid < 0 || f->mtime.tv_sec < since)
				continue;
			bool in = f->pid == root_pid || f->ppid == root_pid;
			for (size_t j = 0; j < all.n && !in; j++)
				in = ours[j] && all.f[j].pid == f->ppid;
			if (in)
				ours[i] = changed = true;
		}
	}
	for (size_t i = 0; i < all.n; i++) {
		if (ours[i])
			*HS_PUSH(s->f, s->n, s->cap) = all.f[i];
		else
			free(all.f[i].path);
	}
	free(ours);
	free(all.f);
}

static int by_time(const void *a, const void *b)
{
	const struct hs_trace_file *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->path, y->path);
}

long hs_trace_files_order(struct hs_trace_files *s, long root_pid)
{
	if (s->n)
		qsort(s->f, s->n, sizeof *s->f, by_time);
	for (size_t i = 0; i < s->n; i++) {
		struct hs_trace_file *f = &s->f[i];
		if (f->pid < 0)
			continue;
		f->gen = 0;
		for (size_t j = 0; j < i; j++)
			f->gen += s->f[j].pid == f->pid;
		if (f->gen)
			snprintf(f->id, sizeof f->id, "%ld.%u", f->pid, f->gen);
		else
			snprintf(f->id, sizeof f->id, "%ld", f->pid);
	}
	if (root_pid == 0) {
		/* the tree's root: its parent left no trace here */
		for (size_t i = 0; i < s->n && !root_pid; i++) {
			bool parent_here = false;
			for (size_t j = 0; j < s->n && !parent_here; j++)
				parent_here = s->f[j].pid == s->f[i].ppid;
			if (s->f[i].pid > 0 && !parent_here)
				root_pid = s->f[i].pid;
		}
	}
	long main = -1;
	for (size_t i = 0; i < s->n; i++)
		if (root_pid > 0 && s->f[i].pid == root_pid)
			main = (long)i;
	return main;
}

void hs_trace_files_keep_pid(struct hs_trace_files *s, long pid)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->f[i].pid == pid)
			s->f[k++] = s->f[i];
		else
			free(s->f[i].path);
	}
	s->n = k;
}

bool hs_trace_files_has_next(const struct hs_trace_files *s, size_t i)
{
	for (size_t j = i + 1; j < s->n; j++)
		if (s->f[j].pid == s->f[i].pid && s->f[i].pid >= 0)
			return true;
	return false;
}

void hs_trace_files_free(struct hs_trace_files *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->f[i].path);
	free(s->f);
	memset(s, 0, sizeof *s);
}
