/*
 * leakthreads.c — which parts of thread stacks hold live frames.
 *
 *   Below a stack pointer nothing is live: for the current thread below
 *   the scan's frame (or the interrupted sp, at a signal); for a thread
 *   the world stop parked (alloc/world.c), below its interrupted sp, and
 *   its registers are roots; for one blocked in the kernel, below the sp
 *   that /proc/self/task/TID/syscall shows (its system call's arguments
 *   are roots; its callee-saved registers are not seen). The 128-byte red
 *   zone below an sp is kept. A thread that could not be stopped has no
 *   sp: its whole stack is scanned (conservative: may hide a leak, never
 *   invents one).
 *
 *   Threads that have exited leave their stacks mapped (glibc's stack
 *   cache; unjoined threads) with their frames intact, so a pointer left
 *   in a dead frame would hide a leak made in that thread. They are found
 *   by their thread descriptor (x86-64: struct pthread at the top of the
 *   stack mapping; it starts with tcbhead_t, whose first and third words
 *   point at itself) and judged dead when its tid field is <= 0, glibc's
 *   own test: the kernel clears it when the thread exits
 *   (CLONE_CHILD_CLEARTID), pthread_join then sets -1. The tid field's
 *   offset is found, not assumed: it is where our own descriptor holds
 *   gettid(). Only mappings with a guard page below (all glibc-allocated
 *   stacks) are searched; user-supplied stacks are scanned as ordinary
 *   memory.
 *
 * TLS: static TLS blocks and the descriptor sit at the top of each live
 * stack mapping (or, for the main thread, in an anonymous mapping from the
 * loader) and are scanned with it. glibc's dynamic thread vector (dtv) is
 * malloc'd for every thread after the first and the descriptor points 16
 * bytes into it, which memcheck reports as "possibly lost"; we count the
 * descriptor's dtv pointer as a start pointer, so glibc's own bookkeeping
 * of a live thread is still reachable. The dtv of a dead thread whose
 * stack glibc caches is flagged HS_LK_GLIBC_CACHE and not reported at
 * all: under valgrind, __libc_freeres frees that cache before the check,
 * so a program that frees everything it allocates gets no record from
 * either tool. (We cannot call __libc_freeres ourselves: other threads
 * and later exit handlers may still use what it frees.)
 */
#include <fcntl.h>
#include <unistd.h>

#include "leaks.h"
#include "leakroots.h"

#define PAGE      ((uintptr_t)HS_PAGE_SIZE)
#define REDZONE   128           /* x86-64 ABI: leaf frames below sp       */
#define TCB_ALIGN 64            /* glibc's struct pthread alignment       */
#define TID_SEARCH 2048         /* bytes of the descriptor searched for tid */

/* ---- threads and their stack pointers ----------------------------------- */

static bool add_thread(struct hs_lk_threads *th, int32_t tid, uintptr_t sp)
{
	if ((th->n + 1) * sizeof *th->t > th->bytes) {
		void *p = th->t;
		if (!hs_lk_grow(&p, &th->bytes, th->bytes ? 2 * th->bytes : 4096))
			return false;
		th->t = p;
	}
	th->t[th->n++] = (struct hs_lk_thread){ tid, sp };
	return true;
}

struct lister {
	struct hs_lk_threads *th;
	int32_t self;
	uintptr_t self_sp;
};

static bool list_one(int32_t tid, void *ctx)
{
	struct lister *l = ctx;
	struct hs_task_info ti;
	uintptr_t sp = tid == l->self ? l->self_sp
	             : hs_task_read(tid, &ti) && ti.blocked ? ti.sp : 0;
	return add_thread(l->th, tid, sp);
}

