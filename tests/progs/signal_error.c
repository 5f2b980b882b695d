/*
 * signal_error.c — a SIGALRM handler (every 100 µs) that commits a heap
 * error, an invalid free, while the main thread keeps the trace writer
 * busy with new stacks (each recursion depth is a stack never seen
 * before, so most of its allocations write an S line). The handler's
 * error line may arrive while its own thread holds the trace lock: it
 * must be dropped and counted, never waited for. Under heapscope the
 * program must end; tests/e2e/torture.sh runs it with a timeout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static char not_heap[64];
static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
	free(not_heap + 16);            /* invalid free: reported, ignored */
}

static void *__attribute__((noinline)) descend(int depth, int salt)
{
	if (depth > 0) {
		void *p = descend(depth - 1, salt);
		__asm__ volatile("" ::: "memory");   /* no tail call */
		return p;
	}
	char *p = malloc(16 + (size_t)(salt & 63));
	if (p)
		p[0] = (char)salt;
	return p;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 300;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	setitimer(ITIMER_REAL, &it, NULL);
	unsigned long sum = 0;
	for (int r = 0; r < rounds; r++)
		for (int d = 0; d < 64; d++) {
			char *p = descend(d, r + d);
			sum += p ? (unsigned char)p[0] : 0;
			free(p);
		}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("signal_error: %lu\n", sum);
	return 0;
}
