/*
 * unwind_walk.c — an allocation stack at frame-pointer speed, DWARF-correct.
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
 *   rule = near[ip] (else unwind.c's table, else the module's .eh_frame)
 *   cfa  = rsp + k | rbp + k | *(rbp + k)
 *   ip'  = *(cfa + ra_off);  rbp' = rbp | *(cfa + k) | *(rbp + k);  rsp' = cfa
 *
 * Frames are skipped up to the program's call (ip == ra, rsp == cfa), as
 * stackcache.c's libunwind walk does, and recorded from there.
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
 * The proof. A step is a function of the registers it starts from, the
 * stack words it reads and the rule for ip. So a walk writes down, in the
 * order they can be checked, the words that decided its stack: each
 * return address, each word a realigned frame's CFA sits in, and a saved
 * rbp only where a later step reads rbp (code without frame pointers
 * saves rbp as any callee-saved register, and what it held is the
 * program's business), checked just before that step; where a step reads
 * the rbp the program had at its call, the check is HS_UNW_AT_BP0 (that
 * register, not a word). Every check's address follows from the checks
 * before it and the call (ra, cfa): so whoever finds every check holding
 * has this stack (stackcache.c).
 *
 * (Two ways of not unwinding were tried and dropped, docs/ARCHITECTURE.md:
 * reusing the previous walk's outer frames when the words it read still
 * held, and a per-thread decision tree over these proofs behind the
 * stack cache. Both ran fewer instructions and took more time.)
 *
 * One unwind at a time per thread (stacks.c's in_capture): a signal
 * handler never enters this code over itself, and the two logs and the
 * near rules are this thread's alone.
 */
#include <stdatomic.h>

#include "fpstack.h"            /* this thread's stack bounds */
#include "unwind.h"

#define MAX_SKIP  16                    /* our frames above the program's */
#define NEAR      512                   /* per-thread rules: 8 KiB        */
#define LOG_MAX   64                    /* frames a walk records at most   */
#define LOG_WORDS (3 * LOG_MAX)         /* <= 3 checks a step              */
#define BSRC_DONE 2                     /* rbp's source is checked already */

/* A small direct-mapped copy of the rules this thread used last: the
 * shared table is large and cold (a probe is mostly a cache miss), while
 * consecutive stacks share most of their frames. */
static __thread struct { uint64_t key, rule; } near[NEAR];

/* HEAPSCOPE_UNWIND_STATS: captures done by rule, and why others were not */
static _Atomic unsigned long st_ok, st_fail[HS_UNW_REASONS];

/* The rule for lookup address a: this thread's near copy, else the shared
 * table, else the module's tables. An address in no module (or while the
 * module table is rebuilt) is not kept: a dlopen may map one there. */
static inline uint64_t rule_for(uintptr_t a, uint64_t epoch_bits)
{
	if (unlikely(a >= HS_UNW_KEY_BUSY))
		return hs_r_cannot(HS_UNW_NOMOD);
	uint64_t key = a | epoch_bits;
	unsigned i = (unsigned)((a ^ (a >> 9)) & (NEAR - 1));
	if (likely(near[i].key == key))
		return near[i].rule;
	uint64_t r = hs_unwind_rule_far(key, a);
	unsigned why = (r >> 8) & 0xff;
	if (!(r & HS_R_CANNOT) || (why != HS_UNW_NOMOD && why != HS_UNW_BUSY)) {
		near[i].key = key;
		near[i].rule = r;
	}
	return r;
}

/* ---- the proof -------------------------------------------------------------- */
/* The last successful walk's, this thread's alone. */
static __thread struct {
	uint32_t nw;                    /* checks (0: no walk)                */
	uint32_t bp0_used;
	uintptr_t bp0;                  /* rbp at the program's frame         */
	struct hs_word w[LOG_WORDS];
} pf;

/* ---- the walk --------------------------------------------------------------- */
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

