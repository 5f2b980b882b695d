/*
 * checks.c — is this release right, and is the block intact?
 *
 * Every free, delete and realloc is vetted (always, checks on or off;
 * the plain fast path in fastpath.h does the same tests inline and comes
 * here only when one fails):
 *   not the start of a block   invalid_free, ignored (an interior pointer
 *                              names the block it points into);
 *   a header where one belongs, failing its check
 *                              heap_overflow: the header was overwritten;
 *                              the block is never trusted again (leaked);
 *   a FREED block              double_free (realloc_freed), ignored;
 *   the wrong family           mismatched_free, then released as usual
 *                              (memcheck does the same).
 * With checks on (hs_guard != 0) a released block's canary is verified
 * (heap_overflow, then repaired so it is told once), the free stack is
 * taken from frame pointers (fpstack.h) and the block enters the
 * quarantine: that hot path is hs_checked_free in quarantine.c. At exit
 * every block's header and every live block's canary are checked.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "checks.h"
#include "alloc/sealing.h"

bool hs_forked_amid_threads;

void hs_checks_configure(void)
{
	hs_guard = hs_cfg.checks ? HS_CANARY : 0;
	hs_detour.why[HS_DETOUR_CHECKS] = hs_guard != 0;
}

static const char *family_name(unsigned kind)
{
	switch (kind & HS_KIND_FAMILY) {
	case HS_KIND_MALLOC:    return "malloc()";
	case HS_KIND_ALIGNED:   return "memalign()";
	case HS_KIND_NEW:       return "operator new";
	case HS_KIND_NEW_ARRAY: return "operator new[]";
	}
	return "?";
}

#define MAX_TOLD 32
static const void *_Atomic told[MAX_TOLD];

bool hs_damage_told(const void *h)
{
	for (unsigned i = 0; i < MAX_TOLD; i++) {
		const void *t = atomic_load(&told[i]);
		if (t == h)
			return true;
		if (!t) {
			const void *expect = NULL;
			if (atomic_compare_exchange_strong(&told[i], &expect, h))
				return false;
			if (expect == h)
				return true;
		}
	}
	return false;           /* table full: tell again rather than never */
}

/* A header at h fails its check: report it once, naming as allocation
 * stack the block's own when only the check's last bytes changed (an
 * underrun of a byte or two: size and stack id are intact,
 * hs_header_words_intact), else that of the block before it, whose
 * overrun is the likely cause. what: "block" or "freed block"; then:
 * what came of it ("found at exit", "it is not released", ...). */
void hs_report_header(const struct hs_header *h, const char *call, const char *what,
                      const char *then)
{
	void *user = hs_user_of((struct hs_header *)h);
	if (hs_damage_told(h))
		return;
	if (hs_header_words_intact(h)) {
		hs_error("heap_overflow", call, user, h->stack, 0, "the last bytes of the "
		         "header of the %s of size %zu at %p were overwritten (an "
		         "underrun); %s", what, (size_t)h->size, user, then);
		return;
	}
	struct hs_header *prev = hs_block_before(h);
	hs_error("heap_overflow", call, user, prev ? prev->stack : 0, 0,
	         "the header of the %s at %p was overwritten (an overrun of the block "
	         "before it, or an underrun); %s", what, user, then);
}

static void report_freed(void *p, const char *call, size_t size, uint32_t alloc_stack,
                         uint32_t free_stack);

static void report_invalid(void *p, const char *call)
{
	/* A large block whose memory went back is no block any more, but
	 * the ring of recently freed ones (alloc/freed.c) remembers it. */
	struct hs_freed f;
	if (hs_freed_find(p, &f)) {
		report_freed(p, call, f.size, f.alloc_stack, hs_free_record_stack(p, f.record));
		return;
	}
	struct hs_header *exp, *b = hs_block_containing(p, &exp);
	if (b) {
		char *user = hs_user_of(b), *c = p;
		size_t size = b->size;
		const char *state = b->state == HS_LIVE ? "alloc'd" : "free'd";
		uint32_t fs = b->state == HS_FREED ? hs_free_record_get(user) : 0;
		if (c < user)
			hs_error("invalid_free", call, p, b->stack, fs, "address is %zu "
			         "bytes before a block of size %zu %s at %p", (size_t)(user - c), size,
			         state, user);
		else if (c < user + size)
			hs_error("invalid_free", call, p, b->stack, fs, "address is %zu "
			         "bytes inside a block of size %zu %s at %p", (size_t)(c - user), size,
			         state, user);
		else
			hs_error("invalid_free", call, p, b->stack, fs, "address is %zu "
			         "bytes after a block of size %zu %s at %p", (size_t)(c - user - size),
			         size, state, user);
	} else if (exp && (char *)p == (char *)hs_user_of(exp)) {
		hs_report_header(exp, call, "block", "it is not released");
		/* An underrun spared its size and stack: the leak scan would
		 * still see it live and call it lost, though the program let
		 * go of it. Marked freed and sealed again (never reused: it is
		 * in no free list), a second free of it is a double free, as
		 * it should be. */
		if (exp->state == HS_LIVE && hs_header_words_intact(exp))
			hs_header_store(exp, hs_w0_with_state(hs_header_word0(exp), HS_FREED),
			                exp->stack);
	} else {
		hs_error("invalid_free", call, p, 0, 0, "address %p is not in a "
		         "heap block", p);
	}
}