void hs_lk_list_threads(struct hs_lk_threads *th, int32_t self, uintptr_t self_sp,
                        const struct hs_world *w)
{
	if (!w) {
		struct lister l = { th, self, self_sp };
		hs_task_foreach(list_one, &l);
		return;
	}
	/* Stopped: parked threads at their interrupted sp, idle ones at the
	 * sp they block with; one that ran or was not stopped has none. */
	if (!add_thread(th, self, self_sp))
		return;
	for (size_t i = 0; i < w->n; i++) {
		const struct hs_world_thread *t = &w->t[i];
		bool known = t->state == HS_TH_PARKED || t->state == HS_TH_IDLE;
		if (t->state != HS_TH_GONE && !add_thread(th, t->tid, known ? t->sp : 0))
			return;
	}
}

void hs_lk_threads_regs(const struct hs_lk_roots *rt, struct hs_lk_graph *g)
{
	const struct hs_lk_self *self = rt->self_ctx;
	for (size_t i = 0; self && i < self->nregs; i++)
		hs_lk_root_word(g, self->regs[i]);
	const struct hs_world *w = rt->world;
	for (size_t i = 0; w && i < w->n; i++) {
		const struct hs_world_thread *t = &w->t[i];
		if (t->state == HS_TH_PARKED || t->state == HS_TH_IDLE)
			for (unsigned r = 0; r < t->nregs; r++)
				hs_lk_root_word(g, t->regs[r]);
	}
}

/* A stack mapping as glibc makes them: a PROT_NONE guard right below. */
static bool guard_below(const struct hs_lk_maps *m, const struct hs_lk_region *r)
{
	if (r == m->reg)
		return false;
	const struct hs_lk_region *g = r - 1;
	return g->hi == r->lo && !g->r && !g->w && !g->x;
}

static bool stack_like(const struct hs_lk_maps *m, const struct hs_lk_region *r)
{
	return r->type == HS_LK_ANON && r->r && r->w && (r->main_stack || guard_below(m, r));
}

/* ---- thread descriptors (x86-64 glibc) ----------------------------------- */

