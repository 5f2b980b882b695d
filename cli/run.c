/*
 * run.c — `heapscope run`: the program under the shim, then the report.
 *
 * The environment carries everything to the shim: LD_PRELOAD (our
 * libheapscope.so, found relative to this binary by shim_path.c, in
 * front of any existing preload), HEAPSCOPE_OUT (the trace name, made absolute so a program
 * that changes directory still writes where we will look), and the
 * HEAPSCOPE_* settings from our options. The program is started with
 * fork + execvp; an exec failure comes back through a close-on-exec pipe,
 * so "not found" is told apart from a program that exits 127 itself.
 * While it runs we ignore SIGINT/SIGQUIT like system(3) does (the
 * terminal sends them to the program; we still report afterwards) and
 * pass SIGTERM/SIGHUP on to it.
 */
#include "cli.h"
#include "shim_path.h"
#include "trace/trace_files.h"
#include "trace/trace_read.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* The trace name pattern, absolute; default heapscope.PROG.%p.trace. */
static char *trace_pattern(const struct hs_cli *c)
{
	char cwd[PATH_MAX], *pat;
	if (c->out) {
		pat = hs_xstrdup(c->out);
	} else {
		/* the shim's default name (docs/TRACE-FORMAT.md): the base name
		 * with characters outside [A-Za-z0-9._+-] as '_', which also keeps
		 * a '%' in it from reading as %p */
		const char *base = strrchr(c->args[0], '/');
		char *prog = hs_xstrdup(base ? base + 1 : c->args[0]);
		for (char *q = prog; *q; q++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			            "0123456789._+-", *q))
				*q = '_';
		size_t len = strlen(prog) + sizeof "heapscope..%p.trace";
		pat = hs_xmalloc(len);
		snprintf(pat, len, "heapscope.%s.%%p.trace", prog);
		free(prog);
	}
	if (pat[0] == '/' || !getcwd(cwd, sizeof cwd))
		return pat;
	size_t len = strlen(cwd) + strlen(pat) + 2;
	char *abs = hs_xmalloc(len);
	snprintf(abs, len, "%s/%s", cwd, pat);
	free(pat);
	return abs;
}

static int set_env(const char *name, const char *value)
{
	if (setenv(name, value, 1) == 0)
		return 0;
	fprintf(stderr, "heapscope: cannot set %s: %s\n", name, strerror(errno));
	return -1;
}

static int prepare_env(const struct hs_cli *c, const char *lib, const char *pattern)
{
	const char *old = getenv("LD_PRELOAD");
	char *preload;
	if (old && *old) {
		size_t len = strlen(lib) + strlen(old) + 2;
		preload = hs_xmalloc(len);
		snprintf(preload, len, "%s:%s", lib, old);
	} else {
		preload = hs_xstrdup(lib);
	}
	int rc = set_env("LD_PRELOAD", preload) | set_env("HEAPSCOPE_OUT", pattern);
	free(preload);
	if (c->stack_depth) {
		char n[24];
		snprintf(n, sizeof n, "%ld", c->stack_depth);
		rc |= set_env("HEAPSCOPE_STACK_DEPTH", n);
	}
	if (c->no_children)
		rc |= set_env("HEAPSCOPE_CHILDREN", "0");
	if (c->fail)
		rc |= set_env("HEAPSCOPE_FAIL", c->fail);
	if (c->sample_ms >= 0) {
		char ms[24];
		snprintf(ms, sizeof ms, "%ld", c->sample_ms);
		rc |= set_env("HEAPSCOPE_SAMPLE_MS", ms);
	}
	if (c->abort_on_error)
		rc |= set_env("HEAPSCOPE_ABORT_ON_ERROR", "1");
	if (c->no_checks)
		rc |= set_env("HEAPSCOPE_CHECKS", "0");
	if (c->quarantine)
		rc |= set_env("HEAPSCOPE_QUARANTINE", c->quarantine);
	if (c->shim_silent)
		rc |= set_env("HEAPSCOPE_LOG", "0");
	return rc;
}

struct saved_sigs {
	struct sigaction intr, quit, term, hup;
};

/* Before fork, so that no Ctrl-C can slip between fork and wait. */
static void take_signals(struct saved_sigs *s)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, fwd = { .sa_handler = forward };
	sigaction(SIGINT, &ign, &s->intr);
	sigaction(SIGQUIT, &ign, &s->quit);
	sigaction(SIGTERM, &fwd, &s->term);
	sigaction(SIGHUP, &fwd, &s->hup);
}

static void give_back_signals(const struct saved_sigs *s)
{
	sigaction(SIGINT, &s->intr, NULL);
	sigaction(SIGQUIT, &s->quit, NULL);
	sigaction(SIGTERM, &s->term, NULL);
	sigaction(SIGHUP, &s->hup, NULL);
}

