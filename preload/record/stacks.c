/*
 * stacks.c — call stacks: capture on a cache miss, intern, write once.
 *
 * Capture: the stack cache (stackcache.c) answers stacks it has seen; a
 * miss comes here, and the stack is walked by our DWARF unwinder
 * (unwind_walk.c), or by libunwind where its rules cannot describe a
 * frame (and unw_backtrace() for stacks that start inside heapscope);
 * the frames above the program's call into malloc/new are dropped, so the
 * innermost frame is that call.
 *
 * Interning: a stack's ips are stored once in an append-only record and
 * get a 32-bit id (>= 1). An open-addressing table maps hash -> id:
 *
 *   slot = (hash >> 32) << 32 | id,   0 = empty,   load <= 1/2
 *
 * Lookups take no lock: a record and its directory entry are complete
 * before the slot that names them is stored (release), and a reader that
 * loads the slot (acquire) therefore sees them whole. Inserts take the
 * lock and re-probe. Growing builds a new table and publishes its pointer;
 * a reader still probing the old one may miss a new stack and fall to the
 * locked path, which finds it. Old tables are never unmapped (a reader may
 * be inside one); their total is below the size of the live table.
 *
 * S lines are written lazily, per trace: a bitmap says which ids the
 * current trace has, and is cleared when a trace starts (a forked child's
 * new file). A stack's S line is written the first time it is captured in
 * that trace, or when a writer names the id through hs_stack_ref(). So a
 * fork child that execs at once writes no stacks at all, instead of the
 * parent's whole table. For a new stack the S line is written before the
 * id is published, so no thread can name the id before its S line.
 */
#define UNW_LOCAL_ONLY          /* this process only: the fast local API */
#include <libunwind.h>
#include <string.h>
#include <sys/mman.h>

#include "trace.h"

#define SKIP_SLACK    4             /* our frames above the program's call */
#define DIR_SHIFT     16            /* ids per directory page: 65536       */
#define DIR_PAGES     256           /* => 16M stacks at most               */
#define CHUNK_BYTES   ((size_t)1 << 20)
#define TABLE_INIT    4096          /* slots                               */
#define MAX_IDS       ((uint32_t)DIR_PAGES << DIR_SHIFT)
#define EMITTED_BYTES (MAX_IDS / 8)

struct rec {
	uint32_t n;                     /* frames                             */
	uint32_t unused;
	uintptr_t ips[];                /* innermost first                    */
};

struct table {
	size_t mask;                    /* slots - 1, slots a power of two    */
	_Atomic uint64_t slot[];
};

static struct {
	struct hs_spin lock;            /* inserts, growth, S lines           */
	_Atomic(struct table *) table;
	_Atomic uint32_t count;         /* ids handed out: 1..count are valid */
	_Atomic(struct rec **) dir[DIR_PAGES];   /* id -> record              */
	_Atomic(_Atomic uint64_t *) emitted;  /* bit per id: S line in this trace */
	char  *chunk;                   /* records are carved from here       */
	size_t chunk_left;
	bool   full_said;
} ST;

/* Config lives in config.c (the lead's); until it is linked in, weak. */
extern struct hs_config hs_cfg __attribute__((weak));

static __thread int in_capture;    /* libunwind may malloc: no recursion  */
/* Set while this thread interns a stack or writes an S line, i.e. may hold
 * ST.lock and the trace lock. A signal handler that allocates meanwhile
 * (the frame-pointer path in quarantine.c's free captures stacks outside
 * hs_busy and outside in_capture) must not spin on a lock its own
 * interrupted thread holds: its block gets stack 0 instead. */
static __thread int in_intern;

static bool would_deadlock(void)
{
	return in_intern || hs_trace_lock_mine();
}

