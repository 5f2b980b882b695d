/*
 * bins.c — size classes for small blocks.
 *
 * A slab is a page-exact buddy block cut into equal slots of one bin's
 * size (header included). Slots are carved lazily, by bumping `carved`, so
 * a slab's untouched pages never become resident.
 *
 * Four levels, cheapest first:
 *   thread cache   hs_tc.bins[bin]: a list of free slots, no lock (the
 *                  inline fast path in fastpath.h pops and pushes here);
 *   transfer stack per bin, under the bin's mutex: whole batches a cache
 *                  flushed, handed whole to the next cache that runs dry,
 *                  so a batch moves in O(1) without touching its slots;
 *   central slabs  per bin, same mutex: slabs with free slots, used when
 *                  the transfer stack is empty (refill) or full (flush);
 *   buddy          new slabs come from it, empty slabs go back.
 *
 * A block freed by another thread simply enters that thread's cache and
 * flows back through the central list in a batch, so cross-thread frees
 * cost no more than local ones.
 *
 * Invariants:
 *   slab->used == slots carved - slots on slab->free
 *   slab->in_partial == (slab->free != NULL || slab->carved < capacity)
 *   a slot on any free list has a header with state HS_FREED
 */
#include <sys/mman.h>
#include <string.h>

#include "alloc.h"

#define KB 1024u
const uint32_t hs_bin_slot_size[HS_NR_BINS] = {
	32, 48, 64, 80, 96, 112, 128,
	160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1 * KB, 1280, 1536, 1792, 2 * KB,
	2560, 3 * KB, 3584, 4 * KB, 5 * KB, 6 * KB, 7 * KB, 8 * KB,
	10 * KB, 12 * KB, 14 * KB, 16 * KB, 20 * KB, 24 * KB, 28 * KB, 32 * KB,
};

/* hs_size_to_bin for n <= 1008 user bytes (slot = 16 more), indexed by
 * (n + 15) / 16; tests/unit/alloc/test_bins.c checks it for every n. */
const uint8_t hs_bin_of_granule[(HS_BIN_TABLE_MAX >> 4) + 1] = {
	0, 0, 1, 2, 3, 4, 5, 6,                 /* slots 32..128 by 16    */
	7, 7, 8, 8, 9, 9, 10, 10,               /* 160..256 by 32         */
	11, 11, 11, 11, 12, 12, 12, 12,         /* 320..512 by 64         */
	13, 13, 13, 13, 14, 14, 14, 14,
	15, 15, 15, 15, 15, 15, 15, 15,         /* 640..1024 by 128       */
	16, 16, 16, 16, 16, 16, 16, 16,
	17, 17, 17, 17, 17, 17, 17, 17,
	18, 18, 18, 18, 18, 18, 18, 18,
};


#define TRANSFER_MAX   32               /* batches parked per bin        */
#define TRANSFER_BYTES (256 * KB)       /* ... and bytes                 */

struct batch {
	void    *head;                  /* slots linked as in a cache, NULL
	                                   terminated                         */
	uint32_t n;
};

struct central {
	pthread_mutex_t lock;
	struct hs_slab *partial;        /* slabs with a free or uncarved slot */
	uint32_t npartial;
	uint32_t nbatches;
	struct batch batches[TRANSFER_MAX];
	uint64_t used_slots;            /* sum of slab->used over its slabs   */
	uint64_t slab_pages;            /* pages its slabs hold               */
} __attribute__((aligned(64)));

static struct central central[HS_NR_BINS];

/* ---- slab descriptors: a small pool, out of band so that an overflow
 * from a neighbouring block cannot reach them. */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hs_slab *meta_free;
static char *meta_next, *meta_end;

static struct hs_slab *slab_desc_new(void)
{
	pthread_mutex_lock(&meta_lock);
	struct hs_slab *s = meta_free;
	if (s) {
		meta_free = s->next;
	} else {
		if (meta_next + sizeof *s > meta_end) {
			size_t len = 64 * KB;
			char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {
				pthread_mutex_unlock(&meta_lock);
				return NULL;
			}
			meta_next = m;
			meta_end = m + len;
		}
		s = (struct hs_slab *)meta_next;
		meta_next += sizeof *s;
	}
	pthread_mutex_unlock(&meta_lock);
	memset(s, 0, sizeof *s);
	return s;
}

static void slab_desc_free(struct hs_slab *s)
{
	pthread_mutex_lock(&meta_lock);
	s->next = meta_free;
	meta_free = s;
	pthread_mutex_unlock(&meta_lock);
}

/* Pages per slab: at least 16 KiB and 8 slots. Page-exact buddy blocks
 * mean it need not be a power of two. */
