/*
 * faults.c — decide, call by call, whether to inject an allocation failure.
 *
 * State is a small stack of levels: level 0 holds HEAPSCOPE_FAIL, each
 * open hs_fail_begin region one more. Only the innermost level decides and
 * counts. Its policy is written before the level is published (top is
 * stored with release order) and never changes while it is visible, so the
 * decision reads it without a lock; only its counters are shared, and they
 * are atomics.
 *
 * Why the trigger counts matching calls and not all calls: "fail the third
 * calloc" is what a filtered policy means to its author; the record keeps
 * the number among all calls as well, which is what reproduces a failure.
 *
 * Why prob uses a counter-based stream: the draw for the m-th matching
 * call is the m-th splitmix64 output, a pure function of (seed, m). A
 * seed therefore picks the same call numbers on every run of a
 * single-threaded program, and no generator state is shared between
 * threads (only the call counter, which has to be shared anyway).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "record/trace.h"
#include "faults.h"

/* Caller-glob verdicts, cached per stack (fault_caller.c). */
bool hs_fault_caller_matches(const struct hs_fault_policy *pol, uint32_t gen,
                             uint32_t stack, const struct hs_fault_hooks *h);

struct level {
	struct hs_fault_policy pol;
	bool     on;                 /* false: a region with injection off    */
	uint32_t gen;                /* tags caller-cache entries of this pol */
	atomic_uint_fast64_t calls;      /* every entry-point call            */
	atomic_uint_fast64_t matched;    /* calls that passed the filters     */
	atomic_uint_fast64_t injected;   /* failures this level caused        */
};

atomic_int hs_faults_armed;

static struct level levels[HS_FAULT_DEPTH + 1];
static atomic_int top;                    /* index of the innermost level  */
static int overflow;                      /* pushes past the deepest level */
static atomic_uint_fast64_t total;        /* failures, all levels           */
static atomic_uint gen_next = 1;          /* 0 never names a policy         */
static atomic_flag edit_lock = ATOMIC_FLAG_INIT;   /* push/pop/init/reset */
static __thread int benign_depth;
static bool census;                       /* HEAPSCOPE_CENSUS: sweep's count */
static bool scoped;                       /* HEAPSCOPE_FAIL_ONLY was given   */

/* limit= reads the heap's own counters. Exact in a single-threaded
 * program (reading folds this thread's share); with threads each other
 * thread may hold up to heap.c's FOLD_BYTES unfolded, so the ceiling is
 * approximate by that much per thread. */
static uint64_t heap_live_bytes(void)
{
	struct hs_counters c;
	hs_counters_read(&c);
	return c.live_bytes;
}

/* capture and stack_names come from the recorder (stacks.c) once it
 * exists: hs_fault_set_hooks. Until then caller= matches nothing. */
static struct hs_fault_hooks hooks = { .live_bytes = heap_live_bytes };

void hs_fault_set_hooks(const struct hs_fault_hooks *h)
{
	hooks = *h;
}

