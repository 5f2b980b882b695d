/*
 * init.c — starting up inside someone else's process, and fork.
 *
 * Two stages, because malloc can be called before our constructor runs
 * (by the loader, by libc's own start-up):
 *   hs_init_early  on the first allocation: the header secret. Needs
 *                  nothing from libc that could allocate.
 *   hs_init        our constructor, once libc is ready: settings, the
 *                  thread-exit key, fork handlers, the trace.
 * The allocator itself needs neither: its state starts as zeroed memory.
 */
#include <sys/auxv.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

uint64_t hs_secret;
int hs_initialized;
int hs_recording;
__thread volatile int hs_busy;

static pthread_key_t thread_key;
static int thread_key_ok;

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

void hs_init_early(void)
{
	if (hs_secret)
		return;
	/* AT_RANDOM's bytes feed glibc's guards; pass them through a mixer
	 * with the clock and our load address so the check reveals none. */
	uint64_t r = 0;
	const unsigned char *ar = (const unsigned char *)getauxval(AT_RANDOM);
	if (ar)
		memcpy(&r, ar + 8, sizeof r);
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t s = mix(r ^ mix(((uint64_t)hi << 32 | lo) ^ (uintptr_t)&hs_secret));
	hs_secret = s ? s : 0x5eed;
}

/* Threads that have used the allocator and not yet ended, for fork: a
 * child of a process with others knows some headers may be torn. */
static _Atomic int threads_live;
static __thread bool thread_counted;
bool hs_forked_amid_threads;

static void thread_exit(void *arg)
{
	(void)arg;
	if (thread_counted) {
		thread_counted = false;
		atomic_fetch_sub_explicit(&threads_live, 1, memory_order_relaxed);
	}
	hs_tcache_teardown(&hs_tc);
	hs_counters_fold();
	hs_stack_cache_thread_exit();
}

void hs_thread_start(void)
{
	if (!thread_counted) {
		thread_counted = true;
		atomic_fetch_add_explicit(&threads_live, 1, memory_order_relaxed);
	}
	hs_tc.state = 1;
	/* Keys below PTHREAD_KEY_2NDLEVEL_SIZE use storage inside the thread
	 * descriptor: setspecific does not allocate for ours. */
	if (thread_key_ok)
		pthread_setspecific(thread_key, &hs_tc);
}

/* fork: take every allocator lock so the child inherits a consistent
 * heap, in the one order used everywhere (bins, then buddy, then huge). */
static bool others_at_fork;

static void fork_prepare(void)
{
	/* Threads in the lock-free paths (a cache pop, a header being
	 * sealed) are not stopped by the locks below. */
	others_at_fork = atomic_load_explicit(&threads_live, memory_order_relaxed)
	                 > (thread_counted ? 1 : 0);
	hs_bins_lock_all();
	hs_buddy_lock();
	hs_huge_lock();
}

static void fork_parent(void)
{
	hs_huge_unlock();
	hs_buddy_unlock();
	hs_bins_unlock_all();
}

static void fork_child(void)
{
	if (others_at_fork)
		hs_forked_amid_threads = true;
	atomic_store_explicit(&threads_live, thread_counted ? 1 : 0, memory_order_relaxed);
	hs_huge_reinit_child();
	hs_buddy_reinit_child();
	hs_bins_reinit_child();
}

/* Optional parts, linked in when present (weak so the allocator stands
 * alone in unit tests). */
__attribute__((weak)) bool hs_trace_open(void);
__attribute__((weak)) void hs_faults_init_from_env(void);
__attribute__((weak)) void hs_sampler_init(void);

void hs_init(void)
{
	if (hs_initialized)
		return;
	hs_init_early();
	hs_config_init();
	if (pthread_key_create(&thread_key, thread_exit) == 0)
		thread_key_ok = 1;
	if (hs_tc.state == 1)                   /* main thread started early */
		hs_thread_start();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	hs_initialized = 1;
	if (hs_cfg.enabled && hs_trace_open && hs_trace_open())
		hs_recording = 1;
	if (hs_sampler_init)
		hs_sampler_init();      /* t = 0 of the samples: the trace is open */
	if (hs_faults_init_from_env)
		hs_faults_init_from_env();
}
