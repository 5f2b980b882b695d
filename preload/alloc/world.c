/*
 * world.c — stopping the other threads while the exit-time walks read the
 * heap (see world.h for the three outcomes).
 *
 * The handshake, for a thread the stopper signals:
 *
 *   stopper                                  signalled thread (on_stop)
 *   slot.asked = gen; rt_tgsigqueueinfo  ->  slot = si_value; is it mine,
 *     (value = slot index)                   and is gen the current stop?
 *                                            inside heapscope (hs_busy, or
 *                                            pc in our text)?
 *                                              yes: answer INSIDE, return
 *                                              no:  save registers, answer
 *                                                   PARKED, futex-wait on
 *                                                   release == gen
 *   INSIDE: send again after ~100 us
 *   all PARKED (or 500 ms): walk; release = gen, futex-wake
 *
 * "Outside heapscope" means the thread holds no allocator lock and is not
 * half way through a header or list update: every allocator path that
 * takes a lock or calls out of our text sets hs_busy, and the inline
 * paths (thread cache, header stores) run in our text. A parked thread
 * may hold any other lock (the loader's in a dl_iterate_phdr callback,
 * libunwind's, the trace's, the program's): the stopper takes none of
 * them until it has resumed everyone.
 *
 * The signal is a real-time one whose disposition was still SIG_DFL
 * (searched down from SIGRTMAX), installed with every signal blocked
 * while the handler runs, so no handler of the program runs on a parked
 * thread. It stays installed: a signal that arrives late (its thread had
 * it blocked for a while) finds no stop in progress, or one that has
 * already released it, and returns. The slot table is mapped once and
 * never unmapped, so a late handler never touches freed memory.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "alloc.h"
#include "world.h"

#define STOP_MS     500         /* per stop: then a thread is left running */
#define RESEND_NS   (100 * 1000)
#define LOOK_AGAIN_NS (5 * 1000 * 1000)

enum { ANSWER_PARKED = 1, ANSWER_INSIDE = 2 };

static struct {
	struct hs_world_thread *slot;    /* HS_WORLD_MAX entries, never unmapped */
	_Atomic uint32_t gen;            /* the current stop; 0: none yet     */
	_Atomic uint32_t release;        /* == gen: parked threads go on      */
	_Atomic uint32_t acks;           /* bumped by each answer (futex)     */
	uintptr_t text_lo, text_hi;
	int sig;
} W;

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)w, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static int32_t my_tid(void)
{
	return (int32_t)syscall(SYS_gettid);
}

/* ---- the signalled side --------------------------------------------------- */

size_t hs_world_context(const void *ctx, uintptr_t regs[HS_WORLD_NREGS],
                        uintptr_t *sp, uintptr_t *pc)
{
	const ucontext_t *uc = ctx;
#if defined(__x86_64__)
	for (int i = 0; i < HS_WORLD_NREGS; i++)      /* R8..R15 .. RSP, RIP */
		regs[i] = (uintptr_t)uc->uc_mcontext.gregs[i];
	*sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	*pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	return HS_WORLD_NREGS;
#elif defined(__aarch64__)
	for (int i = 0; i < HS_WORLD_NREGS; i++)
		regs[i] = (uintptr_t)uc->uc_mcontext.regs[i];
	*sp = (uintptr_t)uc->uc_mcontext.sp;
	*pc = (uintptr_t)uc->uc_mcontext.pc;
	return HS_WORLD_NREGS;
#else
	*sp = (uintptr_t)ctx;        /* the signal frame: scanned with the stack */
	*pc = 0;
	return 0;
#endif
}

static void answer(struct hs_world_thread *t, uint32_t gen, unsigned what)
{
	atomic_store_explicit(&t->answer, gen << 2 | what, memory_order_release);
	atomic_fetch_add_explicit(&W.acks, 1, memory_order_release);
	futex(&W.acks, FUTEX_WAKE, 1, NULL);
}

static void on_stop(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	uint32_t gen = atomic_load_explicit(&W.gen, memory_order_acquire);
	int idx = si->si_value.sival_int;
	if (si->si_code != SI_QUEUE || si->si_pid != getpid() || !gen || !W.slot
	    || idx < 0 || idx >= HS_WORLD_MAX)
		goto out;
	struct hs_world_thread *t = &W.slot[idx];
	if (t->tid != my_tid() || atomic_load(&t->asked) != gen
	    || atomic_load(&W.release) == gen)
		goto out;
	uintptr_t sp, pc;
	size_t n = hs_world_context(ctx, t->regs, &sp, &pc);
	if (hs_busy || (pc >= W.text_lo && pc < W.text_hi)) {
		answer(t, gen, ANSWER_INSIDE);
		goto out;
	}
	t->nregs = (uint8_t)n;
	t->sp = sp;
	answer(t, gen, ANSWER_PARKED);
	for (uint32_t r; (r = atomic_load_explicit(&W.release, memory_order_acquire)) != gen;)
		futex(&W.release, FUTEX_WAIT, r, NULL);
out:
	errno = saved;
}

