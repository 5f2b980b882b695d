/*
 * freed.c — the last large blocks freed, remembered after their memory
 * went back.
 *
 * A bin slot keeps its FREED header while it sits in a cache or a slab,
 * so a second free of it is told from the header. A page block (buddy)
 * or a huge mapping goes back to the buddy or the kernel at once when it
 * is bigger than the quarantine takes: its header then lies in free
 * pages (purged to zero, or reused) or in unmapped memory, and a second
 * free or a realloc of it would look like a pointer that was never ours.
 * So every page block and huge block that leaves the heap is written
 * here first: address, size, allocation stack and the free record (the
 * block's second user word, whose meaning checks.h owns).
 *
 * A ring of HS_FREED_RING entries shared by all threads: a writer takes
 * a slot with one atomic add and publishes it with a sequence number
 * written last; readers (error reports only) trust an entry whose
 * sequence matches before and after they copy it. The ring reaches back
 * HS_FREED_RING large-block frees, whichever thread made them.
 */
#include "alloc.h"

struct entry {
	_Atomic uint64_t seq;           /* slot number + 1; 0 while written */
	const void *user;
	uint64_t size;
	uint64_t record;                /* the block's second user word     */
	uint32_t alloc_stack;
};

static struct entry ring[HS_FREED_RING];
static _Atomic uint64_t next;

void hs_freed_note(const struct hs_header *h)
{
	const char *user = (const char *)h + HS_HEADER_SIZE;
	uint64_t n = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
	struct entry *e = &ring[n % HS_FREED_RING];
	atomic_store_explicit(&e->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	e->user = user;
	e->size = h->size;
	e->alloc_stack = h->stack;
	/* the free record exists where a canary does (>= 16 bytes of room) */
	e->record = 0;
	if (h->guard)
		__builtin_memcpy(&e->record, user + 8, sizeof e->record);
	atomic_store_explicit(&e->seq, n + 1, memory_order_release);
}

bool hs_freed_find(const void *user, struct hs_freed *out)
{
	uint64_t end = atomic_load_explicit(&next, memory_order_acquire);
	uint64_t back = end < HS_FREED_RING ? end : HS_FREED_RING;
	for (uint64_t i = 1; i <= back; i++) {          /* newest first */
		uint64_t n = end - i;
		struct entry *e = &ring[n % HS_FREED_RING];
		if (atomic_load_explicit(&e->seq, memory_order_acquire) != n + 1
		    || e->user != user)
			continue;
		struct hs_freed f = { e->user, (size_t)e->size, e->record, e->alloc_stack };
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) != n + 1)
			continue;       /* overwritten while we read it */
		*out = f;
		return true;
	}
	return false;
}
