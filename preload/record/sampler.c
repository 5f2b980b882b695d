/*
 * sampler.c — VmSize and heap counters over time (`T` lines), and when to
 * take heap snapshots (snapshot.c writes them).
 *
 * How samples get taken. Three ways were weighed:
 *   a helper thread   regular samples even when the program is idle, but
 *                     it is a thread inside someone else's process: it
 *                     shows in /proc/PID/task and in debuggers, makes a
 *                     single-threaded program multi-threaded (unshare(2)
 *                     and setns(2) into a user namespace then fail with
 *                     EINVAL; fork() in the child loses it), and may be
 *                     the thread a process-directed signal is delivered
 *                     to;
 *   a timer signal    (setitimer/SIGPROF) interrupts the program's own
 *                     system calls with EINTR, takes a signal it may use
 *                     itself, and would run the sampler in a handler that
 *                     may have interrupted the allocator;
 *   slow paths        (chosen) the allocator's slow paths already fold the
 *                     thread's counters into the global ones
 *                     (hs_counters_fold in heap.c): that is where
 *                     hs_sampler_tick() is called. It compares the new
 *                     live total with the next peak-snapshot threshold
 *                     and reads CLOCK_MONOTONIC_COARSE (a vDSO read, no
 *                     system call) against the next due time; only when
 *                     the interval has passed does it sample.
 * The inline fast path (fastpath.h) is untouched. The price: a program
 * that stops taking slow paths (it allocates nothing, or only recycles
 * blocks through its thread cache) produces no samples meanwhile; its
 * heap does not change then either, and the exit sample closes the
 * series. The chart shows such a stretch as a straight line between two
 * samples, and the report's sample count makes the gap visible.
 *
 * Peak snapshots: the map of the heap when live bytes were highest. A
 * snapshot on every new peak would cost a walk per allocation in a
 * growing program; instead one is taken when live bytes pass a threshold
 * that then moves to live + max(live/8, 64 KiB). A program that grows to
 * 2 GiB takes about 80 of them (each kept only until the next; together
 * about 9 times the cost of the last, ~6 ms at 2 GiB), and the one kept
 * is within 12.5% of the true peak; its `H` line says how many bytes
 * were live when it was taken.
 *
 * SIGUSR2 (opt-in, HEAPSCOPE_SNAPSHOT_SIGNAL=1) only sets a flag: the
 * handler may have interrupted the allocator, so the snapshot is taken by
 * the next slow path, or at exit at the latest.
 *
 * Settings: HEAPSCOPE_SAMPLE_MS (default 50; 0 = no periodic samples and
 * no peak snapshots: only the exit sample and exit snapshot).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sampler.h"
#include "sites.h"

#define PEAK_MIN_STEP  ((int64_t)64 * 1024)

enum { S_NEW = 0, S_STARTING, S_ON, S_OFF };

static struct {
	_Atomic int state;
	_Atomic uint64_t busy;            /* pid << 32 | tid of the sampling
	                                     thread, 0                      */
	int  pid;                         /* whose t0 and thresholds these are */
	long interval_ms;
	bool signal_snapshots;
	uint64_t t0_ns;
	_Atomic uint64_t next_due_ns;     /* CLOCK_MONOTONIC_COARSE           */
	_Atomic int64_t  peak_trigger;    /* live bytes for the next peak map */
	_Atomic bool     oom_said;        /* the moment memory ran out is written */
} S;

static volatile sig_atomic_t usr2_pending;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t t_ms(void)
{
	return (clock_ns(CLOCK_MONOTONIC) - S.t0_ns) / 1000000u;
}

/* A CLOCK_MONOTONIC_COARSE time (the sites' peak) as t_ms. */
static uint64_t ms_of_coarse(uint64_t ns)
{
	return ns > S.t0_ns ? (ns - S.t0_ns) / 1000000u : 0;
}

/* ---- /proc/self/status ---------------------------------------------------- */