/* A release of a block that is FREED (before, or just now by a racing
 * release that won): sizes and stacks as read while the block was pinned. */
static void report_freed(void *p, const char *call, size_t size, uint32_t alloc_stack,
                         uint32_t free_stack)
{
	bool re = strcmp(call, "realloc") == 0;
	hs_error(re ? "realloc_freed" : "double_free", call, p, alloc_stack, free_stack,
	         "the block of size %zu at %p was already freed", size, p);
}

bool hs_release_vet(void *p, unsigned accept, const char *call,
                    struct hs_header **hp, enum hs_where *where)
{
	/* Pinned from the lookup to the claim: a racing free that wins may
	 * give the memory back, but not unmap it under us (heap.c). */
	int was_busy = hs_heap_pin();
	struct hs_header *h = hs_heap_lookup(p, where);
	*hp = h;
	if (!h) {
		hs_heap_unpin(was_busy);
		if (*where != HS_IN_BOOT)
			report_invalid(p, call);
		return false;
	}
	uint64_t w0 = hs_header_word0(h);
	if ((w0 >> HS_W0_STATE_SHIFT) != HS_LIVE || !hs_header_claim(h, &w0)) {
		size_t size = (size_t)(w0 & (((uint64_t)1 << HS_W0_GUARD_SHIFT) - 1));
		uint32_t alloc_stack = h->stack, free_stack = hs_free_record_get(p);
		hs_heap_unpin(was_busy);
		report_freed(p, call, size, alloc_stack, free_stack);
		return false;
	}
	hs_heap_unpin(was_busy);
	/* the block is ours now (FREED): reading it is safe */
	if (!((1u << (h->kind & HS_KIND_FAMILY)) & accept))
		hs_error("mismatched_free", call, p, h->stack, 0, "block of size %zu "
		         "at %p was allocated with %s", (size_t)h->size, p,
		         family_name(h->kind));
	return true;
}

bool hs_check_canary(struct hs_header *h, const char *call)
{
	if (hs_canary_ok(h))
		return true;
	unsigned char *end = (unsigned char *)hs_user_of(h) + h->size;
	size_t first = 0, last = HS_CANARY - 1;
	while (end[first] == HS_CANARY_BYTE)
		first++;
	while (end[last] == HS_CANARY_BYTE)
		last--;
	hs_error("heap_overflow", call, end + first, h->stack, 0, "Invalid write "
	         "of size %zu: bytes %zu..%zu after the end of the block of size %zu "
	         "at %p were overwritten%s", last - first + 1, first,
	         last, (size_t)h->size, hs_user_of(h), last == HS_CANARY - 1
	         ? " (perhaps more: the guard ends there)" : call ? "" : "; found at exit");
	hs_canary_put(hs_user_of(h), h->size);          /* tell it once */
	return false;
}

void hs_bad_cached_slot(struct hs_tcache_bin *tb, void *slot)
{
	hs_busy = 1;
	uint32_t lost = tb->count;
	tb->head = NULL;
	tb->count = 0;
	hs_busy = 0;
	if (hs_damage_told(slot))
		return;
	struct hs_header *prev = hs_block_before(slot);
	hs_error("heap_overflow", NULL, hs_user_of(slot), prev ? prev->stack : 0, 0,
	         "the header of a free block at %p was overwritten (an overrun of "
	         "the block before it); it and the %u blocks cached after it are "
	         "not reused", hs_user_of(slot), lost ? lost - 1 : 0);
}

/* For the checked free (quarantine.c): vet a pointer its inline test did
 * not pass; boot blocks are released here. errno is kept. */
bool hs_checked_vet(void *p, unsigned accept, const char *call,
                    struct hs_header **hp, enum hs_where *where)
{
	int saved = errno;
	bool go = hs_release_vet(p, accept, call, hp, where);
	if (go && *where == HS_IN_BOOT) {
		hs_heap_free_claimed(p, *hp, *where);
		go = false;
	}
	errno = saved;
	return go;
}

/* ---- at exit ----------------------------------------------------------------- */

#define MAX_FOUND 64

/* Damage found during the walk, reported after it: reporting captures a
 * stack, which may allocate, and the walk holds the buddy lock. */
static struct found {
	struct hs_header *h;
	uint64_t word0;                 /* the header as seen, to re-check   */
	bool header;                    /* header damaged (else canary)      */
} found[MAX_FOUND];
static unsigned nfound;

