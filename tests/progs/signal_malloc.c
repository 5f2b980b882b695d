/*
 * signal_malloc.c — malloc and free from a signal handler that interrupts
 * malloc and free.
 *
 *   signal_malloc [SECONDS=1]
 *
 * Not async-signal-safe by the letter of POSIX, but real programs do it
 * (loggers, profilers, crash handlers), and an allocator that takes a lock
 * its own interrupted caller holds will hang. A fast ITIMER_REAL makes
 * SIGALRM land inside malloc/free/realloc of every size class (bins, buddy
 * pages, huge mappings) on the main thread; the handler allocates, writes,
 * checks and frees, and also frees a block the main loop handed over.
 * Prints "signal_malloc ok" when it finishes; a deadlock is caught by the
 * test's timeout.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled, corrupt;
/* A block the main loop allocates for the handler to free: free() of a
 * block made outside the handler, from inside it. */
static _Atomic(char *) handoff;

static void on_alarm(int sig)
{
	(void)sig;
	static const size_t sizes[] = { 8, 100, 3000, 40000, 200000 };
	size_t n = sizes[handled % 5];
	char *p = malloc(n);
	if (p) {
		memset(p, 0x5c, n);
		char *q = realloc(p, n * 2);
		if (q) {
			if (q[0] != 0x5c || q[n - 1] != 0x5c)
				corrupt = 1;
			p = q;
		}
		free(p);
	}
	char *z = calloc(16, 16);
	if (z && (z[0] || z[255]))
		corrupt = 1;
	free(z);
	free(atomic_exchange(&handoff, NULL));
	handled++;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 200 }, { 0, 200 } };     /* every 200 us */
	setitimer(ITIMER_REAL, &it, NULL);

	uint64_t s = 88172645463325252ull;
	unsigned long loops = 0;
	double end = now() + seconds;
	while (now() < end) {
		for (int k = 0; k < 200; k++, loops++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			size_t n = (s % 100 < 90) ? s % 700 : (s % 100 < 99) ? s % 100000 : (5 << 20);
			char *p = malloc(n + 1);
			if (!p) {
				fprintf(stderr, "signal_malloc: malloc(%zu) failed\n", n + 1);
				return 1;
			}
			p[0] = p[n] = 7;
			char *q = realloc(p, n / 2 + 1);
			if (!q || q[0] != 7) {
				fprintf(stderr, "signal_malloc: realloc lost data\n");
				return 1;
			}
			if (k % 10 == 0)
				free(atomic_exchange(&handoff, q));
			else
				free(q);
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	free(atomic_exchange(&handoff, NULL));
	fprintf(stderr, "signal_malloc: %lu loops, %d signals handled\n", loops, (int)handled);
	if (corrupt) {
		fprintf(stderr, "signal_malloc: handler saw corrupt memory\n");
		return 1;
	}
	if (handled < 10) {
		fprintf(stderr, "signal_malloc: only %d signals: the test did not test\n", (int)handled);
		return 1;
	}
	printf("signal_malloc ok\n");
	return 0;
}
