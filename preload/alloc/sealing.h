/*
 * sealing.h — large blocks between the buddy and their header.
 *
 * alloc_large (heap.c) takes pages from the buddy (which marks them
 * PG_LARGE under its lock) and writes the block's header and canary after
 * the lock is released. Until then the pages hold stale bytes. The
 * exit-time walk (checks.c) runs while other threads may still be
 * allocating, so it must not take such a header for a damaged one: this
 * counts the large allocations between the two steps, and the large
 * blocks realloc is resizing in place (the pages change before the
 * header and canary do).
 */
#ifndef HS_SEALING_H
#define HS_SEALING_H

#include <stdatomic.h>

extern _Atomic unsigned hs_large_sealing;

#endif
