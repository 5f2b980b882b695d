/*
 * unwind.c — an allocation stack at frame-pointer speed, DWARF-correct.
 *
 * The walk keeps three registers, ip, rsp and rbp, which is all a return
 * address chain needs on x86-64: a frame's CFA is rsp or rbp plus a
 * constant (or, in GCC's realigned frames, a word at rbp plus one), its
 * return address sits at a constant offset from the CFA, and rbp is the
 * only callee-saved register any such CFA depends on. Starting from the
 * registers of here() (the first frame's ip is exact; every later one is
 * a return address, looked up at ip - 1 so a call that ends a function
 * finds its own FDE), each step is:
 *
 *   rule = cache[ip] (else unwind_cfi.c reads the module's .eh_frame)
 *   cfa  = rsp + k | rbp + k | *(rbp + k)
 *   ip'  = *(cfa + ra_off);  rbp' = rbp | *(cfa + k) | *(rbp + k);  rsp' = cfa
 *
 * Frames are skipped up to the program's call (ip == ra, rsp == cfa), as
 * stackcache.c's libunwind walk does, and recorded from there: the same
 * (ip, sp) pairs, so that the stack cache is filled the same way.
 *
 * Safety: every stack read is an aligned word inside this thread's stack
 * (hs_fpb), and each CFA must lie above the last, so the walk ends. A
 * frame the rules cannot describe (signal frames, other expressions, a
 * CFA on a register we do not track, code without unwind info, a read
 * that would leave the stack) fails the whole capture with a reason, and
 * the caller runs libunwind for it: stacks never differ between the two.
 * An undefined return address (_start, clone) or a zero one ends the
 * stack normally, as it ends libunwind's.
 *
 * The rule cache is process-wide: open addressing over 16-byte slots,
 * keyed by lookup address | epoch << 48 (unwind_mods.c moves the epoch
 * when the loader unloads an object). A slot is claimed by compare-and-
 * swap to key|BUSY, its rule written, then the key stored with release,
 * so a reader that sees the key sees the rule; slots are never rewritten.
 * Past half full (or a long probe) a table twice the size replaces it,
 * empty: rules are cheap to read again and old tables are never unmapped
 * (another thread may be probing one). No malloc anywhere: mmap only.
 * One unwind at a time per thread (stacks.c's in_capture), so a signal
 * handler never enters this code over itself.
 */
#include <stdatomic.h>
#include <sys/mman.h>

#include "fpstack.h"            /* this thread's stack bounds */
#include "unwind.h"

#define RT_FIRST  ((uint64_t)1 << 14)   /* slots: 256 KiB, touched as used */
#define RT_MAX    ((uint64_t)1 << 21)
#define PROBES    16
#define KEY_BUSY  ((uint64_t)1 << 47)   /* above every user address       */
#define MAX_SKIP  16                    /* our frames above the program's */
#define NEAR      256                   /* per-thread rules: 4 KiB        */


struct slot {
	_Atomic uint64_t key;
	_Atomic uint64_t rule;
};

struct rtab {
	uint64_t mask;
	_Atomic uint64_t used;
	struct slot s[];
};

static _Atomic(struct rtab *) RT;

/* A small direct-mapped copy of the rules this thread used last: the
 * shared table is large and cold (a probe is mostly a cache miss), while
 * consecutive stacks share most of their frames. Written only by its own
 * thread, and never by a signal handler over an unwind (in_capture). */
static __thread struct { uint64_t key, rule; } near[NEAR];

/* HEAPSCOPE_UNWIND_STATS: captures done by rule, and why others were not */
static _Atomic unsigned long st_ok, st_parsed, st_fail[HS_UNW_REASONS];