static size_t slab_pages(unsigned bin)
{
	size_t slot = hs_bin_slot_size[bin];
	size_t bytes = 8 * slot < 16 * KB ? 16 * KB : 8 * slot;
	return (bytes + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT;
}

static void partial_add(struct central *c, struct hs_slab *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
	s->in_partial = 1;
	c->npartial++;
}

static void partial_del(struct central *c, struct hs_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->in_partial = 0;
	c->npartial--;
}

/* Caller holds c->lock. */
static struct hs_slab *slab_new(struct central *c, unsigned bin)
{
	struct hs_slab *s = slab_desc_new();
	if (!s)
		return NULL;
	size_t np = slab_pages(bin);
	char *base = hs_buddy_alloc(np, s);
	if (!base) {
		slab_desc_free(s);
		return NULL;
	}
	s->base = base;
	s->slot_size = hs_bin_slot_size[bin];
	s->capacity = (uint32_t)((np << HS_PAGE_SHIFT) / s->slot_size);
	s->bin = (uint8_t)bin;
	c->slab_pages += np;
	partial_add(c, s);
	return s;
}

/* One slot out of slab s (which has one); caller holds the lock. */
static void *slab_take(struct central *c, struct hs_slab *s)
{
	void *slot;
	if (s->free) {
		slot = s->free;
		s->free = hs_slot_next(slot);
	} else {
		slot = s->base + (size_t)s->carved * s->slot_size;
		/* A carved slot is a real free slot from now on: give it a
		 * FREED header so walks never mistake stale bytes for a block.
		 * The header is written before `carved` counts the slot: the
		 * exit-time walk (checks.c) reads slabs without this bin's lock
		 * while other threads may still be allocating, and took stale
		 * bytes of a just-counted slot for an overwritten header. */
		struct hs_header *h = slot;
		hs_header_set(h, 0, s->bin, HS_KIND_MALLOC, 0);
		h->state = HS_FREED;
		hs_header_seal(h);
		atomic_thread_fence(memory_order_release);
		s->carved++;
	}
	s->used++;
	c->used_slots++;
	if (!s->free && s->carved == s->capacity)
		partial_del(c, s);
	return slot;
}

static struct hs_slab *slab_of(void *slot)
{
	struct hs_page *pg = hs_buddy_block_of(slot, NULL);
	return pg && pg->state == PG_SLAB ? pg->slab : NULL;
}

/* Slot back to its slab; caller holds the lock. Releases an empty slab
 * unless it is the bin's only partial one (so a bin that hovers around
 * one slab does not map and unmap it on every batch). */
static void slab_put(struct central *c, struct hs_slab *s, void *slot)
{
	hs_slot_set_next(slot, s->free);
	s->free = slot;
	s->used--;
	c->used_slots--;
	if (!s->in_partial)
		partial_add(c, s);
	if (s->used == 0 && c->npartial > 1) {
		partial_del(c, s);
		c->slab_pages -= slab_pages(s->bin);
		hs_buddy_free(s->base);
		slab_desc_free(s);
	}
}

/* A thread's cache holds at most 32 KiB of slots per bin, and at most 128
 * (4 for the biggest classes). What sits in the caches is resident and
 * not in use: with 64 KiB and 256 slots it was about 0.3 MB per thread
 * on churnmt (the sampler's `granted` minus the live blocks' slots). The
 * smaller caches took churnmt's peak RSS from 9.83 to 9.58 MB (median
 * of 15) for 0.1% more instructions (cachegrind) and no measurable time
 * on churnmt 8M with 4 threads: a refill or flush still moves 64 slots
 * under one lock. It costs aligned 2.8% of its RSS (docs/ARCHITECTURE.md,
 * "bins.c"). */
static uint32_t tcache_limit(unsigned bin)
{
	uint32_t n = 32 * KB / hs_bin_slot_size[bin];
	return n < 4 ? 4 : n > 128 ? 128 : n;
}

/* Slow start: a thread's cache for a bin begins with room for about 8 KiB
 * of slots and doubles with every refill up to tcache_limit(). A refill
 * carves limit / 2 + 1 slots and writes each one's header, so a full-size
 * first batch made every bin a program merely passes through resident for
 * up to 32 KiB (a string grown by realloc visits every bin on its way),
 * and a batch it never used stays cached. A bin in real use reaches its
 * full limit after a few refills. */
static uint32_t limit_next(uint32_t limit, unsigned bin)
{
	uint32_t max = tcache_limit(bin);
	if (!limit) {
		uint32_t n = 8 * KB / hs_bin_slot_size[bin];
		limit = n < 2 ? 2 : n;
	} else {
		limit *= 2;
	}
	return limit > max ? max : limit;
}

void *hs_bins_refill(struct hs_tcache *tc, unsigned bin)
{
	struct hs_tcache_bin *tb = &tc->bins[bin];
	tb->limit = limit_next(tb->limit, bin);
	uint32_t want = tb->limit / 2 + 1;
	struct central *c = &central[bin];
	void *first = NULL;
	uint32_t got = 0;

	pthread_mutex_lock(&c->lock);
	if (c->nbatches && !tb->head) {
		struct batch b = c->batches[--c->nbatches];
		pthread_mutex_unlock(&c->lock);
		tb->head = hs_slot_next(b.head);
		tb->count = b.n - 1;
		return b.head;
	}
	while (got < want) {
		struct hs_slab *s = c->partial;
		if (!s && !(s = slab_new(c, bin)))
			break;
		while (got < want && s->in_partial) {
			void *slot = slab_take(c, s);
			if (!first) {
				first = slot;
			} else {
				hs_slot_set_next(slot, tb->head);
				tb->head = slot;
				tb->count++;
			}
			got++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return first;
}

static uint32_t transfer_cap(unsigned bin)
{
	uint32_t per_batch = tcache_limit(bin) / 2 * hs_bin_slot_size[bin];
	uint32_t n = TRANSFER_BYTES / (per_batch ? per_batch : 1);
	return n < 2 ? 2 : n > TRANSFER_MAX ? TRANSFER_MAX : n;
}

void hs_bins_flush(struct hs_tcache *tc, unsigned bin, uint32_t keep)
{
	struct hs_tcache_bin *tb = &tc->bins[bin];
	struct central *c = &central[bin];
	uint32_t m = tb->count - keep;
	if (tb->count <= keep)
		return;
	/* Detach the first m slots as one batch (they are warm: just freed). */
	void *head = tb->head, *last = head;
	for (uint32_t i = 1; i < m; i++)
		last = hs_slot_next(last);
	tb->head = hs_slot_next(last);
	tb->count = keep;
	hs_slot_set_next(last, NULL);

	pthread_mutex_lock(&c->lock);
	if (keep && c->nbatches < transfer_cap(bin)) {
		c->batches[c->nbatches++] = (struct batch){ head, m };
		pthread_mutex_unlock(&c->lock);
		return;
	}
	while (head) {
		void *slot = head;
		head = hs_slot_next(slot);
		struct hs_slab *s = slab_of(slot);
		if (s)
			slab_put(c, s, slot);
		else
			hs_log("internal error: cached slot %p has no slab", slot);
	}
	pthread_mutex_unlock(&c->lock);
}

void *hs_bins_take_slot(unsigned bin)
{
	struct central *c = &central[bin];
	pthread_mutex_lock(&c->lock);
	struct hs_slab *s = c->partial;
	if (!s)
		s = slab_new(c, bin);
	void *slot = s ? slab_take(c, s) : NULL;
	pthread_mutex_unlock(&c->lock);
	return slot;
}

void hs_bins_release_slot(void *slot)
{
	struct hs_slab *s = slab_of(slot);
	if (!s) {
		hs_log("internal error: slot %p has no slab", slot);
		return;
	}
	struct central *c = &central[s->bin];
	pthread_mutex_lock(&c->lock);
	slab_put(c, s, slot);
	pthread_mutex_unlock(&c->lock);
}

void hs_tcache_flush_all(struct hs_tcache *tc)
{
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		if (tc->bins[b].count)
			hs_bins_flush(tc, b, 0);
}

void hs_tcache_teardown(struct hs_tcache *tc)
{
	hs_tcache_flush_all(tc);
	tc->state = 2;
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		tc->bins[b].limit = 0;          /* the inline free pushes no more */
}

void *hs_bins_slot_of(struct hs_page *head, const void *addr)
{
	struct hs_slab *s = head->slab;
	size_t i = (size_t)((const char *)addr - s->base) / s->slot_size;
	if (i >= s->carved)
		return NULL;
	return s->base + i * s->slot_size;
}

/* For the sampler (sampler.h): a consistent view per bin, one lock at a
 * time; the sampler never holds another allocator lock meanwhile. */
void hs_bins_usage(struct hs_bins_usage *out)
{
	out->granted = out->slab_pages = 0;
	for (unsigned b = 0; b < HS_NR_BINS; b++) {
		struct central *c = &central[b];
		pthread_mutex_lock(&c->lock);
		uint64_t slots = c->used_slots;
		for (uint32_t i = 0; i < c->nbatches; i++)
			slots -= c->batches[i].n;
		out->slab_pages += c->slab_pages;
		pthread_mutex_unlock(&c->lock);
		out->granted += slots * hs_bin_slot_size[b];
	}
}

void hs_bins_lock_all(void)
{
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		pthread_mutex_lock(&central[b].lock);
	pthread_mutex_lock(&meta_lock);
}

bool hs_bins_trylock_all(void)
{
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		if (pthread_mutex_trylock(&central[b].lock) != 0) {
			while (b-- > 0)
				pthread_mutex_unlock(&central[b].lock);
			return false;
		}
	if (pthread_mutex_trylock(&meta_lock) == 0)
		return true;
	for (unsigned b = HS_NR_BINS; b-- > 0;)
		pthread_mutex_unlock(&central[b].lock);
	return false;
}

void hs_bins_unlock_all(void)
{
	pthread_mutex_unlock(&meta_lock);
	for (unsigned b = HS_NR_BINS; b-- > 0;)
		pthread_mutex_unlock(&central[b].lock);
}

void hs_bins_reinit_child(void)
{
	pthread_mutex_init(&meta_lock, NULL);
	for (unsigned b = 0; b < HS_NR_BINS; b++)
		pthread_mutex_init(&central[b].lock, NULL);
}
