/*
 * lifecycle.c — how a traced process ends, forks and execs.
 *
 * Exit status. glibc calls on_exit() handlers with the status of exit(),
 * including the exit that follows a return from main (an internal call no
 * wrapper of exit() would see) and exits from inside libc (error(3)).
 * Our handler is registered at init, so it runs after the program's own
 * atexit handlers; ELF destructors (_dl_fini, registered by
 * __libc_start_main) run just before or just after it depending on
 * whether we were initialised before __libc_start_main. Whichever of our
 * handler and our destructor runs second calls hs_finish(): by then the
 * program's handlers and destructors are done and the status is known.
 * _exit/_Exit/quick_exit skip all that: their hooks (hook_exit.c) call
 * hs_finish() themselves.
 *
 * Fatal signals. For the faults (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE)
 * and the signals whose default action ends a process in ordinary use
 * (SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGALRM, SIGXCPU, SIGXFSZ:
 * a pipeline reader that quits, Ctrl-C, timeout(1)) we install a handler
 * at init if the disposition is still SIG_DFL (a program that
 * installs its own later simply replaces ours: we never chain, so its
 * behaviour is exactly what it would be without us). The handler writes
 * `X signal N`, flushes, and re-raises with the default action so the
 * process dies of its own signal. The main thread gets an alternate signal
 * stack so a stack overflow can still be recorded.
 *
 * Fork: the child writes its own trace (trace.c). Exec: hook_exec.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hooks.h"
#include "record/trace.h"

/* Written by other parts of the shim; weak so that this file links (and
 * the exit path works) before they exist. */
void hs_leaks_scan(void) __attribute__((weak));
void hs_sampler_exit(void) __attribute__((weak));
void hs_checks_at_exit(void) __attribute__((weak));
void hs_fault_census_total(void) __attribute__((weak));
size_t hs_fault_census_line(char *buf, size_t cap) __attribute__((weak));

extern char **environ;

static _Atomic bool finished;
static _Atomic bool exit_known, dtor_ran;
static _Atomic int exit_status;

void hs_finish(const char *how, int value)
{
	/* No trace of our own (never opened, or we are a vfork/clone child
	 * sharing the parent's memory): touch nothing. */
	int owner = hs_trace_owner();
	if (!owner || owner != (int)getpid())
		return;
	char line[64];
	int n = hs_fmt(line, sizeof line, "X %s %d\n", how, value);
	if (strcmp(how, "signal") == 0) {
		/* The heap may be inconsistent and its locks held by the thread
		 * that crashed: no sample, no leak scan, just the end marker,
		 * after sweep's census total (its clean run may end so). */
		char last[160];
		size_t k = hs_fault_census_line ? hs_fault_census_line(last, sizeof last - 64) : 0;
		memcpy(last + k, line, (size_t)n);
		hs_trace_emergency(last, k + (size_t)n);
		return;
	}
	if (atomic_exchange(&finished, true))
		return;
	if (hs_checks_at_exit)          /* canaries and headers: E lines first */
		hs_checks_at_exit();
	if (hs_sampler_exit)
		hs_sampler_exit();       /* final sample, exit and peak snapshots */
	if (hs_leaks_scan)
		hs_leaks_scan();
	if (hs_fault_census_total)      /* sweep's call count, also after _exit */
		hs_fault_census_total();
	hs_trace_printf("%s", line);
	hs_trace_close();
}

static void on_exit_status(int status, void *arg)
{
	atomic_store(&exit_status, status);
	atomic_store(&exit_known, true);
	if (atomic_load(&dtor_ran))
		hs_finish("exit", status);
}

__attribute__((destructor)) static void at_fini(void)
{
	atomic_store(&dtor_ran, true);
	if (atomic_load(&exit_known))
		hs_finish("exit", atomic_load(&exit_status));
}

/* ---- fatal signals ------------------------------------------------------ */

static const int fatal[] = {
	SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE,
	SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGALRM, SIGXCPU, SIGXFSZ,
};

