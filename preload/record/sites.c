/*
 * sites.c — per-site counters off the fast path: the registry of thread
 * tables, their growth, the ended threads' table, the peak and fork
 * (sites.h explains the counters and the peak; sites_merge.c adds the
 * tables up for the sampler).
 *
 * Tables. A thread's table is one anonymous mapping of 48-byte entries,
 * indexed by stack id, sized to a power of two above the largest id the
 * thread used (at least 1024 entries, 48 KiB, of which only the pages
 * holding ids the thread touched become resident). The owner grows it
 * when an id does not fit: a new mapping, the old entries copied, the
 * pointer swapped under the registry lock (the sampler reads tables under
 * that lock), the old mapping unmapped.
 *
 * Registration. A thread's first update from a recorded stack puts its
 * table in the registry, if its end is known to come through
 * hs_thread_exit (hooks/hook_thread.c armed it, or it is the main thread,
 * which ends with the process): that folds the table into the table of
 * ended threads and takes it out of the registry before the thread's TLS
 * goes away. No pthread key: a program that takes all of them must get
 * them all. Later updates by that thread (other destructors), and every
 * update of a thread whose end is not known (a helper libc started, a
 * clone(2) thread), go straight to the ended threads' table, under the
 * lock.
 * Before recording starts (the loader's and libc's first allocations),
 * every stack id is 0 and a thread counts into a one-entry table in its
 * own TLS; its registered table starts from that entry, so those blocks'
 * frees balance.
 *
 * Locking. The registry lock guards the list of tables, table swaps, the
 * ended threads' table and the merge; it is never held while taking
 * another lock. A signal handler that allocates while its thread holds
 * it (the merge, a table swap) finds the lock its own and its update is
 * dropped rather than deadlock. Fork takes it in prepare; the child folds
 * the tables of the threads that did not come along.
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sampler.h"
#include "sites_int.h"

__thread struct hs_site_tls hs_st;
_Atomic uint32_t hs_site_epoch = 1;

#define MIN_CAP ((uint32_t)1024)
#define MAX_CAP ((uint32_t)1 << 24)     /* stacks.c hands out at most 16M ids */

struct hs_sites_registry hs_sites_R;
#define R hs_sites_R

