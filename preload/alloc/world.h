/*
 * world.h — a still world for the exit-time heap walks (world.c,
 * world_proc.c), and the allocator's locks taken with a deadline
 * (heap.c).
 *
 * The leak scan and the exit heap check read every block while the
 * program's other threads may still run. hs_world_stop() brings each of
 * them to a point where it is outside the allocator and holds none of its
 * locks, and keeps it there until hs_world_resume():
 *
 *   parked    a running thread is sent a real-time signal; its handler,
 *             if the thread was outside heapscope (hs_busy clear and the
 *             interrupted pc outside our text), saves its registers and
 *             waits on a futex; if inside, it returns at once and the
 *             signal is sent again a little later;
 *   idle      a thread blocked in the kernel (a system call, a page
 *             fault) is not signalled: a signal would make some of those
 *             calls (nanosleep, poll, epoll_wait, ...) fail with EINTR,
 *             which the program would see. hs_world_verify() proves
 *             after the walk that it stayed blocked all along (its
 *             context-switch counts and system call did not change);
 *   running   a thread that could not be stopped in bounded time: it
 *             blocks the signal, or stayed inside heapscope.
 *
 * Nothing here takes the loader's lock, libunwind's, the trace's or any
 * lock a parked thread may hold: only system calls. No malloc, no stdio.
 */
#ifndef HS_WORLD_H
#define HS_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Registers saved by a parked thread: x86-64's 16 general registers and
 * the pc; a thread blocked in a system call gives its 6 arguments. */
#define HS_WORLD_NREGS 17

enum hs_world_state {
	HS_TH_RUNNING = 0,       /* not stopped (why says why)             */
	HS_TH_PARKED,            /* stopped by the signal; regs, sp valid  */
	HS_TH_IDLE,              /* blocked in the kernel, not signalled   */
	HS_TH_GONE,              /* exited, or a zombie: nothing to stop   */
};

enum hs_world_why {
	HS_WHY_NONE = 0,
	HS_WHY_SIGBLOCKED,       /* the thread blocks the stop signal       */
	HS_WHY_INSIDE,           /* it stayed inside heapscope              */
	HS_WHY_NOANSWER,         /* the signal was sent, no answer came     */
	HS_WHY_NOSIGNAL,         /* no free real-time signal to use         */
	HS_WHY_RAN,              /* idle at the start, ran during the walk  */
};

struct hs_world_thread {
	int32_t   tid;
	uint8_t   state;         /* enum hs_world_state                      */
	uint8_t   why;           /* enum hs_world_why, for HS_TH_RUNNING     */
	uint8_t   nregs;         /* valid words in regs                      */
	uintptr_t sp;            /* its stack pointer, 0 if unknown          */
	uintptr_t regs[HS_WORLD_NREGS];
	/* idle threads: what proves they stayed blocked */
	uint64_t  switches;      /* voluntary + involuntary context switches */
	uint64_t  syscall_sum;   /* hash of /proc/.../syscall                */
	/* parked threads: the handshake (world.c) */
	_Atomic uint32_t asked;  /* generation it was signalled in           */
	_Atomic uint32_t answer; /* gen << 2 | ANSWER_* (world.c)            */
	uint64_t  sent_ns;       /* when it was last signalled               */
};

#define HS_WORLD_MAX 4096    /* threads one stop can handle              */

struct hs_world {
	struct hs_world_thread *t;   /* every other thread (not the caller)  */
	size_t   n;
	int32_t  self;               /* the caller's tid                     */
	int      sig;                /* the stop signal, 0 if none was free  */
	unsigned parked, idle, running;
	size_t   overflow;           /* threads beyond HS_WORLD_MAX: running */
	bool     stopped;            /* between stop and resume              */
	bool     ran;                /* hs_world_verify found activity       */
	/* threads that ran while thought idle: the next stop signals them
	 * even if they are blocked again (kept across stops; zero it once) */
	int32_t  esc[64];
	size_t   nesc;
};

/* Stop every other thread as above. Bounded: a thread that has not
 * stopped within about half a second is left running (and counted).
 * text_lo/hi: libheapscope's executable text (a pc there is "inside").
 * Returns false only if the threads could not even be listed. */
bool hs_world_stop(struct hs_world *w, uintptr_t text_lo, uintptr_t text_hi);
/* After the walk, before resuming: did every idle thread stay blocked,
 * and no thread appear? Idle threads that ran become HS_TH_RUNNING (why
 * HS_WHY_RAN) and are marked to be signalled at the next stop. */
bool hs_world_verify(struct hs_world *w);
/* Let the parked threads go. */
void hs_world_resume(struct hs_world *w);
/* The registers, stack pointer and pc of a signal's ucontext (ctx, the
 * handler's third argument); returns how many registers (0 where the
 * layout is unknown: then sp is ctx itself, so that a stack scan from it
 * covers the signal frame and the registers in it). */
size_t hs_world_context(const void *ctx, uintptr_t regs[HS_WORLD_NREGS],
                        uintptr_t *sp, uintptr_t *pc);
/* A short text for a thread left running ("thread 123 blocks the stop
 * signal"), into out (cap bytes); returns out. */
const char *hs_world_why_text(const struct hs_world_thread *t, char *out, size_t cap);

/* ---- world_proc.c: the threads as /proc/self/task shows them ------- */
struct hs_task_info {
	bool      blocked;       /* in the kernel ("syscall" is not "running") */
	bool      in_syscall;    /* blocked in a system call (not -1)        */
	uintptr_t sp;            /* its stack pointer while blocked, else 0  */
	uintptr_t args[6];       /* the system call's arguments              */
	uint64_t  syscall_sum;   /* hash of the syscall line                 */
	uint64_t  switches;      /* context switches so far                  */
	uint64_t  sigblk;        /* its blocked signal mask (bit n-1: sig n) */
	bool      status_ok;     /* switches and sigblk were read            */
	bool      dead;          /* a zombie (a main thread that exited)     */
};
/* Calls fn(tid, ctx) for every thread of the process; false if
 * /proc/self/task cannot be read. fn returns false to stop early. */
bool hs_task_foreach(bool (*fn)(int32_t tid, void *ctx), void *ctx);
/* What /proc/self/task/TID/{syscall,status} say; false if it is gone. */
bool hs_task_read(int32_t tid, struct hs_task_info *out);

#endif
