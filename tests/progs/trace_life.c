/*
 * trace_life.c — ends its life in the way named by argv[1], for
 * tests/e2e/trace_lifecycle.sh:
 *   return N | exit N | _exit N | abort | segv | own-handler | fork
 *   | exec | execl | execlp | execle | dlopen | hang
 * Every mode first allocates from known_alloc(), whose malloc call is the
 * line marked KNOWN-ALLOC (the test maps the S line's innermost ip to it).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *keep[64];

__attribute__((noinline)) void *known_alloc(size_t n)
{
	void *p = malloc(n);   /* KNOWN-ALLOC */
	return p;
}

/* Distinct stacks, many of them: walk(d, bits) goes d levels down, each
 * through walk_a or walk_b as the bits say, so 2^d different stacks. */
static void walk(int d, unsigned bits);
__attribute__((noinline)) static void walk_a(int d, unsigned bits) { walk(d, bits); }
__attribute__((noinline)) static void walk_b(int d, unsigned bits) { walk(d, bits); }
__attribute__((noinline)) static void walk(int d, unsigned bits)
{
	if (d == 0) {
		void *p = malloc(24);
		free(p);
		return;
	}
	if (bits & 1)
		walk_a(d - 1, bits >> 1);
	else
		walk_b(d - 1, bits >> 1);
}

/* 1024 stacks of about 25 frames, ~300 bytes per S line: several trace
 * buffers' worth, so the writer has flushed a few times. */
__attribute__((noinline)) static void many_stacks(void)
{
	for (unsigned b = 0; b < 1024; b++)
		walk(10, b);
}

/* The program's own SIGSEGV handler: it must run as without the shim. */
static void own_segv(int sig)
{
	static const char msg[] = "own handler\n";
	write(1, msg, sizeof msg - 1);
	_exit(9);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "return";
	int n = argc > 2 ? atoi(argv[2]) : 0;
	keep[0] = known_alloc(12345);

	if (!strcmp(mode, "return"))
		return n;
	if (!strcmp(mode, "exit"))
		exit(n);
	if (!strcmp(mode, "_exit"))
		_exit(n);
	if (!strcmp(mode, "abort"))
		abort();
	if (!strcmp(mode, "segv")) {
		volatile int *bad = (int *)16;
		*bad = 1;
		return 99;
	}
	if (!strcmp(mode, "own-handler")) {
		signal(SIGSEGV, own_segv);
		volatile int *bad = (int *)16;
		*bad = 1;
		return 99;
	}
	if (!strcmp(mode, "fork")) {
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			keep[1] = known_alloc(777);
			printf("child %d\n", (int)getpid());
			exit(5);
		}
		int st = 0;
		waitpid(c, &st, 0);
		printf("parent %d child-status %d\n", (int)getpid(),
		       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return 0;
	}
	if (!strcmp(mode, "exec")) {
		char *args[] = { argv[0], "exit", "7", NULL };
		execv("/proc/self/exe", args);
		perror("execv");
		return 98;
	}
	if (!strcmp(mode, "execl")) {
		execl("/proc/self/exe", argv[0], "exit", "7", (char *)NULL);
		return 98;
	}
	if (!strcmp(mode, "execlp")) {
		execlp("true", "true", (char *)NULL);
		return 98;
	}
	if (!strcmp(mode, "execle")) {
		/* our own environment, with a stale lineage value planted */
		extern char **environ;
		static char *env[256];
		int k = 0;
		for (char **e = environ; *e && k < 254; e++)
			if (strncmp(*e, "HEAPSCOPE_TRACED=", 17) != 0)
				env[k++] = *e;
		env[k++] = "HEAPSCOPE_TRACED=1.0";
		env[k] = NULL;
		execle("/proc/self/exe", argv[0], "exit", "7", (char *)NULL, env);
		return 98;
	}
	if (!strcmp(mode, "dlopen")) {
		/* a library loaded now, which calls malloc itself: its M line
		 * must come before the first S line pointing into it */
		void *lib = dlopen("libpcre2-8.so.0", RTLD_NOW);
		if (!lib) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 97;
		}
		void *(*compile)(const unsigned char *, size_t, unsigned, int *,
		                 size_t *, void *) = (void *(*)(const unsigned char *,
		                 size_t, unsigned, int *, size_t *, void *))
		                 dlsym(lib, "pcre2_compile_8");
		int err;
		size_t off;
		keep[2] = compile ? compile((const unsigned char *)"a+b", 3, 0, &err, &off, NULL) : NULL;
		return keep[2] ? 0 : 96;
	}
	if (!strcmp(mode, "hang")) {
		many_stacks();
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
