/*
 * stacktrie.c — every stack this thread has unwound, found again without
 * unwinding.
 *
 * The stack cache (stackcache.c) keeps a few stacks per call (return
 * address, stack pointer) and checks each whole. A compiler or an
 * interpreter reaches one call through hundreds of callers at the same
 * depth: the few ways thrash and every allocation unwinds. So behind the
 * cache each thread keeps a decision tree over the proofs of its stacks
 * (unwind_walk.c): the checks a walk made, in order, where each check's
 * address follows from the call and the checks before it. A node says
 * which word to read next; its children are keyed by the value found
 * there; a leaf is a stack. Finding a stack is one word and one probe a
 * check, and two stacks share their nodes as long as their checks agree
 * (the call and its nearest callers, usually).
 *
 *   root --ra--> n1 --cfa--> n2 --[word at n2.at]--> n3 --...--> leaf(id)
 *
 * Why a path proves its stack: the walk that made it read those words at
 * those addresses and found those values; the addresses of later checks
 * came from earlier ones; so anyone who finds the same values at the same
 * addresses would walk the same steps to the same stack. An `at` of
 * HS_UNW_AT_BP0 checks the program's rbp at the call instead of a word.
 * Two proofs never disagree on where to look next after the same checks,
 * for the same reason, and one is never a prefix of another (the last
 * check of a stack that ended is its return address of 0; a stack cut at
 * the depth limit has as many frames as any that shares its checks).
 *
 * The tree is one open-addressing table of edges per thread: a slot is
 * the child node, keyed by (parent slot, value), so node ids are slot
 * numbers. Inserting publishes a slot by its parent field, written last
 * with release; a reader (a signal handler that interrupts an insert)
 * sees a slot whole or not at all. Inserts are this thread's and never
 * nest (stacks.c's in_capture). When the table is half full it is emptied
 * and doubles, up to TRIE_MAX slots, like the stack cache's pool; it is
 * reserved at its largest (MAP_NORESERVE), so a reader that a reset
 * interrupted reads mapped memory, at worst an emptied slot.
 */
#include <sys/mman.h>

#include "stackcache.h"

#define TRIE_MIN   ((uint32_t)1 << 13)          /* slots: 256 KiB first     */
#define TRIE_MAX   ((uint32_t)1 << 20)          /* 32 MiB, reserved         */
#define AT_CFA     ((uintptr_t)2)               /* the root's child reads cfa */
#define ROOT       0u

struct tslot {
	_Atomic uint32_t parent;        /* parent slot + 1; 0 = empty          */
	uint32_t id;                    /* a leaf's stack, else 0              */
	uint64_t value;                 /* what the parent's word held         */
	uintptr_t at;                   /* this node's next word (0: a leaf)   */
	uint32_t gen;                   /* a leaf: trace generation of its S line */
	uint32_t unused;
};
_Static_assert(sizeof(struct tslot) == 32, "two slots a cache line");

static __thread struct {
	struct tslot *t;                /* TRIE_MAX slots reserved             */
	uint32_t mask;                  /* slots in use - 1                    */
	uint32_t used;
	uint32_t epoch;                 /* resets so far                       */
	int failed;
} tr;

static inline uint32_t slot_of(uint32_t parent, uint64_t value, uint32_t mask)
{
	uint64_t h = (value ^ ((uint64_t)parent << 40 | parent)) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 40) & mask;
}

/* The child of node `parent` for `value`, or UINT32_MAX. */
static inline uint32_t child(uint32_t parent, uint64_t value)
{
	uint32_t mask = tr.mask;
	for (uint32_t i = slot_of(parent, value, mask);; i = (i + 1) & mask) {
		struct tslot *s = &tr.t[i];
		uint32_t p = atomic_load_explicit(&s->parent, memory_order_acquire);
		if (p == 0)
			return UINT32_MAX;
		if (p == parent + 1 && s->value == value)
			return i;
	}
}