/* ---- the stopper ----------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ours if still installed, else the highest real-time signal nobody
 * handles; 0 if there is none. */
static int stop_signal(void)
{
	struct sigaction cur;
	if (W.sig && sigaction(W.sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO)
	    && cur.sa_sigaction == on_stop)
		return W.sig;
	W.sig = 0;
	for (int s = SIGRTMAX; s > SIGRTMAX - 8 && s > SIGRTMIN; s--) {
		if (sigaction(s, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL)
			continue;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_stop;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigfillset(&sa.sa_mask);
		if (sigaction(s, &sa, NULL) == 0)
			return W.sig = s;
	}
	return 0;
}

static bool send(const struct hs_world_thread *t, int idx)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = W.sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = idx;
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), t->tid, W.sig, &si) == 0;
}

static bool escalated(const struct hs_world *w, int32_t tid)
{
	for (size_t i = 0; i < w->nesc; i++)
		if (w->esc[i] == tid)
			return true;
	return false;
}

struct lister {
	struct hs_world *w;
	size_t overflow;
};

static bool add_thread(int32_t tid, void *ctx)
{
	struct lister *l = ctx;
	struct hs_world *w = l->w;
	if (tid == w->self)
		return true;
	if (w->n == HS_WORLD_MAX) {
		l->overflow++;
		return true;
	}
	struct hs_world_thread *t = &w->t[w->n++];
	atomic_store(&t->asked, 0);
	atomic_store(&t->answer, 0);
	t->tid = tid;
	t->state = HS_TH_RUNNING;
	t->why = HS_WHY_NONE;
	t->nregs = 0;
	t->sp = 0;
	return true;
}

static void become_idle(struct hs_world_thread *t, const struct hs_task_info *ti)
{
	t->state = HS_TH_IDLE;
	t->sp = ti->sp;
	t->switches = ti->switches;
	t->syscall_sum = ti->syscall_sum;
	t->nregs = ti->in_syscall ? 6 : 0;
	memcpy(t->regs, ti->args, sizeof ti->args);
}

/* First look at one thread: idle (blocked, left alone), or asked. */
static void first_look(struct hs_world *w, struct hs_world_thread *t, uint32_t gen)
{
	struct hs_task_info ti;
	if (!hs_task_read(t->tid, &ti) || ti.dead) {
		t->state = HS_TH_GONE;
		return;
	}
	if (ti.blocked && ti.status_ok && !escalated(w, t->tid)) {
		become_idle(t, &ti);
		return;
	}
	if (!w->sig) {
		t->why = HS_WHY_NOSIGNAL;
		return;
	}
	/* Sent even if the thread blocks it now: libunwind blocks every
	 * signal while it looks up unwind tables, for a moment. */
	atomic_store(&t->asked, gen);
	t->sent_ns = now_ns();
	if (!send(t, (int)(t - w->t)))
		t->why = HS_WHY_NOANSWER;
}

/* A thread that has not answered for a while: it exited (the signal died
 * with it), or it is blocked in the kernel without having taken the
 * signal (it blocked it since, or sleeps uninterruptibly, as a vfork
 * parent does): then it is idle as if found so at first. true if it is
 * no longer waited for. */
static bool look_again(struct hs_world_thread *t, int sig)
{
	struct hs_task_info ti;
	t->sent_ns = now_ns();
	if (!hs_task_read(t->tid, &ti) || ti.dead) {
		t->state = HS_TH_GONE;
		return true;
	}
	if (ti.status_ok && (ti.sigblk >> (sig - 1) & 1))
		t->why = HS_WHY_SIGBLOCKED;
	if (!ti.blocked || !ti.status_ok)
		return false;
	become_idle(t, &ti);
	return true;
}

