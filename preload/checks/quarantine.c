/*
 * quarantine.c — freed blocks wait before their memory is reused.
 *
 * With checks on, a freed block does not go back to the thread cache at
 * once: it keeps its FREED header, gets its free stack in the free record
 * (second user word, internal.h) and the rest of its first HS_FILL_MAX
 * bytes (canary included) filled with HS_FREED_BYTE, and joins this
 * thread's quarantine, a FIFO. While it waits, a second free of it is a
 * recognisable double free (header FREED, both stacks known), and when it
 * leaves, the fill is verified: a changed byte is a write after free,
 * reported with its offset and the allocation and free stacks. Then the
 * memory goes home (the thread cache, inline here, or hs_heap_recycle).
 *
 * Per thread, no lock: a ring of {block, cost, free stack} in an mmap'd
 * array, kept out of the blocks themselves so that a write after free
 * cannot break the queue (or lose the free stack). Bounded by bytes
 * (hs_cfg.quarantine_bytes, counting header and room) and by entries
 * (RING_MAX). Blocks bigger than a quarter of the budget skip it (their
 * free record is still written; they are recycled at once); so do huge
 * mappings (munmapped at once: a second free of one is an invalid free)
 * and boot blocks.
 *
 * Fill bound: only the first HS_FILL_MAX bytes of a block are filled and
 * verified (plus its canary), so freeing a 1 MiB buffer costs 1 KiB of
 * writes; writes after free beyond that offset are not seen.
 *
 * Cost: this runs on every free, so the common case is written for few
 * instructions: the fill and the check are word loops, the record check
 * is one multiply, a small block goes back to the thread cache inline.
 * What remains is the quarantine's nature: memory is reused in FIFO order,
 * colder than the thread cache's LIFO (docs/ARCHITECTURE.md, "Checks").
 *
 * Re-entrancy: reporting an error captures a stack, which may allocate
 * and free. An entry is taken off the ring before it is verified, and a
 * block is pushed before anything is evicted, so a nested free sees a
 * consistent ring.
 */
#include <errno.h>
#include <sys/mman.h>
#include <string.h>

#include "checks.h"
#include "record/fpstack.h"
#include "record/sites.h"

#define RING_MAX   ((size_t)1 << 16)    /* entries per thread (1 MiB VM)  */
#define PREFETCH_AHEAD 4                /* evictions between a prefetch and
                                           the eviction it serves          */
#define FREED_WORD (0x0101010101010101ull * HS_FREED_BYTE)

struct entry {                  /* 16 bytes: the ring is itself part of
	                                   what the quarantine keeps in cache */
	void    *user;
	uint32_t cost;                  /* bytes charged to the budget      */
	uint32_t free_stack;            /* a copy of the free record, safe
	                                   from writes after free           */
};

struct ring {
	size_t mask;                    /* entries - 1                       */
	size_t head, tail;              /* pop at head, push at tail         */
	size_t bytes;                   /* cost of what is held              */
	struct entry e[];
};

static __thread struct ring *q;         /* set while q_state == 1        */
static __thread int q_state;            /* 0 none yet, 1 live, 2 torn down */

/* The most one block may cost: a quarter of the budget (and what an
 * entry's 32-bit field holds). Set with the first ring. */
static size_t q_max_cost;

