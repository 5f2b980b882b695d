/*
 * stackcache.c — skip the unwinder when the stack is one we have seen.
 *
 * Most allocations come from loops: the same call site, reached through
 * the same callers, with the stack pointer at the same place. Unwinding
 * that again costs ~250 ns of libunwind each time. So each thread keeps a
 * cache keyed by (return address into the program, the program's stack
 * pointer at the call). An entry keeps the proof of its stack that our
 * unwinder (unwind.c) gives: every stack word the walk read from the
 * program's frame outward (return addresses, saved rbp values, the word a
 * realigned frame keeps its CFA in) and what each held, and the program's
 * rbp at the call when the walk used it.
 *
 * A hit is trusted only after checking every one of those words. Why that
 * proves the stack: a step of the walk is a function of the registers it
 * starts from (ip, sp, rbp), the words it reads and the unwind rule for
 * ip. Frame 0's ip and sp are the key, its rbp is compared where the walk
 * used it, and each word read holds what it held: so every step, and
 * every frame, comes out the same. (Checking only the return-address
 * slots, as this cache once did, is not enough: a frame whose CFA comes
 * from rbp, an alloca'd one, puts its caller's return address elsewhere
 * when rbp differs, and a deep recursion leaves stale return addresses
 * in the old slots: cc1 got wrong stacks that way.) Stacks that libunwind
 * unwound, which give no proof, are not cached. HEAPSCOPE_STACK_CACHE=0
 * turns the cache off.
 *
 * The hit is the cost of recording on every malloc, so it is kept small:
 * an entry's words lie side by side in this thread's word pool, so
 * checking reads one run of this thread's own memory and nothing shared.
 * Entries are 40 bytes and the pool is filled in order: memory is touched
 * for the words stacks really have. The interned id's S line must be in
 * the current trace (a fork child starts a new one): the entry remembers
 * the trace generation in which it was known written, so a hit asks
 * stacks.c only after a new trace began. One key may stand for several
 * stacks (the same call reached through different callers at the same
 * depth): a set of HS_SC_WAYS entries holds them; the hooks check the
 * first inline, the others here.
 *
 * The miss path (stacks.c's hs_stack_capture_slow, then
 * hs_stack_capture_at) unwinds with unwind.c's cached DWARF rules, or a
 * libunwind cursor for stacks those cannot do, interns the stack, and
 * fills an entry. Stacks that start inside heapscope never get an entry
 * (the slow path takes them elsewhere), so a hit needs no such test.
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
/* Reserved, not committed: pages become resident as entries and frames
 * are first written. */
#define SC_BYTES  (HS_SC_TABLE_BYTES + HS_SC_POOL_MAX * sizeof(struct hs_word))

__thread struct hs_stack_cache hs_sc;

/* HEAPSCOPE_UNWIND_STATS=1: how the cache fared, said at exit. */
static _Atomic unsigned long st_other_way, st_miss, st_reset, st_max_entries;
static _Atomic unsigned long st_verified, st_wrong_hit, st_wrong_walk;
#define COUNT(c) do { if (hs_cfg.unwind_stats) \
	atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed); } while (0)

__attribute__((destructor)) static void say_stats(void)
{
	if (hs_cfg.unwind_stats)
		hs_log("stack cache: %lu hits in another way of the set, %lu misses, "
		       "%lu resets, up to %lu entries", atomic_load(&st_other_way),
		       atomic_load(&st_miss), atomic_load(&st_reset),
		       atomic_load(&st_max_entries));
	if (hs_cfg.unwind_verify)
		hs_log("stack verify: %lu stacks checked against libunwind, %lu cache "
		       "hits wrong, %lu walks wrong", atomic_load(&st_verified),
		       atomic_load(&st_wrong_hit), atomic_load(&st_wrong_walk));
}
/* Bumped by stacks.c when a new trace begins (hs_stacks_new_trace_locked). */
_Atomic uint32_t hs_stack_trace_gen = 1;

/* The id's S line is written (or cannot be now): remember the generation
 * in which it is known to be in the trace, so later hits skip the ask. */
static __attribute__((noinline)) uint32_t ref_for_trace(uint32_t *genp, uint32_t id)
{
	uint32_t gen = atomic_load_explicit(&hs_stack_trace_gen, memory_order_acquire);
	uint32_t r = hs_stack_ref(id);
	if (r && hs_stack_emitted(r) && !hs_cfg.unwind_verify)
		*genp = gen;    /* (verifying: every hit must come out of line) */
	return r;
}

/* How many ways a probe reads and a fill chooses from. A thread whose
 * probes nearly all miss (more than 9 in 10: the same call reached by
 * thousands of paths, deepstack) gains nothing from long sets and pays
 * for reading them before every walk, so it uses HS_SC_WAYS_FEW until
 * hits come back. The score rises by 1 per miss and falls by 9 per hit,
 * so it climbs only while misses are above 90%. Both answers are right:
 * this only decides how long to look. */