/* A word of this thread's stack, or false. */
static inline bool load(uintptr_t p, uintptr_t lo, uintptr_t hi, uintptr_t *v)
{
	if (p < lo || p > hi - sizeof(uintptr_t) || (p & 7))
		return false;
	*v = *(const uintptr_t *)p;
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
	pf.nw = 0;
	pf.bp0_used = 0;
	/* The proof is written through locals (this thread's alone): w is the
	 * next check; bsrc says where rbp came from: the program's own
	 * (HS_UNW_AT_BP0, from its frame on), a saved word not yet checked,
	 * or one already checked (BSRC_DONE), until a step reads rbp. */
	struct hs_word *const w0 = pf.w, *w = w0;
	struct hs_word bsrc = { 0, 0 };
	int n = 0, skipped = 0;
	uintptr_t a = r.ip;                     /* exact: not a return address */
	for (;;) {
		uint64_t rule = rule_for(a, epoch_bits);
		if (unlikely(rule & (HS_R_CANNOT | HS_R_END))) {
			if (rule & HS_R_CANNOT)
				return fail((int)((rule >> 8) & 0xff));
			break;                  /* outermost frame */
		}
		unsigned cfa_kind = hs_r_cfa(rule), bp_kind = hs_r_bp(rule);
		if (n && bsrc.at != BSRC_DONE &&
		    (cfa_kind != HS_R_CFA_RSP || bp_kind == HS_R_BP_RBP)) {
			*w++ = bsrc;            /* this step reads rbp: check it */
			if (bsrc.at == HS_UNW_AT_BP0)
				pf.bp0_used = 1;
			bsrc.at = BSRC_DONE;
		}
		uintptr_t c, ip, bp = r.bp;
		switch (cfa_kind) {
		case HS_R_CFA_RSP:
			c = r.sp + hs_r_off(rule);
			break;
		case HS_R_CFA_RBP:
			c = r.bp + hs_r_off(rule);
			break;
		default:
			if (!load(r.bp + hs_r_off(rule), lo, hi, &c))
				return fail(HS_UNW_BOUNDS);
			if (n)
				*w++ = (struct hs_word){ r.bp + hs_r_off(rule), c };
			break;
		}
		uintptr_t at = c + hs_r_ra_off(rule);
		if (c <= r.sp || c > hi || !load(at, lo, hi, &ip))
			return fail(HS_UNW_BOUNDS);
		if (n)
			*w++ = (struct hs_word){ at, ip };
		if (bp_kind != HS_R_BP_SAME) {
			at = (bp_kind == HS_R_BP_CFA ? c : r.bp) + hs_r_bp_off(rule);
			if (!load(at, lo, hi, &bp))
				return fail(HS_UNW_BOUNDS);
			bsrc = (struct hs_word){ at, bp };   /* checked if it is used */
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
			if (n == 0) {
				pf.bp0 = bp;
				bsrc = (struct hs_word){ HS_UNW_AT_BP0, bp };
			}
			ips[n] = ip;
			sps[n] = c;
			if (++n >= depth)
				break;
		}
		a = ip - 1;
	}
	if (n == 0)
		return fail(HS_UNW_NOKEY);
	/* The checks of a step that ended the chain (a return address of 0)
	 * are kept: a different stack would go on from there. */
	pf.nw = (uint32_t)(w - w0);
	if (hs_cfg.unwind_stats)
		atomic_fetch_add_explicit(&st_ok, 1, memory_order_relaxed);
	return n;
}

const struct hs_word *hs_unwind_proof(unsigned *n, uintptr_t *bp, bool *bp_used)
{
	*n = pf.nw;
	*bp = pf.bp0;
	*bp_used = pf.bp0_used;
	return pf.nw ? pf.w : NULL;
}

__attribute__((destructor)) static void say_stats(void)
{
	if (!hs_cfg.unwind_stats)
		return;
	hs_log("unwind: %lu stacks by rule, %lu rules read; to libunwind: %lu no "
	       "module, %lu no FDE, %lu rule, %lu bad CFI, %lu bounds, %lu no key, "
	       "%lu busy", atomic_load(&st_ok), hs_unwind_rules_read(),
	       atomic_load(&st_fail[HS_UNW_NOMOD]), atomic_load(&st_fail[HS_UNW_NOFDE]),
	       atomic_load(&st_fail[HS_UNW_RULE]), atomic_load(&st_fail[HS_UNW_BADCFI]),
	       atomic_load(&st_fail[HS_UNW_BOUNDS]), atomic_load(&st_fail[HS_UNW_NOKEY]),
	       atomic_load(&st_fail[HS_UNW_BUSY]));
}
