/*
 * env_churn.c — a program that rewrites its environment heavily.
 *
 *   env_churn [ROUNDS=20000]
 *
 * setenv/unsetenv/putenv grow and shrink libc's environ array (through
 * our malloc/realloc/free), overwrite heapscope's own variables with
 * values that would change its behaviour if they were read late
 * (HEAPSCOPE_FAIL=nth=1 would fail the next allocation, HEAPSCOPE_OUT
 * would move the trace), and finally clearenv() leaves environ NULL. After
 * that the program keeps allocating and forks a child that allocates:
 * heapscope read its settings once in its constructor and must neither
 * crash on the NULL environ nor change behaviour. Output is a checksum
 * that must match a native run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static unsigned long churn(int n)
{
	unsigned long sum = 0;
	for (int i = 0; i < n; i++) {
		char *p = malloc((size_t)(i % 300) + 1);
		if (!p)
			return 0;  /* a late HEAPSCOPE_FAIL took effect */
		memset(p, i, (size_t)(i % 300) + 1);
		sum += (unsigned char)p[i % 300];
		free(p);
	}
	return sum;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20000;
	char name[32], val[64];
	static char put[64][32];  /* putenv keeps the pointer: static storage */
	unsigned long sum = 0;

	for (int i = 0; i < rounds; i++) {
		snprintf(name, sizeof name, "HS_CHURN_%d", i % 97);
		snprintf(val, sizeof val, "%0*d", i % 50 + 1, i);
		if (setenv(name, val, 1) != 0)
			return 2;
		if (i % 3 == 0)
			unsetenv(name);
		if (i % 500 == 0) {
			setenv("HEAPSCOPE_FAIL", "nth=1", 1);
			setenv("HEAPSCOPE_OUT", "/nonexistent/dir/x.trace", 1);
			setenv("HEAPSCOPE_RECORD", "0", 1);
			snprintf(put[(i / 500) % 64], 32, "HS_PUT_%d=%d", i / 500, i);
			putenv(put[(i / 500) % 64]);
		}
		if (i % 1000 == 0)
			sum += churn(100);
	}
	const char *v = getenv("HS_CHURN_5");
	printf("HS_CHURN_5=%s\n", v ? v : "(unset)");
	if (clearenv() != 0)
		return 3;
	printf("environ after clearenv: %s\n", environ ? "set" : "NULL");
	sum += churn(5000);
	setenv("AFTER_CLEAR", "1", 1);
	sum += churn(5000);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		unsigned long c = churn(3000);
		_exit(c ? 0 : 1);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("child failed (status %d)\n", st);
		return 4;
	}
	printf("env_churn ok sum=%lu\n", sum);
	return 0;
}
