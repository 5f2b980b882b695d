/*
 * quarantine.c — freed blocks wait before their memory is reused.
 *
 * With checks on, a freed block does not go back to the thread cache at
 * once: it keeps its FREED header, gets its free stack in the free record
 * (second user word, errors.c) and the rest of its first HS_FILL_MAX
 * bytes filled with HS_FREED_BYTE, and joins this thread's quarantine, a
 * FIFO. While it waits, a second free of it is a recognisable double free
 * (header FREED, both stacks known), and when it leaves, the fill is
 * verified: a changed byte is a write after free, reported with its
 * offset and the allocation and free stacks. Then the memory goes home
 * (hs_heap_recycle).
 *
 * Per thread, no lock: a ring of {block, size} in an mmap'd array, kept
 * out of the blocks themselves so that a write after free cannot break
 * the queue. Bounded by bytes (hs_cfg.quarantine_bytes, counting header
 * and room) and by entries (RING_MAX). Blocks bigger than a quarter of
 * the budget skip it (their free record is still written, and they are
 * recycled at once); so do huge mappings (munmapped at once: a second
 * free of one is an invalid free) and boot blocks.
 *
 * Fill bound: only the first HS_FILL_MAX bytes of a block are filled and
 * verified (plus its canary), so freeing a 1 MiB buffer costs 4 KiB of
 * writes; writes after free beyond that offset are not seen.
 *
 * Re-entrancy: reporting an error captures a stack, which may allocate
 * and free. An entry is taken off the ring before it is verified, and a
 * block is pushed before anything is evicted, so a nested free sees a
 * consistent ring.
 */
#include <sys/mman.h>
#include <string.h>

#include "internal.h"

#define RING_MAX  ((size_t)1 << 16)     /* entries per thread (1 MiB VM)  */

