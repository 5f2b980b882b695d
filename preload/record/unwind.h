/*
 * unwind.h — our own x86-64 unwinder for allocation stacks (issue #13).
 *
 * libunwind's cursor costs microseconds a stack on a stack-cache miss,
 * most of it in rt_sigprocmask. unwind.c walks the stack with rules read
 * from each module's .eh_frame (unwind_cfi.c), reduced to a 64-bit rule
 * per return address and cached process-wide; unwind_mods.c keeps the
 * modules' .eh_frame_hdr addresses. Whatever a rule cannot say (signal
 * frames, DWARF expressions other than GCC's stack realignment, code with
 * no unwind info) makes the capture fall back to libunwind.
 */
#ifndef HS_UNWIND_H
#define HS_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* ---- unwind.c ------------------------------------------------------- */

/* Unwind from here; skip frames (heapscope's own, at most 16) until the
 * one whose ip is ra and stack pointer cfa (the program's call into the
 * allocator); record it and up to depth - 1 callers: each frame's return
 * address and its stack pointer (the callee's CFA), as the libunwind walk
 * in stackcache.c does. Returns n >= 1, or a negative HS_UNW_* reason:
 * then this capture must take libunwind. Not re-entrant on one thread
 * (the caller holds stacks.c's in_capture). */
int hs_unwind(uintptr_t ra, uintptr_t cfa, int depth, uintptr_t *ips, uintptr_t *sps);

/* A stack word a walk read, and what it held. */
struct hs_word {
	uintptr_t at;
	uintptr_t was;
};

/* What proves the last successful hs_unwind's stack again: the checks,
 * in the order they can be made (unwind_walk.c), *n of them; a check
 * whose `at` is HS_UNW_AT_BP0 compares the program's rbp at the call
 * (*bp) rather than a word, and *bp_used says there is one. NULL when
 * the last walk failed. Valid until this thread's next walk. */
#define HS_UNW_AT_BP0 ((uintptr_t)1)    /* never a stack address */
const struct hs_word *hs_unwind_proof(unsigned *n, uintptr_t *bp, bool *bp_used);

/* hs_cfg.unwind (HEAPSCOPE_UNWIND) says whether hs_unwind is tried
 * first; hs_cfg.unwind_stats (HEAPSCOPE_UNWIND_STATS=1) counts captures
 * and fallbacks, said at exit. */

enum {
	HS_UNW_NOMOD = 1,       /* ip in no module we know (JIT, unmapped)    */
	HS_UNW_NOFDE,           /* module has no FDE for ip                    */
	HS_UNW_RULE,            /* FDE has a rule we do not do (signal frame,
	                           expression, register we do not track)       */
	HS_UNW_BADCFI,          /* .eh_frame does not parse                    */
	HS_UNW_BOUNDS,          /* a read would leave this thread's stack, or
	                           the CFA did not grow                        */
	HS_UNW_NOKEY,           /* the program's frame was not found           */
	HS_UNW_BUSY,            /* module table being rebuilt right now        */
	HS_UNW_REASONS
};

/* ---- rules: one 64-bit word per lookup address -------------------------
 *   bits 0-1   CFA: 1 = rsp + off, 2 = rbp + off, 3 = *(rbp + off)
 *   bits 2-3   caller's rbp: 0 = unchanged, 1 = at CFA + rbp_off,
 *              2 = at rbp + rbp_off (GCC's realigned frames)
 *   bit 4      outermost frame (return address undefined): stack ends
 *   bit 5      cannot: the reason is in bits 8-15
 *   bit 6      always set, so a rule is never 0
 *   bits 8-15  return address at CFA + 8 * (int8)
 *   bits 16-31 rbp_off (int16)
 *   bits 32-63 off (int32)                                              */
#define HS_R_CFA_RSP   1u
#define HS_R_CFA_RBP   2u
#define HS_R_CFA_DEREF 3u
#define HS_R_BP_SAME   0u
#define HS_R_BP_CFA    1u
#define HS_R_BP_RBP    2u
#define HS_R_END       0x10u
#define HS_R_CANNOT    0x20u
#define HS_R_VALID     0x40u

static inline unsigned hs_r_cfa(uint64_t r)    { return r & 3; }
static inline unsigned hs_r_bp(uint64_t r)     { return (r >> 2) & 3; }
static inline int      hs_r_ra_off(uint64_t r) { return (int8_t)(r >> 8) * 8; }
static inline int      hs_r_bp_off(uint64_t r) { return (int16_t)(r >> 16); }
static inline int      hs_r_off(uint64_t r)    { return (int32_t)(r >> 32); }

static inline uint64_t hs_r_cannot(int reason)
{
	return HS_R_VALID | HS_R_CANNOT | (uint64_t)(unsigned)reason << 8;
}

/* ---- unwind.c: the rule cache ------------------------------------------- */
#define HS_UNW_KEY_BUSY ((uint64_t)1 << 47)   /* above every user address */
/* The rule for key (lookup address a | epoch << 48): the shared table,
 * else the module's .eh_frame (remembered). */
uint64_t hs_unwind_rule_far(uint64_t key, uintptr_t a);
/* Rules read from .eh_frame so far (HEAPSCOPE_UNWIND_STATS). */
unsigned long hs_unwind_rules_read(void);

/* ---- unwind_mods.c: where each module's unwind tables are ------------- */
struct hs_ehmod {
	uintptr_t text_lo, text_hi;     /* executable PT_LOAD span            */
	uintptr_t hdr;                  /* .eh_frame_hdr (PT_GNU_EH_FRAME)    */
	uintptr_t seg_lo, seg_hi;       /* the PT_LOAD holding it: all we read */
};

/* The module whose text holds addr: 0 and *m filled, or -HS_UNW_NOMOD /
 * -HS_UNW_BUSY. May call dl_iterate_phdr (the loader lock) when addr is
 * in no module known: call it with no heapscope lock held. */
int  hs_unwind_find_module(uintptr_t addr, struct hs_ehmod *m);
/* Rule cache generation: moves when the loader unloaded something, so
 * rules for addresses that a new object may now occupy are not used. */
uint32_t hs_unwind_epoch(void);
/* modules.c saw the loader's counters move: look again before the next
 * unwind (a dlclose must retire cached rules). */
void hs_unwind_modules_changed(void);
/* Start of an unwind: rescan if hs_unwind_modules_changed() was called. */
void hs_unwind_modules_check(void);

/* ---- unwind_cfi.c: .eh_frame to rule ----------------------------------- */
/* The rule for lookup address a (a return address - 1, or an exact ip
 * for the first frame) in module m. Reads only [m->seg_lo, m->seg_hi).
 * Always returns a rule; one with HS_R_CANNOT says why not. */
uint64_t hs_cfi_rule(const struct hs_ehmod *m, uintptr_t a);

#endif