/* Wait for the answers, sending again to threads that were inside. */
static void collect(struct hs_world *w, uint32_t gen)
{
	uint64_t end = now_ns() + (uint64_t)STOP_MS * 1000000u;
	struct timespec tick = { 0, RESEND_NS };
	for (;;) {
		uint32_t seen = atomic_load_explicit(&W.acks, memory_order_acquire);
		size_t waiting = 0;
		for (size_t i = 0; i < w->n; i++) {
			struct hs_world_thread *t = &w->t[i];
			if (t->state != HS_TH_RUNNING || atomic_load(&t->asked) != gen)
				continue;
			uint32_t a = atomic_load_explicit(&t->answer, memory_order_acquire);
			if (a == (gen << 2 | ANSWER_PARKED)) {
				t->state = HS_TH_PARKED;
				continue;
			}
			if (a == (gen << 2 | ANSWER_INSIDE)) {
				/* ask again, but let it run a little first: sent
				 * back to back, the handler would leave it no time
				 * to get out */
				t->why = HS_WHY_INSIDE;
				uint64_t now = now_ns();
				if (now - t->sent_ns >= RESEND_NS) {
					atomic_store(&t->answer, 0);
					t->sent_ns = now;
					if (!send(t, (int)i))
						t->why = HS_WHY_NOANSWER;
				}
			} else {
				if (t->why != HS_WHY_INSIDE && t->why != HS_WHY_SIGBLOCKED)
					t->why = HS_WHY_NOANSWER;
				if (now_ns() - t->sent_ns > LOOK_AGAIN_NS && look_again(t, w->sig))
					continue;
			}
			waiting++;
		}
		if (!waiting || now_ns() >= end)
			return;
		futex(&W.acks, FUTEX_WAIT, seen, &tick);
	}
}

bool hs_world_stop(struct hs_world *w, uintptr_t text_lo, uintptr_t text_hi)
{
	if (!W.slot) {
		void *p = mmap(NULL, HS_WORLD_MAX * sizeof *W.slot, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return false;
		W.slot = p;
	}
	W.text_lo = text_lo;
	W.text_hi = text_hi;
	w->t = W.slot;
	w->n = 0;
	w->self = my_tid();
	w->parked = w->idle = w->running = 0;
	w->ran = false;
	/* A new generation before any slot names it: a late handler of an
	 * earlier stop then sees asked != gen and leaves. */
	uint32_t gen = atomic_fetch_add(&W.gen, 1) + 1;
	if (!gen)                                   /* wrapped: 0 means none */
		gen = atomic_fetch_add(&W.gen, 1) + 1;
	struct lister l = { w, 0 };
	if (!hs_task_foreach(add_thread, &l))
		return false;
	w->sig = w->n ? stop_signal() : 0;
	w->stopped = true;
	for (size_t i = 0; i < w->n; i++)
		first_look(w, &w->t[i], gen);
	collect(w, gen);
	for (size_t i = 0; i < w->n; i++) {
		const struct hs_world_thread *t = &w->t[i];
		if (t->state == HS_TH_GONE)
			continue;
		if (t->state == HS_TH_PARKED)
			w->parked++;
		else if (t->state == HS_TH_IDLE)
			w->idle++;
		else
			w->running++;
	}
	w->running += l.overflow;
	w->overflow = l.overflow;
	return true;
}

/* ---- after the walk ---------------------------------------------------------- */

static void escalate(struct hs_world *w, int32_t tid)
{
	if (w->nesc < sizeof w->esc / sizeof w->esc[0] && !escalated(w, tid))
		w->esc[w->nesc++] = tid;
}

static bool known_thread(int32_t tid, void *ctx)
{
	struct hs_world *w = ctx;
	if (tid == w->self)
		return true;
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].tid == tid)
			return true;
	w->ran = true;                        /* born during the walk */
	escalate(w, tid);
	return true;
}

bool hs_world_verify(struct hs_world *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct hs_world_thread *t = &w->t[i];
		if (t->state != HS_TH_IDLE)
			continue;
		struct hs_task_info ti;
		if (hs_task_read(t->tid, &ti) && ti.blocked && ti.status_ok
		    && ti.switches == t->switches && ti.syscall_sum == t->syscall_sum)
			continue;
		t->state = HS_TH_RUNNING;
		t->why = HS_WHY_RAN;
		w->idle--;
		w->running++;
		w->ran = true;
		escalate(w, t->tid);
	}
	hs_task_foreach(known_thread, w);
	return !w->ran;
}

void hs_world_resume(struct hs_world *w)
{
	if (!w->stopped)
		return;
	w->stopped = false;
	atomic_store_explicit(&W.release, atomic_load(&W.gen), memory_order_release);
	futex(&W.release, FUTEX_WAKE, INT_MAX, NULL);
}

const char *hs_world_why_text(const struct hs_world_thread *t, char *out, size_t cap)
{
	static const char *const why[] = {
		[HS_WHY_NONE]       = "was not stopped",
		[HS_WHY_SIGBLOCKED] = "blocks the stop signal",
		[HS_WHY_INSIDE]     = "stayed inside heapscope",
		[HS_WHY_NOANSWER]   = "did not answer the stop signal",
		[HS_WHY_NOSIGNAL]   = "could not be signalled (no free real-time signal)",
		[HS_WHY_RAN]        = "ran during the scan (it was blocked when it began)",
	};
	hs_fmt(out, cap, "thread %d %s", t->tid, t->why < sizeof why / sizeof why[0]
	       ? why[t->why] : why[0]);
	return out;
}
