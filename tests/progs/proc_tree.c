/*
 * proc_tree.c — a process tree for tests/e2e/proc_tree.sh: each mode
 * starts other processes one way, and the process that leaks is always a
 * different one from the process started.
 *
 *   proc_tree leaf       leaks 555 bytes (definitely lost) and exits 0
 *   proc_tree fork       a forked child leaks 777 bytes; the parent is clean
 *   proc_tree exec       execs `proc_tree leaf` (same pid, next image)
 *   proc_tree system     system("proc_tree leaf")
 *   proc_tree popen      popen("proc_tree leaf; echo done") and reads it
 *   proc_tree killchild  a forked child leaks, is killed by SIGKILL while
 *                        it waits; the parent is clean
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void leak(size_t n)
{
	char *p = malloc(n);
	memset(p, 1, n);
	p = NULL;                       /* lost */
}

static int run_shell(const char *self, const char *fmt, int use_popen)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, fmt, self);
	if (!use_popen)
		return system(cmd) == 0 ? 0 : 1;
	FILE *f = popen(cmd, "r");
	if (!f)
		return 1;
	char line[64];
	int got = 0;
	while (fgets(line, sizeof line, f))
		got |= strcmp(line, "done\n") == 0;
	return pclose(f) == 0 && got ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "leaf";
	if (!strcmp(m, "leaf")) {
		leak(555);
		return 0;
	}
	if (!strcmp(m, "fork") || !strcmp(m, "killchild")) {
		int pfd[2];
		if (pipe(pfd) != 0)
			return 2;
		pid_t c = fork();
		if (c == 0) {
			leak(777);
			if (!strcmp(m, "fork"))
				exit(0);
			if (write(pfd[1], "x", 1) != 1)  /* leaked; now wait to be killed */
				_exit(3);
			for (;;)
				pause();
		}
		if (!strcmp(m, "killchild")) {
			char x;
			if (read(pfd[0], &x, 1) != 1)
				return 2;
			kill(c, SIGKILL);
		}
		int st;
		waitpid(c, &st, 0);
		return 0;
	}
	if (!strcmp(m, "exec")) {
		execl(argv[0], argv[0], "leaf", (char *)NULL);
		return 2;
	}
	if (!strcmp(m, "system"))
		return run_shell(argv[0], "%s leaf", 0);
	if (!strcmp(m, "popen"))
		return run_shell(argv[0], "%s leaf; echo done", 1);
	return 2;
}
