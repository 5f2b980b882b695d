/*
 * boot.c — memory for allocations that must not touch the heap's locks.
 *
 * A signal handler that calls malloc while its own thread is inside the
 * allocator would deadlock on (or corrupt) the structures the interrupted
 * code holds. Such calls land here instead: a bump allocator over a static
 * pool and, when that is used up, over chunks from mmap (which is
 * async-signal-safe), claimed with compare-and-swap only. Blocks are never
 * reused; free() just marks them freed.
 *
 * Each block: [boot record 16][hs_header 16][user ...], with an
 * HS_PADDING header in front when the user pointer had to move for
 * alignment; the record's length lets the leak scan walk them.
 */
#include <sys/mman.h>
#include <string.h>

#include "alloc.h"

#define STATIC_POOL (256 * 1024)
#define CHUNK       (1024 * 1024)
#define MAX_CHUNKS  64
#define REC_MAGIC   0x626f6f74626c6b21ull   /* "bootblk!" */

struct boot_rec {
	uint64_t len;                   /* whole block, record included   */
	uint64_t magic;
};

struct chunk {
	char *base;
	size_t len;
	_Atomic size_t used;
};

static char pool[STATIC_POOL] __attribute__((aligned(16)));
static struct chunk chunks[MAX_CHUNKS] = { { pool, STATIC_POOL, 0 } };
static _Atomic unsigned nchunks = 1;

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* Claim len bytes from chunk c, or NULL. */
static char *claim(struct chunk *c, size_t len)
{
	size_t used = atomic_load(&c->used);
	do {
		if (used + len > c->len)
			return NULL;
	} while (!atomic_compare_exchange_weak(&c->used, &used, used + len));
	return c->base + used;
}

void *hs_boot_alloc(size_t size, size_t align, unsigned kind)
{
	if (unlikely(!hs_secret))
		hs_secret_init();
	if (align < HS_ALIGN)
		align = HS_ALIGN;
	if (size > HS_MAX_REQUEST || align > CHUNK)
		return NULL;
	size_t len = round16(sizeof(struct boot_rec) + HS_HEADER_SIZE + (align - HS_ALIGN) + size);
	char *at = NULL;
	for (unsigned i = 0; !at; i++) {
		unsigned n = atomic_load(&nchunks);
		if (i < n) {
			at = claim(&chunks[i], len);
			continue;
		}
		if (n >= MAX_CHUNKS)
			return NULL;
		size_t clen = len > CHUNK ? round16(len + 4095) & ~(size_t)4095 : CHUNK;
		char *m = mmap(NULL, clen, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		/* Publish: fill the slot first, then bump the count. A loser of
		 * the race unmaps its chunk and tries the winner's. */
		chunks[n].base = NULL;
		unsigned expect = n;
		struct chunk *c = &chunks[n];
		if (!atomic_compare_exchange_strong(&nchunks, &expect, n + 1)) {
			munmap(m, clen);
			continue;
		}
		c->len = clen;
		atomic_store(&c->used, 0);
		c->base = m;
		at = claim(c, len);
	}
	struct boot_rec *r = (struct boot_rec *)at;
	r->len = len;
	r->magic = REC_MAGIC;
	char *first = at + sizeof *r;
	char *user = (char *)(((uintptr_t)first + HS_HEADER_SIZE + align - 1) & ~(align - 1));
	struct hs_header *h = hs_header_of(user);
	if ((char *)h != first) {
		struct hs_header *pad = (struct hs_header *)first;
		hs_header_set(pad, (size_t)((char *)h - first), HS_BIN_BOOT, kind, 0);
		pad->state = HS_PADDING;
		hs_header_seal(pad);
		kind |= HS_KIND_MOVED;
	}
	hs_header_set(h, size, HS_BIN_BOOT, kind, 0);
	return user;
}

bool hs_boot_owns(const void *p)
{
	unsigned n = atomic_load(&nchunks);
	for (unsigned i = 0; i < n; i++) {
		const char *b = chunks[i].base;
		if (b && (const char *)p >= b && (const char *)p < b + chunks[i].len)
			return true;
	}
	return false;
}

void hs_boot_foreach(void (*fn)(struct hs_header *, void *), void *ctx)
{
	unsigned n = atomic_load(&nchunks);
	for (unsigned i = 0; i < n; i++) {
		struct chunk *c = &chunks[i];
		size_t used = atomic_load(&c->used);
		for (size_t off = 0; c->base && off + sizeof(struct boot_rec) <= used; ) {
			struct boot_rec *r = (struct boot_rec *)(c->base + off);
			if (r->magic != REC_MAGIC || r->len == 0)
				break;          /* being written right now */
			struct hs_header *h = (struct hs_header *)(r + 1);
			if (h->state == HS_PADDING && hs_header_hash(h) == h->check)
				h = (struct hs_header *)((char *)h + h->size);
			fn(h, ctx);
			off += r->len;
		}
	}
}