static void note(struct hs_header *h, bool header)
{
	if (nfound < MAX_FOUND)
		found[nfound++] = (struct found){ h, hs_header_word0(h), header };
}

static void check_block(struct hs_header *h, void *ctx)
{
	(void)ctx;
	if (!hs_header_valid(h)) {
		note(h, true);
		return;
	}
	/* A huge block another thread is shrinking in place: its mapping
	 * (which the walk's lock holds still) already ends before the
	 * canary its header, not yet sealed again, points at. */
	if (h->guard && h->bin == HS_BIN_HUGE &&
	    h->size + HS_CANARY > hs_huge_capacity(hs_user_of(h)))
		return;
	if (h->state == HS_LIVE && !hs_canary_ok(h))
		note(h, false);
}

static unsigned skipped_large, skipped_fork;

/* A large block another thread is still sealing (sealing.h) looks
 * damaged, and stays so if that thread is not scheduled again before we
 * exit: while any is in flight, blocks on PG_LARGE pages are not judged. */
static bool maybe_sealing(struct hs_header *h)
{
	if (!atomic_load_explicit(&hs_large_sealing, memory_order_acquire))
		return false;
	struct hs_page *pg = hs_buddy_block_of(h, NULL);
	return pg && pg->state == PG_LARGE;
}

static void report_found(struct found *f)
{
	struct hs_header *h = f->h;
	/* Another thread may have been writing this header or canary when we
	 * looked: only damage that is still there, unchanged, is reported. */
	if (hs_header_word0(h) != f->word0)
		return;
	if (maybe_sealing(h)) {
		skipped_large++;
		return;
	}
	/* Forked while another thread was writing this header or canary:
	 * its writer is not in this process, the bytes stay half written,
	 * and the confirming walks see the same bytes (fork_thread: 4 false
	 * reports in 40 runs). Such a child loses this last check; a damaged
	 * block it frees is still reported by the free. */
	if (hs_forked_amid_threads) {
		skipped_fork++;
		return;
	}
	if (f->header) {
		if (!hs_header_valid(h))
			hs_report_header(h, NULL, "block", "found at exit");
	} else if (hs_header_valid(h) && h->state == HS_LIVE) {
		hs_check_canary(h, NULL);
	}
}

/* Other threads still run while we exit: a header being written, a large
 * block being sealed, a huge mapping being moved by mremap can all look
 * damaged to a walk that holds none of their locks (measured: about 1
 * exit in 200 of tests/progs/exit_threads under load). So damage is
 * believed only when a fresh walk, after the others had a moment to run,
 * finds the same header at the same place with the same bytes; real
 * damage stays put, and this costs nothing when the walk found none. */
static struct found seen[MAX_FOUND];

static unsigned confirm(unsigned n)
{
	/* 1, 2, 4, 8 and 16 ms: on a loaded machine a preempted thread can
	 * wait that long for a CPU (3 rounds of 2 ms still let 1 false report
	 * in 3000 exits through, with make check running beside) */
	for (int round = 0; round < 5 && n; round++) {
		memcpy(seen, found, n * sizeof *found);
		struct timespec ts = { 0, (1000L * 1000) << round };
		nanosleep(&ts, NULL);
		nfound = 0;
		hs_heap_foreach_header(check_block, NULL);
		unsigned kept = 0;
		for (unsigned i = 0; i < nfound; i++)
			for (unsigned j = 0; j < n; j++)
				if (seen[j].h == found[i].h && seen[j].word0 == found[i].word0
				    && seen[j].header == found[i].header) {
					found[kept++] = found[i];
					break;
				}
		n = kept;
	}
	return n;
}

bool hs_checks_exit_begin(bool drain)
{
	static _Atomic bool done;
	if (!hs_guard || atomic_exchange(&done, true))
		return false;
	if (drain)
		hs_quarantine_drain();
	return true;
}

void hs_checks_exit_walk(bool locked)
{
	nfound = 0;
	if (locked)
		hs_heap_foreach_header_locked(check_block, NULL);
	else
		hs_heap_foreach_header(check_block, NULL);
}

void hs_checks_exit_end(void)
{
	bool full = nfound == MAX_FOUND;
	unsigned n = confirm(nfound);
	for (unsigned i = 0; i < n; i++)
		report_found(&found[i]);
	if (full)
		hs_log("more damaged blocks at exit than the %d reported", MAX_FOUND);
	if (skipped_large)
		hs_log("%u large block(s) looked damaged at exit while other threads "
		       "were still allocating large blocks: not reported", skipped_large);
	if (skipped_fork)
		hs_log("%u block(s) looked damaged at exit in a process forked while "
		       "other threads were allocating (their writes were cut off by "
		       "the fork): not reported", skipped_fork);
}