static __attribute__((noinline)) struct ring *ring_new(void)
{
	if (q_state == 2 || !hs_cfg.quarantine_bytes)
		return NULL;
	size_t max = hs_cfg.quarantine_bytes / 4;
	q_max_cost = max < UINT32_MAX ? max : UINT32_MAX;
	q_state = 2;                    /* until set up: no recursion here   */
	size_t n = hs_cfg.quarantine_bytes / 64, cap = 64;
	while (cap < n && cap < RING_MAX)
		cap <<= 1;
	size_t len = sizeof(struct ring) + cap * sizeof(struct entry);
	int saved = errno;              /* free preserves errno */
	struct ring *r = mmap(NULL, len, PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	errno = saved;
	if (r == MAP_FAILED)
		return NULL;
	r->mask = cap - 1;
	q = r;
	q_state = 1;
	return r;
}

/* ---- fill and verify ------------------------------------------------------ */

/* Bytes filled: the user bytes and the canary (at least 16), rounded up
 * to 16: the slot's bytes after them are ours that far (its capacity is
 * a multiple of 16 and holds the room), and a write there after free is
 * seen too. A block too big for that gets a multiple of 16 up to
 * HS_FILL_MAX that stops short of the canary, which keeps its own bytes
 * and is checked as such. */
static inline size_t fill_len(size_t size)
{
	size_t n = (size + HS_CANARY + 15) & ~(size_t)15;
	if (likely(n <= HS_FILL_MAX))
		return n;
	n = size & ~(size_t)15;
	return n < HS_FILL_MAX ? n : HS_FILL_MAX;
}

/* 16 bytes at a time (SSE2 on x86-64, plain words elsewhere). */
typedef uint64_t v2u64 __attribute__((vector_size(16)));

/* n - k, or 0 if n < k, without a branch. */
static inline size_t less_or_zero(size_t n, size_t k)
{
	return (n - k) & -(size_t)(n >= k);
}

/* A fill of n bytes (a multiple of 16, 16..HS_FILL_MAX) is 16-byte
 * pieces: 64-byte chunks from 0 while more than 64 bytes are left, then
 * the four pieces ending at n (clamped to 0, so they overlap as a short
 * block needs). Block sizes are random: a loop to n and a tail test were
 * mispredicted on most frees and again on most verifications (churn1 1M
 * with checks: 93 ms of CPU, 67 ms with a 16-byte fill; 83 ms with
 * these pieces). Every piece holds HS_FREED_BYTE but [8, 16), the free
 * record, which the first piece, written last, puts there. */
#define LAST_PIECES(n) { less_or_zero(n, 64), less_or_zero(n, 48), less_or_zero(n, 32), (n) - 16 }

static inline void fill(char *u, size_t n, uint64_t record)
{
	const v2u64 w = { FREED_WORD, FREED_WORD };
	const v2u64 head = { FREED_WORD, record };
	for (size_t i = 0; i + 64 < n; i += 64)
		for (size_t k = 0; k < 64; k += 16)
			memcpy(u + i + k, &w, 16);
	size_t at[4] = LAST_PIECES(n);
	memcpy(u + at[0], &w, 16);
	memcpy(u + at[1], &w, 16);
	memcpy(u + at[2], &w, 16);
	memcpy(u + at[3], &w, 16);
	memcpy(u, &head, 16);
}

/* The piece at x differs from the fill, its record half (of the piece
 * at 0) left out: the first piece is checked with the record at the end. */
static inline v2u64 piece_diff(const char *u, size_t x)
{
	const v2u64 w = { FREED_WORD, FREED_WORD };
	v2u64 v, keep = { ~(uint64_t)0, -(uint64_t)(x != 0) };
	memcpy(&v, u + x, 16);
	return (v ^ w) & keep;
}

/* Non-zero if any filled byte or the record changed. */
static inline uint64_t changed(const char *u, size_t n, uint64_t record)
{
	const v2u64 head = { FREED_WORD, record };
	v2u64 acc = { 0, 0 }, v;
	for (size_t i = 0; i + 64 < n; i += 64)
		acc |= piece_diff(u, i) | piece_diff(u, i + 16) | piece_diff(u, i + 32)
		       | piece_diff(u, i + 48);
	size_t at[4] = LAST_PIECES(n);
	acc |= piece_diff(u, at[0]) | piece_diff(u, at[1]) | piece_diff(u, at[2])
	       | piece_diff(u, at[3]);
	memcpy(&v, u, 16);
	acc |= v ^ head;
	return acc[0] | acc[1];
}

/* First and last byte of [from, to) that differs from want (or the
 * record word), for the report. */
static void span(const unsigned char *u, size_t n, uint64_t record,
                 size_t *first, size_t *last)
{
	unsigned char rec[8];
	memcpy(rec, &record, 8);
	*first = SIZE_MAX;
	*last = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char want = i >= 8 && i < 16 ? rec[i - 8] : HS_FREED_BYTE;
		if (u[i] != want) {
			if (*first == SIZE_MAX)
				*first = i;
			*last = i;
		}
	}
}

