/*
 * leakroots.h — the process side of the leak scan, for leaks.c:
 *   leakmaps.c    /proc/self/maps parsed into regions (no stdio, no malloc)
 *   leakroots.c   which of that memory is a root: writable mappings minus
 *                 heapscope's own memory and dead stack areas
 *   leakthreads.c which stack areas are dead, glibc's thread descriptors
 * and the scratch memory the scan works in (mmap only: we are malloc).
 */
#ifndef HS_LEAKROOTS_H
#define HS_LEAKROOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leakgraph.h"

struct hs_world;
struct hs_lk_self;

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
	uint8_t   loader;    /* a mapping of the dynamic loader (ld.so)       */
};

struct hs_lk_maps {
	struct hs_lk_region *reg;   /* sorted by address, as the kernel lists */
	size_t n;
	size_t bytes;               /* mapped size of reg                    */
	char  *text;                /* the file as read (kept mapped: see    */
	size_t text_bytes;          /* hs_lk_roots_prepare)                  */
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

/* ---- leakexit.c ---------------------------------------------------------- */
/* The exiting thread's live frames: its stack below sp holds only the exit
 * path's frames (and dead ones under them); regs are the register values
 * live in the frame at sp. False if the walk did not get there (no unwind
 * information): then the caller keeps its own frame as the limit. */
struct hs_lk_exit_frame {
	uintptr_t sp;
	uintptr_t regs[16];
	unsigned  nregs;
};
bool hs_lk_exit_frame(struct hs_lk_exit_frame *f);

/* ---- leakroots.c --------------------------------------------------------- */
/* Copy up to len bytes of our own memory at src into dst without risking
 * a fault (process_vm_readv on ourselves): returns the bytes copied, 0 if
 * the first page is gone. Fits hs_lk_graph.copy. */
size_t hs_lk_copy_mem(void *dst, uintptr_t src, size_t len, void *ctx);
#define HS_LK_COPY_CHUNK (256 * 1024)     /* size of hs_lk_roots.copy_buf */

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
	size_t skipped_bytes;       /* never-written private pages skipped   */
	size_t threads;             /* threads listed in /proc/self/task     */
	size_t threads_with_sp;     /* of which the stack pointer was known  */
	size_t tcbs;                /* glibc thread descriptors found        */
	size_t dead_stacks;         /* of which dead (thread exited): skipped */
	bool   tid_known;           /* the tid field of a TCB was located    */
};

struct hs_lk_thread {
	int32_t   tid;
	uintptr_t sp;               /* 0: unknown (running, or unreadable)   */
};

struct hs_lk_threads {
	struct hs_lk_thread *t;
	size_t n, bytes;
};

/* One root scan. Zero it (world and self may be set: the stopped threads
 * and the scanning thread's registers and memory to skip, leaks.h), add
 * heapscope's own memory to excl, then: */
struct hs_lk_roots {
	const struct hs_world   *world;
	const struct hs_lk_self *self_ctx;
	struct hs_lk_excl    excl;
	struct hs_lk_maps    maps;
	struct hs_lk_threads threads;
	char     *copy_buf;
	int       pagemap_fd;       /* /proc/self/pagemap, if pagemap_open   */
	bool      pagemap_open;
	uintptr_t sp;               /* the current thread's: dead below      */
	int32_t   self;             /* the current thread's tid              */
	struct hs_lk_root_stats stats;
};

/* leakthreads.c: every thread of the process, with its stack pointer
 * where known (self_sp for the thread 'self'): from the world stop when
 * w is not NULL, else as /proc shows them (blocked threads only). */
void hs_lk_list_threads(struct hs_lk_threads *th, int32_t self, uintptr_t self_sp,
                        const struct hs_world *w);
/* leakthreads.c: registers as roots: the stopped threads' and the
 * scanning thread's (rt->world, rt->self_ctx). */
void hs_lk_threads_regs(const struct hs_lk_roots *rt, struct hs_lk_graph *g);
/* leakthreads.c: exclude the dead parts of thread stacks (below stack
 * pointers, stacks of exited threads) and root glibc's dtv blocks. */
void hs_lk_threads_apply(struct hs_lk_roots *rt, struct hs_lk_graph *g);

/* Map the scratch, list the threads, then read the maps — last, so that
 * the regions describe our scratch as it stays. sp: the current thread's
 * stack pointer. False if memory or /proc/self/maps is unavailable. */
bool hs_lk_roots_prepare(struct hs_lk_roots *rt, uintptr_t sp);
/* Phase 1 input: scan every root of the process into g (adds dead stack
 * areas to the exclusions first). */
void hs_lk_roots_scan(struct hs_lk_roots *rt, struct hs_lk_graph *g);
void hs_lk_roots_free(struct hs_lk_roots *rt);

#endif