/* What the check of node n reads. */
static inline uint64_t read_at(uintptr_t at, uintptr_t cfa, uintptr_t bp)
{
	if (at == AT_CFA)
		return cfa;
	if (at == HS_UNW_AT_BP0)
		return bp;
	return *(const uintptr_t *)at;
}

uint32_t hs_trie_find(uintptr_t ra, uintptr_t cfa, uintptr_t bp, uint32_t **gen)
{
	if (!tr.t)
		return 0;
	/* A signal handler's insert may empty the table under this walk (a
	 * reset): then what was found may mix two trees, and is not used. */
	uint32_t epoch = tr.epoch;
	atomic_signal_fence(memory_order_seq_cst);
	/* The root's slot is virtual: its check reads ra. */
	uint32_t n = child(ROOT, ra);
	while (n != UINT32_MAX) {
		struct tslot *s = &tr.t[n];
		if (s->id) {
			uint32_t id = s->id;
			*gen = &s->gen;
			atomic_signal_fence(memory_order_seq_cst);
			return tr.epoch == epoch ? id : 0;
		}
		n = child(n + 1, read_at(s->at, cfa, bp));
	}
	return 0;
}

static bool ready(void)
{
	if (tr.t)
		return true;
	if (tr.failed)
		return false;
	void *m = mmap(NULL, (size_t)TRIE_MAX * sizeof(struct tslot), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		tr.failed = 1;
		return false;
	}
	tr.mask = TRIE_MIN - 1;
	tr.t = m;
	return true;
}

/* Half full: start again, twice the size (up to TRIE_MAX). */
static void reset(void)
{
	tr.epoch++;
	atomic_signal_fence(memory_order_seq_cst);
	uint32_t slots = tr.mask + 1;
	for (uint32_t i = 0; i < slots; i++)
		atomic_store_explicit(&tr.t[i].parent, 0, memory_order_relaxed);
	if (slots < TRIE_MAX)
		tr.mask = slots * 2 - 1;
	tr.used = 0;
}

/* The child of parent for value, made if missing (reading `at` next, or
 * a leaf when at is 0). UINT32_MAX when the table had to start over. */
static uint32_t make(uint32_t parent, uint64_t value, uintptr_t at, uint32_t id,
                     uint32_t gen)
{
	uint32_t mask = tr.mask;
	for (uint32_t i = slot_of(parent, value, mask);; i = (i + 1) & mask) {
		struct tslot *s = &tr.t[i];
		uint32_t p = atomic_load_explicit(&s->parent, memory_order_relaxed);
		if (p == parent + 1 && s->value == value)
			return i;
		if (p == 0) {
			if (++tr.used > (mask + 1) / 2) {
				reset();
				return UINT32_MAX;
			}
			s->value = value;
			s->at = at;
			s->id = id;
			s->gen = gen;
			atomic_store_explicit(&s->parent, parent + 1, memory_order_release);
			return i;
		}
	}
}

void hs_trie_insert(uintptr_t ra, uintptr_t cfa, const struct hs_word *proof,
                    unsigned n, uintptr_t bp, uint32_t id, uint32_t gen)
{
	if (!n || !ready())
		return;
	uint32_t node = make(ROOT, ra, AT_CFA, 0, 0);
	if (node == UINT32_MAX)
		return;
	uint64_t value = cfa;
	for (unsigned i = 0; i < n; i++) {
		node = make(node + 1, value, proof[i].at, 0, 0);
		if (node == UINT32_MAX)
			return;
		value = proof[i].at == HS_UNW_AT_BP0 ? bp : proof[i].was;
	}
	make(node + 1, value, 0, id, gen);
}

void hs_trie_thread_exit(void)
{
	struct tslot *t = tr.t;
	tr.failed = 1;
	tr.t = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	if (t)
		munmap(t, (size_t)TRIE_MAX * sizeof(struct tslot));
}
