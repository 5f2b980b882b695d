/*
 * hooks.h — the entry layer (preload/hooks/): what it owns and offers.
 *
 *   hook_malloc.c, hook_cxx.c  the malloc family, operator new/delete
 *   hookentry.h, fastpath.h    what every entry point does, written once;
 *                              the inline thread-cache path
 *   hook_exit.c, hook_exec.c   _exit and friends, the exec family
 *   hook_mallinfo.c            mallinfo, malloc_stats, malloc_trim, mallopt ...
 *   hook_thread.c              pthread_create, thrd_create: thread teardown
 *   lifecycle.c                exit status, fatal signals, fork (recorder)
 *   ending.c                   the work done at the end: exit check, leak
 *                              scan under a stopped world, `X` line
 *   init.c                     start-up, thread start and exit, fork
 *                              (allocator locks); fills hs_alloc_hooks
 *   api.c                      the heapscope.h API's shim side
 *
 * May call every folder below it.
 */
#ifndef HS_HOOKS_H
#define HS_HOOKS_H

#include "internal.h"

/* ---- ending.c: the end of the process ---------------------------------- */
/* The one place the process's end is handled: exit check, final sample,
 * leak scan, `X` line, flush. Once per process; how is "exit" (value:
 * the status; the trace keeps value & 0xff, what the parent sees). */
void hs_finish(const char *how, int value);
/* The same from a fatal signal's handler (ctx: its ucontext), before the
 * default action; the interrupted registers and stack are the roots. */
void hs_finish_signal(int sig, void *ctx);
/* A signal's handler (ctx: its ucontext) interrupted heapscope: the
 * allocator, or code in our text (a header half written). */
bool hs_signal_inside(void *ctx);
/* A fork child has not ended yet. */
void hs_finish_reset_child(void);

/* Called once the trace is open: exit status capture, fatal-signal
 * handlers, fork handlers, the lineage variable for descendants. */
void hs_lifecycle_arm(void);

/* ---- init.c ------------------------------------------------------------ */
/* hs_init: our constructor, once libc is up; reads the settings, fills
 * hs_alloc_hooks, opens the trace, installs fork handlers. The header
 * secret is set earlier, by the first allocation (alloc/secret.c). */
void hs_init(void);
/* First slow-path allocation of a thread: count it (fork). */
void hs_thread_start(void);
/* A thread ends: its cache, quarantine, counters, stack cache. */
void hs_thread_exit(void *arg);

/* ---- hook_thread.c ----------------------------------------------------- */
/* Register this thread's hs_thread_exit as a TLS destructor, once; call
 * only where the thread holds no lock (the start of a thread). */
void hs_thread_exit_arm(void);
/* Set while arming: glibc's calloc for its record goes to alloc/nodes.c. */
extern __thread int hs_thread_arming;

#endif
