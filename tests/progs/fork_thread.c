/*
 * fork_thread.c — fork from a secondary thread while other threads are in
 * the middle of allocating.
 *
 *   fork_thread [ROUNDS=50]
 *
 * Two threads malloc/realloc/free without pause; a third forks ROUNDS
 * times. Each child (which has only the forking thread) must find the
 * allocator usable — no lock left held by a thread that does not exist in
 * the child — so it allocates and frees a lot, starts a thread of its own
 * that does the same, and exits 0 through exit() (atexit handlers, the
 * allocator's exit path). An alarm turns a deadlocked child into a death
 * by SIGALRM the parent can name, instead of a silent hang.
 * Prints "fork_thread ok" when every child exited 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
	return *s;
}

static size_t some_size(uint64_t *s)
{
	unsigned r = (unsigned)(rnd(s) % 100);
	return r < 80 ? rnd(s) % 512 : r < 97 ? rnd(s) % 40000 : rnd(s) % (6 << 20);
}

/* n rounds of allocation traffic over a small table; returns 0 if every
 * block still held what was written into it. */
static int churn(uint64_t seed, long n)
{
	enum { SLOTS = 64 };
	unsigned char *p[SLOTS] = { 0 };
	size_t sz[SLOTS] = { 0 };
	int bad = 0;
	for (long i = 0; i < n; i++) {
		unsigned k = (unsigned)(rnd(&seed) % SLOTS);
		if (p[k] && sz[k] && (p[k][0] != (unsigned char)k || p[k][sz[k] - 1] != (unsigned char)k))
			bad = 1;
		if (p[k] && (rnd(&seed) & 1)) {
			size_t m = some_size(&seed);
			unsigned char *q = realloc(p[k], m);
			if (!q && m)
				return 1;
			p[k] = q;
			sz[k] = m;
		} else {
			free(p[k]);
			sz[k] = some_size(&seed);
			p[k] = malloc(sz[k]);
			if (!p[k])
				return 1;
		}
		if (p[k] && sz[k]) {
			p[k][0] = (unsigned char)k;
			p[k][sz[k] - 1] = (unsigned char)k;
		}
	}
	for (unsigned k = 0; k < SLOTS; k++)
		free(p[k]);
	return bad;
}

static void *allocator(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	while (!atomic_load(&stop))
		if (churn(seed++, 2000))
			fprintf(stderr, "fork_thread: parent thread saw corruption\n"), _exit(2);
	return NULL;
}

static void *child_thread(void *arg)
{
	return (void *)(intptr_t)churn((uintptr_t)arg, 2500);
}

static void child(int round)
{
	alarm(10);           /* a deadlock becomes SIGALRM, named by the parent */
	int bad = churn(1000u + (unsigned)round, 2500);
	pthread_t t;
	void *r = (void *)1;
	if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(round + 7)) != 0 ||
	    pthread_join(t, &r) != 0)
		bad = 1;
	exit(bad || r ? 1 : 0);
}

static void *forker(void *arg)
{
	int rounds = (int)(intptr_t)arg;
	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(2);
		}
		if (pid == 0)
			child(i);
		int st;
		if (waitpid(pid, &st, 0) != pid) {
			perror("waitpid");
			exit(2);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (WIFSIGNALED(st))
				fprintf(stderr, "fork_thread: child %d died of signal %d%s\n", i,
				        WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (deadlocked)" : "");
			else
				fprintf(stderr, "fork_thread: child %d exited %d\n", i, WEXITSTATUS(st));
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	pthread_t a, b, f;
	pthread_create(&a, NULL, allocator, (void *)1);
	pthread_create(&b, NULL, allocator, (void *)2);
	pthread_create(&f, NULL, forker, (void *)(intptr_t)rounds);
	pthread_join(f, NULL);
	atomic_store(&stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("fork_thread ok\n");
	return 0;
}
