/*
 * leaks.c — hs_leaks_scan(): the reachability scan at exit.
 *
 *   1. where the exiting thread's live frames begin (leakexit.c): the
 *      exit path's own frames below them are not roots;
 *   2. with the buddy and huge locks held (no arena or huge mapping goes
 *      away, none appears), the index of every live block from the
 *      allocator's own structures (leakindex.c): one mark byte per block;
 *   3. what is never a root: our arenas and huge mappings (their live
 *      blocks are graph nodes; the rest is free memory with stale
 *      pointers), arena metadata, boot chunks, our library's data, the
 *      scan's own scratch (the mark stack holds block addresses);
 *   4. the roots (leakroots.c) and the classification (leakgraph.c), the
 *      records gathered (leakrecords.c); the locks are released, then the
 *      `C`, `B`, `Z` and `U` lines are written (docs/TRACE-FORMAT.md).
 *
 * Other threads may still run. Blocks freed meanwhile by a thread cache
 * stay mapped and are at worst scanned stale; a lookup never reads past
 * a block's slot (leakindex.c).
 */
#include <link.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "leaks.h"
#include "record/record.h"
#include "leakindex.h"
#include "leakroots.h"

#define PAGE ((uintptr_t)HS_PAGE_SIZE)

static uintptr_t page_down(uintptr_t a) { return a & ~(PAGE - 1); }
static uintptr_t page_up(uintptr_t a)   { return (a + PAGE - 1) & ~(PAGE - 1); }

/* ---- scratch memory ------------------------------------------------------ */

void *hs_lk_map(size_t len)
{
	void *p = mmap(NULL, page_up(len), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void hs_lk_unmap(void *p, size_t len)
{
	if (p)
		munmap(p, page_up(len));
}

bool hs_lk_grow(void **p, size_t *len, size_t want)
{
	want = page_up(want);
	if (want <= *len)
		return true;
	void *n = *p ? mremap(*p, *len, want, MREMAP_MAYMOVE)
	             : mmap(NULL, want, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == MAP_FAILED)
		return false;
	*p = n;
	*len = want;
	return true;
}

/* ---- 2. not roots -------------------------------------------------------- */

static void exclude_arena(struct hs_arena *a, void *ctx)
{
	struct hs_lk_excl *e = ctx;
	hs_lk_exclude(e, (uintptr_t)a->base, (uintptr_t)a->base + HS_ARENA_SIZE);
	hs_lk_exclude(e, page_down((uintptr_t)a), page_up((uintptr_t)(a + 1)));
}

/* A huge block's mapping runs from its descriptor (the granule's pagemap
 * entry) to the page end after the block: exactly what huge.c maps. */
static void exclude_huge(struct hs_lk_excl *e, const struct hs_lk_index *ix)
{
	for (size_t i = 0; i < ix->other.n; i++) {
		const struct hs_lk_entry *b = &ix->other.e[i];
		if (b->where != HS_BIN_HUGE)
			continue;
		uintptr_t v = hs_pagemap_get((void *)b->start);
		if (v & HS_GRANULE_HUGE)
			hs_lk_exclude(e, v & ~HS_GRANULE_HUGE, page_up(b->start + b->size));
	}
}

/* The index holds block addresses: not a root. */
static void exclude_index(struct hs_lk_excl *e, const struct hs_lk_index *ix)
{
	hs_lk_exclude(e, (uintptr_t)ix->marks, (uintptr_t)ix->marks + ix->marks_bytes);
	hs_lk_exclude(e, (uintptr_t)ix->arenas, (uintptr_t)ix->arenas + ix->arenas_bytes);
	hs_lk_exclude(e, (uintptr_t)ix->by_index, (uintptr_t)ix->by_index + ix->by_index_bytes);
	hs_lk_exclude(e, (uintptr_t)ix->entries, (uintptr_t)ix->entries + ix->entries_bytes);
}

/* Boot chunks hold freed boot blocks, never reused: stale pointers. */
static void exclude_boot(struct hs_lk_excl *e, const struct hs_lk_maps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct hs_lk_region *r = &m->reg[i];
		if (r->type != HS_LK_ANON || !r->w)
			continue;
		uintptr_t run = 0;
		for (uintptr_t p = r->lo; p < r->hi; p += PAGE) {
			bool ours = hs_boot_owns((void *)p);
			if (ours && !run)
				run = p;
			else if (!ours && run) {
				hs_lk_exclude(e, run, p);
				run = 0;
			}
		}
		if (run)
			hs_lk_exclude(e, run, r->hi);
	}
}

static int exclude_self_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct hs_lk_excl *e = ctx;
	uintptr_t me = (uintptr_t)&hs_leaks_scan;
	bool mine = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && me >= lo && me < lo + ph->p_memsz)
			mine = true;
	}
	if (!mine)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
			hs_lk_exclude(e, page_down(lo), page_up(lo + ph->p_memsz));
	}
	return 1;
}

/* ---- 4 ------------------------------------------------------------------ */

