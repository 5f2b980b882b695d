/*
 * nodes.c — small records heapscope keeps outside the heap.
 *
 * Two kinds: the start record pthread_create hands to a new thread
 * (hooks/hook_thread.c), and a record libc allocates on our behalf. A
 * thread's cache teardown is registered as a TLS destructor
 * (__cxa_thread_atexit_impl, hooks/hook_thread.c), and glibc keeps each
 * registration in a record it callocs and frees after running it. That
 * record is heapscope's, not the program's: from the heap it would show
 * in every leak report as a block still reachable per live thread, and
 * count among the program's allocations. The calloc made during the
 * registration is served here instead (hook_malloc.c).
 *
 * A node is a 64-byte slot: a valid header (bin HS_BIN_BOOT, so free()
 * recognises it through hs_heap_lookup without a report) and up to 48
 * bytes. The slots live in one reservation made on first use, never in
 * the heap's arenas, so the leak scan neither lists nor counts them; the
 * reservation is an ordinary anonymous mapping and so one of the scan's
 * roots: a program's TLS destructor record reached only through ours
 * (glibc chains them) stays reachable. A freed node is zeroed (no stale
 * pointers in a root) and reused. Registrations happen in a new thread
 * before its start routine, frees at its end: a plain mutex, taken by
 * the fork handlers like the allocator's own locks.
 */
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"

#define NODE_SIZE 64
#define NODE_MAX  16384                 /* live threads served from here   */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *_Atomic base;              /* the reservation, NODE_MAX slots */
static size_t used;                     /* slots handed out at least once  */
static char *free_list;                 /* freed slots, linked by word 0   */

void *hs_node_alloc(size_t size)
{
	if (size > NODE_SIZE - HS_HEADER_SIZE)
		return NULL;
	if (unlikely(!hs_secret))
		hs_secret_init();
	pthread_mutex_lock(&lock);
	char *b = atomic_load(&base);
	if (!b) {
		void *m = mmap(NULL, (size_t)NODE_SIZE * NODE_MAX, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED)
			atomic_store(&base, b = m);
	}
	char *slot = NULL;
	if (free_list) {
		slot = free_list;
		free_list = *(char **)slot;
		*(char **)slot = NULL;
	} else if (b && used < NODE_MAX) {
		slot = b + used++ * NODE_SIZE;
	}
	pthread_mutex_unlock(&lock);
	if (!slot)
		return NULL;
	hs_header_set((struct hs_header *)slot, size, HS_BIN_BOOT, HS_KIND_MALLOC, 0);
	return slot + HS_HEADER_SIZE;        /* zero: fresh, or zeroed when freed */
}

bool hs_node_owns(const void *p)
{
	const char *b = atomic_load_explicit(&base, memory_order_relaxed);
	return b && (const char *)p >= b && (const char *)p < b + (size_t)NODE_SIZE * NODE_MAX;
}

void hs_node_free(void *user)
{
	char *slot = (char *)user - HS_HEADER_SIZE;
	memset(slot, 0, NODE_SIZE);
	pthread_mutex_lock(&lock);
	*(char **)slot = free_list;
	free_list = slot;
	pthread_mutex_unlock(&lock);
}

void hs_nodes_lock(void)   { pthread_mutex_lock(&lock); }
void hs_nodes_unlock(void) { pthread_mutex_unlock(&lock); }
void hs_nodes_reinit_child(void) { pthread_mutex_init(&lock, NULL); }
