/*
 * dlopen_alloc.c — dlopen/dlclose of a library that allocates.
 *
 *   dlopen_alloc LIB.so [ROUNDS=50]
 *
 * The library (built by tests/e2e/torture.sh) allocates in its constructor
 * and frees in its destructor, and exports lib_make(n) returning a malloc'd
 * string and lib_take(p) freeing a block made here. Each round: dlopen,
 * call both ways, dlclose (the code that allocated is unmapped), then free
 * the library's block from the main program — the allocator and the
 * recorder's stacks must not depend on the library still being mapped.
 * Output must match a native run.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: dlopen_alloc LIB.so [ROUNDS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 50;
	unsigned long sum = 0;
	for (int i = 0; i < rounds; i++) {
		void *h = dlopen(argv[1], RTLD_NOW | (i % 2 ? RTLD_GLOBAL : RTLD_LOCAL));
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 3;
		}
		char *(*make)(int) = (char *(*)(int))dlsym(h, "lib_make");
		void (*take)(void *) = (void (*)(void *))dlsym(h, "lib_take");
		int (*live)(void) = (int (*)(void))dlsym(h, "lib_live");
		if (!make || !take || !live)
			return 4;
		char *s = make(i);
		char *mine = malloc(64 + (size_t)i);
		strcpy(mine, "from main");
		take(mine);  /* freed inside the library */
		sum += (unsigned long)live();
		if (dlclose(h) != 0)
			return 5;
		sum += strlen(s);
		free(s);  /* made by code that is no longer mapped */
	}
	printf("dlopen_alloc ok rounds=%d sum=%lu\n", rounds, sum);
	return 0;
}
