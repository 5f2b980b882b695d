/*
 * heapscope.h — talk to heapscope from the program under test.
 *
 * Include it, call it, link nothing. Under heapscope (libheapscope.so
 * preloaded) the calls reach the shim; without it every call is a no-op
 * and hs_running() is 0, so one test binary works in both worlds:
 *
 *     if (hs_fail_begin("nth=1") > 0)          // injection armed
 *         assert(build_list(&l, 10) == -ENOMEM);
 *     hs_fail_end();
 *
 * How the no-op works: the first call of any function here asks the
 * dynamic linker once for the shim's table (dlsym(RTLD_DEFAULT,
 * "heapscope_api_v1"); dlsym is in libc from glibc 2.34, older glibc needs
 * -ldl). Found: calls go through it. Not found: through a table of no-ops.
 * No weak symbols (a non-PIE executable resolves an undefined weak symbol
 * to 0 at link time, and a preloaded shim could never be found), so PIE
 * and non-PIE, C and C++, all behave the same. Every TU resolves on its
 * own first call; resolution does not allocate when the shim is there.
 *
 * Policies are strings in heapscope's fault grammar (`heapscope help
 * fail`, or HEAPSCOPE_FAIL): "nth=3", "after=10,func=malloc",
 * "prob=0.01,seed=7", "limit=64M", "every=5,times=2,caller=parse_*", ...
 * Call numbers in a region count from the region's start: "nth=1" is the
 * first allocation call (malloc, calloc, realloc, aligned, new, new[])
 * made by any thread after hs_fail_begin returns.
 */
#ifndef HEAPSCOPE_H
#define HEAPSCOPE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The shim's table of entry points. Newer shims may append members and
 * say so in size; a shim with an incompatible table exports another name
 * (heapscope_api_v2), so this header never calls what it does not know. */
struct heapscope_api_v1 {
	unsigned      version;                      /* 1                       */
	unsigned      size;                         /* sizeof the shim's table */
	int           (*running)(void);
	int           (*fail_begin)(const char *policy);
	long          (*fail_end)(void);
	unsigned long (*fail_count)(void);
	void          (*benign_begin)(void);
	void          (*benign_end)(void);
	int           (*snapshot)(const char *label);
};

#ifdef HEAPSCOPE_SHIM
/* Building libheapscope.so: the real functions (preload/hooks/api.c). */
const struct heapscope_api_v1 *heapscope_api_v1(void);
int           hs_running(void);
int           hs_fail_begin(const char *policy);
long          hs_fail_end(void);
unsigned long hs_fail_count(void);
void          hs_benign_begin(void);
void          hs_benign_end(void);
int           hs_snapshot(const char *label);
#else

#include <dlfcn.h>

#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define HS__INLINE static inline
#else
#define HS__INLINE static __inline__
#endif

HS__INLINE int hs__no_running(void) { return 0; }
HS__INLINE int hs__no_fail_begin(const char *policy) { (void)policy; return 0; }
HS__INLINE long hs__no_fail_end(void) { return 0; }
HS__INLINE unsigned long hs__no_fail_count(void) { return 0; }
HS__INLINE void hs__no_benign(void) { }
HS__INLINE int hs__no_snapshot(const char *label) { (void)label; return 0; }

/* The table for this process: the shim's, or the no-ops. Resolved once per
 * translation unit; racing first calls store the same pointer. */
HS__INLINE const struct heapscope_api_v1 *hs__api(void)
{
	static const struct heapscope_api_v1 none = {
		1, sizeof(struct heapscope_api_v1),
		hs__no_running, hs__no_fail_begin, hs__no_fail_end,
		hs__no_fail_count, hs__no_benign, hs__no_benign, hs__no_snapshot,
	};
	static const struct heapscope_api_v1 *cached;
	const struct heapscope_api_v1 *t = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
	if (t)
		return t;
	typedef const struct heapscope_api_v1 *(*hs__get_fn)(void);
	hs__get_fn get = 0;
	/* (void *)0 is RTLD_DEFAULT on glibc and musl; the macro itself needs
	 * _GNU_SOURCE, which a strict -std=c11 build does not have. */
	void *sym = dlsym((void *)0, "heapscope_api_v1");
	__builtin_memcpy(&get, &sym, sizeof get);   /* object -> function ptr */
	t = get ? get() : 0;
	if (!t || t->version != 1 || t->size < sizeof(struct heapscope_api_v1))
		t = &none;
	__atomic_store_n(&cached, t, __ATOMIC_RELEASE);
	return t;
}

/* 1 when the program runs under heapscope, else 0. */
HS__INLINE int hs_running(void) { return hs__api()->running(); }

/* Open a region where POLICY decides which allocation calls fail, until
 * the matching hs_fail_end(). Regions nest (8 deep): the innermost alone
 * decides and counts, outer ones pause and resume where they were; there
 * is no overlap (hs_fail_end closes the most recent region). The region
 * is process-wide: allocations by other threads count too (add
 * "thread=main" to limit it to the main thread). POLICY NULL opens a
 * region with injection off, e.g. to keep setup code out of a
 * HEAPSCOPE_FAIL policy.
 * Returns 1 when the region is open and armed; 0 without heapscope; -1
 * when POLICY is rejected (heapscope says why on stderr) or regions nest
 * too deep. Even then a region is opened (with injection off), so every
 * hs_fail_begin is matched by one hs_fail_end. */
HS__INLINE int hs_fail_begin(const char *policy)
{
	return hs__api()->fail_begin(policy);
}

/* Close the innermost region: returns how many failures it injected; 0
 * without heapscope; -1 when no region is open. */
HS__INLINE long hs_fail_end(void) { return hs__api()->fail_end(); }

/* Failures injected in this process so far, by HEAPSCOPE_FAIL and every
 * region together; 0 without heapscope. */
HS__INLINE unsigned long hs_fail_count(void) { return hs__api()->fail_count(); }

/* A benign region (per thread, nests): failures injected here are still
 * real NULL returns, but the code is expected to absorb them (a cache
 * that simply does not grow); they are marked benign in the report. */
HS__INLINE void hs_benign_begin(void) { hs__api()->benign_begin(); }
HS__INLINE void hs_benign_end(void) { hs__api()->benign_end(); }

/* Record a heap snapshot named LABEL (a heap map in the report, and a
 * sample of VmSize and the heap counters). LABEL: at most 64 printable
 * characters; spaces and control bytes become '_'. Returns 1 when one
 * was recorded, 0 when not: without heapscope, when recording is off, or
 * when called from a signal handler that interrupted the allocator. */
HS__INLINE int hs_snapshot(const char *label) { return hs__api()->snapshot(label); }

#endif /* HEAPSCOPE_SHIM */

#ifdef __cplusplus
}
#endif

#endif
