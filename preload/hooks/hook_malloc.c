/*
 * hook_malloc.c — the malloc family, as glibc's "Replacing malloc" asks:
 * malloc, free, calloc, realloc, reallocarray, memalign, posix_memalign,
 * aligned_alloc, valloc, pvalloc, malloc_usable_size.
 *
 * Every entry point goes through alloc_entry()/HS_FREE_ENTRY
 * (hookentry.h), so what happens on a call (re-entrancy check, recording,
 * checks, the fast path) is written once. Semantics follow glibc where C
 * leaves room: realloc(p, 0) frees and returns NULL, malloc(0) returns a
 * unique pointer, memalign rounds a non-power-of-two alignment up. A bad
 * realloc (invalid or freed pointer) is reported and returns NULL with
 * errno ENOMEM, the old block untouched.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hookentry.h"
#include "hooks.h"

HS_API void *malloc(size_t n)
{
	return alloc_entry(n, HS_ALIGN, HS_KIND_MALLOC, HS_FN_MALLOC);
}

HS_API void free(void *p)
{
	HS_FREE_ENTRY(p, HS_ACCEPT_FREE, "free");
}

HS_API void *calloc(size_t n, size_t m)
{
	size_t total;
	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	/* glibc's record of our TLS destructor (hook_thread.c): not the
	 * program's block, so not on its heap. */
	if (unlikely(hs_thread_arming)) {
		void *node = hs_node_alloc(total);
		if (node)
			return node;
	}
	void *p = alloc_entry(total, HS_ALIGN, HS_KIND_MALLOC, HS_FN_CALLOC);
	/* A fresh huge mapping is already zero, and touching it would make
	 * every page resident for nothing. */
	if (p && !(hs_header_of(p)->bin == HS_BIN_HUGE && hs_huge_fresh(p)))
		memset(p, 0, total);
	return p;
}

/* realloc's body, inlined into realloc and reallocarray so that the
 * stack recorded starts at the program's call. */
static inline __attribute__((always_inline)) void *realloc_entry(void *p, size_t n)
{
	if (!p)
		return alloc_entry(n, HS_ALIGN, HS_KIND_MALLOC, HS_FN_REALLOC);
	if (n == 0) {
		HS_FREE_ENTRY(p, HS_ACCEPT_FREE, "realloc");
		return NULL;
	}
	/* a block that stays where it is (strings grown a little at a time) */
	if (likely(!hs_busy) && !hs_faults_active()) {
		size_t guard = hs_guard;
		struct hs_header *fh = hs_fast_realloc_claim(p, n, &guard);
		if (fh) {
			size_t old_n = fh->size;
			uint32_t old_stack = fh->stack, stack = record_stack();
			void *q = hs_fast_realloc_seal(fh, n, stack, guard);
			hs_site_move(old_stack, old_n, stack, n, q);   /* heap profile */
			return q;
		}
	}
	enum hs_where where = HS_NOT_OURS;   /* read below even when busy */
	struct hs_header *h = NULL;
	/* The old block is claimed (LIVE -> FREED) while realloc works on
	 * it, so a racing free cannot take it too; set LIVE again if it
	 * stays. */
	if (hs_busy) {
		h = hs_heap_lookup(p, &where);
		uint64_t w0 = h ? hs_header_word0(h) : 0;
		if (h && ((w0 >> HS_W0_STATE_SHIFT) != HS_LIVE || !hs_header_claim(h, &w0)))
			h = NULL;
	} else if (!hs_release_vet(p, HS_ACCEPT_FREE, "realloc", &h, &where)) {
		errno = ENOMEM;              /* reported: an invalid or freed block */
		return NULL;
	}
	if (!h || where == HS_IN_BOOT || hs_busy) {
		/* a boot block, or a call from a signal handler: copy out */
		void *q = alloc_entry(n, HS_ALIGN, HS_KIND_MALLOC, HS_FN_REALLOC);
		if (q && h)
			memcpy(q, p, h->size < n ? h->size : n);
		if (h && q && !hs_busy)
			hs_heap_free_claimed(p, h, where);
		else if (h && !q)
			hs_header_set_state(h, HS_LIVE);
		return q;        /* from a handler the old block stays FREED */
	}
	if (hs_guard)
		hs_check_canary(h, "realloc");
	if (unlikely(hs_faults_active()) && injected(HS_FN_REALLOC, n, h->size)) {
		hs_header_set_state(h, HS_LIVE);
		return NULL;                   /* the old block stays as it was */
	}
	size_t old_n = h->size;
	uint32_t old_stack = h->stack, stack = record_stack();
	void *q = hs_heap_realloc(p, n, stack);
	hs_site_realloc(old_stack, old_n, stack, n, q);
	return q;
}

HS_API void *realloc(void *p, size_t n)
{
	return realloc_entry(p, n);
}

HS_API void *reallocarray(void *p, size_t n, size_t m)
{
	size_t total;
	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc_entry(p, total);
}

static bool power_of_two(size_t x)
{
	return x && !(x & (x - 1));
}

/* memalign's body, inlined into every aligned entry point (see
 * realloc_entry). */
static inline __attribute__((always_inline)) void *memalign_entry(size_t align, size_t n)
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

HS_API void *memalign(size_t align, size_t n)
{
	return memalign_entry(align, n);
}

HS_API void *aligned_alloc(size_t align, size_t n)
{
	return memalign_entry(align, n);
}

HS_API int posix_memalign(void **out, size_t align, size_t n)
{
	if (!power_of_two(align) || align % sizeof(void *))
		return EINVAL;
	void *p = memalign_entry(align, n);
	if (!p)
		return ENOMEM;          /* errno is ENOMEM too, as with glibc */
	*out = p;
	return 0;
}

HS_API void *valloc(size_t n)
{
	return memalign_entry(HS_PAGE_SIZE, n);
}

HS_API void *pvalloc(size_t n)
{
	size_t rounded = (n + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1);
	if (rounded < n) {
		errno = ENOMEM;
		return NULL;
	}
	return memalign_entry(HS_PAGE_SIZE, rounded ? rounded : HS_PAGE_SIZE);
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
