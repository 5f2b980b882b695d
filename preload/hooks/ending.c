/*
 * ending.c — the work done when a traced process ends, however it ends.
 *
 * hs_finish() runs once per process, on the thread that ends it: from
 * exit (lifecycle.c's on_exit handler or our destructor, whichever comes
 * second), from the _exit/_Exit/quick_exit hooks, or from the handler of
 * a fatal signal whose disposition was the default (hs_finish_signal,
 * before the default action kills the process). In order:
 *
 *   1. can the heap be walked at all? Not if this thread was interrupted
 *      inside heapscope (hs_busy, or at a signal a pc in our text: its
 *      locks may be ours, a header half written), nor if some thread
 *      holds an allocator lock and does not let go within a second (it
 *      may be stopped for good: a signal handler that never returns);
 *   2. world running: the exit heap check drains this thread's
 *      quarantine, the sampler takes its final sample and snapshots (not
 *      at a signal: both take locks this thread may hold), the leak scan
 *      looks up what needs the loader's lock;
 *   3. world stopped (alloc/world.c) and every allocator lock held (with
 *      a deadline): the exit check's walk and the leak scan's. Nothing in
 *      between takes a lock a stopped thread may hold: no trace line, no
 *      stack capture, no loader. If a thread thought idle ran meanwhile,
 *      all of it is done again (at most 3 times), that thread signalled;
 *   4. world running again: damage confirmed and reported (E lines),
 *      the `W` line (how the scan went), the `C`, `B`, `Z` and `V`
 *      lines, the census total, and `X` last.
 *
 * A second thread that ends the process meanwhile (two crashes at once)
 * waits for the first to finish, a bounded time, then dies its own way;
 * a fault inside the finish itself only writes its `X` line.
 */
#include <linux/futex.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "hooks.h"
#include "checks/checks.h"
#include "leaks/leaks.h"
#include "record/sampler.h"
#include "record/trace.h"

void hs_fault_census_total(void) __attribute__((weak));
size_t hs_fault_census_line(char *buf, size_t cap) __attribute__((weak));

#define LOCK_MS      1000       /* waiting for the allocator's locks     */
#define ROUNDS       3          /* stops, when idle threads keep waking  */
#define WAIT_OTHER_S 30         /* a second ending waits for the first   */
#define REDZONE      128        /* x86-64: live bytes below a leaf's sp  */

static _Atomic int32_t finisher;        /* tid running hs_finish, 0: none */
static _Atomic uint32_t finish_done;    /* futex word: 1 once it is over  */

static int32_t my_tid(void)
{
	return (int32_t)syscall(SYS_gettid);
}

void hs_finish_reset_child(void)
{
	atomic_store(&finisher, 0);
	atomic_store(&finish_done, 0);
}

/* How the scan went, for the `W` line. */
struct scan {
	struct hs_world w;
	bool stopped;             /* the world stop ran                     */
	bool walked;              /* the walks ran (under the locks)        */
	const char *skip;         /* why they did not                       */
};

/* ---- 3: the walks ------------------------------------------------------------ */

/* self: NULL when there is no leak scan to make (the exit check only). */
static void walk_stopped(struct scan *s, bool checks, const struct hs_lk_self *self)
{
	uintptr_t lo, hi;
	hs_modules_self_text(&lo, &hi);
	for (int round = 0; round < ROUNDS; round++) {
		s->stopped = hs_world_stop(&s->w, lo, hi);
		if (!hs_heap_lock_all_timed(LOCK_MS)) {
			hs_world_resume(&s->w);
			s->skip = "an allocator lock stayed held by another thread";
			return;
		}
		if (checks)
			hs_checks_exit_walk(true);
		bool ok = !self || hs_leaks_collect(s->stopped ? &s->w : NULL, self);
		bool still = !s->stopped || hs_world_verify(&s->w);
		hs_heap_unlock_all();
		hs_world_resume(&s->w);
		s->walked = true;
		if (!ok) {
			s->skip = hs_leaks_failure();
			return;
		}
		if (still)
			return;
	}
}

