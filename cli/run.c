/*
 * run.c — `heapscope run`: the program under the shim, then the report.
 *
 * The environment carries everything to the shim: LD_PRELOAD (our
 * libheapscope.so, found relative to this binary by shim_path.c, in
 * front of any existing preload), HEAPSCOPE_OUT (where the traces go,
 * absolute so a program
 * that changes directory still writes where we will look), and the
 * HEAPSCOPE_* settings from our options.
 *
 * Where the traces go. A run leaves one thing behind: by default the
 * directory heapscope.PROG.PID/ (PID: the program's), holding one trace
 * per process image of the tree (PID.trace, CHILD.trace, PID.1.trace
 * after an exec...). The program's pid is known only after fork, so the
 * child makes the directory (the next free name if an earlier run left
 * one with that pid) and tells us its name through a close-on-exec pipe
 * before it execs; the same pipe brings back an exec failure, so "not
 * found" is told apart from a program that exits 127 itself. With -o
 * the traces are named by that pattern (docs/TRACE-FORMAT.md) instead.
 *
 * While the program runs we ignore SIGINT/SIGQUIT like system(3) does
 * (the terminal sends them to the program; we still report afterwards)
 * and pass SIGTERM/SIGHUP on to it. Then every trace is reported
 * (processes.c).
 */
#include "cli.h"
#include "shim_path.h"
#include "trace/trace_files.h"
#include "trace/trace_read.h"
#include "report/report.h"
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

/* The program's name as the shim writes it in file names: the base name
 * with characters outside [A-Za-z0-9._+-] as '_' (which also keeps a '%'
 * in it from reading as %p). */
static char *prog_name(const char *arg0)
{
	const char *base = strrchr(arg0, '/');
	char *prog = hs_xstrdup(base ? base + 1 : arg0);
	for (char *q = prog; *q; q++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		            "0123456789._+-", *q))
			*q = '_';
	return prog;
}

/* name made absolute against the current directory. */
static char *absolute(const char *name)
{
	char cwd[PATH_MAX];
	if (name[0] == '/' || !getcwd(cwd, sizeof cwd))
		return hs_xstrdup(name);
	size_t len = strlen(cwd) + strlen(name) + 2;
	char *abs = hs_xmalloc(len);
	snprintf(abs, len, "%s/%s", cwd, name);
	return abs;
}

static int set_env(const char *name, const char *value)
{
	if (setenv(name, value, 1) == 0)
		return 0;
	fprintf(stderr, "heapscope: cannot set %s: %s\n", name, strerror(errno));
	return -1;
}

/* Everything but HEAPSCOPE_OUT, which the child sets in dir mode. */
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
	int rc = set_env("LD_PRELOAD", preload);
	if (pattern)
		rc |= set_env("HEAPSCOPE_OUT", pattern);
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

/* What the child tells us before it execs (the directory it made) or
 * instead (why it could not). One write each, smaller than PIPE_BUF. */
struct child_msg {
	int kind;                       /* 'D' run directory, 'M' mkdir failed,
	                                   'E' exec failed                   */
	int err;
	char dir[2048];
};

static void tell(int fd, int kind, int err, const char *dir)
{
	struct child_msg m = { .kind = kind, .err = err };
	if (dir)
		snprintf(m.dir, sizeof m.dir, "%s", dir);
	if (write(fd, &m, sizeof m) < 0)
		_exit(HS_EXIT_NOEXEC);
}

/* In the child: heapscope.PROG.PID/ in the current directory (PID.2,
 * PID.3 ... if an earlier run left that name), and HEAPSCOPE_OUT into it. */
static void make_run_dir(const struct hs_cli *c, int fd)
{
	char *prog = prog_name(c->args[0]), name[256], *dir = NULL;
	int err = 0;
	for (int k = 1; k <= 100; k++) {
		if (k == 1)
			snprintf(name, sizeof name, "heapscope.%s.%d", prog, (int)getpid());
		else
			snprintf(name, sizeof name, "heapscope.%s.%d.%d", prog, (int)getpid(), k);
		free(dir);
		dir = absolute(name);
		if (strlen(dir) + sizeof "/%p.trace" > sizeof ((struct child_msg *)0)->dir) {
			err = ENAMETOOLONG;
			break;
		}
		if (mkdir(dir, 0700) == 0) {
			err = 0;
			break;
		}
		err = errno;
		if (err != EEXIST)
			break;
	}
	if (err) {
		tell(fd, 'M', err, dir);
		_exit(HS_EXIT_TRACE);
	}
	char pattern[sizeof ((struct child_msg *)0)->dir + 16];
	snprintf(pattern, sizeof pattern, "%s/%%p.trace", dir);
	if (setenv("HEAPSCOPE_OUT", pattern, 1) != 0) {
		tell(fd, 'M', errno, dir);
		_exit(HS_EXIT_TRACE);
	}
	tell(fd, 'D', 0, dir);
	free(dir);
	free(prog);
}

