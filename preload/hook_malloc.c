/*
 * hook_malloc.c — the malloc family, as glibc's "Replacing malloc" asks:
 * malloc, free, calloc, realloc, reallocarray, memalign, posix_memalign,
 * aligned_alloc, valloc, pvalloc, malloc_usable_size.
 *
 * Every entry point goes through alloc_entry()/free_entry(), so what
 * happens on a call (re-entrancy check, recording, the fast path) is
 * written once. Semantics follow glibc where C leaves room: realloc(p, 0)
 * frees and returns NULL, malloc(0) returns a unique pointer, memalign
 * rounds a non-power-of-two alignment up.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fastpath.h"
#include "faults.h"

/* Optional parts, linked in when present (as in errors.c). */
__attribute__((weak)) bool hs_trace_active(void);
__attribute__((weak)) void hs_trace_printf(const char *fmt, ...);
__attribute__((weak)) uint32_t hs_stack_capture(void);

/* Fault injection (faults.h), off the fast path: with no policy armed the
 * whole cost is the hs_faults_active() branch in the callers. An injected
 * failure touches no allocator state: NULL with errno ENOMEM. */
static __attribute__((noinline, cold)) bool injected(enum hs_fault_fn fn,
                                                     size_t size, size_t freed)
{
	struct hs_fault_call c = { .fn = fn, .size = size, .freed = freed,
	                           .stack = 0, .main_thread = -1 };
	struct hs_fault_record r;
	if (!hs_fault_should_fail(&c, &r))
		return false;
	if (r.stack == 0 && hs_stack_capture)
		r.stack = hs_stack_capture();
	if (hs_trace_active && hs_trace_active())
		hs_trace_printf("F %lu %s %zu %u\n", (unsigned long)r.nth,
		                hs_fault_fn_name(r.fn), r.size, r.stack);
	errno = ENOMEM;
	return true;
}

/* The caller's stack id, once the shim is initialised and recording. */
static inline uint32_t record_stack(void)
{
	return hs_recording ? hs_stack_capture() : 0;
}

/* A malloc that arrives while this thread is inside the allocator comes
 * from a signal handler: serve it without touching the heap. */
static inline void *alloc_entry(size_t n, size_t align, unsigned kind,
                                enum hs_fault_fn fn)
{
	if (unlikely(hs_busy))
		return hs_boot_alloc(n, align, kind);
	if (unlikely(hs_faults_active()) && injected(fn, n, 0))
		return NULL;
	uint32_t stack = record_stack();
	if (align <= HS_ALIGN)
		return hs_fast_alloc(n, kind, stack);
	return hs_heap_alloc(n, align, kind, stack);
}

static void free_slow(void *p, const char *call)
{
	int saved = errno;
	enum hs_where where;
	struct hs_header *h = hs_heap_lookup(p, &where);
	if (!h) {
		if (where != HS_IN_BOOT)
			hs_report_error("invalid_free", call, p, NULL);
	} else if (h->state != HS_LIVE) {
		hs_report_error("double_free", call, p, h);
	} else if (unlikely(hs_busy)) {
		/* From a signal handler inside the allocator: leave the block
		 * be (marked freed, never reused) rather than race. */
		h->state = HS_FREED;
		hs_header_seal(h);
	} else {
		hs_heap_release(p, h, where);
	}
	errno = saved;
}

static inline void free_entry(void *p, const char *call)
{
	if (unlikely(!p))
		return;
	if (likely(!hs_busy && hs_fast_free(p)))
		return;
	free_slow(p, call);
}

HS_API void *malloc(size_t n)
{
	return alloc_entry(n, HS_ALIGN, HS_KIND_MALLOC, HS_FN_MALLOC);
}

HS_API void free(void *p)
{
	free_entry(p, "free");
}

HS_API void *calloc(size_t n, size_t m)
{
	size_t total;
	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = alloc_entry(total, HS_ALIGN, HS_KIND_MALLOC, HS_FN_CALLOC);
	/* A fresh huge mapping is already zero, and touching it would make
	 * every page resident for nothing. */
	if (p && !(hs_header_of(p)->bin == HS_BIN_HUGE && hs_huge_fresh(p)))
		memset(p, 0, total);
	return p;
}

HS_API void *realloc(void *p, size_t n)
{
	if (!p)
		return alloc_entry(n, HS_ALIGN, HS_KIND_MALLOC, HS_FN_REALLOC);
	if (n == 0) {
		free_entry(p, "realloc");
		return NULL;
	}
	enum hs_where where = HS_NOT_OURS;   /* read below even when busy */
	struct hs_header *h = hs_heap_lookup(p, &where);
	if (!h || h->state != HS_LIVE || where == HS_IN_BOOT || hs_busy) {
		if (h && h->state != HS_LIVE) {
			hs_report_error("realloc_freed", "realloc", p, h);
			errno = ENOMEM;
			return NULL;
		}
		if (!h && where != HS_IN_BOOT && !hs_busy) {
			hs_report_error("invalid_free", "realloc", p, NULL);
			errno = ENOMEM;
			return NULL;
		}
		/* a boot block, or a call from a signal handler: copy out */
		void *q = alloc_entry(n, HS_ALIGN, HS_KIND_MALLOC, HS_FN_REALLOC);
		if (q && h)
			memcpy(q, p, h->size < n ? h->size : n);
		if (h && q && !hs_busy) {
			hs_heap_release(p, h, where);
		} else if (h && q) {
			h->state = HS_FREED;
			hs_header_seal(h);
		}
		return q;
	}
	if (unlikely(hs_faults_active()) && injected(HS_FN_REALLOC, n, h->size))
		return NULL;                   /* the old block stays as it was */
	return hs_heap_realloc(p, n, record_stack());
}

HS_API void *reallocarray(void *p, size_t n, size_t m)
{
	size_t total;
	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

static bool power_of_two(size_t x)
{
	return x && !(x & (x - 1));
}

HS_API void *memalign(size_t align, size_t n)
{
	if (align <= HS_ALIGN)
		return alloc_entry(n, HS_ALIGN, HS_KIND_ALIGNED, HS_FN_ALIGNED);
	if (align > SIZE_MAX / 2 + 1) {             /* as glibc: EINVAL ... */
		errno = EINVAL;
		return NULL;
	}
	if (align > HS_MAX_REQUEST) {               /* ... then ENOMEM */
		errno = ENOMEM;
		return NULL;
	}
	if (!power_of_two(align))                   /* glibc rounds up */
		align = (size_t)1 << (64 - __builtin_clzl(align));
	return alloc_entry(n, align, HS_KIND_ALIGNED, HS_FN_ALIGNED);
}

HS_API void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

HS_API int posix_memalign(void **out, size_t align, size_t n)
{
	if (!power_of_two(align) || align % sizeof(void *))
		return EINVAL;
	void *p = memalign(align, n);
	if (!p)
		return ENOMEM;          /* errno is ENOMEM too, as with glibc */
	*out = p;
	return 0;
}

HS_API void *valloc(size_t n)
{
	return memalign(HS_PAGE_SIZE, n);
}

HS_API void *pvalloc(size_t n)
{
	size_t rounded = (n + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1);
	if (rounded < n) {
		errno = ENOMEM;
		return NULL;
	}
	return memalign(HS_PAGE_SIZE, rounded ? rounded : HS_PAGE_SIZE);
}

/* The requested size: always >= what the caller asked for, and it keeps
 * the bytes past the request ours (guards and canaries may live there). */
HS_API size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	enum hs_where where;
	struct hs_header *h = hs_heap_lookup(p, &where);
	return h && h->state == HS_LIVE ? h->size : 0;
}