uint64_t hs_fault_draw(uint64_t seed, uint64_t m)
{
	/* splitmix64 (Steele, Lea, Flood 2014): state advances by the golden
	 * gamma per output, so output m is a mix of seed + m * gamma. */
	uint64_t z = seed + m * 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Which thread is the main one: the one whose tid is the pid (true in a
 * forked child for the thread that forked, which is that child's only
 * thread). Two syscalls, paid only when thread=main is in force and the
 * entry point did not know. */
static bool on_main_thread(int known)
{
	if (known >= 0)
		return known != 0;
	return syscall(SYS_gettid) == getpid();
}

/* The filters, cheapest first; the caller glob (a stack walk and symbol
 * lookup on a cache miss) goes last. May capture the stack into *stack. */
static bool matches(const struct level *lv, const struct hs_fault_call *c,
                    uint32_t *stack)
{
	const struct hs_fault_policy *p = &lv->pol;
	if (p->funcs && !(p->funcs & (1u << c->fn)))
		return false;
	if (c->size < p->minsize)
		return false;
	if (p->main_only && !on_main_thread(c->main_thread))
		return false;
	if (p->caller[0]) {
		if (*stack == 0 && hooks.capture)
			*stack = hooks.capture();
		if (*stack == 0 || !hs_fault_caller_matches(p, lv->gen, *stack, &hooks))
			return false;
	}
	return true;
}

/* The trigger, for the m-th matching call. */
static bool fires(const struct hs_fault_policy *p, uint64_t m,
                  const struct hs_fault_call *c)
{
	switch (p->trigger) {
	case HS_TRIG_NTH:   return m == p->n;
	case HS_TRIG_AFTER: return m >= p->n;
	case HS_TRIG_EVERY: return m % p->n == 0;
	case HS_TRIG_PROB:  return p->prob_always || hs_fault_draw(p->seed, m) < p->prob;
	case HS_TRIG_LIMIT: {
		/* A cgroup charges growth only: a call that does not grow the
		 * heap (shrinking realloc, malloc(0)) never fails, even when the
		 * heap is already over the ceiling. Exactly at it is allowed. */
		if (!hooks.live_bytes || c->size <= c->freed)
			return false;
		uint64_t live = hooks.live_bytes();
		live = live > c->freed ? live - c->freed : 0;
		return live + c->size > p->limit;
	}
	case HS_TRIG_NONE:
		break;
	}
	return false;
}

/* Should this injected failure get its `F` line? (faults.h: the caps.)
 * One byte per stack id counts lines written, in a table mapped on first
 * use (MAP_NORESERVE: only the pages of ids seen are ever touched). */
#define LINE_IDS ((size_t)1 << 24)            /* stacks.c's id space     */
static _Atomic(_Atomic unsigned char *) lines_per_stack;
static atomic_uint_fast64_t lines_written;
static atomic_flag quiet_said = ATOMIC_FLAG_INIT;

static bool worth_a_line(uint32_t stack)
{
	bool ok = atomic_fetch_add_explicit(&lines_written, 1, memory_order_relaxed)
	          < HS_FAULT_LINES_MAX;
	_Atomic unsigned char *t = atomic_load_explicit(&lines_per_stack,
	                                                memory_order_acquire);
	if (ok && stack && stack < LINE_IDS) {
		if (!t) {
			void *m = mmap(NULL, LINE_IDS, PROT_READ | PROT_WRITE,
			               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			_Atomic unsigned char *none = NULL;
			if (m == MAP_FAILED)
				return true;          /* no table: write them all     */
			if (atomic_compare_exchange_strong(&lines_per_stack, &none, m)) {
				t = m;
			} else {
				munmap(m, LINE_IDS);
				t = none;
			}
		}
		unsigned char n = atomic_load_explicit(&t[stack], memory_order_relaxed);
		if (n >= HS_FAULT_LINES_PER_STACK)
			ok = false;
		else
			atomic_store_explicit(&t[stack], n + 1, memory_order_relaxed);
	}
	if (!ok && !atomic_flag_test_and_set(&quiet_said) && hs_trace_active())
		hs_trace_printf("! injected failures beyond %d per stack (%d in all) "
		                "are not written\n", HS_FAULT_LINES_PER_STACK,
		                HS_FAULT_LINES_MAX);
	if (!ok)
		atomic_fetch_sub_explicit(&lines_written, 1, memory_order_relaxed);
	return ok;
}

/* Take one failure out of the times= budget; false when it is spent.
 * A CAS loop so that racing threads never inject more than times. */
static bool take_budget(struct level *lv)
{
	uint64_t cap = lv->pol.times;
	uint_fast64_t cur = atomic_load_explicit(&lv->injected, memory_order_relaxed);
	do {
		if (cap && cur >= cap)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&lv->injected, &cur, cur + 1,
	                memory_order_relaxed, memory_order_relaxed));
	return true;
}

bool hs_fault_should_fail(const struct hs_fault_call *c, struct hs_fault_record *rec)
{
	int saved = errno;
	bool fail = false;
	struct level *lv = &levels[atomic_load_explicit(&top, memory_order_acquire)];
	if (!lv->on)
		return false;
	uint64_t n = atomic_fetch_add_explicit(&lv->calls, 1, memory_order_relaxed) + 1;
	uint32_t stack = c->stack;
	if (lv == &levels[0] && census)
		hs_fault_census_note(n, c, &stack);
	if (matches(lv, c, &stack)) {
		/* Without filters every call matches: use the call number
		 * itself, so racing threads cannot pair one call's number
		 * with another's match and nth=N records exactly N. */
		const struct hs_fault_policy *p = &lv->pol;
		bool filtered = p->funcs || p->minsize || p->main_only || p->caller[0];
		uint64_t m = filtered ? atomic_fetch_add_explicit(&lv->matched, 1,
		                                                  memory_order_relaxed) + 1
		                      : n;
		fail = fires(&lv->pol, m, c) && take_budget(lv);
	}
	if (fail) {
		atomic_fetch_add_explicit(&total, 1, memory_order_relaxed);
		if (stack == 0 && hooks.capture)
			stack = hooks.capture();
		rec->nth = n;
		rec->fn = c->fn;
		rec->size = c->size;
		rec->stack = stack;
		rec->benign = benign_depth > 0;
		rec->quiet = !worth_a_line(stack);
		rec->trigger = lv->pol.trigger;
	}
	errno = saved;
	return fail;
}

/* ---- levels ------------------------------------------------------------- */

static void lock(void)
{
	while (atomic_flag_test_and_set_explicit(&edit_lock, memory_order_acquire))
		;
}

static void unlock(void)
{
	atomic_flag_clear_explicit(&edit_lock, memory_order_release);
}

/* Make level t the innermost; caller holds the lock and has filled it. */
static void publish(int t)
{
	atomic_store_explicit(&top, t, memory_order_release);
	atomic_store_explicit(&hs_faults_armed, levels[t].on, memory_order_release);
	hs_detour.why[HS_DETOUR_FAULTS] = levels[t].on != 0;
}

static void fill(struct level *lv, const struct hs_fault_policy *pol)
{
	lv->on = pol != NULL;
	if (pol)
		lv->pol = *pol;
	lv->gen = atomic_fetch_add(&gen_next, 1);
	atomic_store(&lv->calls, 0);
	atomic_store(&lv->matched, 0);
	atomic_store(&lv->injected, 0);
}

int hs_fault_push(const char *policy, char *err, size_t errcap)
{
	struct hs_fault_policy pol;
	bool ok = !policy || hs_fault_parse(policy, &pol, err, errcap);
	lock();
	int t = atomic_load(&top);
	if (t >= HS_FAULT_DEPTH) {
		/* Counted, so that the matching pop still pairs with this push
		 * and does not close an outer region. */
		overflow++;
		unlock();
		if (err && errcap) {
			const char *why = "regions nested too deeply (8 at most); "
			                  "this one injects nothing";
			size_t n = strlen(why) < errcap - 1 ? strlen(why) : errcap - 1;
			memcpy(err, why, n);
			err[n] = '\0';
		}
		return -2;
	}
	/* A rejected policy still opens a region (with injection off): a test
	 * that ignores the error keeps its begin/end pairs balanced. */
	fill(&levels[t + 1], ok && policy ? &pol : NULL);
	publish(t + 1);
	unlock();
	return ok ? 0 : -1;
}

long hs_fault_pop(void)
{
	lock();
	int t = atomic_load(&top);
	long injected = -1;
	if (overflow > 0) {
		overflow--;
		injected = 0;
	} else if (t > 0) {
		injected = (long)atomic_load(&levels[t].injected);
		publish(t - 1);
	}
	unlock();
	return injected;
}

uint64_t hs_fault_total(void)
{
	return atomic_load_explicit(&total, memory_order_relaxed);
}

uint64_t hs_fault_calls(void)
{
	const struct level *lv = &levels[atomic_load_explicit(&top, memory_order_acquire)];
	return lv->on ? atomic_load_explicit(&lv->calls, memory_order_relaxed) : 0;
}

void hs_faults_reset(void)
{
	lock();
	fill(&levels[0], NULL);
	publish(0);
	overflow = 0;
	atomic_store(&total, 0);
	unlock();
}

/* A forked child is another process: under HEAPSCOPE_FAIL_ONLY it is
 * never the target, and the census counts only the image it started in
 * (the child's calls would continue the parent's numbering). The child is
 * single threaded, so a lock some other parent thread held is simply let
 * go. */
static void after_fork_child(void)
{
	atomic_flag_clear(&edit_lock);
	if (census) {
		census = false;
		hs_fault_census_stop();
	}
	if (scoped) {
		fill(&levels[0], NULL);
		if (atomic_load(&top) == 0)
			publish(0);
	}
}

void hs_faults_init_from_env(void)
{
	static bool atfork_done;
	const char *v = hs_env("HEAPSCOPE_FAIL");
	struct hs_fault_policy pol;
	char err[HS_FAULT_ERR_MAX];
	bool blank = true;
	for (const char *q = v; q && *q; q++)
		blank = blank && (*q == ' ' || *q == '\t');
	hs_fault_use_recorder();
	census = hs_fault_census_init();
	const char *only = hs_env("HEAPSCOPE_FAIL_ONLY");
	scoped = only && *only;
	int here = blank ? 1 : hs_fault_scope_here();
	/* A policy that never fires: level 0 counts every call (census). */
	struct hs_fault_policy count_only;
	memset(&count_only, 0, sizeof count_only);
	lock();
	if (blank) {
		/* unset or empty: no injection */
		fill(&levels[0], census ? &count_only : NULL);
	} else if (!hs_fault_parse(v, &pol, err, sizeof err)) {
		fill(&levels[0], NULL);
		hs_log("HEAPSCOPE_FAIL=%s: %s; fault injection is OFF", v, err);
	} else if (here == 1) {
		fill(&levels[0], &pol);
	} else {
		/* Another image is the target (or the scope was unreadable,
		 * said already): count for the census, inject nothing. */
		fill(&levels[0], census ? &count_only : NULL);
	}
	if (atomic_load(&top) == 0)
		publish(0);
	unlock();
	if ((census || scoped) && !atfork_done) {
		atfork_done = true;
		pthread_atfork(NULL, NULL, after_fork_child);
	}
}

void hs_fault_benign_enter(void)
{
	benign_depth++;
}

void hs_fault_benign_leave(void)
{
	if (benign_depth > 0)
		benign_depth--;
}
