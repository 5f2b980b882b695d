/*
 * hook_cxx.c — C++ operator new and delete, by their mangled names
 * (x86-64: size_t is unsigned long, "m"), so that each block remembers
 * whether new, new[] or malloc made it and a release by the wrong one is
 * reported ("Mismatched free() / delete / delete []", as memcheck says).
 *
 *   new      _Znwm  _ZnwmRKSt9nothrow_t  _ZnwmSt11align_val_t
 *            _ZnwmSt11align_val_tRKSt9nothrow_t        (and _Zna... for new[])
 *   delete   _ZdlPv  _ZdlPvm  _ZdlPvSt11align_val_t  _ZdlPvmSt11align_val_t
 *            _ZdlPvRKSt9nothrow_t  _ZdlPvSt11align_val_tRKSt9nothrow_t
 *                                                      (and _Zda... for delete[])
 *
 * Failure (real, or injected by the fault engine as HS_FN_NEW/NEW_ARRAY)
 * follows the standard's new_handler protocol: while a handler is
 * installed, call it and try again; without one, the throwing forms throw
 * std::bad_alloc and the nothrow forms return NULL. C cannot throw or
 * catch, so:
 *   throwing forms  call libstdc++'s std::__throw_bad_alloc() (exported;
 *                   libc++'s name is tried too). Our frames have unwind
 *                   tables (x86-64 default) and nothing to clean up, so
 *                   the exception passes through them to the program.
 *   nothrow forms   with a handler installed, a handler may itself throw
 *                   bad_alloc, which must become NULL: that needs a catch,
 *                   so the call is handed to the C++ runtime's own nothrow
 *                   operator (dlsym RTLD_NEXT) with `fail_next` set. It
 *                   calls the throwing operator new — ours, through the
 *                   PLT — whose first attempt then fails without asking the
 *                   fault engine again (the failure was already decided
 *                   and recorded), and the runtime's try/catch does the
 *                   rest. Without a handler we return NULL ourselves.
 * A block the runtime's operator returns is ours all the same (it came
 * through our operator new).
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "hookentry.h"

typedef void (*new_handler_fn)(void);

static __thread int fail_next;          /* see the nothrow forms above     */

/* Looked up on the first failure only: programs that never run out of
 * memory never pay for it. */
static void *lookup(const char *a, const char *b)
{
	void *f = dlsym(RTLD_DEFAULT, a);
	return f || !b ? f : dlsym(RTLD_DEFAULT, b);
}

static new_handler_fn current_handler(void)
{
	static new_handler_fn (*get)(void);
	if (!get)
		get = (new_handler_fn (*)(void))lookup("_ZSt15get_new_handlerv", NULL);
	return get ? get() : NULL;
}

static __attribute__((noreturn)) void throw_bad_alloc(void)
{
	static void (*thr)(void);
	if (!thr)
		thr = (void (*)(void))lookup("_ZSt17__throw_bad_allocv",
		                             "_ZNSt3__117__throw_bad_allocEv");
	if (thr)
		thr();
	hs_log("operator new failed and std::bad_alloc cannot be thrown "
	       "(no C++ runtime found): aborting");
	abort();
}

static inline void *cxx_alloc(size_t n, size_t align, unsigned kind)
{
	enum hs_fault_fn fn = kind == HS_KIND_NEW ? HS_FN_NEW : HS_FN_NEW_ARRAY;
	if (unlikely(fail_next)) {      /* decided by the caller: see above */
		fail_next = 0;
		return NULL;
	}
	return alloc_entry(n, align, kind, fn);
}

/* std::align_val_t must be a power of two. libstdc++ refuses any other
 * value (0 included) before it allocates or calls a new_handler: the
 * throwing forms throw std::bad_alloc, the nothrow forms return NULL. We
 * do the same, and such a call never reaches the allocator or the fault
 * engine (it makes no allocation). */
static bool align_ok(size_t a)
{
	return a && !(a & (a - 1));
}

static size_t cxx_align(size_t a)
{
	return a <= HS_ALIGN ? HS_ALIGN : a;
}

/* The throwing forms. */
static void *new_throwing(size_t n, size_t align, unsigned kind)
{
	for (;;) {
		void *p = cxx_alloc(n, align, kind);
		if (likely(p))
			return p;
		new_handler_fn h = current_handler();
		if (!h)
			throw_bad_alloc();
		h();
	}
}

