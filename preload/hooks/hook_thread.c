/*
 * hook_thread.c — arming each thread's teardown, without a pthread key.
 *
 * When a thread ends, its cache of free slots must go back to the bins,
 * its quarantine be verified and unmapped, its counters folded (init.c,
 * thread_exit). A pthread key would do it, but keys are few (1024 in
 * glibc) and a program that takes them all must get them all. glibc runs
 * TLS destructors (__cxa_thread_atexit_impl, what C++ thread_local
 * objects use) at every end of a thread that goes through start_thread:
 * return from the start routine, pthread_exit, cancellation, detached or
 * joinable. So teardown is registered as one.
 *
 * When: registering takes glibc's loader lock (dl_load_lock) and callocs
 * a record. Inside malloc the program may hold any lock of its own (a
 * stdio stream's, while its buffer is allocated), and a constructor run
 * by dlopen under the loader lock may want that same lock: registering
 * from the allocator could deadlock. So pthread_create and thrd_create
 * start the thread in a trampoline that registers before the program's
 * start routine runs, holding nothing, and then tail-calls the routine:
 * the trampoline's frame is gone from the thread's stacks, which look as
 * they do without heapscope. The record glibc callocs meanwhile comes
 * from alloc/nodes.c, not the heap (calloc checks `hs_thread_arming`).
 *
 * Not covered (their caches stay parked when they end; nothing breaks):
 * threads libc starts for itself (timer and AIO helpers call its internal
 * pthread_create), threads made with clone(2) directly, and threads
 * created while 16384 others wait to start (alloc/nodes.c is full: they
 * start without the trampoline). The main thread needs none: the process
 * ends with it. A thread that ends by exit_group (another thread calls
 * exit) runs no destructor; the exit scan sees its cache as it was.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include "hooks.h"
#include "alloc/alloc.h"
#include "record/sites.h"

__thread int hs_thread_arming;

extern int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso)
	__attribute__((weak));
extern void *__dso_handle __attribute__((visibility("hidden")));

void hs_thread_exit_arm(void)
{
	static __thread bool armed;
	if (armed || !__cxa_thread_atexit_impl)
		return;
	armed = true;
	hs_thread_arming = 1;
	__cxa_thread_atexit_impl(hs_thread_exit, NULL, &__dso_handle);
	hs_thread_arming = 0;
	hs_sites_thread_armed();        /* its site table may be registered */
}

/* A start routine and its argument, handed to the new thread in a record
 * from alloc/nodes.c: not a heap block (one still waiting at exit, for a
 * thread not yet started, would be reported as the program's), and
 * freed by the thread itself. pthread_create tail-calls the real one, so
 * that libc's own allocations for the thread (its TLS vector) are
 * recorded with libc's stack, not ours in the middle; a creation that
 * fails therefore leaves its record behind (64 bytes of the pool). */
struct start {
	union {
		void *(*posix)(void *);
		int (*c11)(void *);
	} fn;
	void *arg;
};

static struct start *record(void)
{
	return hs_node_alloc(sizeof(struct start));
}

/* In the new thread: take the routine, give the record back, arm, go.
 * The routine is called last, with nothing left to do after it, so the
 * call compiles to a jump (tests/e2e/threads.sh checks that no
 * allocation stack of a thread shows a frame of ours). */
static void *start_posix(void *p)
{
	struct start *s = p;
	void *(*fn)(void *) = s->fn.posix;
	void *arg = s->arg;
	hs_node_free(s);
	hs_thread_exit_arm();
	return fn(arg);
}

static int start_c11(void *p)
{
	struct start *s = p;
	int (*fn)(void *) = s->fn.c11;
	void *arg = s->arg;
	hs_node_free(s);
	hs_thread_exit_arm();
	return fn(arg);
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *,
                                 void *(*)(void *), void *);
typedef int (*thrd_create_fn)(thrd_t *, thrd_start_t, void *);

static void *next_fn(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

HS_API int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
	static pthread_create_fn real;
	if (!real && !(real = (pthread_create_fn)next_fn("pthread_create")))
		return EAGAIN;
	hs_threaded = 1;        /* claims take the lock from now on (alloc.h) */
	struct start *s = record();
	if (!s)
		return real(t, attr, fn, arg);
	s->fn.posix = fn;
	s->arg = arg;
	return real(t, attr, start_posix, s);
}

HS_API int thrd_create(thrd_t *t, thrd_start_t fn, void *arg)
{
	static thrd_create_fn real;
	if (!real && !(real = (thrd_create_fn)next_fn("thrd_create")))
		return thrd_error;
	hs_threaded = 1;
	struct start *s = record();
	if (!s)
		return real(t, fn, arg);
	s->fn.c11 = fn;
	s->arg = arg;
	return real(t, start_c11, s);
}