/* ---- 4: the W line --------------------------------------------------------- */

static void write_scan_line(const struct scan *s)
{
	const struct hs_world *w = &s->w;
	char detail[512] = "";
	size_t len = 0;
	if (s->skip) {
		hs_fmt(detail, sizeof detail, " %s", s->skip);
	} else if (!s->stopped) {
		hs_fmt(detail, sizeof detail, " the threads could not be listed (/proc/self/task)");
	} else {
		size_t told = 0;
		for (size_t i = 0; i < w->n && len + 160 < sizeof detail; i++) {
			const struct hs_world_thread *t = &w->t[i];
			if (t->state != HS_TH_RUNNING)
				continue;
			char one[96];
			told++;
			len += (size_t)hs_fmt(detail + len, sizeof detail - len, "%s%s",
			                      len ? "; " : " ", hs_world_why_text(t, one, sizeof one));
		}
		if (w->running > told)      /* no room to name them, or overflow */
			hs_fmt(detail + len, sizeof detail - len, "%s%zu more threads were not "
			       "stopped", len ? "; " : " ", (size_t)w->running - told);
	}
	bool stopped = s->stopped && !s->skip;
	const char *result = s->skip ? "skipped" : !stopped || w->running ? "partial" : "complete";
	hs_trace_printf("W %s %u %u %u %u%s\n", result,
	                stopped ? w->parked + w->idle + w->running : 0,
	                stopped ? w->parked : 0, stopped ? w->idle : 0,
	                stopped ? w->running : 0, detail);
}

/* ---- the whole ---------------------------------------------------------------- */

/* self: the scanning thread's context at a signal; NULL on the exit
 * path, where it is taken here. inside: this thread was interrupted
 * inside heapscope. Kept out of line so that its frame, which holds the
 * registers, is above every frame of the walks. */
static __attribute__((noinline)) void finish_work(const char *how, int value,
                                                  const struct hs_lk_self *at_signal,
                                                  bool inside)
{
	/* Callee-saved registers may hold the only pointer to a block: put
	 * them in this frame, which the stack scan covers. */
	ucontext_t regs;
	struct hs_lk_self self = { .sp = (uintptr_t)&regs };
	/* what getcontext leaves unwritten (most of the FPU area) would hold
	 * whatever earlier, deeper calls left there: stale pointers */
	memset(&regs, 0, sizeof regs);
	if (at_signal)
		self = *at_signal;
	else
		getcontext(&regs);

	struct scan s = { 0 };
	if (inside)
		s.skip = at_signal ? "the signal interrupted heapscope itself (the "
		         "allocator, or its bookkeeping): the heap may be half updated"
		       : "the process ended inside the allocator (from a signal handler)";
	else if (hs_heap_lock_all_timed(LOCK_MS))
		hs_heap_unlock_all();
	else
		s.skip = "an allocator lock stayed held by another thread";

	bool checks = !s.skip && hs_checks_exit_begin(!at_signal);
	if (!s.skip && !at_signal)
		hs_sampler_exit();       /* final sample, exit and peak snapshots */
	bool leaks = hs_leaks_prepare();
	if (!s.skip && (checks || leaks))
		walk_stopped(&s, checks, leaks ? &self : NULL);
	if (checks && s.walked)
		hs_checks_exit_end();    /* E lines */
	if (leaks) {
		write_scan_line(&s);
		hs_leaks_write();        /* C, B, Z and V lines */
	}
	if (hs_fault_census_total)      /* sweep's call count */
		hs_fault_census_total();
	hs_trace_printf("X %s %d\n", how, value);
	hs_trace_close();
	__asm__ volatile("" : : "r"(&regs) : "memory");   /* keep regs alive */
}

/* This thread takes the ending, or: another one has it (wait for it, a
 * bounded time), or this one has it already (a fault inside the finish). */
enum claim { CLAIMED, OTHERS, MINE };

