/*
 * stack_fork.c — a stack the parent's stack cache knows, used again in a
 * forked child: the child's trace is a new one, so the S line must be
 * written there too (a cache hit must not take "already written" from the
 * parent's trace).
 *
 * One loop allocates from one call site; halfway it forks. The child's
 * next allocation is the same stack at the same stack pointer (a hit in
 * the cache it inherited); it keeps that block and exits, so its trace
 * names the stack in an L line. The parent frees everything but one
 * block it made before the loop, from a stack the child never captures:
 * the child's trace lists that block too (still reachable), so it needs
 * that S line as well. Each trace must hold an S line for every stack id
 * its L lines name.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep, *volatile inherited;

__attribute__((noinline)) static void *site(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) static int loop(int rounds, int fork_at)
{
	pid_t pid = -1;
	for (int i = 0; i < rounds; i++) {
		if (i == fork_at && (pid = fork()) < 0)
			return 2;
		void *p = site(24);
		if (pid == 0) {
			keep = p;           /* the child's one block: an L line */
			exit(0);
		}
		free(p);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 3;
	return 0;
}

int main(void)
{
	inherited = malloc(56);
	int rc = loop(1000, 500);
	free(inherited);
	return rc;
}