static void parse_line(const char *s, size_t n, struct hs_vm *vm)
{
	static const struct { const char *key; size_t off; } keys[] = {
		{ "VmSize:", offsetof(struct hs_vm, size_kb) },
		{ "VmRSS:",  offsetof(struct hs_vm, rss_kb) },
		{ "VmData:", offsetof(struct hs_vm, data_kb) },
	};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		size_t kl = strlen(keys[k].key);
		if (n < kl || memcmp(s, keys[k].key, kl) != 0)
			continue;
		uint64_t v = 0;
		size_t i = kl;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			v = v * 10 + (uint64_t)(s[i] - '0');
		*(uint64_t *)((char *)vm + keys[k].off) = v;
	}
}

void hs_vm_parse(const char *text, size_t len, struct hs_vm *out)
{
	memset(out, 0, sizeof *out);
	for (size_t start = 0, i = 0; i <= len; i++)
		if (i == len || text[i] == '\n') {
			parse_line(text + start, i - start, out);
			start = i + 1;
		}
}

bool hs_vm_read(struct hs_vm *out)
{
	char buf[1024];
	size_t have = 0;
	bool skipping = false;       /* inside a line longer than buf (Groups) */
	memset(out, 0, sizeof *out);
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		size_t start = 0;
		for (size_t i = 0; i < have; i++)
			if (buf[i] == '\n') {
				if (!skipping)
					parse_line(buf + start, i - start, out);
				skipping = false;
				start = i + 1;
			}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof buf) {
			skipping = true;
			have = 0;
		}
	}
	close(fd);
	return out->size_kb != 0;
}

/* ---- one sample ----------------------------------------------------------- */

/* Caller holds S.busy (or is starting the sampler). The heap's figures
 * come from hs_heap_usage (alloc/usage.c): allocator locks one at a time,
 * hs_busy set meanwhile. Returns the sample's t_ms. */
static uint64_t sample(void)
{
	struct hs_vm vm;
	struct hs_heap_usage u;
	int cancel = hs_cancel_off();  /* /proc and the trace: we hold S.busy */
	hs_vm_read(&vm);
	hs_heap_usage(&u);             /* sets hs_busy while it holds locks */

	char line[512];
	uint64_t t = t_ms();
	int n = hs_fmt(line, sizeof line, "T %lu %lu %lu %lu %lu %lu %lu %lu %lu",
	               (unsigned long)t, (unsigned long)vm.size_kb,
	               (unsigned long)vm.rss_kb, (unsigned long)vm.data_kb,
	               (unsigned long)u.live, (unsigned long)u.granted,
	               (unsigned long)u.held, (unsigned long)u.allocs,
	               (unsigned long)u.frees);
	for (int o = 0; o < HS_NR_ORDERS; o++)
		n += hs_fmt(line + n, sizeof line - (size_t)n, " %lu", (unsigned long)u.nr_free[o]);
	hs_trace_printf("%s\n", line);
	hs_trace_flush();            /* a killed process keeps its samples */
	hs_cancel_restore(cancel);
	return t;
}

static uint64_t live_now(void)
{
	struct hs_counters c;
	hs_counters_read(&c);
	return c.live_bytes;
}

/* ---- the sampling lock ---------------------------------------------------- */
/* Held by one thread at a time, named by pid and tid: a fork child does
 * not wait for a parent's thread that does not exist in it, and a thread
 * never waits for itself (a signal handler, the fatal-signal ending among
 * them, that interrupted this thread's own sample). Waiting is bounded:
 * at exit the holder may be a thread that will never run again (stopped,
 * or dead in a handler), and the process must still end. */
#define BUSY_WAIT_MAX_NS 1000000000ull  /* 1 s                             */

static uint64_t busy_self(void)
{
	return (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)syscall(SYS_gettid);
}

static bool busy_try(uint64_t me)
{
	uint64_t cur = 0;
	if (atomic_compare_exchange_strong(&S.busy, &cur, me))
		return true;
	return cur >> 32 != me >> 32 && atomic_compare_exchange_strong(&S.busy, &cur, me);
}

/* The lock, or false: this thread holds it already (interrupted), or the
 * holder did not let go within BUSY_WAIT_MAX_NS. */
