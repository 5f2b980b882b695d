/*
 * snapshot.c — the heap as a picture: what occupies every page of every
 * arena, written into the trace as `H`, `h` and `g` lines
 * (docs/TRACE-FORMAT.md, "Heap snapshots").
 *
 * A snapshot walks block heads, not pages: a free block of order k, a
 * large block or a slab is one step, so a 2 GiB heap of 4-page slabs is
 * ~130k steps over the out-of-band page metadata (the arenas' own pages,
 * possibly given back to the system, are never touched). The cells are
 * run-length encoded and identical neighbours collapse into `cell*N`, so
 * a uniform arena is a few bytes and the worst case (alternating single
 * pages) stays under HS_CELLS_MAX.
 *
 * The walk holds the buddy lock (pages cannot change state under it) and
 * encodes into an mmap'd buffer; the trace is written only after the lock
 * is released, so the buddy lock is never held while waiting for the
 * trace's. Slab fill (used/capacity) changes under the bins' locks, not
 * the buddy's: those two numbers are read racily and may be off by the
 * slots a thread is moving at that instant.
 *
 * Peak snapshots (sampler.c decides when) go into a second buffer that
 * keeps only the newest and is written once, at exit: the trace carries
 * one peak map however often the peak moved.
 *
 * Lock order: snapshot lock, then buddy, then huge (as the leak scan).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sampler.h"

struct buf {
	char  *p;
	size_t len, cap;
	bool   failed;
};

static struct buf scratch, peak;

/* ---- a lock that survives fork ------------------------------------------- */
/* The owner is a pid: a child that inherited the lock held by another
 * thread of its parent (gone in the child) finds a pid not its own and
 * takes the lock over. */
static _Atomic int owner;

static bool snap_trylock(void)
{
	int me = (int)getpid(), cur = 0;
	if (atomic_compare_exchange_strong(&owner, &cur, me))
		return true;
	return cur != me && atomic_compare_exchange_strong(&owner, &cur, me);
}

static void snap_lock(void)
{
	while (!snap_trylock())
		sched_yield();
}

static void snap_unlock(void)
{
	atomic_store(&owner, 0);
}

/* ---- buffers ------------------------------------------------------------- */

static bool reserve(struct buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256 * 1024;
	while (cap < b->len + more)
		cap *= 2;
	void *n = b->p ? mremap(b->p, b->cap, cap, MREMAP_MAYMOVE)
	               : mmap(NULL, cap, PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == MAP_FAILED) {
		b->failed = true;
		return false;
	}
	b->p = n;
	b->cap = cap;
	return true;
}

/* Lines are stored "text\n\0" so each can be handed to hs_trace_printf. */
static void end_line(struct buf *b)
{
	b->p[b->len++] = '\n';
	b->p[b->len++] = '\0';
}

/* ---- cells ------------------------------------------------------------- */

/* One block as a cell; *adv = pages it covers. A head whose fields do not
 * make sense (only possible through a bug) becomes one unknown page. */
static int cell(const struct hs_arena *a, size_t i, char *t, size_t cap, size_t *adv)
{
	const struct hs_page *pg = &a->pages[i];
	size_t n;
	switch (pg->state) {
	case PG_FREE:
		n = (size_t)1 << (pg->order & 15);
		if (pg->order <= HS_MAX_ORDER && (i & (n - 1)) == 0) {
			*adv = n;
			return hs_fmt(t, cap, "%c%u", pg->dirty ? 'F' : 'f', (unsigned)pg->order);
		}
		break;
	case PG_LARGE:
		n = pg->npages;
		if (n >= 1 && i + n <= HS_ARENA_PAGES) {
			*adv = n;
			return hs_fmt(t, cap, "l%zu", n);
		}
		break;
	case PG_SLAB: {
		const struct hs_slab *s = pg->slab;
		n = pg->npages;
		if (s && n >= 1 && i + n <= HS_ARENA_PAGES) {
			*adv = n;
			return hs_fmt(t, cap, "s%u:%zu:%u/%u", s->slot_size, n, s->used,
			              s->capacity);
		}
		break;
	}
	}
	*adv = 1;
	return hs_fmt(t, cap, "u1");
}

struct rle {
	char  *out;
	size_t len, cap;
	char   prev[48];
	int    prev_len;
	unsigned count;
	bool   overflow;
};

static void put(struct rle *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->overflow = true;
		return;
	}
	memcpy(r->out + r->len, s, n);
	r->len += n;
}

static void flush_run(struct rle *r)
{
	if (!r->count)
		return;
	if (r->len)
		put(r, " ", 1);
	put(r, r->prev, (size_t)r->prev_len);
	if (r->count > 1) {
		char rep[16];
		put(r, rep, (size_t)hs_fmt(rep, sizeof rep, "*%u", r->count));
	}
	r->count = 0;
}