struct entry {
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

static __thread struct ring *q;
static __thread int q_state;            /* 0 none yet, 1 live, 2 torn down */
static pthread_key_t q_key;
static pthread_once_t q_once = PTHREAD_ONCE_INIT;
static bool q_key_ok;

static void q_thread_exit(void *arg);

static void make_key(void)
{
	q_key_ok = pthread_key_create(&q_key, q_thread_exit) == 0;
}

static struct ring *ring_new(void)
{
	size_t n = hs_cfg.quarantine_bytes / 64;
	size_t cap = 64;
	while (cap < n && cap < RING_MAX)
		cap <<= 1;
	size_t len = sizeof(struct ring) + cap * sizeof(struct entry);
	struct ring *r = mmap(NULL, len, PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	r->mask = cap - 1;
	return r;
}

static struct ring *this_ring(void)
{
	if (likely(q_state == 1))
		return q;
	if (q_state == 2 || !hs_cfg.quarantine_bytes)
		return NULL;
	q_state = 2;                    /* until set up: no recursion here   */
	pthread_once(&q_once, make_key);
	struct ring *r = ring_new();
	if (!r)
		return NULL;
	q = r;
	q_state = 1;
	/* Keys below PTHREAD_KEY_2NDLEVEL_SIZE live in the thread
	 * descriptor: setspecific does not allocate. */
	if (q_key_ok)
		pthread_setspecific(q_key, r);
	return r;
}

/* ---- fill and verify ------------------------------------------------------ */

/* The fill covers the user bytes and the canary (at least 16 bytes), up
 * to HS_FILL_MAX; when that cuts the block short, it stops before the
 * canary, which keeps its own bytes and is verified as such. */
static size_t fill_len(size_t size, const struct hs_header *h)
{
	size_t n = size + (h->guard ? HS_CANARY : 0);
	if (n < 16)
		n = 16;
	if (n <= HS_FILL_MAX)
		return n;
	return size < HS_FILL_MAX ? size : HS_FILL_MAX;
}

/* [0, 8) and [16, fill_len) get the fill; [8, 16) is the free record. */
static void fill(void *user, size_t size, const struct hs_header *h)
{
	char *u = user;
	size_t n = fill_len(size, h);
	memset(u, HS_FREED_BYTE, 8);
	memset(u + 16, HS_FREED_BYTE, n - 16);
}

/* First and last offset in [from, to) whose byte is not `want`. */
static bool find_changed(const unsigned char *u, size_t from, size_t to,
                         unsigned char want, size_t *first, size_t *last)
{
	uint64_t pat = 0x0101010101010101ull * want, acc = 0;
	size_t i = from;
	for (; i + 8 <= to; i += 8) {
		uint64_t w;
		memcpy(&w, u + i, 8);
		acc |= w ^ pat;
	}
	for (; i < to; i++)
		acc |= u[i] ^ want;
	if (!acc)
		return false;
	for (i = from; u[i] == want; i++)
		;
	*first = i;
	for (i = to - 1; u[i] == want; i--)
		;
	*last = i;
	return true;
}

/* Verify a freed block's fill and free record; report a write after free
 * (naming free_stack: the ring's copy, safe from the program). true if
 * it is intact. */
static bool verify(void *user, struct hs_header *h, size_t size, uint32_t free_stack)
{
	const unsigned char *u = user;
	size_t n = fill_len(size, h), first = SIZE_MAX, last = 0, f, l;
	uint32_t freed_by = hs_free_record_get(user);
	if (find_changed(u, 0, 8, HS_FREED_BYTE, &f, &l)) {
		first = f;
		last = l;
	}
	if (!freed_by) {                /* the record itself was written over */
		first = first < 8 ? first : 8;
		last = last > 15 ? last : 15;
	}
	if (find_changed(u, 16, n, HS_FREED_BYTE, &f, &l)) {
		first = first < f ? first : f;
		last = l;
	}
	if (h->guard && n < size + HS_CANARY && n <= size &&
	    find_changed(u, size, size + HS_CANARY, HS_CANARY_BYTE, &f, &l)) {
		first = first < f ? first : f;
		last = l;
	}
	if (first == SIZE_MAX)
		return true;
	freed_by = free_stack;
	if (first < size)
		hs_error("write_after_free", NULL, u + first, h->stack, freed_by,
		         "Invalid write of size %zu after free: bytes %zu..%zu of a "
		         "block of size %zu at %p changed after it was freed (found "
		         "when it left the quarantine)", last - first + 1, first, last,
		         size, user);
	else
		hs_error("write_after_free", NULL, u + first, h->stack, freed_by,
		         "Invalid write of size %zu after free: %zu bytes after a freed "
		         "block of size %zu at %p changed (found when it left the "
		         "quarantine)", last - first + 1, first - size, size, user);
	return false;
}

/* ---- the queue ---------------------------------------------------------- */

/* The oldest block leaves: verify, then send its memory home. A block
 * whose header no longer checks out is not trusted with a recycle. */
static void evict_one(struct ring *r)
{
	struct entry e = r->e[r->head & r->mask];
	r->e[r->head & r->mask] = (struct entry){ 0 };  /* no stale pointer
	                                       for the leak scan to follow  */
	r->head++;
	r->bytes -= e.cost;
	struct hs_header *h = hs_header_of(e.user);
	if (!hs_header_valid(h) || h->state != HS_FREED) {
		if (hs_damage_told(h))
			return;
		struct hs_header *prev = hs_block_before(h);
		hs_error("heap_overflow", NULL, e.user, prev ? prev->stack : 0, 0,
		         "the header of a freed block at %p was overwritten while it "
		         "was in quarantine (an overrun of the block before it, or an "
		         "underrun); the block is not reused", e.user);
		return;
	}
	verify(e.user, h, h->size, e.free_stack);
	hs_heap_recycle(e.user, h, hs_heap_where(h));
}

void hs_quarantine_free(void *user, struct hs_header *h, enum hs_where where,
                        uint32_t free_stack)
{
	size_t size = h->size;
	hs_ts.frees++;
	hs_ts.live -= (int64_t)size;
	h->state = HS_FREED;
	hs_header_seal(h);
	/* A block made before checks were on (by the loader, before our
	 * constructor) may have less than 16 bytes of room: no record, no
	 * fill, no quarantine for it. */
	if (!h->guard) {
		hs_heap_recycle(user, h, where);
		return;
	}
	hs_free_record_put(user, free_stack);
	size_t cost = HS_HEADER_SIZE + hs_room(size, HS_CANARY);
	struct ring *r = where == HS_IN_BIN || where == HS_IN_BUDDY ? this_ring() : NULL;
	if (!r || cost > hs_cfg.quarantine_bytes / 4 || cost > UINT32_MAX) {
		hs_heap_recycle(user, h, where);
		return;
	}
	fill(user, size, h);
	while (r->tail - r->head > r->mask)     /* full: make one place */
		evict_one(r);
	r->e[r->tail & r->mask] = (struct entry){ user, (uint32_t)cost, free_stack };
	r->tail++;
	r->bytes += cost;
	while (r->bytes > hs_cfg.quarantine_bytes)
		evict_one(r);
}

void hs_quarantine_drain(void)
{
	struct ring *r = q_state == 1 ? q : NULL;
	if (!r)
		return;
	while (r->head != r->tail)
		evict_one(r);
}

static void q_thread_exit(void *arg)
{
	struct ring *r = arg;
	if (r != q || q_state != 1)
		return;
	hs_quarantine_drain();
	q_state = 2;                    /* later frees recycle at once       */
	q = NULL;
	munmap(r, sizeof(struct ring) + (r->mask + 1) * sizeof(struct entry));
}
