/*
 * leakroots.h — the process side of the leak scan, for leaks.c:
 *   leakmaps.c   /proc/self/maps parsed into regions (no stdio, no malloc)
 *   leakroots.c  which of that memory is a root: writable mappings minus
 *                heapscope's own memory and dead stack areas, threads
 * and the scratch memory the scan works in (mmap only: we are malloc).
 */
#ifndef HS_LEAKROOTS_H
#define HS_LEAKROOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leakgraph.h"

/* ---- scratch memory ------------------------------------------------------ */
/* Zeroed anonymous memory, or NULL. */
void *hs_lk_map(size_t len);
void  hs_lk_unmap(void *p, size_t len);
/* Grow *p (of *len bytes, possibly NULL/0) to at least want bytes,
 * contents kept; false if the system refuses. */
bool  hs_lk_grow(void **p, size_t *len, size_t want);

/* ---- leakmaps.c ---------------------------------------------------------- */
enum hs_lk_rtype {
	HS_LK_ANON,          /* anonymous, [heap], [stack], [anon:..], /dev/zero */
	HS_LK_FILE,          /* a regular file: readable up to safe_hi          */
	HS_LK_SKIP,          /* [vvar], devices, files we cannot stat            */
};

struct hs_lk_region {
	uintptr_t lo, hi;
	uintptr_t safe_hi;   /* reading [lo, safe_hi) cannot fault (SIGBUS past
	                        a file's end); == hi for anonymous memory     */
	uint8_t   r, w, x, shared;
	uint8_t   type;      /* enum hs_lk_rtype                              */
	uint8_t   main_stack;/* the "[stack]" entry                           */
};

struct hs_lk_maps {
	struct hs_lk_region *reg;   /* sorted by address, as the kernel lists */
	size_t n;
	size_t bytes;               /* mapped size of reg                    */
};

/* Read and parse /proc/self/maps; false if it cannot be read. */
bool hs_lk_maps_read(struct hs_lk_maps *m);
void hs_lk_maps_free(struct hs_lk_maps *m);
/* The region containing addr, or NULL. */
const struct hs_lk_region *hs_lk_maps_find(const struct hs_lk_maps *m, uintptr_t addr);
/* memcheck's vtable test, for HS_LK_HEUR_MULTI (ctx: the maps): addr is in
 * a readable file mapping and, of the first 20 words there, at least two
 * non-null ones point into executable file mappings and none elsewhere. */
bool hs_lk_maps_is_vtable(uintptr_t addr, void *ctx);

/* ---- leakroots.c --------------------------------------------------------- */
struct hs_lk_range {
	uintptr_t lo, hi;
};

/* Memory that is never a root: heapscope's heap, metadata and scratch,
 * and stack areas that hold no live frames. */
struct hs_lk_excl {
	struct hs_lk_range *r;
	size_t n;
	size_t bytes;               /* mapped size of r                      */
};
bool hs_lk_exclude(struct hs_lk_excl *e, uintptr_t lo, uintptr_t hi);

struct hs_lk_root_stats {
	size_t root_bytes;          /* bytes scanned as roots                */
	size_t threads;             /* threads listed in /proc/self/task     */
	size_t threads_with_sp;     /* of which the stack pointer was known  */
	size_t tcbs;                /* glibc thread descriptors found        */
	size_t dead_stacks;         /* of which dead (thread exited): skipped */
	bool   tid_known;           /* the tid field of a TCB was located    */
};

/* Phase 1 input: scan every root of the process into g. sp: the current
 * thread's stack pointer (everything below it is dead). Adds the dead
 * stack areas it finds to e. */
void hs_lk_scan_roots(struct hs_lk_graph *g, struct hs_lk_excl *e,
                      const struct hs_lk_maps *m, uintptr_t sp,
                      struct hs_lk_root_stats *st);

#endif