/* The block's canary when the fill stops short of it (large blocks). */
static inline bool canary_after_fill_ok(const char *u, size_t size, size_t n)
{
	uint64_t w;
	if (n >= size + HS_CANARY)
		return true;
	memcpy(&w, u + size, 8);
	return w == HS_CANARY_WORD;
}

static __attribute__((noinline, cold)) void report_waf(char *u, struct hs_header *h,
                                                       size_t n, uint64_t record,
                                                       uint32_t free_stack)
{
	size_t size = h->size, first, last;
	span((const unsigned char *)u, n, record, &first, &last);
	if (first == SIZE_MAX) {            /* only the canary of a big block */
		const unsigned char *c = (const unsigned char *)u + size;
		for (first = 0; c[first] == HS_CANARY_BYTE; first++)
			;
		for (last = HS_CANARY - 1; c[last] == HS_CANARY_BYTE; last--)
			;
		first += size;
		last += size;
	}
	if (first < size)
		hs_error("write_after_free", NULL, u + first, h->stack, free_stack,
		         "Invalid write of size %zu after free: bytes %zu..%zu of a "
		         "block of size %zu at %p changed after it was freed (found "
		         "when it left the quarantine)", last - first + 1, first, last,
		         size, u);
	else
		hs_error("write_after_free", NULL, u + first, h->stack, free_stack,
		         "Invalid write of size %zu after free: %zu bytes after a freed "
		         "block of size %zu at %p changed (found when it left the "
		         "quarantine)", last - first + 1, first - size, size, u);
}

static __attribute__((noinline, cold)) void report_header(void *user)
{
	hs_report_header(hs_header_of(user), NULL, "freed block",
	                 "found when it left the quarantine; the block is not reused");
}

/* ---- the queue ---------------------------------------------------------- */

/* A plain bin block straight onto this thread's cache (hs_heap_recycle's
 * common case, without the call); anything else through heap.c. The
 * caller holds hs_busy. */
static inline void send_home(void *user, struct hs_header *h)
{
	uint64_t w0 = hs_header_word0(h);
	unsigned bin = (unsigned)(w0 >> HS_W0_BIN_SHIFT) & 0xFF;
	struct hs_tcache_bin *tb = &hs_tc.bins[bin];
	/* bin < HS_NR_BINS with no MOVED flag: a plain slot; the cache is
	 * live and has room */
	if (likely(bin < HS_NR_BINS && !(w0 & ((uint64_t)HS_KIND_MOVED << HS_W0_KIND_SHIFT))
	           && tb->count < tb->limit && hs_tc.state == 1)) {
		hs_slot_set_next(h, tb->head);
		tb->head = h;
		tb->count++;
		return;
	}
	hs_heap_recycle(user, h, hs_heap_where(h));
}

/* The oldest block leaves: verify, then send its memory home. A block
 * whose header no longer checks out is not trusted with a recycle. */
static inline void evict_one(struct ring *r)
{
	struct entry e = r->e[r->head & r->mask];
	r->e[r->head & r->mask].user = NULL;    /* no stale pointer for the
	                                           leak scan to follow       */
	r->head++;
	r->bytes -= e.cost;
	char *u = e.user;
	struct hs_header *h = hs_header_of(u);
	/* Still FREED and sealed: its check hashes every other bit of the
	 * header with its address and our secret, so damage shows here. */
	if (unlikely(h->state != HS_FREED || h->check != hs_header_hash(h))) {
		report_header(u);
		return;
	}
	size_t n = fill_len(h->size);
	uint64_t record = hs_free_record_word(u, e.free_stack);
	if (unlikely(changed(u, n, record) || !canary_after_fill_ok(u, h->size, n)))
		report_waf(u, h, n, record, e.free_stack);
	send_home(u, h);
}