void hs_stacks_lock(void)   { hs_spin_lock(&ST.lock); }
void hs_stacks_unlock(void) { hs_spin_unlock(&ST.lock); }
void hs_stacks_reset_child(void) { hs_spin_reset(&ST.lock); }

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t hash_ips(const uintptr_t *ips, unsigned n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
	for (unsigned i = 0; i < n; i++) {
		h ^= ips[i];
		h *= 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	h *= 0x94D049BB133111EBull;
	return h ^ (h >> 29);
}

static struct rec *record(uint32_t id)
{
	struct rec **page = atomic_load_explicit(&ST.dir[id >> DIR_SHIFT],
	                                         memory_order_acquire);
	return page ? page[id & ((1u << DIR_SHIFT) - 1)] : NULL;
}

static bool same(const struct rec *r, const uintptr_t *ips, unsigned n)
{
	return r && r->n == n && memcmp(r->ips, ips, n * sizeof *ips) == 0;
}

/* Probe t for ips; the id or 0. Lock free. */
static uint32_t find(struct table *t, uint64_t h, const uintptr_t *ips, unsigned n)
{
	uint32_t tag = (uint32_t)(h >> 32);
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint64_t s = atomic_load_explicit(&t->slot[i], memory_order_acquire);
		if (s == 0)
			return 0;
		if ((uint32_t)(s >> 32) == tag && same(record((uint32_t)s), ips, n))
			return (uint32_t)s;
	}
}

static void put_slot(struct table *t, uint64_t h, uint32_t id)
{
	size_t i = h & t->mask;
	while (atomic_load_explicit(&t->slot[i], memory_order_relaxed))
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slot[i], (h >> 32) << 32 | id, memory_order_release);
}

static struct table *new_table(size_t slots)
{
	struct table *t = map(sizeof *t + slots * sizeof t->slot[0]);
	if (t)
		t->mask = slots - 1;
	return t;
}

/* Make room for one more entry (load stays <= 1/2). Locked. */
static struct table *table_for_insert(uint32_t count)
{
	struct table *t = atomic_load_explicit(&ST.table, memory_order_relaxed);
	if (t && (size_t)(count + 1) * 2 <= t->mask + 1)
		return t;
	struct table *g = new_table(t ? (t->mask + 1) * 2 : TABLE_INIT);
	if (!g)
		return NULL;
	for (uint32_t id = 1; id <= count; id++) {
		struct rec *r = record(id);
		put_slot(g, hash_ips(r->ips, r->n), id);
	}
	atomic_store_explicit(&ST.table, g, memory_order_release);
	return g;
}

static struct rec *new_record(uint32_t id, const uintptr_t *ips, unsigned n)
{
	struct rec ***pagep = (struct rec ***)&ST.dir[id >> DIR_SHIFT];
	if (!*pagep) {
		struct rec **page = map(sizeof(struct rec *) << DIR_SHIFT);
		if (!page)
			return NULL;
		atomic_store_explicit(&ST.dir[id >> DIR_SHIFT], page, memory_order_release);
	}
	size_t len = (sizeof(struct rec) + n * sizeof *ips + 15) & ~(size_t)15;
	if (ST.chunk_left < len) {
		char *c = map(CHUNK_BYTES);
		if (!c)
			return NULL;
		ST.chunk = c;
		ST.chunk_left = CHUNK_BYTES;
	}
	struct rec *r = (struct rec *)ST.chunk;
	ST.chunk += len;
	ST.chunk_left -= len;
	r->n = n;
	memcpy(r->ips, ips, n * sizeof *ips);
	(*pagep)[id & ((1u << DIR_SHIFT) - 1)] = r;
	return r;
}

/* S lines are most of a trace and written from the allocation path, so
 * they get their own number writers rather than the general formatter. */