static struct rtab *new_tab(uint64_t slots)
{
	void *p = mmap(NULL, sizeof(struct rtab) + slots * sizeof(struct slot),
	               PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct rtab *t = p;
	t->mask = slots - 1;
	return t;
}

static struct rtab *table(void)
{
	struct rtab *t = atomic_load_explicit(&RT, memory_order_acquire);
	if (likely(t))
		return t;
	struct rtab *n = new_tab(RT_FIRST);
	if (!n)
		return NULL;
	if (atomic_compare_exchange_strong(&RT, &t, n))
		return n;
	munmap(n, sizeof(struct rtab) + RT_FIRST * sizeof(struct slot));
	return t;
}

/* Replace t by an empty table (twice the size, up to RT_MAX). Whoever
 * swaps first wins; t stays mapped for readers still in it. */
static void grow(struct rtab *t)
{
	uint64_t slots = t->mask + 1;
	if (slots < RT_MAX)
		slots *= 2;
	struct rtab *n = new_tab(slots);
	if (!n)
		return;
	struct rtab *cur = t;
	if (!atomic_compare_exchange_strong(&RT, &cur, n))
		munmap(n, sizeof(struct rtab) + slots * sizeof(struct slot));
}

static inline uint64_t slot_of(uint64_t key, uint64_t mask)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ull;
	return (h ^ (h >> 31)) & mask;
}

static inline uint64_t cached(struct rtab *t, uint64_t key)
{
	uint64_t i = slot_of(key, t->mask);
	for (int p = 0; p < PROBES; p++, i = (i + 1) & t->mask) {
		uint64_t k = atomic_load_explicit(&t->s[i].key, memory_order_acquire);
		if (k == key)
			return atomic_load_explicit(&t->s[i].rule, memory_order_relaxed);
		if (k == 0)
			return 0;
	}
	return 0;
}

static void remember(struct rtab *t, uint64_t key, uint64_t rule)
{
	uint64_t i = slot_of(key, t->mask);
	for (int p = 0; p < PROBES; p++, i = (i + 1) & t->mask) {
		uint64_t k = atomic_load_explicit(&t->s[i].key, memory_order_relaxed);
		if (k == 0 && atomic_compare_exchange_strong(&t->s[i].key, &k, key | KEY_BUSY)) {
			atomic_store_explicit(&t->s[i].rule, rule, memory_order_relaxed);
			atomic_store_explicit(&t->s[i].key, key, memory_order_release);
			uint64_t used = atomic_fetch_add_explicit(&t->used, 1,
			                                          memory_order_relaxed) + 1;
			if (used == (t->mask + 1) / 2)
				grow(t);
			return;
		}
		if (k == key || k == (key | KEY_BUSY))
			return;                 /* another thread was first */
	}
	grow(t);                                /* crowded: start afresh */
}

/* The rule for lookup address a, from the cache or the module's tables.
 * An address in no module is not cached: a dlopen may map one there. */
static __attribute__((noinline)) uint64_t rule_far(uint64_t key, uintptr_t a)
{
	struct rtab *t = table();
	uint64_t r = t ? cached(t, key) : 0;
	if (likely(r))
		return r;
	struct hs_ehmod m;
	int e = hs_unwind_find_module(a, &m);
	if (e)
		return hs_r_cannot(-e);
	r = hs_cfi_rule(&m, a);
	if (hs_cfg.unwind_stats)
		atomic_fetch_add_explicit(&st_parsed, 1, memory_order_relaxed);
	if (t)
		remember(t, key, r);
	return r;
}

/* The rule for lookup address a: this thread's near copy, else the shared
 * table, else the module's tables. An address in no module (or while the
 * module table is rebuilt) is not kept: a dlopen may map one there. */
static inline uint64_t rule_for(uintptr_t a, uint64_t epoch_bits)
{
	if (unlikely(a >= KEY_BUSY))
		return hs_r_cannot(HS_UNW_NOMOD);
	uint64_t key = a | epoch_bits;
	unsigned i = (unsigned)((a ^ (a >> 8)) & (NEAR - 1));
	if (likely(near[i].key == key))
		return near[i].rule;
	uint64_t r = rule_far(key, a);
	unsigned why = (r >> 8) & 0xff;
	if (!(r & HS_R_CANNOT) || (why != HS_UNW_NOMOD && why != HS_UNW_BUSY)) {
		near[i].key = key;
		near[i].rule = r;
	}
	return r;
}

struct regs {
	uintptr_t ip, sp, bp;
};