struct scan {
	struct hs_lk_roots rt;          /* zeroed: hs_lk_roots_prepare's    */
	struct hs_lk_index ix;
	struct hs_lk_records *records;
	const struct hs_lk_exit_frame *frame;   /* NULL: not found          */
	uintptr_t sp;                   /* live frames of this thread above  */
};

/* Blocks whose damaged header still vouches for its size and stack were
 * classified as usual (the exit check reports the damage): nothing lost.
 * What could not be trusted is said. */
static void say_untrusted(const struct hs_lk_index *ix)
{
	if (ix->skipped)
		hs_trace_printf("! leak scan: %zu slot(s) or block(s) skipped, their header "
		                "or page metadata damaged: %zu bytes not scanned nor "
		                "reported\n", ix->skipped, ix->skipped_bytes);
}

/* Everything between the lock and the records, with the buddy and huge
 * locks held. Kept out of line so that no block address it handles can
 * sit in a frame the stack scan reads. */
static __attribute__((noinline)) bool classify(struct scan *sc)
{
	struct hs_lk_roots *rt = &sc->rt;
	struct hs_lk_excl *e = &rt->excl;
	uintptr_t *scratch = NULL;
	size_t scratch_bytes = 0;
	bool ok = false;

	if (!hs_lk_index_build(&sc->ix))
		goto out;
	hs_buddy_foreach_arena_locked(exclude_arena, e);
	if (sc->ix.ops.n && !hs_lk_grow((void **)&scratch, &scratch_bytes,
	                                3 * sc->ix.ops.n * sizeof *scratch))
		goto out;
	exclude_huge(e, &sc->ix);
	exclude_index(e, &sc->ix);
	hs_lk_exclude(e, (uintptr_t)sc, (uintptr_t)(sc + 1));  /* it too */
	hs_lk_exclude(e, (uintptr_t)scratch, (uintptr_t)scratch + scratch_bytes);
	if (!hs_lk_roots_prepare(rt, sc->sp))
		goto out;
	exclude_boot(e, &rt->maps);

	struct hs_lk_graph g;
	hs_lk_init(&g, &sc->ix.ops, scratch);
	g.heuristics = HS_LK_HEUR_ALL;              /* memcheck's default */
	g.is_vtable = hs_lk_maps_is_vtable;
	g.vtable_ctx = &rt->maps;
	g.copy = hs_lk_copy_mem;
	g.copy_buf = rt->copy_buf;                 /* free once roots are read */
	g.copy_len = HS_LK_COPY_CHUNK;
	sc->records = hs_lk_records_new(&sc->ix);
	g.tell = sc->records ? hs_lk_records_tell : NULL;
	g.tell_ctx = sc->records;
	for (unsigned i = 0; sc->frame && i < sc->frame->nregs; i++)
		hs_lk_root_word(&g, sc->frame->regs[i]);
	hs_lk_roots_scan(rt, &g);
	hs_lk_classify(&g);
	if (sc->records && !hs_lk_records_finish(sc->records)) {
		hs_lk_records_free(sc->records);
		sc->records = NULL;
	}
	ok = true;
out:
	hs_lk_roots_free(rt);
	hs_lk_unmap(scratch, scratch_bytes);
	return ok;
}

void hs_leaks_scan(void)
{
	static int done;
	if (done || !hs_trace_active())
		return;
	done = 1;
	if (hs_busy) {
		/* exit reached from inside the allocator (a signal handler):
		 * its locks may be ours, the heap half-updated */
		hs_trace_printf("! leak scan skipped: process ended inside the allocator\n");
		return;
	}
	/* Without the exit frame, this frame is the limit, and the registers
	 * (callee-saved ones may hold the only pointer to a block) are put in
	 * it with getcontext. */
	struct hs_lk_exit_frame frame;
	ucontext_t regs;
	bool have_frame = hs_lk_exit_frame(&frame);
	if (!have_frame)
		getcontext(&regs);
	struct scan *sc = hs_lk_map(sizeof *sc);
	if (!sc) {
		hs_trace_printf("! leak scan: no memory\n");
		return;
	}
	sc->frame = have_frame ? &frame : NULL;
	sc->sp = have_frame ? frame.sp : (uintptr_t)&regs;
	/* the loader's lock (dl_iterate_phdr) is never taken under ours */
	dl_iterate_phdr(exclude_self_object, &sc->rt.excl);
	hs_buddy_lock();
	hs_huge_lock();
	bool ok = classify(sc);
	hs_huge_unlock();
	hs_buddy_unlock();
	if (!ok)
		hs_trace_printf("! leak scan: no memory, or could not read the process's mappings\n");
	else if (!sc->records)
		hs_trace_printf("! leak scan: no memory for the records\n");
	else
		hs_lk_records_write(sc->records);
	if (ok)
		say_untrusted(&sc->ix);
	hs_lk_index_free(&sc->ix);
	hs_lk_unmap(sc, sizeof *sc);
	__asm__ volatile("" : : "r"(&regs), "r"(&frame) : "memory");   /* keep them */
}
