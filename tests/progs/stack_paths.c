/*
 * stack_paths.c — the same malloc call reached along different paths,
 * with equal frame sizes (so the stack pointer at the call is the same),
 * with an alloca'd frame in between, and from a loop: the cases a stack
 * cache keyed by (return address, stack pointer) could confuse.
 */
#include <alloca.h>
#include <stdlib.h>
#include <string.h>

static void *keep[4096];
static int nkeep;

__attribute__((noinline)) static void leaf(size_t n)
{
	keep[nkeep++ % 4096] = malloc(n);
}

__attribute__((noinline)) static void via_a(size_t n) { volatile char pad[32]; pad[0] = 1; leaf(n + pad[0]); }
__attribute__((noinline)) static void via_b(size_t n) { volatile char pad[32]; pad[0] = 2; leaf(n + pad[0]); }

__attribute__((noinline)) static void with_alloca(size_t n, size_t extra)
{
	char *buf = alloca(extra);
	memset(buf, 0, extra);
	if (buf[0] == 0)
		via_a(n);
}

int main(void)
{
	for (int i = 0; i < 2000; i++) {
		via_a(16);
		via_b(16);
		with_alloca(32, (size_t)(16 + (i % 7) * 48));
		if (i % 3 == 0)
			leaf(64);
	}
	for (int i = 0; i < 4096; i++)
		free(keep[i]);
	return 0;
}