/* Our own registers, at a point its FDE describes like any other. */
static __attribute__((noinline, noclone)) void here(struct regs *r)
{
	uintptr_t ip, sp, bp;
	__asm__ volatile("lea 0(%%rip), %0\n\t"
	                 "mov %%rsp, %1\n\t"
	                 "mov %%rbp, %2"
	                 : "=&r"(ip), "=&r"(sp), "=&r"(bp));
	r->ip = ip;
	r->sp = sp;
	r->bp = bp;
}

static int fail(int reason)
{
	if (hs_cfg.unwind_stats)
		atomic_fetch_add_explicit(&st_fail[reason], 1, memory_order_relaxed);
	return -reason;
}

/* ---- the walk before: most of a stack is the one before it -------------
 * A program allocates again and again below the same callers: a compiler
 * deep in its passes, an interpreter in its eval loop. Consecutive stacks
 * of a thread then share their outer frames, at the same stack pointers.
 * Each walk logs, for every recorded frame, its registers (ip, sp, bp)
 * and the stack words the step to the next frame read (the return
 * address, a saved rbp, a realigned frame's CFA). A step is a function of
 * the registers, those words and the rule for ip, so when a new walk
 * reaches a frame with the registers the last walk had at some frame, and
 * every word the last walk read from there on still holds what it held,
 * the rest of the last walk is this walk's too: its frames are copied,
 * not unwound. (cc1: about 15 of 24 frames per stack.) The rules may not
 * have changed meanwhile: a log belongs to one rule epoch.
 */
#define LOG_MAX   64                    /* recorded frames a log holds     */
#define LOG_READS 3

struct step {
	uintptr_t ip, sp, bp;               /* registers at this frame        */
	uintptr_t at[LOG_READS];            /* words the step out of it read  */
	uintptr_t was[LOG_READS];
	uint8_t   reads;
	uint8_t   bpf;                      /* STEP_*: how the step used rbp  */
	uint8_t   need;                     /* reads a later walk must check  */
	uint8_t   bpneed;                   /* the walk on from here uses rbp */
	uint8_t   last;                     /* 1: no step follows (chain ends,
	                                       or depth reached: see `cut`)   */
};
/* The reads of a step come in this order: the word a realigned frame's
 * CFA is in (STEP_DEREF), the return address, the saved rbp
 * (STEP_SETS_BP). */
#define STEP_USES_BP 1                  /* read rbp: CFA or saved rbp by it */
#define STEP_SETS_BP 2                  /* loaded the caller's rbp         */
#define STEP_DEREF   4
struct walk_log {
	uint64_t epoch_bits;
	uint32_t n;                         /* frames logged                  */
	uint32_t cut;                       /* ended at depth, not chain end  */
	struct step s[LOG_MAX];
};
/* Two logs per thread: the last walk's, and the one being written. Only
 * this thread uses them, one unwind at a time (stacks.c's in_capture). */
static __thread struct walk_log logs[2];
static __thread unsigned log_cur;

/* The first step from j on of the last walk whose words, that mattered,
 * no longer hold what they held; l->n if all still do. */
static uint32_t changed(const struct walk_log *l, uint32_t j)
{
	for (; j < l->n; j++)
		for (uint32_t k = 0; k < l->s[j].reads; k++)
			if ((l->s[j].need >> k & 1) &&
			    *(const uintptr_t *)l->s[j].at[k] != l->s[j].was[k])
				return j;
	return l->n;
}

/* What mattered, from the last frame back: a saved rbp a step loaded
 * matters only if a later step reads rbp before another load replaces
 * it (code without frame pointers saves rbp as any callee-saved
 * register, and the value it held is the program's business); and the
 * rbp at a frame matters if the walk on from there reads it. */
static void settle(struct walk_log *l)
{
	bool after = false;                 /* rbp needed after step j        */
	for (uint32_t j = l->n; j-- > 0;) {
		struct step *st = &l->s[j];
		uint8_t need = (uint8_t)((1u << st->reads) - 1);
		if ((st->bpf & STEP_SETS_BP) && st->reads && !after)
			need &= (uint8_t)~(1u << (st->reads - 1));
		st->need = need;
		after = (st->bpf & STEP_USES_BP) || (!(st->bpf & STEP_SETS_BP) && after);
		st->bpneed = after;
	}
}

