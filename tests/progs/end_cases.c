/* The same leaks, then the process ends the way argv[1] says:
 *   return        return 5 from main
 *   exit          exit(7)
 *   exit=N        exit(N), any int (the parent sees N & 255)
 *   _exit         _exit(9)
 *   abort         abort(): SIGABRT, default action
 *   segv          a write through NULL: SIGSEGV, default action
 *   sigterm       raise(SIGTERM), default action
 *   sigterm_exit  raise(SIGTERM) with a handler that calls exit(3)
 *   sigkill       killed with SIGKILL from outside, as timeout -s KILL or
 *                 the OOM killer do (a raise(SIGKILL) memcheck would
 *                 intercept and report on): nothing can run after it
 * tests/endings.expected holds what memcheck reports for each, and
 * tests/e2e/endings.sh compares heapscope with it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "leakcase.h"

struct node {
	struct node *next;
	char pad[24];
};

static void *kept;

static void __attribute__((noinline)) make_leaks(void)
{
	char *p = malloc(512);                  /* LEAK definite 512 */
	memset(p, 1, 512);
	kept = malloc(64);                      /* LEAK reachable 64 */
	struct node *head = malloc(sizeof *head);        /* LEAK definite 32 */
	head->next = malloc(sizeof *head->next);         /* LEAK indirect 32 */
	head->next->next = NULL;
}

static void on_term(int sig)
{
	(void)sig;
	exit(3);
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "return";
	make_leaks();
	leakcase_scrub_stack();
	if (strcmp(how, "exit") == 0)
		exit(7);
	if (strncmp(how, "exit=", 5) == 0)
		exit(atoi(how + 5));
	if (strcmp(how, "_exit") == 0)
		_exit(9);
	if (strcmp(how, "abort") == 0)
		abort();
	if (strcmp(how, "segv") == 0) {
		volatile int *volatile nowhere = NULL;
		*nowhere = 1;
	}
	if (strcmp(how, "sigterm") == 0)
		raise(SIGTERM);
	if (strcmp(how, "sigterm_exit") == 0) {
		signal(SIGTERM, on_term);
		raise(SIGTERM);
	}
	if (strcmp(how, "sigkill") == 0) {
		/* kill(1) does it, so that nothing of this program (nor of
		 * valgrind, which does not follow the exec) runs in the child */
		char pid[24];
		snprintf(pid, sizeof pid, "%d", (int)getpid());
		if (fork() == 0) {
			execlp("kill", "kill", "-KILL", pid, (char *)NULL);
			_exit(127);
		}
		for (;;)
			pause();
	}
	return 5;
}
