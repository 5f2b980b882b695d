/*
 * altstack_coroutine.c — a signal handler on an alternate stack that
 * allocates, first while it interrupts a coroutine on a stack of its own,
 * then, after that stack is unmapped, while it interrupts main. The
 * handler's own frames are the same both times, so a stack cache that
 * remembered the first stack's slots must not read the (gone) coroutine
 * slots the second time. tests/e2e/torture.sh runs it under the shim.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define CO_STACK (256 * 1024)

static ucontext_t main_ctx, co_ctx;
static volatile sig_atomic_t allocs;

static void __attribute__((noinline)) handler(int sig)
{
	(void)sig;
	/* not async-signal-safe by the book, but programs do it */
	char *p = malloc(48);
	if (p) {
		p[0] = 1;
		allocs++;
	}
	free(p);
}

static void __attribute__((noinline)) deep(int n)
{
	if (n > 0) {
		deep(n - 1);
		return;
	}
	raise(SIGUSR1);
}

static void coroutine(void)
{
	deep(6);
	swapcontext(&co_ctx, &main_ctx);
}

int main(void)
{
	stack_t alt = { .ss_size = 64 * 1024 };
	alt.ss_sp = mmap(NULL, alt.ss_size, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt.ss_sp == MAP_FAILED || sigaltstack(&alt, NULL) != 0)
		return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);

	for (int round = 0; round < 20; round++) {
		void *stack = mmap(NULL, CO_STACK, PROT_READ | PROT_WRITE,
		                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stack == MAP_FAILED)
			return 2;
		getcontext(&co_ctx);
		co_ctx.uc_stack.ss_sp = stack;
		co_ctx.uc_stack.ss_size = CO_STACK;
		co_ctx.uc_link = &main_ctx;
		makecontext(&co_ctx, coroutine, 0);
		swapcontext(&main_ctx, &co_ctx);
		munmap(stack, CO_STACK);
		deep(6);                /* the handler again, over main's stack */
	}
	printf("altstack_coroutine: %d allocations in the handler\n", (int)allocs);
	return allocs == 40 ? 0 : 1;
}