static void on_fatal(int sig, siginfo_t *si, void *ctx)
{
	hs_finish("signal", sig);
	/* SA_RESETHAND put SIG_DFL back on entry. The signal stays blocked
	 * until we return; then the default action kills us with it (a
	 * faulting instruction would also fault again). */
	raise(sig);
}

static void install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
		struct sigaction old;
		if (sigaction(fatal[i], NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			sigaction(fatal[i], &sa, NULL);
	}
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
		size_t len = 64 * 1024;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			stack_t ss = { .ss_sp = p, .ss_size = len, .ss_flags = 0 };
			sigaltstack(&ss, NULL);
		}
	}
}

/* ---- lineage for descendants -------------------------------------------- */

/* "HEAPSCOPE_TRACED=pid.gen" lives here; environ points at it, so a fork
 * child rewrites it in place and its own children see the right value. */
static char lineage_env[64];

static void set_lineage_text(void)
{
	char v[40];
	hs_trace_lineage(v, sizeof v);
	hs_fmt(lineage_env, sizeof lineage_env, "%s=%s", HS_LINEAGE_VAR, v);
}

static bool is_lineage(const char *e)
{
	size_t k = sizeof HS_LINEAGE_VAR - 1;
	return strncmp(e, HS_LINEAGE_VAR, k) == 0 && e[k] == '=';
}

/* Put our lineage into the process environment, so that children started
 * by paths we do not hook (system, popen, posix_spawn) know they are
 * descendants and name their traces by pid. */
static void export_lineage(void)
{
	set_lineage_text();
	if (!environ)
		return;
	size_t n = 0;
	for (; environ[n]; n++)
		if (is_lineage(environ[n])) {
			environ[n] = lineage_env;
			return;
		}
	/* glibc's setenv copies a foreign environ array before growing it
	 * and never frees it, so an mmap'd one is safe to hand over. */
	char **e = mmap(NULL, (n + 2) * sizeof *e, PROT_READ | PROT_WRITE,
	                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e == MAP_FAILED)
		return;
	memcpy(e, environ, n * sizeof *e);
	e[n] = lineage_env;
	e[n + 1] = NULL;
	environ = e;
}

char **hs_exec_env(char *const envp[], const char *lineage)
{
	size_t n = 0, keep = 0;
	for (; envp && envp[n]; n++)
		;
	size_t vlen = sizeof HS_LINEAGE_VAR + strlen(lineage) + 1;
	size_t len = 16 + (n + 2) * sizeof(char *) + vlen;
	char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	*(size_t *)base = len;       /* for hs_exec_env_free                 */
	char **e = (char **)(base + 16);
	for (size_t i = 0; i < n; i++)
		if (!is_lineage(envp[i]))
			e[keep++] = envp[i];
	char *v = (char *)(e + n + 2);
	hs_fmt(v, vlen, "%s=%s", HS_LINEAGE_VAR, lineage);
	e[keep++] = v;
	e[keep] = NULL;
	return e;
}

void hs_exec_env_free(char **env)
{
	if (env) {
		char *base = (char *)env - 16;
		munmap(base, *(size_t *)base);
	}
}

/* ---- fork ---------------------------------------------------------------- */

static void fork_prepare(void) { hs_trace_fork_prepare(); }
static void fork_parent(void)  { hs_trace_fork_parent(); }

static void fork_child(void)
{
	atomic_store(&finished, false);
	atomic_store(&exit_known, false);
	hs_trace_fork_child();       /* new lineage: this pid, generation 0   */
	set_lineage_text();
}

/* ---- arming ---------------------------------------------------------------- */

void hs_lifecycle_arm(void)
{
	static bool armed;
	if (armed)
		return;
	armed = true;
	if (on_exit(on_exit_status, NULL) != 0)
		hs_log("cannot register an exit handler: the trace will not record "
		       "the exit status or leaks");
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	install_signal_handlers();
	export_lineage();
}
