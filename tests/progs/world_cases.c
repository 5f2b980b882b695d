/* Other threads in awkward states when the process ends (tests/e2e/
 * world_stop.sh):
 *   idle      one thread sleeps in nanosleep, one is blocked in read():
 *             the exit scan must leave them be (a signal would make the
 *             nanosleep fail with EINTR, which the thread would print)
 *             and still count them stopped (idle);
 *   sigblock  a thread with every signal blocked allocates in a loop: it
 *             cannot be stopped, and the scan must say so;
 *   lock      a thread is frozen inside the allocator holding its lock
 *             (a library loaded before the shim makes its mmap never
 *             return: tests/e2e/world_stop.sh builds it), then main dies
 *             of SIGSEGV: the report must come within a bounded time and
 *             say why the heap was not walked.
 * Each leaks 100 bytes first (definitely lost, as memcheck says). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "leakcase.h"

static atomic_int ready;
static int pipefd[2];

static void __attribute__((noinline)) make_leak(void)
{
	char *p = malloc(100);                  /* LEAK definite 100 */
	memset(p, 1, 100);
}

static void say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void *sleeper(void *arg)
{
	struct timespec ts = { 60, 0 };
	ready++;
	if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
		say("world_cases: nanosleep interrupted\n");
	return NULL;
}

static void *reader(void *arg)
{
	char c;
	ready++;
	if (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
		say("world_cases: read interrupted\n");
	return NULL;
}

static void *blocker(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	void *keep[16] = { 0 };
	for (unsigned i = 0;; i++) {
		free(keep[i % 16]);
		keep[i % 16] = malloc(i % 300 + 1);
		if (i == 1000)
			ready++;
	}
	return NULL;
}

/* The freezing library's switches, when it is loaded. */
static void *grower(void *arg)
{
	atomic_int *freeze_tid = dlsym(RTLD_DEFAULT, "freeze_tid");
	for (int i = 0; i < 100; i++)           /* caches, stack pools: mapped now */
		free(malloc(i * 10 + 1));
	if (!freeze_tid)
		return NULL;
	*freeze_tid = (int)syscall(SYS_gettid);
	for (;;)                                /* buddy blocks until a new arena,
	                                           mapped under the buddy lock */
		if (!malloc(1 << 20))
			return NULL;
}

static void start(void *(*fn)(void *))
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, NULL) != 0)
		exit(2);
}

static void wait_for(atomic_int *flag, int want)
{
	for (int i = 0; i < 5000 && *flag < want; i++)
		usleep(1000);
	if (*flag < want) {
		say("world_cases: the threads did not get ready\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "idle";
	make_leak();
	leakcase_scrub_stack();
	if (strcmp(how, "idle") == 0) {
		if (pipe(pipefd) != 0)
			return 2;
		start(sleeper);
		start(reader);
		wait_for(&ready, 2);
		usleep(20 * 1000);              /* let them block */
		return 0;
	}
	if (strcmp(how, "sigblock") == 0) {
		start(blocker);
		wait_for(&ready, 1);
		return 0;
	}
	if (strcmp(how, "lock") == 0) {
		atomic_int *frozen = dlsym(RTLD_DEFAULT, "frozen");
		if (!frozen) {
			say("world_cases: the freezing library is not loaded\n");
			return 2;
		}
		start(grower);
		wait_for(frozen, 1);
		volatile int *volatile nowhere = NULL;
		*nowhere = 1;
	}
	return 2;
}