#if defined(__x86_64__)
static uintptr_t thread_pointer(void)
{
	uintptr_t tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

static bool is_tcb(uintptr_t a)
{
	const uintptr_t *w = (const uintptr_t *)a;
	return w[0] == a && w[2] == a;
}

/* Offset of the tid in struct pthread: the one place in our own
 * descriptor that holds our tid, or -1 if that is not unique. */
static long find_tid_offset(int32_t self)
{
	uintptr_t pd = thread_pointer();
	if (!is_tcb(pd))
		return -1;
	long found = -1;
	for (long o = 3 * (long)sizeof(uintptr_t); o < TID_SEARCH; o += 4)
		if (*(const int32_t *)(pd + (uintptr_t)o) == self) {
			if (found >= 0)
				return -1;
			found = o;
		}
	return found;
}

/* glibc's dtv block is referenced 16 bytes in (dtv[-1] holds its length):
 * count the descriptor's pointer as a start pointer. */
static void root_dtv(struct hs_lk_graph *g, uintptr_t dtv, bool dead)
{
	struct hs_lk_node n;
	if (dtv < 16 || !hs_lk_find(g, dtv - 16, &n) || n.start != dtv - 16)
		return;
	hs_lk_root_word(g, dtv - 16);
	if (dead)
		*n.mark |= HS_LK_GLIBC_CACHE;
}

struct tcb {
	uintptr_t pd;               /* its address                          */
	uintptr_t dtv;              /* its dtv pointer                       */
	int32_t   tid;              /* its tid field, if tid_known          */
	bool      tid_known;
};

/* The topmost descriptor in a stack-like region. Searched page by page
 * from the top, where glibc puts it, in copies (the stack may be freed
 * under us by the thread's exit); the page above is copied too so that
 * the tid field is in the copy. */
/* How far below a region's top the descriptor can be: the static TLS
 * block sits between it and the top, and glibc keeps that small (the
 * executable's and initial libraries' __thread data plus a surplus of a
 * few KiB). Without a bound, a large read-write mapping with a guard below
 * it (a JVM or Go heap reservation, AddressSanitizer's terabyte shadow)
 * would be searched page by page, one system call each: a hang at exit. */
#define TCB_SEARCH (4ul << 20)

static bool find_tcb(const struct hs_lk_region *r, long tid_off, char *buf,
                     struct tcb *out)
{
	uintptr_t floor = r->hi - r->lo > TCB_SEARCH ? r->hi - TCB_SEARCH : r->lo;
	for (uintptr_t page = r->hi; page > floor; page -= PAGE) {
		uintptr_t lo = page - PAGE;
		size_t len = page + PAGE <= r->hi ? 2 * PAGE : PAGE;
		size_t got = hs_lk_copy_mem(buf, lo, len, NULL);
		if (got < PAGE)
			continue;
		for (uintptr_t off = 0; off < PAGE; off += TCB_ALIGN) {
			const uintptr_t *w = (const uintptr_t *)(buf + off);
			if (w[0] != lo + off || w[2] != lo + off)
				continue;
			out->pd = lo + off;
			out->dtv = w[1];
			out->tid_known = tid_off >= 0 && off + (uintptr_t)tid_off + 4 <= got;
			if (out->tid_known)
				out->tid = *(const int32_t *)(buf + off + (uintptr_t)tid_off);
			return true;
		}
	}
	return false;
}

static void thread_descriptors(struct hs_lk_graph *g, struct hs_lk_excl *e,
                               const struct hs_lk_maps *m, int32_t self,
                               char *buf, struct hs_lk_root_stats *st)
{
	long tid_off = find_tid_offset(self);
	st->tid_known = tid_off >= 0;
	uintptr_t self_pd = thread_pointer();
	if (is_tcb(self_pd))
		root_dtv(g, ((const uintptr_t *)self_pd)[1], false);
	for (size_t i = 0; i < m->n; i++) {
		const struct hs_lk_region *r = &m->reg[i];
		struct tcb t;
		if (!stack_like(m, r) || r->main_stack || !find_tcb(r, tid_off, buf, &t))
			continue;
		st->tcbs++;
		/* glibc's FREE_P: the kernel writes 0 when the thread exits,
		 * pthread_join then -1. */
		bool dead = t.tid_known && t.tid <= 0;
		root_dtv(g, t.dtv, dead);
		if (!dead)
			continue;
		/* Dead: its stack, static TLS and descriptor are stale. */
		uintptr_t top = (t.pd + PAGE) & ~(PAGE - 1);
		hs_lk_exclude(e, r->lo, top < r->hi ? top : r->hi);
		st->dead_stacks++;
	}
}
#else
static void thread_descriptors(struct hs_lk_graph *g, struct hs_lk_excl *e,
                               const struct hs_lk_maps *m, int32_t self,
                               char *buf, struct hs_lk_root_stats *st)
{
	/* Unknown descriptor layout: every stack is scanned whole. */
}
#endif

/* ---- both ---------------------------------------------------------------- */

void hs_lk_threads_apply(struct hs_lk_roots *rt, struct hs_lk_graph *g)
{
	const struct hs_lk_maps *m = &rt->maps;
	struct hs_lk_root_stats *st = &rt->stats;
	st->threads = rt->threads.n;
	for (size_t i = 0; i < rt->threads.n; i++) {
		const struct hs_lk_thread *t = &rt->threads.t[i];
		const struct hs_lk_region *r = t->sp ? hs_lk_maps_find(m, t->sp) : NULL;
		if (!r || !stack_like(m, r))
			continue;
		st->threads_with_sp++;
		uintptr_t live = t->tid == rt->self ? t->sp : t->sp - REDZONE;
		hs_lk_exclude(&rt->excl, r->lo, live > r->lo ? live : r->lo);
	}
	thread_descriptors(g, &rt->excl, m, rt->self, rt->copy_buf, st);
}
