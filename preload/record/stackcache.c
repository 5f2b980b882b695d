/*
 * stackcache.c — skip the unwinder when the stack is one we have seen.
 *
 * Most allocations come from loops: the same call site, reached through
 * the same callers, with the stack pointer at the same place. Unwinding
 * that again costs ~250 ns of libunwind each time. So each thread keeps a
 * small direct-mapped cache keyed by (return address into the program,
 * the program's stack pointer at the call). An entry remembers, for every
 * frame k >= 1 of the stack it stood for, the stack slot that held frame
 * k's return address (sp_k - 8) and the value found there.
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
 * The hit is the cost of recording on every malloc, so it is kept small:
 * an entry's (slot, return address) pairs lie side by side in this
 * thread's frame pool, so checking reads one run of this thread's own
 * memory and nothing shared. Entries are 32 bytes and the pool is filled
 * in order: memory is touched for the frames stacks really have. (Entries
 * sized for 32 frames each made `ls -R` touch about 120 KiB of a 264 KiB
 * table for a few hundred call sites.) The
 * interned id's S line must be in the current trace (a fork child starts
 * a new one): the entry remembers the trace generation in which it was
 * known written, so a hit asks stacks.c only after a new trace began.
 *
 * The miss path (stacks.c's hs_stack_capture_slow, then
 * hs_stack_capture_at) unwinds with unwind.c's cached DWARF rules, or a
 * libunwind cursor for stacks those cannot do (both learn each frame's
 * stack pointer), interns the stack, and fills the entry. Stacks
 * that start inside heapscope never get an entry (the slow path takes
 * them elsewhere), so a hit needs no such test.
 *
 * Signals: a handler that allocates may interrupt either path on this
 * thread. The fill clears the key first and sets it last, so a handler
 * never trusts a half-written entry (and the slow path it falls to
 * refuses to unwind inside an unwind). A hit interrupted by a handler
 * that refills its entry is caught by reading the key again after the
 * check: the handler's own stack pointer is below ours, so the key it
 * writes differs.
 */
#define UNW_LOCAL_ONLY          /* this process only: the fast local unwinder */
#include <libunwind.h>
#include <sys/mman.h>

#include "fpstack.h"             /* this thread's stack bounds */
#include "stackcache.h"
#include "unwind.h"

#define MAX_DEPTH 64                    /* deeper stacks are not cached    */
#define SC_BYTES  (HS_SC_TABLE_BYTES + HS_SC_POOL * sizeof(struct hs_sc_frame))

__thread struct hs_stack_cache hs_sc;
/* Bumped by stacks.c when a new trace begins (hs_stacks_new_trace_locked). */
_Atomic uint32_t hs_stack_trace_gen = 1;

/* The id's S line is written (or cannot be now): remember the generation
 * in which it is known to be in the trace, so later hits skip the ask. */
static __attribute__((noinline)) uint32_t ref_for_trace(struct hs_sc_entry *e, uint32_t id)
{
	uint32_t gen = atomic_load_explicit(&hs_stack_trace_gen, memory_order_acquire);
	uint32_t r = hs_stack_ref(id);
	if (r && hs_stack_emitted(r))
		e->gen = gen;
	return r;
}

uint32_t hs_stack_capture_from(uintptr_t ra, uintptr_t cfa)
{
	struct hs_sc_entry *e = hs_sc_probe(ra, cfa);
	if (likely(e)) {
		uint32_t id = e->id;
		if (likely(e->gen == atomic_load_explicit(&hs_stack_trace_gen,
		                                          memory_order_relaxed)))
			return id;
		return ref_for_trace(e, id);
	}
	return hs_stack_capture_slow(ra, cfa);
}

/* Unwind from here with a cursor; record from the frame whose ip is ra and
 * stack pointer cfa (the program's frame) outward. 0 if not found. */
static __attribute__((noinline)) unsigned walk(uintptr_t ra, uintptr_t cfa, int depth, uintptr_t *ips, uintptr_t *sps)
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

static bool cache_ready(int depth)
{
	if (hs_sc.base)
		return depth == hs_sc.depth;
	if (!hs_cfg.stack_cache || hs_sc.failed || depth > MAX_DEPTH || depth < 1)
		return false;
	void *m = mmap(NULL, SC_BYTES, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		hs_sc.failed = 1;
		return false;
	}
	hs_sc.depth = depth;
	atomic_signal_fence(memory_order_release);
	hs_sc.base = m;
	return true;
}

