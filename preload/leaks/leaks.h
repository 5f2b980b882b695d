/*
 * leaks.h — the leak scan (preload/leaks/): what it owns and offers.
 *
 *   leaks.c        the scan: stop, collect live blocks, classify, write
 *                  `C` and `L` lines
 *   leakgraph.c    memcheck's classification over the block graph
 *   leakroots.c    the roots: writable segments, thread stacks,
 *   leakmaps.c     registers, TLS (/proc/self/maps, thread list)
 *   leakthreads.c
 *
 * May call: record/ (the trace, stack ids), alloc/ (the live-block walk,
 * locks) and internal.h.
 */
#ifndef HS_LEAKS_H
#define HS_LEAKS_H

#include "alloc/alloc.h"

/* Classify every live block (memcheck's four kinds) and write `C` and `L`
 * lines. Called once, from the exit path, other threads still running. */
void hs_leaks_scan(void);

#endif