/* Start the program; returns its pid, or -1 with *code set. In dir mode
 * (no -o) *dir receives the run directory. */
static pid_t start(struct hs_cli *c, const struct saved_sigs *sigs, char **dir, int *code)
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
		if (!c->out)
			make_run_dir(c, pfd[1]);
		execvp(c->args[0], c->args);
		tell(pfd[1], 'E', errno, NULL);
		_exit(HS_EXIT_NOTFOUND);
	}
	child_pid = pid;
	close(pfd[1]);
	struct child_msg m;
	int failed = 0, err = 0;
	ssize_t n;
	for (;;) {
		do
			n = read(pfd[0], &m, sizeof m);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof m)
			break;                      /* EOF: the exec happened      */
		if (m.kind == 'D') {
			*dir = hs_xstrdup(m.dir);
		} else {
			failed = m.kind;
			err = m.err;
			if (m.kind == 'M')
				fprintf(stderr, "heapscope run: cannot create the directory for the "
				        "traces, %s: %s\n", m.dir, strerror(err));
		}
	}
	close(pfd[0]);
	if (failed) {                           /* reap, explain */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (*dir)
			rmdir(*dir);            /* empty: nothing ran             */
		if (failed == 'M') {
			*code = HS_EXIT_TRACE;
			return -1;
		}
		fprintf(stderr, "heapscope: %s: %s\n", c->args[0],
		        err == ENOENT ? "command not found" : strerror(err));
		*code = err == ENOENT ? HS_EXIT_NOTFOUND : HS_EXIT_NOEXEC;
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

int hs_cmd_run(struct hs_cli *c)
{
	if (hs_cli_load_supps(c) < 0)
		return HS_EXIT_USAGE;
	char *lib = hs_find_shim("heapscope");
	if (!lib)
		return HS_EXIT_TRACE;
	char *pattern = c->out ? absolute(c->out) : NULL, *dir = NULL;
	if (pattern && !strstr(pattern, "%p") && access(pattern, F_OK) == 0) {
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
		pid = start(c, &sigs, &dir, &code);
	else
		code = HS_EXIT_TRACE;
	free(lib);
	int waited = pid < 0 ? -1 : wait_for(pid, &status);
	child_pid = 0;
	give_back_signals(&sigs);
	if (waited < 0) {
		free(pattern);
		free(dir);
		return pid < 0 ? code : HS_EXIT_TRACE;
	}
	if (WIFSIGNALED(status)) {
		char sig[48];
		fprintf(stderr, "heapscope: %s was killed by %s\n", c->args[0],
		        hs_signal_text(WTERMSIG(status), sig, sizeof sig));
		code = 128 + WTERMSIG(status);
	} else {
		code = WEXITSTATUS(status);
	}

	struct hs_trace_files s = { 0 };
	char err[512];
	if (dir)
		hs_trace_files_dir(dir, &s, err, sizeof err);
	else
		hs_trace_files_pattern(&s, pattern, pid, (long)started);
	if (c->child_silent)               /* the started pid's images only */
		hs_trace_files_keep_pid(&s, pid);
	long main = hs_trace_files_order(&s, pid);
	bool problems = false, failed = false;
	if (main < 0) {
		fprintf(stderr, "heapscope: no trace was written (%s); a static or setuid "
		        "program ignores LD_PRELOAD\n", dir ? dir : pattern);
		failed = true;
	}
	struct hs_cli_wait w = { .status = status };
	/* valgrind's form removes its private directory: no closing line */
	if (s.n)
		hs_cli_report_set(c, &s, main, stderr, &w, c->trace_dir ? NULL : dir ? dir : pattern,
		                  &problems, &failed);
	hs_trace_files_free(&s);
	if (dir)
		rmdir(dir);             /* only if nothing was written: one entry or none */
	free(pattern);
	free(dir);
	if (c->error_exitcode && (problems || failed))
		return c->error_exitcode;
	return code;
}