/* A word of this thread's stack, or false; logged for the next walk. */
static inline bool load(uintptr_t p, uintptr_t lo, uintptr_t hi, uintptr_t *v,
                        struct step *st)
{
	if (p < lo || p > hi - sizeof(uintptr_t) || (p & 7))
		return false;
	*v = *(const uintptr_t *)p;
	if (st && st->reads < LOG_READS) {
		st->at[st->reads] = p;
		st->was[st->reads++] = *v;
	}
	return true;
}

int hs_unwind(uintptr_t ra, uintptr_t cfa, int depth, uintptr_t *ips, uintptr_t *sps)
{
	struct hs_fp_bounds *tb = &hs_fpb;
	if (unlikely(tb->state == HS_FPB_UNKNOWN))
		hs_fp_find_bounds();
	if (tb->state != HS_FPB_KNOWN)
		return fail(HS_UNW_BOUNDS);
	hs_unwind_modules_check();
	uint64_t epoch_bits = (uint64_t)hs_unwind_epoch() << 48;
	uintptr_t lo = tb->lo, hi = tb->hi;
	struct regs r;
	here(&r);
	if (r.sp < lo || r.sp >= hi)            /* an alternate signal stack */
		return fail(HS_UNW_BOUNDS);
	if (depth > LOG_MAX)
		depth = LOG_MAX;
	const struct walk_log *prev = &logs[log_cur];
	struct walk_log *lg = &logs[log_cur ^ 1];
	bool reuse = prev->n && prev->epoch_bits == epoch_bits;
	uint32_t pj = 0;                        /* prev frame at or above sp  */
	/* A step of the last walk whose words changed rules out every match
	 * below it: no frame there can be followed by the rest. So each word
	 * is checked once per walk, not once per frame. */
	uint32_t barrier = 0;
	lg->n = 0;
	lg->cut = 0;
	lg->epoch_bits = epoch_bits;
	int n = 0, skipped = 0;
	uintptr_t a = r.ip;                     /* exact: not a return address */
	for (;;) {
		struct step *st = n ? &lg->s[n - 1] : NULL;
		if (st && reuse) {
			while (pj < prev->n && prev->s[pj].sp < r.sp)
				pj++;
			uint32_t f = prev->n + 1;           /* no match here      */
			if (pj < prev->n && pj >= barrier && prev->s[pj].sp == r.sp &&
			    prev->s[pj].ip == r.ip &&
			    (!prev->s[pj].bpneed || prev->s[pj].bp == r.bp))
				f = changed(prev, pj);
			if (f < prev->n)
				barrier = f + 1;
			if (f == prev->n) {
				/* frames pj+1.. of the last walk follow this one */
				uint32_t j = pj;
				while (!prev->s[j].last && n < depth) {
					lg->s[n - 1] = prev->s[j];
					j++;
					lg->s[n] = prev->s[j];
					ips[n] = prev->s[j].ip;
					sps[n] = prev->s[j].sp;
					n++;
				}
				if (n >= depth || !prev->cut) {
					lg->n = (uint32_t)n;
					lg->cut = n >= depth;
					if (n >= depth)     /* no step out of it is ours */
						lg->s[n - 1].reads = 0;
					lg->s[n - 1].last = 1;
					break;
				}
				/* the last walk stopped at its depth, before ours:
				 * unwind on from its last frame */
				r.ip = prev->s[j].ip;
				r.sp = prev->s[j].sp;
				r.bp = prev->s[j].bp;
				a = r.ip - 1;
				st = &lg->s[n - 1];
				reuse = false;
			}
		}
		if (st) {
			st->reads = 0;
			st->bpf = 0;
			st->last = 0;
		}
		uint64_t rule = rule_for(a, epoch_bits);
		if (unlikely(rule & (HS_R_CANNOT | HS_R_END))) {
			if (rule & HS_R_CANNOT)
				return fail((int)((rule >> 8) & 0xff));
			break;                  /* outermost frame */
		}
		uintptr_t c, ip, bp = r.bp;
		if (st)
			st->bpf = (hs_r_cfa(rule) != HS_R_CFA_RSP || hs_r_bp(rule) == HS_R_BP_RBP
			           ? STEP_USES_BP : 0) |
			          (hs_r_bp(rule) != HS_R_BP_SAME ? STEP_SETS_BP : 0) |
			          (hs_r_cfa(rule) == HS_R_CFA_DEREF ? STEP_DEREF : 0);
		switch (hs_r_cfa(rule)) {
		case HS_R_CFA_RSP:
			c = r.sp + hs_r_off(rule);
			break;
		case HS_R_CFA_RBP:
			c = r.bp + hs_r_off(rule);
			break;
		default:
			if (!load(r.bp + hs_r_off(rule), lo, hi, &c, st))
				return fail(HS_UNW_BOUNDS);
			break;
		}
		if (c <= r.sp || c > hi || !load(c + hs_r_ra_off(rule), lo, hi, &ip, st))
			return fail(HS_UNW_BOUNDS);
		if (hs_r_bp(rule) == HS_R_BP_CFA) {
			if (!load(c + hs_r_bp_off(rule), lo, hi, &bp, st))
				return fail(HS_UNW_BOUNDS);
		} else if (hs_r_bp(rule) == HS_R_BP_RBP) {
			if (!load(r.bp + hs_r_bp_off(rule), lo, hi, &bp, st))
				return fail(HS_UNW_BOUNDS);
		}
		r.ip = ip;
		r.sp = c;
		r.bp = bp;
		if (ip == 0)                    /* end of the chain */
			break;
		if (n == 0 && (ip != ra || c != cfa)) {
			if (++skipped > MAX_SKIP)
				return fail(HS_UNW_NOKEY);
		} else {
			ips[n] = ip;
			sps[n] = c;
			lg->s[n] = (struct step){ .ip = ip, .sp = c, .bp = bp };
			if (++n >= depth) {
				lg->cut = 1;
				break;
			}
		}
		a = ip - 1;
	}
	if (n == 0)
		return fail(HS_UNW_NOKEY);
	if (!lg->n) {
		/* The last frame keeps the reads of a step that ended the
		 * chain (a return address of 0): a later walk relies on them. */
		lg->n = (uint32_t)n;
		lg->s[n - 1].last = 1;
	}
	settle(lg);
	log_cur ^= 1;
	if (hs_cfg.unwind_stats)
		atomic_fetch_add_explicit(&st_ok, 1, memory_order_relaxed);
	return n;
}