size_t hs_snap_encode_arena(const struct hs_arena *a, char *out, size_t cap)
{
	struct rle r = { .out = out, .cap = cap };
	for (size_t i = 0, adv; i < HS_ARENA_PAGES; i += adv) {
		char t[48];
		int n = cell(a, i, t, sizeof t, &adv);
		if (r.count && n == r.prev_len && memcmp(t, r.prev, (size_t)n) == 0) {
			r.count++;
			continue;
		}
		flush_run(&r);
		memcpy(r.prev, t, (size_t)n);
		r.prev_len = n;
		r.count = 1;
	}
	flush_run(&r);
	return r.overflow ? 0 : r.len;
}

/* ---- taking a snapshot --------------------------------------------------- */

static void add_arena(struct hs_arena *a, void *ctx)
{
	struct buf *b = ctx;
	if (!reserve(b, HS_CELLS_MAX + 64))
		return;
	b->len += (size_t)hs_fmt(b->p + b->len, 64, "h %u %lx ", a->index,
	                         (unsigned long)(uintptr_t)a->base);
	size_t n = hs_snap_encode_arena(a, b->p + b->len, HS_CELLS_MAX);
	if (!n) {                /* cannot happen: HS_CELLS_MAX is the bound */
		b->failed = true;
		return;
	}
	b->len += n;
	end_line(b);
}

static void add_huge(void *user, void *ctx)
{
	struct buf *b = ctx;
	if (!reserve(b, 96))
		return;
	b->len += (size_t)hs_fmt(b->p + b->len, 94, "g %lx %zu %zu",
	                         (unsigned long)(uintptr_t)user, hs_huge_capacity(user),
	                         (size_t)hs_header_of(user)->size);
	end_line(b);
}

static const char *const kind_name[] = {
	[HS_SNAP_EXIT] = "exit", [HS_SNAP_PEAK] = "peak",
	[HS_SNAP_SIGNAL] = "signal", [HS_SNAP_API] = "api", [HS_SNAP_OOM] = "oom",
};

/* A label is one run of printable non-space ASCII, at most 64 bytes: it
 * is the rest of a line and becomes a file name in the analyzer. */
static void clean_label(char out[72], const char *label, const char *dflt)
{
	size_t n = 0;
	for (const char *s = label ? label : ""; *s && n < 64; s++)
		out[n++] = (*s > ' ' && *s < 0x7f) ? *s : '_';
	if (n == 0)
		for (const char *s = dflt; *s; s++)
			out[n++] = *s;
	out[n] = '\0';
}

static bool take_walk(struct buf *b, enum hs_snap_kind kind, const char *label,
                      uint64_t t_ms, uint64_t live)
{
	char lab[72];
	clean_label(lab, label, kind_name[kind]);
	b->len = 0;
	b->failed = false;
	if (!reserve(b, 160))
		return false;
	b->len += (size_t)hs_fmt(b->p, 150, "H %s %lu %lu %d %s", kind_name[kind],
	                         (unsigned long)t_ms, (unsigned long)live,
	                         HS_CELLS_VERSION, lab);
	end_line(b);
	hs_buddy_foreach_arena(add_arena, b);
	hs_huge_foreach(add_huge, b);
	return !b->failed;
}

/* Caller holds the snapshot lock. hs_busy is set while the allocator's
 * locks are held, so that a signal handler that allocates meanwhile is
 * served by boot.c instead of waiting for them. */
static bool take(struct buf *b, enum hs_snap_kind kind, const char *label,
                 uint64_t t_ms, uint64_t live)
{
	int saved_busy = hs_busy;
	hs_busy = 1;
	bool ok = take_walk(b, kind, label, t_ms, live);
	hs_busy = saved_busy;
	return ok;
}

static void emit(const struct buf *b)
{
	for (size_t at = 0; at < b->len; ) {
		const char *line = b->p + at;
		hs_trace_printf("%s", line);
		at += strlen(line) + 1;
	}
	hs_trace_flush();
}

bool hs_snap_write(enum hs_snap_kind kind, const char *label, uint64_t t_ms,
                   uint64_t live)
{
	if (!hs_trace_active())
		return false;
	int saved = errno;
	snap_lock();
	bool ok = take(&scratch, kind, label, t_ms, live);
	if (ok)
		emit(&scratch);
	else
		hs_trace_printf("! heap snapshot '%s' skipped: no memory for it\n",
		                kind_name[kind]);
	snap_unlock();
	errno = saved;
	return ok;
}

bool hs_snap_keep_peak(uint64_t t_ms, uint64_t live)
{
	if (!snap_trylock())       /* a snapshot is being taken: next time */
		return false;
	bool ok = take(&scratch, HS_SNAP_PEAK, NULL, t_ms, live);
	if (ok) {
		struct buf t = peak;
		peak = scratch;
		scratch = t;
	}
	snap_unlock();
	return ok;
}

void hs_snap_write_peak(void)
{
	snap_lock();
	if (peak.len && !peak.failed)
		emit(&peak);
	peak.len = 0;
	snap_unlock();
}

void hs_snap_forget_peak(void)
{
	snap_lock();
	peak.len = 0;
	snap_unlock();
}
