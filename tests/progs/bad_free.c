/*
 * bad_free.c — hands free() pointers that are not live heap blocks, then
 * carries on as if nothing happened.
 *
 *   bad_free          every bad call (glibc would abort: run it on the shim)
 *   bad_free clean    only the normal work (valid natively too)
 *
 * Before each bad call it writes "bad_free: expect KIND ADDRESS" to stderr
 * (KIND is "invalid", "double", or "freed" — a second free of a page or
 * mapping block, whose header may be gone: either report is right, but
 * there must be one), so the test can match every report of
 * the shim to the call that caused it. On the shim each bad call must be
 * reported once and otherwise ignored: the heap stays usable and the
 * program ends with "survived" on stdout and status 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int a_global = 42;

static void bad(const char *kind, void *p)
{
	fprintf(stderr, "bad_free: expect %s %p\n", kind, p);
	free(p);
}

/* Ordinary use after the bad calls: many sizes, written and read back. */
static int normal_work(void)
{
	enum { N = 5000 };
	static unsigned char *blk[N];
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i * 131) % 9000 + (i % 500 == 0 ? (5 << 20) : 0);
		blk[i] = malloc(n + 1);
		if (!blk[i])
			return 1;
		memset(blk[i], i & 0xff, n + 1);
	}
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i * 131) % 9000 + (i % 500 == 0 ? (5 << 20) : 0);
		for (size_t k = 0; k <= n; k += 97)
			if (blk[i][k] != (i & 0xff))
				return 1;
		free(blk[i]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int clean = argc > 1 && strcmp(argv[1], "clean") == 0;
	int a_stack_variable = 7;
	char *small = malloc(64);
	char *large = malloc(64 << 10);           /* buddy pages          */
	char *huge = malloc(9 << 20);             /* its own mapping      */
	char *twice = malloc(100);
	char *twice_large = malloc(100 << 10);
	char *twice_huge = malloc(6 << 20);
	if (!small || !large || !huge || !twice || !twice_large || !twice_huge)
		return 1;
	memset(small, 'a', 64);
	memset(large, 'b', 64 << 10);
	memset(huge, 'c', 9 << 20);

	if (!clean) {
		bad("invalid", &a_stack_variable);
		bad("invalid", &a_global);
		bad("invalid", small + 8);        /* interior, misaligned  */
		bad("invalid", small + 16);       /* interior, aligned     */
		bad("invalid", large + 4096);     /* interior              */
		/* interior at a page start, and at a 4 MiB granule start */
		bad("invalid", (char *)(((uintptr_t)large + 4096) & ~(uintptr_t)4095));
		bad("invalid", huge + (4 << 20));
		bad("invalid", (char *)(((uintptr_t)huge + (4 << 20)) & ~(uintptr_t)((4 << 20) - 1)));
		/* memory that is not a heap at all, mapped and then not */
		char *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 1;
		bad("invalid", m + 64);
		munmap(m, 1 << 16);
		bad("invalid", m + 64);           /* unmapped: must not be read */
		free(twice);
		bad("double", twice);
		free(twice_large);
		bad("freed", twice_large);
		free(twice_huge);
		bad("freed", twice_huge);
	} else {
		free(twice);
		free(twice_large);
		free(twice_huge);
	}

	/* the blocks whose interiors were passed are intact and still ours */
	for (int k = 0; k < 64; k++)
		if (small[k] != 'a')
			return 3;
	for (int k = 0; k < (64 << 10); k += 512)
		if (large[k] != 'b')
			return 3;
	for (int k = 0; k < (9 << 20); k += 4096)
		if (huge[k] != 'c')
			return 3;
	free(small);
	free(large);
	free(huge);
	if (normal_work())
		return 4;
	(void)a_stack_variable;
	printf("survived\n");
	return 0;
}