#define MISS_SCORE_MAX  1024
#define MISS_SCORE_FEW  512

static inline unsigned ways_now(void)
{
	return hs_sc.miss_score > MISS_SCORE_FEW ? HS_SC_WAYS_FEW : HS_SC_WAYS;
}

static inline void scored(bool hit)
{
	uint32_t v = hs_sc.miss_score;
	hs_sc.miss_score = hit ? (v > 9 ? v - 9 : 0) : (v < MISS_SCORE_MAX ? v + 1 : v);
}

/* The key's set: the hooks tried the first way inline; this tries the
 * rest (all of them, or the first few: ways_now). */
static struct hs_sc_entry *probe_set(uintptr_t ra, uintptr_t cfa, uintptr_t bp)
{
	char *base = hs_sc.base;
	if (!base)
		return NULL;
	size_t i = hs_sc_index(hs_sc.shift, ra, cfa);
	unsigned ways = ways_now();
	for (unsigned w = 0; w < ways; w++) {
		struct hs_sc_entry *e = hs_sc_table(base) + (i ^ w);
		if (e->ra == 0)
			break;          /* ways fill in this order: the rest is empty */
		if (hs_sc_check(base, e, ra, cfa, bp)) {
			if (w)
				COUNT(st_other_way);
			return e;
		}
	}
	return NULL;
}

/* HEAPSCOPE_UNWIND_VERIFY: the cache's answer against a fresh walk's. */
static __attribute__((noinline)) uint32_t verify_hit(uint32_t cached, uintptr_t ra,
                                                     uintptr_t cfa, uintptr_t bp)
{
	uint32_t id = hs_stack_capture_slow(ra, cfa, bp);
	if (cached && id && cached != id)
		atomic_fetch_add_explicit(&st_wrong_hit, 1, memory_order_relaxed);
	return id;
}

uint32_t hs_stack_capture_from(uintptr_t ra, uintptr_t cfa, uintptr_t bp)
{
	struct hs_sc_entry *e = probe_set(ra, cfa, bp);
	scored(e != NULL);
	uint32_t id = 0, *genp = NULL;
	if (e) {
		id = e->id;
		genp = &e->gen;
	}
	if (unlikely(hs_cfg.unwind_verify))
		return verify_hit(id, ra, cfa, bp);
	if (likely(id)) {
		if (likely(*genp == atomic_load_explicit(&hs_stack_trace_gen,
		                                         memory_order_relaxed)))
			return id;
		return ref_for_trace(genp, id);
	}
	COUNT(st_miss);
	return hs_stack_capture_slow(ra, cfa, bp);
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
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		hs_sc.failed = 1;
		return false;
	}
	hs_sc.depth = depth;
	hs_sc.shift = 64 - (unsigned)__builtin_ctz(HS_SC_ENTRIES_MIN);
	hs_sc.pool_cap = HS_SC_POOL_MIN;
	atomic_signal_fence(memory_order_release);
	hs_sc.base = m;
	return true;
}

/* A hit reads every word an entry remembers. unwind.c reads only words
 * inside this thread's own stack, which stays mapped while the thread
 * lives; a walk on an alternate signal stack or a coroutine stack fails
 * there (libunwind takes it) and gives no proof, so it is not cached:
 * a handler on a sigaltstack can run again with the same frames after
 * the coroutine stack it once interrupted was unmapped
 * (tests/progs/altstack_coroutine crashed so, before this rule). */

/* nw words from the pool, or UINT32_MAX when it is used up: then every
 * entry is emptied and it starts over (entries a collision replaced left
 * their frames behind, and a thread that keeps missing would grow it
 * without end), and this stack is not cached. The epoch moves before any
 * key is cleared, so a fill that a handler's reset overtook sees it and
 * leaves its entry empty (hs_stack_capture_at). Every slot an entry names
 * is on this thread's own stack, so even a stale frame is safe to read;
 * keeping entries and their frames in step keeps hits right. The add is
 * one instruction: a handler that interrupts a fill takes other frames.
 *
 * Growth: a pool that ran out means this thread has more stacks than the
 * cache holds, so the pool and the table both double, up to their
 * maxima, before it starts over. The mapping was reserved for the
 * maxima, so growing moves nothing: an entry read through the old size
 * (by a hit that a handler's growth interrupted) is still mapped memory,
 * emptied or valid. */
