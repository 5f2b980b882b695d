/*
 * sweep_quick_exit.c — a program that checks every allocation and leaves
 * through _exit, which runs no atexit or on_exit handler: `heapscope
 * sweep --mode=nth` still needs the clean run's call count (the shim
 * writes it from its own _exit hook). tests/e2e/sweep.sh, part 4b.
 */
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	for (int i = 0; i < 3; i++) {
		char *p = malloc(32 + (size_t)i);
		if (!p)
			_exit(1);
		p[0] = (char)i;
		free(p);
	}
	_exit(0);
}
