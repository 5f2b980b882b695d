/*
 * spawn_exec.c — vfork+exec and posix_spawn of an allocating child.
 *
 *   spawn_exec [ROUNDS=5]      parent
 *   spawn_exec child N         what the parent starts
 *
 * A vfork child shares the parent's memory until it execs, so anything
 * the preload does in it (a trace write, a lock, a TLS touch) happens to
 * the parent's state; posix_spawn uses clone(CLONE_VM|CLONE_VFORK) in
 * glibc 2.36 the same way. Each round starts the program itself both
 * ways; the child allocates, checks and prints a line; the parent waits
 * and checks the status and keeps allocating. Output must match a native
 * run; each image writes its own well-formed trace.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int child(int n)
{
	unsigned long sum = 0;
	for (int i = 0; i < 2000; i++) {
		size_t sz = (size_t)(i * 37 % 5000) + 1;
		unsigned char *p = malloc(sz);
		if (!p)
			return 1;
		memset(p, i, sz);
		sum += p[sz - 1];
		free(p);
	}
	printf("child %d sum=%lu\n", n, sum);
	return 0;
}

static int wait_ok(pid_t pid, const char *how)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("%s child failed\n", how);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "child") == 0)
		return child(atoi(argv[2]));
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	int ok = 1;
	for (int i = 0; i < rounds && ok; i++) {
		char num[16];
		snprintf(num, sizeof num, "%d", 2 * i);
		char *args[] = { argv[0], "child", num, NULL };
		fflush(stdout);
		pid_t pid = vfork();
		if (pid == 0) {
			execve("/proc/self/exe", args, environ);
			_exit(127);
		}
		ok = pid > 0 && wait_ok(pid, "vfork");
		snprintf(num, sizeof num, "%d", 2 * i + 1);
		fflush(stdout);
		if (ok && posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) == 0)
			ok = wait_ok(pid, "posix_spawn");
		else
			ok = 0;
		void *keep = malloc(1000 + (size_t)i);  /* parent still allocates */
		free(keep);
	}
	printf("spawn_exec %s\n", ok ? "ok" : "FAILED");
	return !ok;
}
