/*
 * init.c — starting up inside someone else's process, and fork.
 *
 * Malloc can be called before our constructor runs (by the loader, by
 * libc's own start-up). The allocator needs nothing for that: its state
 * starts as zeroed memory, and the first allocation sets the header
 * secret (alloc/secret.c). hs_init, our constructor, runs once libc is
 * ready: settings, the hooks the allocator calls up through, fork
 * handlers, the trace. Threads arm their own teardown when they start
 * (hook_thread.c).
 */
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "checks/checks.h"
#include "record/record.h"
#include "record/sampler.h"
#include "record/sites.h"

/* Threads that have used the allocator and not yet ended, for fork: a
 * child of a process with others knows some headers may be torn. */
static _Atomic int threads_live;
static __thread bool thread_counted;

/* The end of a thread (a TLS destructor armed by hook_thread.c): its
 * cached slots back to the bins, its quarantine verified and unmapped,
 * its counts folded. Later allocations of this thread (other destructors
 * run after ours) go straight to the central lists. */
void hs_thread_exit(void *arg)
{
	(void)arg;
	if (thread_counted) {
		thread_counted = false;
		atomic_fetch_sub_explicit(&threads_live, 1, memory_order_relaxed);
	}
	hs_tcache_teardown(&hs_tc);
	hs_quarantine_thread_exit();
	hs_counters_fold();
	hs_stack_cache_thread_exit();
	hs_sites_thread_exit();         /* its site counts join the ended ones */
}

void hs_thread_start(void)
{
	if (!thread_counted) {
		thread_counted = true;
		atomic_fetch_add_explicit(&threads_live, 1, memory_order_relaxed);
	}
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
	hs_nodes_lock();
}

static void fork_parent(void)
{
	hs_nodes_unlock();
	hs_huge_unlock();
	hs_buddy_unlock();
	hs_bins_unlock_all();
}

static void fork_child(void)
{
	if (others_at_fork)
		hs_forked_amid_threads = true;
	atomic_store_explicit(&threads_live, thread_counted ? 1 : 0, memory_order_relaxed);
	hs_nodes_reinit_child();
	hs_huge_reinit_child();
	hs_buddy_reinit_child();
	hs_bins_reinit_child();
}

/* Optional parts, linked in when present (weak so the allocator stands
 * alone in unit tests). */
__attribute__((weak)) void hs_faults_init_from_env(void);

/* What the allocator calls up through (alloc.h). The quarantine takes
 * what realloc frees only with checks on: heap.c asks then alone. */
static void fill_alloc_hooks(void)
{
	hs_alloc_hooks.thread_start = hs_thread_start;
	hs_alloc_hooks.bad_cached_slot = hs_bad_cached_slot;
	hs_alloc_hooks.retire = hs_quarantine_free;
	hs_alloc_hooks.tick = hs_sampler_tick;
}

void hs_init(void)
{
	if (hs_initialized)
		return;
	hs_secret_init();
	fill_alloc_hooks();
	hs_config_init();
	hs_checks_configure();
	if (hs_tc.state == 1)                   /* main thread started early */
		hs_thread_start();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	hs_initialized = 1;
	if (hs_cfg.enabled && hs_trace_open()) {
		hs_recording = 1;
		hs_detour.why[HS_DETOUR_RECORD] = 1;
		hs_lifecycle_arm();     /* exit status, signals, fork, lineage  */
		hs_sites_init();        /* the heap profile's fork handlers     */
	}
	hs_sampler_init();              /* t = 0 of the samples: the trace is open */
	if (hs_faults_init_from_env)
		hs_faults_init_from_env();
}
