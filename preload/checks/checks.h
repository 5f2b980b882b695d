/*
 * checks.h — heap error checks (preload/checks/): what they own and offer.
 *
 *   checks.c      vetting pointers handed to free/delete/realloc, the
 *                 canary, the exit-time walk over every header
 *   quarantine.c  freed blocks wait, filled, before their memory is reused
 *   errors.c      one report per error: stderr, an `E` trace line, the
 *                 count for --error-exitcode
 *
 * May call: record/ (stacks for the reports, the trace), alloc/, and
 * internal.h. The allocator reaches the quarantine only through
 * hs_alloc_hooks (alloc.h).
 */
#ifndef HS_CHECKS_H
#define HS_CHECKS_H

#include "alloc/alloc.h"

/* ---- errors.c: the program misused the heap ---------------------------- */
/* Report one heap error: a line on stderr, an `E` line in the trace with
 * the current stack (captured here), then carry on, or stop when
 * hs_cfg.abort_on_error. kind: the JSON error kind ("invalid_free",
 * "double_free", "realloc_freed", "mismatched_free", "heap_overflow",
 * "write_after_free"); call: the entry point ("free", "delete[]", ...) or
 * NULL when the error was found elsewhere (quarantine, exit); addr: the
 * address the program passed, or the first damaged byte; the detail is
 * one line, memcheck's words. Call with no allocator lock held: the
 * stack capture may allocate. */
void hs_error(const char *kind, const char *call, const void *addr,
              uint32_t alloc_stack, uint32_t free_stack, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
unsigned long hs_error_count(void);

/* The free stack of a freed block, kept in its second user word (the first
 * is the cache link) with 32 bits of check over the stack id, the block's
 * address and the secret, so it survives the quarantine and the thread
 * cache until the slot is reused, and is believed only where it was
 * written and only if the program did not write over it after the free.
 * Every block with a canary has >= 16 bytes of room. One multiply: this
 * runs on every free. */
static inline uint64_t hs_free_record_word(const void *user, uint32_t free_stack)
{
	uint64_t x = ((uint64_t)(uintptr_t)user ^ hs_secret ^ ((uint64_t)free_stack << 20))
	             * 0x9E3779B97F4A7C15ull;
	return (x & 0xFFFFFFFF00000000ull) | free_stack;
}
static inline void hs_free_record_put(void *user, uint32_t free_stack)
{
	uint64_t w = hs_free_record_word(user, free_stack);
	__builtin_memcpy((char *)user + 8, &w, sizeof w);
}
/* The free stack in a free record word w read from the block at user. */
static inline uint32_t hs_free_record_stack(const void *user, uint64_t w)
{
	uint32_t stack = (uint32_t)w;
	return stack && w == hs_free_record_word(user, stack) ? stack : 0;
}
static inline uint32_t hs_free_record_get(const void *user)   /* 0: none */
{
	uint64_t w;
	__builtin_memcpy(&w, (const char *)user + 8, sizeof w);
	return hs_free_record_stack(user, w);
}

/* free/delete with checks on (quarantine.c): ra and fp are the caller's return
 * address and frame pointer (__builtin_return_address(0) and
 * __builtin_frame_address(1) in the hook) for the free stack. Also handles
 * every error of a release call. */
void hs_checked_free(void *p, uintptr_t ra, uintptr_t fp, unsigned accept,
                     const char *call);
/* Vet a pointer handed to a release call (free, delete, realloc) that is
 * not plainly fine: report an invalid, double or mismatched release.
 * true: *hp was LIVE and this call has claimed it (now FREED, the
 * caller's to count and recycle, or for realloc to seal LIVE again;
 * *where may be HS_IN_BOOT); false: the call must be ignored (reported:
 * a racing release that won makes this one a double free). */
bool hs_release_vet(void *p, unsigned accept, const char *call,
                    struct hs_header **hp, enum hs_where *where);
/* hs_release_vet for the checked free: keeps errno, releases boot blocks
 * itself (returns false for them). */
bool hs_checked_vet(void *p, unsigned accept, const char *call,
                    struct hs_header **hp, enum hs_where *where);
/* A damaged header is reported once: true if h was told before (and
 * remembers it otherwise). */
bool hs_damage_told(const void *h);
/* Report the header at h, which fails its check, as heap_overflow (once):
 * with the block's own allocation stack when the damage spared its size
 * and stack id (an underrun), else with the block before it's. */
void hs_report_header(const struct hs_header *h, const char *call, const char *what,
                      const char *then);
/* The canary of a live block, checked on free and realloc: false (and
 * reported) if it was overwritten. */
bool hs_check_canary(struct hs_header *h, const char *call);
/* Report a cached slot whose header was overwritten and abandon the rest
 * of that cache list (its links cannot be trusted); never reused. */
void hs_bad_cached_slot(struct hs_tcache_bin *tb, void *slot);
/* At exit: canaries and headers of every block, this thread's quarantine,
 * in three steps around the world stop (hooks/ending.c):
 *   begin  drain this thread's quarantine if asked (it takes allocator
 *          locks; not at a signal, which may have interrupted it); false
 *          if checks are off or this ran already;
 *   walk   every header and live canary, damage noted, not reported
 *          (reporting captures a stack); locked: the caller holds every
 *          allocator lock (the world is stopped), else it takes them;
 *   end    other threads running again: damage that a fresh walk still
 *          finds is reported. */
bool hs_checks_exit_begin(bool drain);
void hs_checks_exit_walk(bool locked);
void hs_checks_exit_end(void);
/* Set hs_guard from hs_cfg (config.c calls it). */
void hs_checks_configure(void);

/* quarantine.c: h is a header the program just released and this thread
 * claimed (FREED); count it, record the free stack, fill, and hold it
 * until it ages out. */
void hs_quarantine_free(void *user, struct hs_header *h, enum hs_where where,
                        uint32_t free_stack);
/* Verify and release everything this thread holds (thread exit, exit). */
void hs_quarantine_drain(void);
/* The calling thread ends (hooks/init.c): drain its quarantine, unmap the
 * ring; its later frees recycle at once. */
void hs_quarantine_thread_exit(void);

/* This process was forked while other threads of its parent had used the
 * allocator: a header or canary one of them was writing at that instant
 * stays half written here, its writer gone (checked at exit; set by the
 * fork handler in hooks/init.c). */
extern bool hs_forked_amid_threads;

#endif
