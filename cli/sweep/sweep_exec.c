/*
 * sweep_exec.c — the runs of a sweep as processes.
 *
 * Each run is forked into a process group of its own, so that a run that
 * hangs can be killed with everything it started (kill(-pgid)), and so
 * that the terminal's Ctrl-C reaches only us: we then kill every group
 * that is still running before we exit. Its stdin is /dev/null and its
 * stdout and stderr go to DIR/rIDX.out (kept with --keep), since a
 * thousand runs printing to the terminal would bury the report.
 *
 * What the shim is told, through the environment:
 *   LD_PRELOAD           our libheapscope.so, in front of any existing one
 *   HEAPSCOPE_OUT        DIR/rIDX.%p: every process of the run writes its
 *                        own trace there (exec'd images as PID.GEN)
 *   HEAPSCOPE_CENSUS=1   the clean run only: count calls, name first calls
 *   HEAPSCOPE_FAIL       a failing run's policy (nth=K or after=K)
 *   HEAPSCOPE_FAIL_ONLY  PID.GEN: inject only in the image the clean run
 *                        chose (the child's own pid is known only after
 *                        the fork, so the child sets it)
 * and HEAPSCOPE_TRACED, HEAPSCOPE_RECORD and HEAPSCOPE_CHILDREN are
 * removed, so that a sweep started under heapscope, or with recording
 * switched off, still gets the traces it reads (the target may be an
 * exec'd image).
 *
 * Waiting: SIGCHLD is blocked and taken with sigtimedwait, which wakes
 * us when a child ends, when the nearest deadline passes, or at a tick
 * (for the progress line); no busy polling.
 */
#include "sweep.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static struct sigaction old_int, old_term, old_hup;
static sigset_t old_mask;

double sw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

char *sw_trace_pattern(const struct sw_env *e, size_t idx)
{
	size_t len = strlen(e->dir) + 48;
	char *p = hs_xmalloc(len);
	snprintf(p, len, "%s/r%zu.%%p", e->dir, idx);
	return p;
}

static void on_interrupt(int sig)
{
	interrupted = sig;
}

void sw_signals_take(void)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
}

void sw_signals_give_back(void)
{
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
}

int sw_interrupted(void)
{
	return interrupted;
}

/* In the child, between fork and exec: we are single threaded, so
 * setenv's allocation is safe. Errors end the child with 126. */
static void child(const struct sw_env *e, const struct sw_proc *p,
                  const char *pattern, const char *out)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	setpgid(0, 0);
	int in = open("/dev/null", O_RDONLY);
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (in < 0 || fd < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	close(in);
	close(fd);
	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(e->shim) + (old ? strlen(old) : 0) + 2;
	char *preload = hs_xmalloc(len);
	snprintf(preload, len, "%s%s%s", e->shim, old && *old ? ":" : "",
	         old ? old : "");
	char only[48];
	snprintf(only, sizeof only, "%ld.%u", (long)getpid(), e->gen);
	int rc = setenv("LD_PRELOAD", preload, 1) | setenv("HEAPSCOPE_OUT", pattern, 1)
	         | unsetenv("HEAPSCOPE_TRACED") | unsetenv("HEAPSCOPE_RECORD")
	         | unsetenv("HEAPSCOPE_CHILDREN");
	if (p->policy)
		rc |= setenv("HEAPSCOPE_FAIL", p->policy, 1)
		      | setenv("HEAPSCOPE_FAIL_ONLY", only, 1) | unsetenv("HEAPSCOPE_CENSUS");
	else
		rc |= unsetenv("HEAPSCOPE_FAIL") | unsetenv("HEAPSCOPE_FAIL_ONLY")
		      | setenv("HEAPSCOPE_CENSUS", "1", 1);
	if (rc == 0)
		execvp(e->args[0], e->args);
	int err = errno;
	dprintf(2, "heapscope sweep: %s: %s\n", e->args[0],
	        err == ENOENT ? "command not found" : strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

bool sw_start(const struct sw_env *e, struct sw_proc *p, double timeout)
{
	char *pattern = sw_trace_pattern(e, p->idx);
	size_t len = strlen(e->dir) + 48;
	char *out = hs_xmalloc(len);
	snprintf(out, len, "%s/r%zu.out", e->dir, p->idx);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		child(e, p, pattern, out);
	free(pattern);
	free(out);
	if (pid < 0) {
		fprintf(stderr, "heapscope sweep: fork: %s\n", strerror(errno));
		return false;
	}
	setpgid(pid, pid);          /* also here: no window before kill(-pid) */
	p->pid = pid;
	p->started = sw_now();
	p->deadline = timeout > 0 ? p->started + timeout : 0;
	p->timed_out = false;
	return true;
}

static void end_group(struct sw_proc *p)
{
	/* Whatever the run left behind in its group goes with it. */
	kill(-p->pid, SIGKILL);
}

void sw_kill_all(struct sw_proc **running, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		end_group(running[i]);
		while (waitpid(running[i]->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

struct sw_proc *sw_wait_any(struct sw_proc **running, size_t n, double tick)
{
	double until = sw_now() + tick;
	for (;;) {
		double now = sw_now();
		double wake = until;
		for (size_t i = 0; i < n; i++) {
			struct sw_proc *p = running[i];
			int st;
			pid_t r = waitpid(p->pid, &st, WNOHANG);
			if (r == p->pid) {
				p->status = st;
				p->seconds = sw_now() - p->started;
				end_group(p);
				return p;
			}
			if (p->deadline && !p->timed_out) {
				if (now >= p->deadline) {
					p->timed_out = true;
					end_group(p);
				} else if (p->deadline < wake) {
					wake = p->deadline;
				}
			}
		}
		if (now >= until || interrupted)
			return NULL;
		double d = wake - now;
		if (d < 0.001)
			d = 0.001;
		struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigtimedwait(&chld, NULL, &ts);   /* a child, a deadline or EINTR */
	}
}

void sw_remove_run(const struct sw_env *e, size_t idx)
{
	char prefix[48];
	int plen = snprintf(prefix, sizeof prefix, "r%zu.", idx);
	DIR *d = opendir(e->dir);
	if (!d)
		return;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, (size_t)plen) == 0)
			unlinkat(dfd, de->d_name, 0);
	closedir(d);
}