static enum claim claim(void)
{
	int32_t me = my_tid(), cur = 0;
	if (atomic_compare_exchange_strong(&finisher, &cur, me))
		return CLAIMED;
	if (cur == me)
		return MINE;
	/* in steps, so that a signal (the other thread's stop signal parks
	 * this one meanwhile) does not cut the wait short */
	struct timespec step = { 0, 100 * 1000 * 1000 };
	for (int i = 0; i < WAIT_OTHER_S * 10 && !atomic_load(&finish_done); i++)
		syscall(SYS_futex, (uint32_t *)&finish_done, FUTEX_WAIT | FUTEX_PRIVATE_FLAG,
		        0, &step, NULL, 0);
	return OTHERS;
}

static void claimed_done(void)
{
	atomic_store(&finish_done, 1);
	syscall(SYS_futex, (uint32_t *)&finish_done, FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
	        INT32_MAX, NULL, NULL, 0);
}

static bool trace_is_mine(void)
{
	/* No trace of our own (never opened, or we are a vfork/clone child
	 * sharing the parent's memory): touch nothing. */
	int owner = hs_trace_owner();
	return owner && owner == (int)getpid();
}

/* This thread was inside the trace writer when the process began to end
 * (a handler that interrupted it called exit, or a fault in it): it
 * holds the trace lock and never goes back there. The buffer holds whole
 * lines (a line is formatted past its end and only then counted), so
 * the end marker, and why nothing else follows, go after them; sweep's
 * census total too (its clean run may end so). */
static void end_marker_only(const char *why, const char *how, int value)
{
	char last[320];
	size_t k = why ? (size_t)hs_fmt(last, sizeof last, "! %s: no leak scan\n", why) : 0;
	if (hs_fault_census_line)
		k += hs_fault_census_line(last + k, sizeof last - k - 32);
	k += (size_t)hs_fmt(last + k, sizeof last - k, "X %s %d\n", how, value);
	hs_trace_emergency(last, k);
}

void hs_finish(const char *how, int value)
{
	if (!trace_is_mine() || claim() != CLAIMED)
		return;
	/* the status the parent sees: exit(-1) is 255 */
	int status = strcmp(how, "exit") == 0 ? value & 0xff : value;
	if (hs_trace_lock_mine())
		end_marker_only("the process ended while this thread was writing the "
		                "trace (exit from a signal handler)", how, status);
	else
		finish_work(how, status, NULL, hs_busy != 0);
	claimed_done();
}

bool hs_signal_inside(void *ctx)
{
	uintptr_t regs[HS_WORLD_NREGS], sp, pc, lo, hi;
	hs_world_context(ctx, regs, &sp, &pc);
	hs_modules_self_text(&lo, &hi);
	return hs_busy || (pc >= lo && pc < hi);
}

void hs_finish_signal(int sig, void *ctx)
{
	if (!trace_is_mine())
		return;
	enum claim c = claim();
	if (c == OTHERS)
		return;
	if (c == MINE || hs_trace_lock_mine()) {
		/* A fault inside the finish, or this thread was writing the
		 * trace: the end marker only. */
		end_marker_only(c == MINE ? NULL : "the signal came while this thread "
		                "was writing the trace", "signal", sig);
		if (c == CLAIMED)
			claimed_done();
		return;
	}
	uintptr_t regs[HS_WORLD_NREGS], sp, pc;
	size_t nregs = hs_world_context(ctx, regs, &sp, &pc);
	struct hs_lk_self self = {
		/* the interrupted code's red zone is live; the handler's frames
		 * are below it (or on the alternate stack) */
		.sp = sp > REDZONE ? sp - REDZONE : sp, .regs = regs, .nregs = nregs,
	};
	stack_t ss;
	if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
		self.skip_lo = (uintptr_t)ss.ss_sp;
		self.skip_hi = (uintptr_t)ss.ss_sp + ss.ss_size;
	}
	finish_work("signal", sig, &self, hs_signal_inside(ctx));
	claimed_done();
}