static bool busy_wait(void)
{
	uint64_t me = busy_self(), since = 0;
	for (unsigned i = 0;; i++) {
		if (busy_try(me))
			return true;
		if (atomic_load(&S.busy) == me)
			return false;
		if ((i & 63) == 63) {
			uint64_t now = clock_ns(CLOCK_MONOTONIC);
			if (!since)
				since = now;
			else if (now - since > BUSY_WAIT_MAX_NS)
				return false;
		}
		sched_yield();
	}
}

static void busy_release(void)
{
	atomic_store(&S.busy, 0);
}

/* ---- settings and start ------------------------------------------------- */

static void on_usr2(int sig)
{
	(void)sig;
	usr2_pending = 1;
}

static void read_settings(void)
{
	const char *v = hs_env("HEAPSCOPE_SAMPLE_MS");
	S.interval_ms = HS_SAMPLE_MS_DEFAULT;
	if (v) {
		long n = 0;
		const char *p = v;
		for (; *p >= '0' && *p <= '9' && n <= 3600000; p++)
			n = n * 10 + (*p - '0');
		if (*p || p == v || n > 3600000)
			hs_log("HEAPSCOPE_SAMPLE_MS=%s: expected milliseconds from 0 to "
			       "3600000; using %d", v, HS_SAMPLE_MS_DEFAULT);
		else
			S.interval_ms = n;
	}
	v = hs_env("HEAPSCOPE_SNAPSHOT_SIGNAL");
	S.signal_snapshots = v && (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"));
}

static void install_usr2(void)
{
	struct sigaction old, sa;
	if (sigaction(SIGUSR2, NULL, &old) != 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
		hs_log("HEAPSCOPE_SNAPSHOT_SIGNAL: the program handles SIGUSR2 itself; "
		       "no snapshots on that signal");
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}

/* Fresh time base and thresholds: at start, and in a fork child (whose
 * trace is a new file). */
static void restart(void)
{
	if (S.pid && S.pid != (int)getpid()) {   /* a fork child's new trace */
		hs_sites_restart();
		hs_sites_forget_written();
		atomic_store(&S.oom_said, false);
	}
	S.pid = (int)getpid();
	S.t0_ns = clock_ns(CLOCK_MONOTONIC);
	uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
	S.next_due_ns = S.interval_ms ? now + (uint64_t)S.interval_ms * 1000000u : UINT64_MAX;
	S.peak_trigger = S.interval_ms ? PEAK_MIN_STEP : INT64_MAX;
}

void hs_sampler_init(void)
{
	if (atomic_load(&S.state) != S_NEW || !hs_initialized)
		return;
	int expect = S_NEW;
	if (!atomic_compare_exchange_strong(&S.state, &expect, S_STARTING))
		return;
	if (!hs_cfg.enabled || !hs_trace_active()) {
		atomic_store(&S.state, S_OFF);
		return;
	}
	read_settings();
	restart();
	if (S.signal_snapshots)
		install_usr2();
	sample();                    /* t = 0: where the chart starts */
	atomic_store(&S.state, S_ON);
}

/* ---- the slow-path hook ------------------------------------------------- */

static __attribute__((noinline)) void tick_slow(int64_t live, uint64_t now)
{
	if (!busy_try(busy_self()))
		return;
	int saved_errno = errno;
	if ((int)getpid() != S.pid) {   /* a fork child: its trace starts now */
		restart();
		hs_snap_forget_peak();
		sample();
	}
	if (usr2_pending) {
		usr2_pending = 0;
		sample();
		hs_snap_write(HS_SNAP_SIGNAL, NULL, t_ms(), live_now());
	}
	if (live >= S.peak_trigger) {
		int64_t step = live / 8 > PEAK_MIN_STEP ? live / 8 : PEAK_MIN_STEP;
		if (hs_snap_keep_peak(t_ms(), (uint64_t)live))
			S.peak_trigger = live + step;
	}
	if (now >= S.next_due_ns) {
		S.next_due_ns = now + (uint64_t)S.interval_ms * 1000000u;
		hs_sites_sample(sample());    /* `U` lines at the same t */
	}
	errno = saved_errno;
	busy_release();
}

void hs_sampler_tick(int64_t live)
{
	hs_sites_on_fold(live);
	int st = atomic_load_explicit(&S.state, memory_order_relaxed);
	if (unlikely(st != S_ON)) {
		if (st != S_NEW || !hs_initialized)
			return;
		hs_sampler_init();
		if (atomic_load(&S.state) != S_ON)
			return;
	}
	if (likely(live < S.peak_trigger) && !usr2_pending) {
		if (!S.interval_ms)
			return;
		uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
		if (likely(now < S.next_due_ns))
			return;
		tick_slow(live, now);
		return;
	}
	tick_slow(live, clock_ns(CLOCK_MONOTONIC_COARSE));
}

void hs_sample_now(void)
{
	hs_sampler_init();
	if (atomic_load(&S.state) != S_ON || hs_busy || !busy_wait())
		return;
	sample();
	busy_release();
}

/* The program asked (heapscope.h). Not from inside the allocator. */
bool hs_sampler_api_snapshot(const char *label)
{
	hs_sampler_init();
	if (atomic_load(&S.state) != S_ON || hs_busy || !busy_wait())
		return false;
	sample();
	bool ok = hs_snap_write(HS_SNAP_API, label, t_ms(), live_now());
	busy_release();
	return ok;
}

/* The first allocation that fails, for real or under a limit= policy:
 * a sample, who held the memory (`O`, `o`) and a heap snapshot, once per
 * trace. Not from inside the allocator (a signal handler's malloc). */
void hs_sampler_oom(const char *how, size_t size, uint32_t stack)
{
	hs_sampler_init();
	if (atomic_load(&S.state) != S_ON || hs_busy || atomic_load(&S.oom_said)
	    || !busy_wait())
		return;
	if ((int)getpid() != S.pid) {
		restart();
		hs_snap_forget_peak();
	}
	if (!atomic_exchange(&S.oom_said, true)) {
		int saved_errno = errno;
		uint64_t t = sample(), live = live_now();
		hs_sites_oom(how, t, live, size, stack);
		hs_snap_write(HS_SNAP_OOM, NULL, t, live);
		errno = saved_errno;
	}
	busy_release();
}

/* The exit snapshot handles block addresses (huge blocks' pointers pass
 * through formatting calls), and the leak scan that runs next scans the
 * stack: zero the dead stack below us so that no stale copy of a lost
 * block's address makes it look reachable. 16 KiB covers our deepest
 * call chain (about 4 KiB) with room to spare. */
static __attribute__((noinline)) void scrub_stack(void)
{
	char pad[16384];
	memset(pad, 0, sizeof pad);
	__asm__ volatile("" : : "r"(pad) : "memory");
}

void hs_sampler_exit(void)
{
	hs_sampler_init();
	if (atomic_load(&S.state) != S_ON)
		return;
	if (hs_busy) {
		/* exit from a signal handler that interrupted the allocator:
		 * its locks may be ours */
		hs_trace_printf("! exit sample and heap snapshot skipped: process "
		                "ended inside the allocator\n");
		return;
	}
	if (!busy_wait()) {
		atomic_store(&S.state, S_OFF);
		hs_trace_printf("! exit sample and heap snapshot skipped: the sampler "
		                "was busy (this thread, interrupted, or another that "
		                "did not finish within 1 s)\n");
		return;
	}
	atomic_store(&S.state, S_OFF);      /* no more ticks from other threads */
	if ((int)getpid() != S.pid) {
		restart();
		hs_snap_forget_peak();
	}
	hs_sites_exit(sample(), ms_of_coarse);
	uint64_t live = live_now();
	if (usr2_pending) {
		usr2_pending = 0;
		hs_snap_write(HS_SNAP_SIGNAL, NULL, t_ms(), live);
	}
	hs_snap_write(HS_SNAP_EXIT, NULL, t_ms(), live);
	hs_snap_write_peak();
	busy_release();
	scrub_stack();
}