/* A hit reads every slot an entry remembers, and the frames below a slot
 * matching does not prove that slot still mapped when a stack changes
 * under the same frames: a handler on a sigaltstack interrupts a
 * coroutine, the coroutine's stack is unmapped, the handler runs again
 * with the same frames and stack pointer (tests/progs/altstack_coroutine
 * crashed so). So only stacks wholly on this thread's own stack, which
 * stays mapped while the thread lives, are cached; others (alternate
 * signal stacks, coroutines) always take the unwinder. */
static bool slots_on_own_stack(const uintptr_t *sps, unsigned n)
{
	struct hs_fp_bounds *tb = &hs_fpb;
	if (tb->state == HS_FPB_UNKNOWN)
		hs_fp_find_bounds();
	if (tb->state != HS_FPB_KNOWN)
		return false;
	for (unsigned k = 0; k < n; k++)
		if (sps[k] - sizeof(uintptr_t) < tb->lo || sps[k] > tb->hi)
			return false;
	return true;
}

/* nf frames from the pool, or UINT32_MAX when it is used up: then every
 * entry is emptied and it starts over (entries a collision replaced left
 * their frames behind, and a thread that keeps missing would grow it
 * without end), and this stack is not cached. The epoch moves before any
 * key is cleared, so a fill that a handler's reset overtook sees it and
 * leaves its entry empty (hs_stack_capture_at). Every slot an entry names
 * is on this thread's own stack, so even a stale frame is safe to read;
 * keeping entries and their frames in step keeps hits right. The add is
 * one instruction: a handler that interrupts a fill takes other frames. */
static uint32_t take_frames(char *base, uint32_t nf)
{
	uint32_t off = atomic_fetch_add_explicit(&hs_sc.pool_used, nf, memory_order_relaxed);
	if (off + nf <= HS_SC_POOL)
		return off;
	hs_sc.epoch++;
	atomic_signal_fence(memory_order_seq_cst);
	struct hs_sc_entry *t = (struct hs_sc_entry *)base;
	for (unsigned i = 0; i < HS_SC_ENTRIES; i++)
		t[i].ra = 0;
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store_explicit(&hs_sc.pool_used, 0, memory_order_relaxed);
	return UINT32_MAX;
}

/* The miss (hs_stack_capture_from probed already): walk, intern and
 * fill. Called with stacks.c's in_capture set. 0 if the cache is off. */
uint32_t hs_stack_capture_at(uintptr_t ra, uintptr_t cfa, int depth)
{
	if (!cache_ready(depth))
		return 0;
	char *base = hs_sc.base;
	struct hs_sc_entry *e = hs_sc_slot(base, ra, cfa);
	uintptr_t ips[MAX_DEPTH], sps[MAX_DEPTH];
	/* Our own unwinder (unwind.c) where its rules can say; libunwind
	 * for any stack they cannot, or when HEAPSCOPE_UNWIND=libunwind. */
	int got = hs_cfg.unwind ? hs_unwind(ra, cfa, depth, ips, sps) : -1;
	unsigned n = got > 0 ? (unsigned)got : walk(ra, cfa, depth, ips, sps);
	if (n == 0)
		return 0;
	uint32_t gen = atomic_load_explicit(&hs_stack_trace_gen, memory_order_acquire);
	uint32_t id = hs_stack_intern(ips, n);
	if (id && slots_on_own_stack(sps, n)) {
		e->ra = 0;                      /* a handler must not trust it now */
		uint32_t epoch = hs_sc.epoch;
		atomic_signal_fence(memory_order_seq_cst);
		uint32_t off = take_frames(base, n - 1);
		if (off == UINT32_MAX)
			return id;
		e->cfa = cfa;
		e->id = id;
		e->nf = n - 1;
		e->gen = hs_stack_emitted(id) ? gen : 0;
		e->off = off;
		struct hs_sc_frame *f = hs_sc_pool(base) + off;
		for (unsigned k = 1; k < n; k++) {
			f[k - 1].slot = sps[k] - sizeof(uintptr_t);
			f[k - 1].ip = ips[k];
		}
		atomic_signal_fence(memory_order_seq_cst);
		e->ra = ra;
		/* A handler's reset since the epoch was read may have handed
		 * these frames out again: then the entry must stay empty. */
		atomic_signal_fence(memory_order_seq_cst);
		if (hs_sc.epoch != epoch)
			e->ra = 0;
	}
	return id;
}

void hs_stack_cache_thread_exit(void)
{
	char *base = hs_sc.base;
	hs_sc.failed = 1;          /* allocations after this go the slow way */
	hs_sc.base = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	if (base)
		munmap(base, SC_BYTES);
}
