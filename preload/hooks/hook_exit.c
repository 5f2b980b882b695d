/*
 * hook_exit.c — the exits that skip atexit handlers and destructors.
 *
 * exit() and a return from main need no hook: lifecycle.c gets their
 * status from an on_exit() handler. _exit, _Exit and quick_exit end the
 * process without running those handlers, so the trace is finished here,
 * before the real call.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hooks.h"
#include "record/trace.h"

typedef void (*exit_fn)(int);
static exit_fn real_quick_exit;

__attribute__((constructor)) static void resolve(void)
{
	real_quick_exit = (exit_fn)dlsym(RTLD_NEXT, "quick_exit");
}

/* glibc's _exit is exit_group(2) and nothing else; calling the system
 * directly spares a dlsym in a vfork child. */
static __attribute__((noreturn)) void exit_group(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

HS_API void _exit(int status)
{
	hs_finish("exit", status);
	exit_group(status);
}

HS_API void _Exit(int status)
{
	hs_finish("exit", status);
	exit_group(status);
}

HS_API void quick_exit(int status)
{
	hs_finish("exit", status);
	if (!real_quick_exit)
		resolve();
	if (real_quick_exit)
		real_quick_exit(status);
	exit_group(status);
}