/* Start the program; returns its pid, or -1 with *code set. */
static pid_t start(struct hs_cli *c, const struct saved_sigs *sigs, int *code)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "heapscope: pipe: %s\n", strerror(errno));
		*code = HS_EXIT_TRACE;
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "heapscope: fork: %s\n", strerror(errno));
		*code = HS_EXIT_TRACE;
		return -1;
	}
	if (pid == 0) {
		give_back_signals(sigs);   /* the program gets the terminal's ones */
		execvp(c->args[0], c->args);
		int e = errno;
		if (write(pfd[1], &e, sizeof e) < 0)
			_exit(HS_EXIT_NOEXEC);
		_exit(HS_EXIT_NOTFOUND);
	}
	child_pid = pid;
	close(pfd[1]);
	int e = 0;
	ssize_t n;
	do
		n = read(pfd[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof e) {          /* exec failed: reap, explain   */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		fprintf(stderr, "heapscope: %s: %s\n", c->args[0],
		        e == ENOENT ? "command not found" : strerror(e));
		*code = e == ENOENT ? HS_EXIT_NOTFOUND : HS_EXIT_NOEXEC;
		return -1;
	}
	return pid;
}

static int wait_for(pid_t pid, int *status)
{
	pid_t r;
	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		fprintf(stderr, "heapscope: waitpid: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Report on the process's trace and, when it exec'd, on the trace of
 * each image that followed: earlier images only if they found something
 * (their heap vanished with the exec, they have no leaks to tell), the
 * last one in full and to --json. Returns true when some trace could not
 * be read completely. */
static bool report_chain(const struct hs_cli *c, const char *pattern, pid_t pid,
                         bool *problems)
{
	bool failed = false;
	*problems = false;
	for (unsigned gen = 0;; gen++) {
		char *name = hs_trace_file_name(pattern, pid, gen);
		struct hs_trace tr;
		if (hs_trace_read(name, &tr) < 0) {
			failed = true;
			if (gen == 0 && !tr.lines && access(name, F_OK) != 0)
				fprintf(stderr, "heapscope: no trace was written (%s); a static "
				        "or setuid program ignores LD_PRELOAD\n", tr.error);
			else
				fprintf(stderr, "heapscope: %s\n", tr.error);
		}
		char *next = NULL;
		bool more = false, found = false;
		if (tr.end == HS_END_EXEC) {
			next = hs_trace_file_name(pattern, pid, gen + 1);
			more = access(next, F_OK) == 0;
		}
		if (tr.lines && hs_cli_report(c, &tr, stderr, more ? HS_OUT_FOUND_ONLY
		                              : HS_OUT_JSON, &found) < 0)
			failed = true;
		if (more)
			fprintf(stderr, "heapscope: %s called exec; following its trace %s\n",
			        tr.exe ? tr.exe : name, next);
		*problems |= found;
		hs_trace_free(&tr);
		free(name);
		free(next);
		if (!more)
			return failed;
	}
}

int hs_cmd_run(struct hs_cli *c)
{
	if (hs_cli_load_supps(c) < 0)
		return HS_EXIT_USAGE;
	char *lib = hs_find_shim("heapscope");
	if (!lib)
		return HS_EXIT_TRACE;
	char *pattern = trace_pattern(c);
	if (!strstr(pattern, "%p") && access(pattern, F_OK) == 0) {
		fprintf(stderr, "heapscope run: %s exists and a trace is never "
		        "overwritten; remove it or put %%p in the name\n", pattern);
		free(lib);
		free(pattern);
		return HS_EXIT_USAGE;
	}
	int code = 0, status;
	pid_t pid = -1;
	struct saved_sigs sigs;
	time_t started = time(NULL);
	take_signals(&sigs);
	if (prepare_env(c, lib, pattern) == 0)
		pid = start(c, &sigs, &code);
	else
		code = HS_EXIT_TRACE;
	free(lib);
	int waited = pid < 0 ? -1 : wait_for(pid, &status);
	child_pid = 0;
	give_back_signals(&sigs);
	if (waited < 0) {
		free(pattern);
		return pid < 0 ? code : HS_EXIT_TRACE;
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		const char *ab = sigabbrev_np(sig);
		fprintf(stderr, "heapscope: %s was killed by signal %d%s%s%s\n", c->args[0],
		        sig, ab ? " (SIG" : "", ab ? ab : "", ab ? ")" : "");
		code = 128 + sig;
	} else {
		code = WEXITSTATUS(status);
	}

	bool problems;
	bool failed = report_chain(c, pattern, pid, &problems);
	if (!c->trace_dir)          /* valgrind's form removes its traces */
		hs_trace_files_children(stderr, pattern, pid, (long)started);
	free(pattern);
	if (c->error_exitcode && (problems || failed))
		return c->error_exitcode;
	return code;
}