bool hs_sites_counting(void)
{
	return hs_recording && atomic_load_explicit(&R.ready, memory_order_relaxed);
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- mappings ------------------------------------------------------------ */

/* The tables are mapped away from where the kernel puts mappings it
 * chooses itself (top down from below the stack): at addresses handed
 * out upward from MAP_HINT, which the kernel takes when they are free.
 * Where our mappings land decides where the heap's arenas land after
 * them, and programs that hash pointers take other paths when those move
 * (gcc's cc1 does): counting sites must not change the program's run. */
#define MAP_HINT ((uintptr_t)0x500000000000ull)
static _Atomic uintptr_t map_next = MAP_HINT;

static void *map(size_t bytes, size_t *len)
{
	size_t l = (bytes + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1);
	void *hint = (void *)atomic_fetch_add(&map_next, l);
	void *p = mmap(hint, l, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = l;
	return p;
}

static uint32_t cap_for(uint32_t id)
{
	uint32_t c = MIN_CAP;
	while (c <= id && c < MAX_CAP)
		c *= 2;
	return c;
}

/* Grow an array of cap elements of size el to hold index id; the copy is
 * made under whatever lock the caller holds. */
bool hs_sites_grow(void **arr, uint32_t *cap, size_t *len, uint32_t id, size_t el)
{
	if (id < *cap)
		return true;
	if (id >= MAX_CAP)
		return false;
	uint32_t nc = cap_for(id);
	size_t nl;
	void *n = map((size_t)nc * el, &nl);
	if (!n)
		return false;
	if (*arr) {
		memcpy(n, *arr, (size_t)*cap * el);
		munmap(*arr, *len);
	}
	*arr = n;
	*cap = nc;
	*len = nl;
	return true;
}

/* ---- the peak ------------------------------------------------------------ */

void hs_site_keep_peak(struct hs_site_ctr *e, uint32_t epoch)
{
	e->at_peak = e->live;
	e->epoch = epoch;
}

/* Entry stack of this thread's table, its value at the peak kept. */
static struct hs_site_ctr *entry(struct hs_site_tls *st, uint32_t stack)
{
	struct hs_site_ctr *e = &st->tab[stack];
	uint32_t ep = atomic_load_explicit(&hs_site_epoch, memory_order_relaxed);
	if (e->epoch != ep)
		hs_site_keep_peak(e, ep);
	return e;
}

static int64_t room_over(int64_t peak)
{
	return peak + (peak > 0 ? peak >> 9 : 0);     /* 0.2% above it */
}

static void raise_peak(int64_t live)
{
	int64_t p = atomic_load(&R.peak);
	while (live > p) {
		if (atomic_compare_exchange_weak(&R.peak, &p, live)) {
			atomic_fetch_add(&hs_site_epoch, 1);
			atomic_store(&R.peak_ns, coarse_ns());
			return;
		}
	}
}

static void set_room(struct hs_site_tls *st)
{
	st->room = st->state == HS_SITES_ON
	           ? room_over(atomic_load_explicit(&R.peak, memory_order_relaxed)) - st->base
	           : INT64_MAX;
}

void hs_site_peak(void)
{
	struct hs_site_tls *st = &hs_st;
	if (st->state == HS_SITES_ON)
		raise_peak(st->base + hs_ts.live);
	set_room(st);
}

void hs_sites_on_fold(int64_t live)
{
	struct hs_site_tls *st = &hs_st;
	st->base = live;
	set_room(st);
}

void hs_sites_final_peak(void)
{
	struct hs_site_tls *st = &hs_st;
	raise_peak(st->base + hs_ts.live);
}

void hs_sites_peak_info(int64_t *live, uint64_t *when_ns)
{
	*live = atomic_load(&R.peak);
	*when_ns = atomic_load(&R.peak_ns);
}

void hs_sites_restart(void)
{
	struct hs_site_tls *st = &hs_st;
	atomic_store(&R.peak, 0);
	raise_peak(st->base + hs_ts.live);
	set_room(st);
}

/* ---- the ended threads' table ------------------------------------------- */

/* Add a thread's table to the ended threads'. Caller holds the lock. */
static void fold_ended(const struct hs_site_ctr *t, uint32_t cap)
{
	if (!cap || !hs_sites_grow((void **)&R.ended, &R.ended_cap, &R.ended_len, cap - 1,
	                  sizeof *R.ended))
		return;
	hs_sites_fit_sum(cap);
	uint32_t ep = atomic_load(&hs_site_epoch);
	for (uint32_t i = 0; i < cap; i++) {
		const struct hs_site_ctr *e = &t[i];
		struct hs_site_ctr *r = &R.ended[i];
		if (!e->calls && !e->live && !e->temporary && e->epoch != ep)
			continue;
		int64_t at = hs_sites_at_peak(r, ep) + hs_sites_at_peak(e, ep);
		r->calls += e->calls;
		r->bytes += e->bytes;
		r->temporary += e->temporary;
		r->live += e->live;
		r->at_peak = at;
		r->epoch = ep;
	}
}

static void unlink_thread(struct hs_site_tls *st)
{
	for (struct hs_site_tls **pp = &R.threads; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			return;
		}
}

void hs_sites_thread_exit(void)
{
	struct hs_site_tls *st = &hs_st;
	if (st->state != HS_SITES_ON) {
		st->state = HS_SITES_RETIRED;
		st->tab = NULL;
		st->cap = 0;
		st->room = INT64_MAX;
		return;
	}
	hs_spin_lock(&R.lock);
	unlink_thread(st);
	fold_ended(st->tab, st->cap);
	struct hs_site_ctr *t = st->tab;
	size_t len = st->map_len;
	st->tab = NULL;
	st->cap = 0;
	st->state = HS_SITES_RETIRED;
	st->room = INT64_MAX;
	hs_spin_unlock(&R.lock);
	munmap(t, len);
}

void hs_sites_thread_armed(void)
{
	hs_st.armed = true;
}

/* May this thread have a table the registry points at? */
static bool may_register(const struct hs_site_tls *st)
{
	return st->armed || (pid_t)syscall(SYS_gettid) == getpid();
}

/* ---- registration and growth --------------------------------------------- */

/* Give this thread a table that holds id, registering it the first time. */
static bool own_table(struct hs_site_tls *st, uint32_t id)
{
	if (id >= MAX_CAP)
		return false;
	uint32_t cap = cap_for(id);
	size_t len;
	struct hs_site_ctr *t = map((size_t)cap * sizeof *t, &len), *old = NULL;
	if (!t)
		return false;
	size_t old_len = st->map_len;
	bool first = st->state != HS_SITES_ON;
	hs_spin_lock(&R.lock);
	if (first) {
		t[0] = st->none;         /* what it counted before recording */
		st->next = R.threads;
		R.threads = st;
		st->state = HS_SITES_ON;
	} else {
		memcpy(t, st->tab, (size_t)st->cap * sizeof *t);
		old = st->tab;
	}
	st->tab = t;
	st->cap = cap;
	st->map_len = len;
	hs_sites_fit_sum(cap);
	hs_spin_unlock(&R.lock);
	if (old)
		munmap(old, old_len);
	if (first)
		hs_counters_fold();     /* sets base and room (hs_sites_on_fold) */
	return true;
}

/* The entry a slow-path update goes to: this thread's own (registered or
 * grown now), or the ended threads' with the lock held (*locked), or
 * NULL: the update is dropped. */
static struct hs_site_ctr *slow_entry(struct hs_site_tls *st, uint32_t stack, bool *locked)
{
	*locked = false;
	if (st->state == HS_SITES_NEW || st->state == HS_SITES_OFF) {
		if (st->state == HS_SITES_NEW) {
			st->state = HS_SITES_OFF;
			st->tab = &st->none;
			st->cap = 1;
			st->room = INT64_MAX;
		}
		/* Registered by a stack the program's own call made: not by
		 * id 0, such as libunwind's allocations inside a capture, so that
		 * the table's mapping comes at the same point of the program's
		 * run whichever unwinder is used (where it lands moves every
		 * later mapping, heap arenas included, and programs that hash
		 * pointers then take other paths; tests/e2e/stack_cache.sh) */
		if (stack && hs_sites_counting() && !hs_spin_mine(&R.lock)) {
			if (may_register(st))
				own_table(st, stack);
			else
				st->state = HS_SITES_RETIRED;   /* counts go to the ended */
		}
	} else if (st->state == HS_SITES_ON && stack >= st->cap && !hs_spin_mine(&R.lock)) {
		own_table(st, stack);
	}
	if (st->state != HS_SITES_RETIRED)
		return stack < st->cap ? entry(st, stack) : NULL;
	if (hs_spin_mine(&R.lock))
		return NULL;
	hs_spin_lock(&R.lock);
	if (!hs_sites_grow((void **)&R.ended, &R.ended_cap, &R.ended_len, stack, sizeof *R.ended)) {
		hs_spin_unlock(&R.lock);
		return NULL;
	}
	hs_sites_fit_sum(R.ended_cap);
	*locked = true;
	struct hs_site_ctr *e = &R.ended[stack];
	uint32_t ep = atomic_load(&hs_site_epoch);
	if (e->epoch != ep) {
		e->at_peak = e->live;
		e->epoch = ep;
	}
	return e;
}

void hs_site_alloc_slow(uint32_t stack, size_t n, const void *p)
{
	struct hs_site_tls *st = &hs_st;
	if (!p) {
		/* a real failure; a request no heap could serve is not memory
		 * running out */
		if (n <= HS_MAX_REQUEST)
			hs_sampler_oom("real", n, stack);
		return;
	}
	bool locked;
	struct hs_site_ctr *e = slow_entry(st, stack, &locked);
	if (e) {
		e->calls++;
		e->bytes += n;
		e->live += (int64_t)n;
	}
	st->last = ~(uintptr_t)p;
	if (locked)
		hs_spin_unlock(&R.lock);
}

static void release(struct hs_site_tls *st, uint32_t stack, size_t n, const void *p,
                    bool may_be_temporary)
{
	bool locked;
	struct hs_site_ctr *e = slow_entry(st, stack, &locked);
	if (e) {
		e->live -= (int64_t)n;
		if (may_be_temporary && ~(uintptr_t)p == st->last) {
			e->temporary++;
			st->last = 0;
		}
	}
	if (locked)
		hs_spin_unlock(&R.lock);
}

void hs_site_free_slow(uint32_t stack, size_t n, const void *p)
{
	struct hs_site_tls *st = &hs_st;
	if (hs_ts.live > st->room)
		hs_site_peak();
	release(st, stack, n, p, true);
}

void hs_site_realloc(uint32_t old_stack, size_t old_n, uint32_t stack, size_t n,
                     const void *q)
{
	struct hs_site_tls *st = &hs_st;
	if (!q) {
		hs_site_alloc_slow(stack, n, NULL);
		return;
	}
	if (unlikely(hs_ts.live > st->room))
		hs_site_peak();
	if (old_stack < st->cap) {
		entry(st, old_stack)->live -= (int64_t)old_n;
	} else {
		release(st, old_stack, old_n, NULL, false);
	}
	hs_site_alloc(stack, n, q);
}

/* ---- fork ----------------------------------------------------------------- */

static void fork_prepare(void)
{
	hs_spin_lock(&R.lock);
}

static void fork_parent(void)
{
	hs_spin_unlock(&R.lock);
}

/* The other threads did not come along: their counts are ended ones. */
static void fork_child(void)
{
	struct hs_site_tls *me = NULL;
	for (struct hs_site_tls *t = R.threads, *next; t; t = next) {
		next = t->next;
		if (t == &hs_st) {
			me = t;
			continue;
		}
		fold_ended(t->tab, t->cap);
		munmap(t->tab, t->map_len);
	}
	R.threads = me;
	if (me)
		me->next = NULL;
	hs_spin_unlock(&R.lock);
}

void hs_sites_init(void)
{
	if (atomic_load(&R.ready))
		return;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atomic_store(&R.ready, true);
}