static char *put_dec(char *p, unsigned long v)
{
	char tmp[20];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_hex(char *p, unsigned long v)
{
	int bits = 64 - __builtin_clzl(v | 1);          /* significant bits */
	for (int sh = (bits - 1) & ~3; sh >= 0; sh -= 4)
		*p++ = "0123456789abcdef"[(v >> sh) & 15];
	return p;
}

size_t hs_stack_format(char *out, size_t cap, uint32_t id, const uintptr_t *ips,
                       unsigned n)
{
	if (cap < 24 + (size_t)n * 17)   /* "S " id " " n, " " + 16 hex each, \n */
		return 0;
	char *p = out;
	*p++ = 'S';
	*p++ = ' ';
	p = put_dec(p, id);
	*p++ = ' ';
	p = put_dec(p, n);
	for (unsigned i = 0; i < n; i++) {
		*p++ = ' ';
		p = put_hex(p, ips[i]);
	}
	*p++ = '\n';
	return (size_t)(p - out);
}

static bool is_emitted(uint32_t id)
{
	_Atomic uint64_t *e = atomic_load_explicit(&ST.emitted, memory_order_acquire);
	return e && (atomic_load_explicit(&e[id >> 6], memory_order_relaxed) >> (id & 63)) & 1;
}

bool hs_stack_emitted(uint32_t id)
{
	return id && is_emitted(id);
}

/* S line for a record, if the trace takes lines. Stacks and trace locks
 * held. */
static void emit_locked(uint32_t id, const struct rec *r)
{
	_Atomic uint64_t *e = atomic_load_explicit(&ST.emitted, memory_order_relaxed);
	if (!e) {                        /* 2 MiB reserved, touched as used */
		e = map(EMITTED_BYTES);
		if (!e)
			return;
		atomic_store_explicit(&ST.emitted, e, memory_order_release);
	}
	size_t max = 24 + (size_t)r->n * 17;     /* as hs_stack_format needs */
	char *p = hs_trace_room_locked(max);
	if (!p)
		return;
	hs_trace_advance_locked(hs_stack_format(p, max, id, r->ips, r->n));
	atomic_fetch_or_explicit(&e[id >> 6], (uint64_t)1 << (id & 63),
	                         memory_order_relaxed);
}

void hs_stacks_new_trace_locked(void)
{
	_Atomic uint64_t *e = atomic_load_explicit(&ST.emitted, memory_order_relaxed);
	uint32_t count = atomic_load(&ST.count);
	if (e && count)                  /* back to zero pages: nothing written */
		madvise((void *)e, ((size_t)count / 8 + HS_PAGE_SIZE) & ~(HS_PAGE_SIZE - 1),
		        MADV_DONTNEED);
	/* After the clear: a stack cache entry that sees the new generation
	 * asks is_emitted, which then sees the cleared bits. */
	atomic_fetch_add_explicit(&hs_stack_trace_gen, 1, memory_order_release);
}

/* The slow half of hs_stack_ref: write the S line under the locks. */
static void emit_known(uint32_t id)
{
	hs_spin_lock(&ST.lock);
	if (!is_emitted(id)) {
		hs_trace_lock();
		emit_locked(id, record(id));
		hs_trace_unlock();
	}
	hs_spin_unlock(&ST.lock);
}

static uint32_t ref(uint32_t id)
{
	if (id && !is_emitted(id) && hs_trace_active() &&
	    id <= atomic_load_explicit(&ST.count, memory_order_acquire))
		emit_known(id);
	return id;
}

uint32_t hs_stack_count(void)
{
	return atomic_load_explicit(&ST.count, memory_order_acquire);
}

uint32_t hs_stack_ref(uint32_t id)
{
	/* An id read from a damaged header may be anything: only ids the
	 * table handed out are looked up (the emitted bitmap ends there). */
	if (id > atomic_load_explicit(&ST.count, memory_order_acquire))
		return 0;
	if (id && !is_emitted(id) && hs_trace_active()) {
		if (would_deadlock())
			return 0;            /* its S line cannot be written now */
		in_intern = 1;
		id = ref(id);
		in_intern = 0;
	}
	return id;
}

static uint32_t insert(uint64_t h, const uintptr_t *ips, unsigned n)
{
	hs_spin_lock(&ST.lock);
	struct table *t = atomic_load_explicit(&ST.table, memory_order_relaxed);
	uint32_t id = t ? find(t, h, ips, n) : 0;
	if (id) {
		if (!is_emitted(id)) {       /* found by a racing insert       */
			hs_trace_lock();
			emit_locked(id, record(id));
			hs_trace_unlock();
		}
		goto out;
	}
	uint32_t count = atomic_load_explicit(&ST.count, memory_order_relaxed);
	struct rec *r = NULL;
	if (count + 1 < MAX_IDS &&
	    (t = table_for_insert(count)) != NULL)
		r = new_record(count + 1, ips, n);
	hs_trace_lock();
	if (r) {
		id = count + 1;
		emit_locked(id, r);
	} else if (!ST.full_said) {
		ST.full_said = true;
		hs_trace_printf_locked("! stack table full: later stacks not recorded\n");
	}
	hs_trace_unlock();
	if (id) {
		atomic_store_explicit(&ST.count, id, memory_order_release);
		put_slot(t, h, id);
	}
out:
	hs_spin_unlock(&ST.lock);
	return id;
}

uint32_t hs_stack_intern(const uintptr_t *ips, unsigned n)
{
	if (n == 0 || n > HS_STACK_MAX)
		return 0;
	if (would_deadlock())
		return 0;
	in_intern = 1;
	uint64_t h = hash_ips(ips, n);
	struct table *t = atomic_load_explicit(&ST.table, memory_order_acquire);
	uint32_t id = t ? find(t, h, ips, n) : 0;
	if (id) {
		id = ref(id);
	} else {
		/* First sight (probably): any module the ips point into must
		 * have its M line before our S line. The loader lock comes
		 * before ours. */
		hs_modules_refresh();
		id = insert(h, ips, n);
	}
	in_intern = 0;
	return id;
}

unsigned hs_stack_get(uint32_t id, const uintptr_t **ips)
{
	if (id == 0 || id > atomic_load_explicit(&ST.count, memory_order_acquire))
		return 0;
	struct rec *r = record(id);
	if (!r)
		return 0;
	*ips = r->ips;
	return r->n;
}

static int depth_wanted(void)
{
	int d = &hs_cfg ? hs_cfg.stack_depth : 0;
	if (d <= 0)
		d = 32;
	return d > HS_STACK_MAX ? HS_STACK_MAX : d;
}

static void set_policy(void)
{
	static _Atomic bool policy_set;
	/* Per-thread unwind caches: no lock shared between threads. Safe
	 * here because in_capture keeps a signal handler's malloc from
	 * unwinding on top of an interrupted unwind. */
	if (unlikely(!atomic_load_explicit(&policy_set, memory_order_relaxed))) {
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		atomic_store(&policy_set, true);
	}
}

/* hs_stack_capture_from when this thread's stack cache could not answer
 * (stackcache.c): the first call, a miss, a call from inside heapscope,
 * the cache off. */
uint32_t hs_stack_capture_slow(uintptr_t ra, uintptr_t cfa, uintptr_t bp)
{
	uintptr_t lo, hi;
	hs_modules_self_text(&lo, &hi);
	if (ra >= lo && ra < hi)        /* called from inside heapscope */
		return hs_stack_capture();
	if (in_capture)
		return 0;
	in_capture = 1;
	set_policy();
	uint32_t id = hs_stack_capture_at(ra, cfa, bp, depth_wanted());
	in_capture = 0;
	return id ? id : hs_stack_capture();
}

uint32_t hs_stack_capture(void)
{
	if (in_capture)
		return 0;
	in_capture = 1;
	set_policy();
	int depth = depth_wanted();
	void *raw[HS_STACK_MAX + SKIP_SLACK];
	int n = unw_backtrace(raw, depth + SKIP_SLACK);
	uintptr_t lo, hi;
	hs_modules_self_text(&lo, &hi);
	/* raw[0] is this function (unw_backtrace's caller): always ours. */
	int skip = 1;
	while (skip < n && (uintptr_t)raw[skip] >= lo && (uintptr_t)raw[skip] < hi)
		skip++;
	int k = n - skip < depth ? n - skip : depth;
	uint32_t id = k > 0 ? hs_stack_intern((const uintptr_t *)(raw + skip), (unsigned)k) : 0;
	in_capture = 0;
	return id;
}