static uint32_t take_words(char *base, uint32_t nw)
{
	uint32_t off = atomic_fetch_add_explicit(&hs_sc.pool_used, nw, memory_order_relaxed);
	size_t entries = (size_t)1 << (64 - hs_sc.shift);
	bool crowded = hs_sc.filled * 2 > entries && entries < HS_SC_ENTRIES_MAX;
	if (off + nw <= hs_sc.pool_cap && !crowded)
		return off;
	hs_sc.epoch++;
	atomic_signal_fence(memory_order_seq_cst);
	struct hs_sc_entry *t = (struct hs_sc_entry *)base;
	for (size_t i = 0; i < entries; i++)
		t[i].ra = 0;
	hs_sc.filled = 0;
	if (hs_sc.pool_cap < HS_SC_POOL_MAX)
		hs_sc.pool_cap *= 2;
	if (entries < HS_SC_ENTRIES_MAX)
		hs_sc.shift--;
	COUNT(st_reset);
	if (hs_cfg.unwind_stats && ((size_t)1 << (64 - hs_sc.shift)) > atomic_load(&st_max_entries))
		atomic_store(&st_max_entries, (size_t)1 << (64 - hs_sc.shift));
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store_explicit(&hs_sc.pool_used, 0, memory_order_relaxed);
	return UINT32_MAX;
}

/* Which way of the key's set to fill: an empty one, else the next in
 * turn. */
static struct hs_sc_entry *way_to_fill(char *base, uintptr_t ra, uintptr_t cfa)
{
	size_t i = hs_sc_index(hs_sc.shift, ra, cfa);
	struct hs_sc_entry *t = hs_sc_table(base);
	unsigned ways = ways_now();
	for (unsigned w = 0; w < ways; w++)
		if (t[i ^ w].ra == 0) {
			hs_sc.filled++;
			return &t[i ^ w];
		}
	return &t[i ^ (hs_sc.victim++ & (ways - 1))];
}

/* Remember the stack our unwinder just walked (id), with its proof. */
static void fill(char *base, uintptr_t ra, uintptr_t cfa, uintptr_t bp, uint32_t id,
                 uint32_t gen)
{
	unsigned nw;
	uintptr_t walk_bp;
	bool bp_used;
	const struct hs_word *proof = hs_unwind_proof(&nw, &walk_bp, &bp_used);
	/* The hook's view of the program's rbp is the walk's, or the proof
	 * would not be one. */
	if (!proof || (bp_used && walk_bp != bp))
		return;
	/* the generation its S line is known to be in (none: ask on a hit) */
	gen = hs_stack_emitted(id) && !hs_cfg.unwind_verify ? gen : 0;
	struct hs_sc_entry *e = way_to_fill(base, ra, cfa);
	e->ra = 0;                      /* a handler must not trust it now */
	uint32_t epoch = hs_sc.epoch;
	atomic_signal_fence(memory_order_seq_cst);
	uint32_t off = take_words(base, nw - (bp_used ? 1 : 0));
	if (off == UINT32_MAX)
		return;
	/* The entry checks its words in any order: rbp is its own field. */
	struct hs_word *w = hs_sc_pool(base) + off;
	uint32_t k = 0;
	for (unsigned i = 0; i < nw; i++)
		if (proof[i].at != HS_UNW_AT_BP0)
			w[k++] = proof[i];
	e->cfa = cfa;
	e->bp = bp;
	e->id = id;
	e->nw = k | (bp_used ? HS_SC_BP : 0);
	e->gen = gen;
	e->off = off;
	atomic_signal_fence(memory_order_seq_cst);
	e->ra = ra;
	/* A handler's reset since the epoch was read may have handed these
	 * words out again: then the entry must stay empty. */
	atomic_signal_fence(memory_order_seq_cst);
	if (hs_sc.epoch != epoch)
		e->ra = 0;
}

/* The miss (hs_stack_capture_from probed already): walk, intern and
 * fill. Called with stacks.c's in_capture set. 0 if the cache is off. */
uint32_t hs_stack_capture_at(uintptr_t ra, uintptr_t cfa, uintptr_t bp, int depth)
{
	if (!cache_ready(depth))
		return 0;
	char *base = hs_sc.base;
	uintptr_t ips[MAX_DEPTH], sps[MAX_DEPTH];
	/* Our own unwinder (unwind.c) where its rules can say; libunwind
	 * for any stack they cannot, or when HEAPSCOPE_UNWIND=libunwind. */
	int got = hs_cfg.unwind ? hs_unwind(ra, cfa, depth, ips, sps) : -1;
	unsigned n = got > 0 ? (unsigned)got : walk(ra, cfa, depth, ips, sps);
	if (n == 0)
		return 0;
	if (unlikely(hs_cfg.unwind_verify) && got > 0) {
		uintptr_t tips[MAX_DEPTH], tsps[MAX_DEPTH];
		unsigned tn = walk(ra, cfa, depth, tips, tsps);
		atomic_fetch_add_explicit(&st_verified, 1, memory_order_relaxed);
		if (tn != n || __builtin_memcmp(tips, ips, n * sizeof ips[0]))
			atomic_fetch_add_explicit(&st_wrong_walk, 1, memory_order_relaxed);
	}
	uint32_t gen = atomic_load_explicit(&hs_stack_trace_gen, memory_order_acquire);
	uint32_t id = hs_stack_intern(ips, n);
	if (id && got > 0)
		fill(base, ra, cfa, bp, id, gen);
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
