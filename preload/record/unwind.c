/*
 * unwind.c — the unwind rules of return addresses, cached.
 *
 * A rule says how to get from a frame at an address to its caller's
 * (unwind.h: one 64-bit word; unwind_cfi.c reads it from the module's
 * .eh_frame). unwind_walk.c asks for one per frame, so they are cached:
 * a per-thread direct-mapped copy of the last rules used (in the walk,
 * inline), and behind it this process-wide table.
 *
 * The table: open addressing over 16-byte slots, keyed by lookup address
 * | epoch << 48 (unwind_mods.c moves the epoch when the loader unloads an
 * object). A slot is claimed by compare-and-swap to key|BUSY, its rule
 * written, then the key stored with release, so a reader that sees the
 * key sees the rule; slots are never rewritten. Past half full (or a long
 * probe) a table twice the size replaces it, empty: rules are cheap to
 * read again and old tables are never unmapped (another thread may be
 * probing one). No malloc anywhere: mmap only.
 */
#include <stdatomic.h>
#include <sys/mman.h>

#include "fpstack.h"            /* this thread's stack bounds */
#include "unwind.h"

#define RT_FIRST  ((uint64_t)1 << 14)   /* slots: 256 KiB, touched as used */
#define RT_MAX    ((uint64_t)1 << 21)
#define PROBES    16


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

/* HEAPSCOPE_UNWIND_STATS: rules read from .eh_frame */
static _Atomic unsigned long st_parsed;

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
		if (k == 0 && atomic_compare_exchange_strong(&t->s[i].key, &k, key | HS_UNW_KEY_BUSY)) {
			atomic_store_explicit(&t->s[i].rule, rule, memory_order_relaxed);
			atomic_store_explicit(&t->s[i].key, key, memory_order_release);
			uint64_t used = atomic_fetch_add_explicit(&t->used, 1,
			                                          memory_order_relaxed) + 1;
			if (used == (t->mask + 1) / 2)
				grow(t);
			return;
		}
		if (k == key || k == (key | HS_UNW_KEY_BUSY))
			return;                 /* another thread was first */
	}
	grow(t);                                /* crowded: start afresh */
}

/* The rule for lookup address a, from the cache or the module's tables.
 * An address in no module is not cached: a dlopen may map one there. */
uint64_t hs_unwind_rule_far(uint64_t key, uintptr_t a)
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

unsigned long hs_unwind_rules_read(void)
{
	return atomic_load(&st_parsed);
}