/* The nothrow forms; runtime: the C++ runtime's own operator of the same
 * signature (mangled name), for the handler case; al: the alignment the
 * program passed to an aligned form, 0 for the plain forms (the
 * signature to call follows the form, not the alignment: an aligned form
 * asked for 8 still takes three arguments). */
static void *new_nothrow(size_t n, size_t al, unsigned kind, const void *nt,
                         const char *runtime)
{
	void *p = cxx_alloc(n, al ? cxx_align(al) : HS_ALIGN, kind);
	if (likely(p) || !current_handler())
		return p;
	void *f = dlsym(RTLD_NEXT, runtime);
	if (!f)
		return NULL;
	fail_next = 1;
	if (al)
		p = ((void *(*)(size_t, size_t, const void *))f)(n, al, nt);
	else
		p = ((void *(*)(size_t, const void *))f)(n, nt);
	fail_next = 0;                  /* in case it never called us        */
	return p;
}

#define NEW_(name, kind) \
	HS_API void *name(size_t n) { return new_throwing(n, HS_ALIGN, kind); }
#define NEW_NOTHROW(name, kind) \
	HS_API void *name(size_t n, const void *nt) \
	{ return new_nothrow(n, 0, kind, nt, #name); }
#define NEW_ALIGNED(name, kind) \
	HS_API void *name(size_t n, size_t al) \
	{ \
		if (unlikely(!align_ok(al))) \
			throw_bad_alloc(); \
		return new_throwing(n, cxx_align(al), kind); \
	}
#define NEW_ALIGNED_NOTHROW(name, kind) \
	HS_API void *name(size_t n, size_t al, const void *nt) \
	{ \
		if (unlikely(!align_ok(al))) \
			return NULL; \
		return new_nothrow(n, al, kind, nt, #name); \
	}

NEW_(_Znwm, HS_KIND_NEW)
NEW_(_Znam, HS_KIND_NEW_ARRAY)
NEW_NOTHROW(_ZnwmRKSt9nothrow_t, HS_KIND_NEW)
NEW_NOTHROW(_ZnamRKSt9nothrow_t, HS_KIND_NEW_ARRAY)
NEW_ALIGNED(_ZnwmSt11align_val_t, HS_KIND_NEW)
NEW_ALIGNED(_ZnamSt11align_val_t, HS_KIND_NEW_ARRAY)
NEW_ALIGNED_NOTHROW(_ZnwmSt11align_val_tRKSt9nothrow_t, HS_KIND_NEW)
NEW_ALIGNED_NOTHROW(_ZnamSt11align_val_tRKSt9nothrow_t, HS_KIND_NEW_ARRAY)

/* Every delete: the extra arguments (size, alignment, nothrow tag) do not
 * change what is released; the family is what is checked. */
#define DELETE_(name, accept, call, ...) \
	HS_API void name(void *p, ##__VA_ARGS__) { HS_FREE_ENTRY(p, accept, call); }

DELETE_(_ZdlPv, HS_ACCEPT_DELETE, "delete")
DELETE_(_ZdaPv, HS_ACCEPT_DELETE_ARRAY, "delete[]")
DELETE_(_ZdlPvm, HS_ACCEPT_DELETE, "delete", size_t n)
DELETE_(_ZdaPvm, HS_ACCEPT_DELETE_ARRAY, "delete[]", size_t n)
DELETE_(_ZdlPvSt11align_val_t, HS_ACCEPT_DELETE, "delete", size_t al)
DELETE_(_ZdaPvSt11align_val_t, HS_ACCEPT_DELETE_ARRAY, "delete[]", size_t al)
DELETE_(_ZdlPvmSt11align_val_t, HS_ACCEPT_DELETE, "delete", size_t n, size_t al)
DELETE_(_ZdaPvmSt11align_val_t, HS_ACCEPT_DELETE_ARRAY, "delete[]", size_t n, size_t al)
DELETE_(_ZdlPvRKSt9nothrow_t, HS_ACCEPT_DELETE, "delete", const void *nt)
DELETE_(_ZdaPvRKSt9nothrow_t, HS_ACCEPT_DELETE_ARRAY, "delete[]", const void *nt)
DELETE_(_ZdlPvSt11align_val_tRKSt9nothrow_t, HS_ACCEPT_DELETE, "delete",
        size_t al, const void *nt)
DELETE_(_ZdaPvSt11align_val_tRKSt9nothrow_t, HS_ACCEPT_DELETE_ARRAY, "delete[]",
        size_t al, const void *nt)
