/*
 * hook_ctor.c — the shim's constructor. It lives among the hook files so
 * that unit tests, which link the preload core without the hooks, start
 * nothing (no trace file, no fork handlers) unless they call hs_init().
 */
#include "hooks.h"

__attribute__((constructor(101))) static void heapscope_ctor(void)
{
	hs_init();
}
