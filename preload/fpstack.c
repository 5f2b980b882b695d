/*
 * fpstack.c — free stacks from frame pointers.
 *
 * With checks on, every free records where it happened, so a double free
 * or a write after free can name it. libunwind costs 100-400 ns a stack
 * here (DWARF unwinding), more than the rest of free and malloc together;
 * following saved frame pointers costs a few ns a frame. The price is
 * ASan's (its default "fast unwinder" for malloc and free stacks): the
 * innermost frame, the caller of free, is always exact; further frames
 * are exact through code built with frame pointers, and through code
 * without them the walk skips frames or stops.
 *
 * Never reads memory that may be unmapped: every frame must lie inside
 * this thread's stack, above the previous one. The bounds are found once
 * per thread: the main thread's from __libc_stack_end and RLIMIT_STACK,
 * another thread's from pthread_getattr_np (which allocates, so it runs
 * with a guard: a free it makes records only its innermost frame). A
 * frame on any other stack (sigaltstack, coroutines) ends the walk.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "trace.h"

extern void *__libc_stack_end;

enum { BOUNDS_UNKNOWN, BOUNDS_BUSY, BOUNDS_KNOWN, BOUNDS_NONE };

static __thread struct {
	uintptr_t lo, hi;
	int state;
} tb;

static void find_bounds(void)
{
	tb.state = BOUNDS_BUSY;
	if (getpid() == (pid_t)syscall(SYS_gettid)) {
		struct rlimit rl;
		uintptr_t hi = (uintptr_t)__libc_stack_end;
		uintptr_t span = (uintptr_t)64 << 20;
		if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		    && rl.rlim_cur < span)
			span = rl.rlim_cur;
		tb.lo = hi > span ? hi - span : 0;
		tb.hi = hi;
		tb.state = hi ? BOUNDS_KNOWN : BOUNDS_NONE;
		return;
	}
	pthread_attr_t attr;
	void *addr;
	size_t size;
	int ok = pthread_getattr_np(pthread_self(), &attr) == 0;
	if (ok) {
		ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
		pthread_attr_destroy(&attr);
	}
	if (ok && addr && size) {
		tb.lo = (uintptr_t)addr;
		tb.hi = (uintptr_t)addr + size;
		tb.state = BOUNDS_KNOWN;
	} else {
		tb.state = BOUNDS_NONE;
	}
}

uint32_t hs_stack_capture_fp(uintptr_t ra, uintptr_t fp)
{
	uintptr_t ips[HS_STACK_MAX];
	unsigned n = 0;
	unsigned depth = hs_cfg.stack_depth > 0 ? (unsigned)hs_cfg.stack_depth : 32;
	if (depth > HS_STACK_MAX)
		depth = HS_STACK_MAX;
	if (!ra)
		return 0;
	ips[n++] = ra;
	if (tb.state == BOUNDS_UNKNOWN)
		find_bounds();
	/* fp is the caller's frame: [fp] its caller's fp, [fp + 8] the return
	 * address into its caller. The first frame must be on this stack,
	 * above us (the local ips[] marks where we are). */
	uintptr_t here = (uintptr_t)ips;
	if (tb.state == BOUNDS_KNOWN && here >= tb.lo && here < tb.hi) {
		uintptr_t prev = here;
		while (n < depth && fp > prev && fp <= tb.hi - 16 && !(fp & 7)) {
			const uintptr_t *f = (const uintptr_t *)fp;
			uintptr_t ip = f[1];
			if (ip < 4096)
				break;
			ips[n++] = ip;
			prev = fp;
			fp = f[0];
		}
	}
	return hs_stack_intern(ips, n);
}
