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
 * behaviour is exactly what it would be without us). The handler does
 * what an exit does (ending.c: exit check, leak scan, `X signal N`) and
 * re-raises with the default action so the process dies of its own
 * signal, with the same wait status and core dump. The main thread gets
 * an alternate signal stack so a stack overflow can still be recorded.
 *
 * Fork: the child writes its own trace (trace.c). Exec: hook_exec.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "record/trace.h"

extern char **environ;

static _Atomic bool exit_known, dtor_ran;
static _Atomic int exit_status;

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

/* A signal that interrupted heapscope (a SIGTERM while the program was in
 * malloc, say) would leave the heap unwalkable. Unless it is a fault (the
 * instruction would fault again) or SIGABRT (abort() puts the default
 * action back and raises it again when a handler returns), it is sent
 * again to this thread 1 ms later, by a timer, so that the allocator call
 * can finish first; at most 20 times, then the scan is skipped and the
 * `W` line says why. A timer from the system calls directly: glibc's
 * timer_create may allocate. */
#define DEFER_TRIES 20

static bool defer(int sig, const siginfo_t *si, void *ctx)
{
	static _Atomic int tries;
	static _Atomic int timer = -1;
	bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
	if (sig == SIGABRT || (fault && si->si_code > 0) || !hs_signal_inside(ctx))
		return false;
	int old = atomic_exchange(&timer, -1);
	if (old >= 0)
		syscall(SYS_timer_delete, old);
	if (atomic_fetch_add(&tries, 1) >= DEFER_TRIES)
		return false;
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = sig;
	ev._sigev_un._tid = (int)syscall(SYS_gettid);
	int id;
	struct itimerspec in = { .it_value = { 0, 1000 * 1000 } };
	if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id) != 0)
		return false;
	if (syscall(SYS_timer_settime, id, 0, &in, NULL) != 0) {
		syscall(SYS_timer_delete, id);
		return false;
	}
	atomic_store(&timer, id);
	return true;
}

/* The default action comes back only now, not on entry (SA_RESETHAND):
 * then a second SIGTERM arriving between the kernel's dequeue of the first
 * and its blocking of the signal for the handler (timeout(1) signals the
 * child and then its process group) found SIG_DFL and killed the process
 * at once, before the handler ran: 4 runs of 60 under `timeout` lost
 * their X line so. Now the signal stays blocked while the handler runs,
 * a second one waits, and both meet the default action when we return
 * (a faulting instruction would also fault again). */
static void on_fatal(int sig, siginfo_t *si, void *ctx)
{
	if (defer(sig, si, ctx))
		return;
	hs_finish_signal(sig, ctx);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static void install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
		struct sigaction old;
		if (sigaction(fatal[i], NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			sigaction(fatal[i], &sa, NULL);
	}
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
		/* the leak scan runs on it (pages never touched cost nothing) */
		size_t len = 256 * 1024;
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
	hs_finish_reset_child();
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
