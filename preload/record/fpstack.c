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
 *
 * The walk itself is inline (fpstack.h), in the checked free path; this
 * file holds what runs once per thread or once per new stack.
 */
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fpstack.h"
#include "trace.h"

extern void *__libc_stack_end;

__thread struct hs_fp_bounds hs_fpb;
__thread struct hs_fp_cache hs_fpc[HS_FP_CACHE];

void hs_fp_find_bounds(void)
{
	int saved = errno;
	struct hs_fp_bounds *tb = &hs_fpb;
	tb->state = HS_FPB_BUSY;
	tb->depth = hs_cfg.stack_depth > 0 ? (unsigned)hs_cfg.stack_depth : 32;
	if (tb->depth > HS_STACK_MAX)
		tb->depth = HS_STACK_MAX;
	if (getpid() == (pid_t)syscall(SYS_gettid)) {
		struct rlimit rl;
		uintptr_t hi = (uintptr_t)__libc_stack_end;
		uintptr_t span = (uintptr_t)64 << 20;
		if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		    && rl.rlim_cur < span)
			span = rl.rlim_cur;
		tb->lo = hi > span ? hi - span : 0;
		tb->hi = hi;
		tb->state = hi ? HS_FPB_KNOWN : HS_FPB_NONE;
		errno = saved;
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
		tb->lo = (uintptr_t)addr;
		tb->hi = (uintptr_t)addr + size;
		tb->state = HS_FPB_KNOWN;
	} else {
		tb->state = HS_FPB_NONE;
	}
	errno = saved;
}

uint32_t hs_fp_intern(const uintptr_t *ips, unsigned n, uint64_t hash)
{
	uint32_t id = hs_stack_intern(ips, n);
	if (id) {
		struct hs_fp_cache *c = &hs_fpc[(hash >> 58) & (HS_FP_CACHE - 1)];
		c->hash = hash;
		c->id = id;
	}
	return id;
}
