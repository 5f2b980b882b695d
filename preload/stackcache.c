/*
 * stackcache.c — skip the unwinder when the stack is one we have seen.
 *
 * Most allocations come from loops: the same call site, reached through
 * the same callers, with the stack pointer at the same place. Unwinding
 * that again costs ~250 ns of libunwind each time. So each thread keeps a
 * small direct-mapped cache keyed by (return address into the program,
 * the program's stack pointer at the call). An entry remembers, for every
 * frame k of the stack it stood for, the stack slot that held frame k's
 * return address (sp_k - 8) and the value found there.
 *
 * A hit is trusted only after checking every one of those slots: each
 * still holds the same return address. Why that proves the stack is the
 * same: frame 1 is the same function at the same ip with the same stack
 * pointer, so (for the usual CFA = sp + constant rule) its caller's return
 * address sits in the same slot; finding the same value there puts frame 2
 * at the same ip with the same stack pointer, and so on up the chain.
 * Where a frame's CFA depends on something else (alloca'd frames, which
 * use rbp), a different stack would have to leave the old return address
 * in the old slot by coincidence to pass. Set HEAPSCOPE_STACK_CACHE=0 to
 * turn the cache off.
 *
 * The miss path walks with a libunwind cursor (to learn each frame's stack
 * pointer), interns the stack, and fills the entry.
 */
#define UNW_LOCAL_ONLY          /* this process only: the fast local unwinder */
#include <libunwind.h>
#include <sys/mman.h>

#include "internal.h"

#define ENTRIES   512                   /* per thread, direct mapped       */
#define MAX_DEPTH 64                    /* deeper stacks are not cached    */

struct entry {
	uintptr_t ra, cfa;              /* the key                          */
	uint32_t  id;                   /* interned stack, 0 = empty        */
	uint32_t  n;                    /* frames                           */
	uintptr_t sp[MAX_DEPTH];        /* sp[k]: stack pointer of frame k  */
};

static __thread struct entry *cache;    /* mmap'd on first use           */
static __thread int cache_failed;
int hs_stack_cache_enabled = 1;

uint32_t hs_stack_intern(const uintptr_t *ips, unsigned n);

static struct entry *slot_for(uintptr_t ra, uintptr_t cfa)
{
	uint64_t h = (ra ^ (cfa << 7) ^ (cfa >> 9)) * 0x9E3779B97F4A7C15ull;
	return &cache[h >> (64 - 9)];   /* 2^9 == ENTRIES */
}

_Static_assert(ENTRIES == 1 << 9, "slot_for uses 9 bits");

static bool still_valid(const struct entry *e)
{
	const uintptr_t *ips;
	unsigned n = hs_stack_get(e->id, &ips);
	if (n != e->n)
		return false;
	for (unsigned k = 1; k < n; k++)
		if (*(const uintptr_t *)(e->sp[k] - sizeof(uintptr_t)) != ips[k])
			return false;
	return true;
}

/* Unwind from here with a cursor; record from the frame whose ip is ra and
 * stack pointer cfa (the program's frame) outward. 0 if not found. */
static unsigned walk(uintptr_t ra, uintptr_t cfa, int depth, uintptr_t *ips, uintptr_t *sps)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	if (unw_getcontext(&ctx) || unw_init_local(&cur, &ctx))
		return 0;
	unsigned n = 0;
	int guard = 0;
	while (unw_step(&cur) > 0 && n < (unsigned)depth) {
		unw_word_t ip, sp;
		unw_get_reg(&cur, UNW_REG_IP, &ip);
		unw_get_reg(&cur, UNW_REG_SP, &sp);
		if (n == 0) {
			if (ip != ra || sp != cfa) {
				if (++guard > 16)       /* our own frames: a few */
					return 0;
				continue;
			}
		}
		ips[n] = ip;
		sps[n] = sp;
		n++;
	}
	return n;
}

uint32_t hs_stack_capture_at(uintptr_t ra, uintptr_t cfa, int depth)
{
	if (!hs_stack_cache_enabled || depth > MAX_DEPTH || cache_failed)
		return 0;
	if (unlikely(!cache)) {
		void *m = mmap(NULL, ENTRIES * sizeof(struct entry), PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			cache_failed = 1;
			return 0;
		}
		cache = m;
	}
	struct entry *e = slot_for(ra, cfa);
	if (e->id && e->ra == ra && e->cfa == cfa && still_valid(e))
		return hs_stack_ref(e->id);

	uintptr_t ips[MAX_DEPTH], sps[MAX_DEPTH];
	unsigned n = walk(ra, cfa, depth, ips, sps);
	if (n == 0)
		return 0;
	uint32_t id = hs_stack_intern(ips, n);
	if (id) {
		e->ra = ra;
		e->cfa = cfa;
		e->n = n;
		for (unsigned k = 0; k < n; k++)
			e->sp[k] = sps[k];
		e->id = id;
	}
	return id;
}

void hs_stack_cache_thread_exit(void)
{
	if (cache) {
		munmap(cache, ENTRIES * sizeof(struct entry));
		cache = NULL;
	}
	cache_failed = 1;       /* allocations after this go the slow way */
}
