/*
 * snap_prog.c — drives the sampler's triggers for tests/e2e/sampler.sh.
 *
 *   snap_prog signal   raise SIGUSR2, then allocate (a slow path takes the
 *                      deferred snapshot)
 *   snap_prog api      hs_snapshot("two words") and hs_snapshot("")
 *   snap_prog fork     a child that allocates 8 MiB and runs > 100 ms, so
 *                      its own trace gets its own samples
 *   snap_prog busy     allocate and free in a loop for ~300 ms
 *   snap_prog alarm    hs_snapshot() in a loop until SIGALRM, whose
 *                      handler calls exit(7), ends the process: most
 *                      likely inside a sample, and the ending must not
 *                      wait for the sampler that it interrupted
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapscope.h"

static void churn(int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	void *keep[64] = { 0 };
	for (unsigned i = 0;; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			break;
		/* sizes across bins and pages, so slow paths keep coming */
		free(keep[i % 64]);
		keep[i % 64] = malloc(16 + (i * 2654435761u) % 70000);
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
}

static void exit_7(int sig)
{
	(void)sig;
	exit(7);                /* what programs do, safe or not */
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (!strcmp(what, "signal")) {
		raise(SIGUSR2);
		churn(120);
	} else if (!strcmp(what, "api")) {
		void *p = malloc(100000);
		printf("api: %d %d\n", hs_snapshot("two words"), hs_snapshot(""));
		free(p);
	} else if (!strcmp(what, "fork")) {
		pid_t pid = fork();
		if (pid == 0) {
			char *big = malloc(8 << 20);
			memset(big, 1, 8 << 20);
			churn(150);
			free(big);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
	} else if (!strcmp(what, "busy")) {
		churn(300);
	} else if (!strcmp(what, "alarm")) {
		void *p = malloc(1000);
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		signal(SIGALRM, exit_7);
		alarm(1);
		for (;;) {                    /* 10 s: the alarm did not end us */
			hs_snapshot("loop");
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec > 10)
				break;
		}
		free(p);
		return 3;
	}
	return 0;
}