int hs_unwind_proof(struct hs_word *out, unsigned cap, uintptr_t *bp, bool *bp_used)
{
	const struct walk_log *l = &logs[log_cur];
	unsigned n = 0;
	if (!l->n)
		return -1;
	for (uint32_t j = 0; j < l->n; j++) {
		const struct step *st = &l->s[j];
		for (uint32_t k = 0; k < st->reads; k++) {
			if (!(st->need >> k & 1))
				continue;
			if (n == cap)
				return -1;
			out[n++] = (struct hs_word){ st->at[k], st->was[k] };
		}
	}
	*bp = l->s[0].bp;
	*bp_used = l->s[0].bpneed;
	return (int)n;
}

__attribute__((destructor)) static void say_stats(void)
{
	if (!hs_cfg.unwind_stats)
		return;
	hs_log("unwind: %lu stacks by rule, %lu rules read; to libunwind: "
	       "%lu no module, %lu no FDE, %lu rule, %lu bad CFI, %lu bounds, "
	       "%lu no key, %lu busy",
	       atomic_load(&st_ok), atomic_load(&st_parsed),
	       atomic_load(&st_fail[HS_UNW_NOMOD]), atomic_load(&st_fail[HS_UNW_NOFDE]),
	       atomic_load(&st_fail[HS_UNW_RULE]), atomic_load(&st_fail[HS_UNW_BADCFI]),
	       atomic_load(&st_fail[HS_UNW_BOUNDS]), atomic_load(&st_fail[HS_UNW_NOKEY]),
	       atomic_load(&st_fail[HS_UNW_BUSY]));
}