static inline __attribute__((always_inline))
void quarantine_put(void *user, struct hs_header *h, enum hs_where where,
                    uint32_t free_stack)
{
	size_t size = h->size;
	hs_ts.frees++;
	hs_ts.live -= (int64_t)size;
	/* The ring and the cache are this thread's: a signal handler that
	 * frees or allocates meanwhile must not touch them (hookentry.h sends
	 * it elsewhere while hs_busy is set). Errors reported in here capture
	 * their stack from boot memory for the same reason. */
	int was_busy = hs_busy;
	hs_busy = 1;
	struct ring *r = q;
	if (unlikely(q_state != 1))
		r = ring_new();
	size_t cost = HS_HEADER_SIZE + hs_room(size, HS_CANARY);
	/* A block made before checks were on (by the loader, before our
	 * constructor) may have less than 16 bytes of room: no record, no
	 * fill, no quarantine for it. */
	if (unlikely(!h->guard || !r || where > HS_IN_BUDDY || cost > q_max_cost)) {
		if (h->guard)
			hs_free_record_put(user, free_stack);
		hs_heap_recycle(user, h, where);
		hs_busy = was_busy;
		return;
	}
	fill(user, fill_len(size), hs_free_record_word(user, free_stack));
	while (unlikely(r->tail - r->head > r->mask))   /* full: make room */
		evict_one(r);
	r->e[r->tail & r->mask] = (struct entry){ user, (uint32_t)cost, free_stack };
	r->tail++;
	r->bytes += cost;
	while (r->bytes > hs_cfg.quarantine_bytes)
		evict_one(r);
	/* Blocks leave in order, long after their memory went cold: fetch
	 * the one that leaves a few frees from now, so its check and its
	 * reuse hit the cache. */
	if (r->tail - r->head > PREFETCH_AHEAD) {
		char *next = r->e[(r->head + PREFETCH_AHEAD) & r->mask].user;
		__builtin_prefetch(next - HS_HEADER_SIZE, 1);
		__builtin_prefetch(next + 48, 1);
	}
	hs_busy = was_busy;
}

void hs_quarantine_free(void *user, struct hs_header *h, enum hs_where where,
                        uint32_t free_stack)
{
	quarantine_put(user, h, where, free_stack);
}

/* The checked free, in one function: the plain case is tested as in
 * hs_fast_free (a bin block at its slot start, LIVE, of the right family,
 * header intact), the canary, the free stack, the quarantine. Anything
 * else is vetted by checks.c. */
void hs_checked_free(void *p, uintptr_t ra, uintptr_t fp, unsigned accept,
                     const char *call)
{
	enum hs_where where = HS_IN_BIN;
	struct hs_header *h = hs_header_of(p);
	uintptr_t g = (uintptr_t)p & (HS_ALIGN - 1) ? 0 : hs_pagemap_get(h);
	uint64_t w0;
	/* the inline test, then the claim (LIVE -> FREED, one atomic step);
	 * a racing free that won sends this one to the vet: double free */
	if (unlikely(!g || (g & HS_GRANULE_HUGE)
	             || ((w0 = hs_header_word0(h)) >> HS_W0_STATE_SHIFT) != HS_LIVE
	             || ((w0 >> HS_W0_BIN_SHIFT) & 0xFF) >= HS_NR_BINS
	             || !((1u << ((w0 >> HS_W0_KIND_SHIFT) & 0xF)) & accept)
	             || h->check != hs_hash_words(w0, h->stack, h)
	             || !hs_header_claim(h, &w0))
	    && !hs_checked_vet(p, accept, call, &h, &where))
		return;
	if (unlikely(!hs_canary_ok(h)))
		hs_check_canary(h, call);
	hs_site_free(h->stack, h->size, p);   /* the heap profile (record/sites.h) */
	uint32_t fs = hs_cfg.enabled ? hs_stack_capture_fp(ra, fp) : 0;
	quarantine_put(p, h, where, fs);
}

void hs_quarantine_drain(void)
{
	struct ring *r = q_state == 1 ? q : NULL;
	if (!r)
		return;
	int was_busy = hs_busy;
	hs_busy = 1;
	while (r->head != r->tail)
		evict_one(r);
	hs_busy = was_busy;
}

void hs_quarantine_thread_exit(void)
{
	struct ring *r = q;
	if (!r || q_state != 1) {
		q_state = 2;            /* a later free recycles at once */
		return;
	}
	hs_quarantine_drain();
	q_state = 2;                    /* later frees recycle at once       */
	q = NULL;
	munmap(r, sizeof(struct ring) + (r->mask + 1) * sizeof(struct entry));
}
