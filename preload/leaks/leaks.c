/*
 * leaks.c — the reachability scan at exit.
 *
 *   1. where the exiting thread's live frames begin (leakexit.c): the
 *      exit path's own frames below them are not roots;
 *   2. the index of every live block, from the allocator's own
 *      structures (leakindex.c): one mark byte per block;
 *   3. what is never a root: our arenas and huge mappings (their live
 *      blocks are graph nodes; the rest is free memory with stale
 *      pointers), arena metadata, boot chunks, our library's data, the
 *      scan's own scratch (the mark stack holds block addresses);
 *   4. the roots (leakroots.c) and the classification (leakgraph.c), the
 *      records gathered while it scans (leakrecords.c);
 *   5. the `C`, `B`, `Z` and `V` lines (docs/TRACE-FORMAT.md).
 *
 * In three calls, around the world stop that hooks/ending.c makes:
 * hs_leaks_prepare() before it (what needs the loader's lock: our own
 * object's data, and the unwind of step 1), hs_leaks_collect() while
 * every other thread is stopped or idle and every allocator lock is held
 * (steps 2-4: system calls and our own memory only, nothing that a
 * stopped thread may hold), and hs_leaks_write() after the threads were
 * resumed (step 5: the trace and the stack table take locks of their
 * own). A thread that could not be stopped may still run: huge blocks
 * are read through copies in case it unmaps one, blocks freed meanwhile
 * are at worst scanned stale, and a lookup never reads past a block's
 * slot (leakindex.c).
 */
#include <link.h>
#include <sys/mman.h>

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

/* Our library's writable segments, found before the world stops (the
 * loader's lock may be held by a stopped thread). */
#define SELF_MAX 8
static struct hs_lk_range self_obj[SELF_MAX];
static size_t nself_obj;

static int exclude_self_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	uintptr_t me = (uintptr_t)&hs_leaks_prepare;
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
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && nself_obj < SELF_MAX)
			self_obj[nself_obj++] = (struct hs_lk_range){
				page_down(lo), page_up(lo + ph->p_memsz) };
	}
	return 1;
}

/* ---- the scan ------------------------------------------------------------- */

static struct {
	struct hs_lk_index ix;
	struct hs_lk_records *records;
	uintptr_t *scratch;
	size_t scratch_bytes;
	struct hs_lk_exit_frame frame;   /* step 1, from prepare              */
	bool have_frame;
	const char *fail;                /* why there are no records          */
	bool ok;                         /* classified: write them            */
} S;

/* What could not be trusted is said (blocks whose damaged header still
 * vouches for its size and stack were classified as usual; the exit
 * check reports the damage). */
static void say_untrusted(const struct hs_lk_index *ix)
{
	if (ix->skipped)
		hs_trace_printf("! leak scan: %zu slot(s) or block(s) skipped, their header "
		                "or page metadata damaged: %zu bytes not scanned nor "
		                "reported\n", ix->skipped, ix->skipped_bytes);
}

/* The scanning thread as the roots see it. On the exit path (no
 * interrupted registers) its live frames begin at the frame that called
 * exit, and the registers that frame had are roots (leakexit.c); at a
 * signal, the interrupted context hooks/ending.c gives. */
static struct hs_lk_self live_self(const struct hs_lk_self *self)
{
	struct hs_lk_self s = *self;
	if (!self->nregs && S.have_frame && S.frame.sp >= self->sp) {
		s.sp = S.frame.sp;
		s.regs = S.frame.regs;
		s.nregs = S.frame.nregs;
	}
	return s;
}

/* Steps 2-4; the caller holds every allocator lock, so no arena or huge
 * mapping goes away while we read blocks. Kept out of line so that no
 * block address it handles can sit in a frame the stack scan reads. */
static __attribute__((noinline)) bool classify(const struct hs_lk_self *self,
                                               const struct hs_world *w)
{
	struct hs_lk_self me = live_self(self);
	struct hs_lk_roots rt = { .world = w, .self_ctx = &me };
	struct hs_lk_excl *e = &rt.excl;
	bool ok = false;

	if (!hs_lk_index_build(&S.ix)) {
		S.fail = "no memory for the leak scan's index";
		goto out;
	}
	hs_buddy_foreach_arena_locked(exclude_arena, e);
	for (size_t i = 0; i < nself_obj; i++)
		hs_lk_exclude(e, self_obj[i].lo, self_obj[i].hi);
	if (S.ix.ops.n && !hs_lk_grow((void **)&S.scratch, &S.scratch_bytes,
	                              3 * S.ix.ops.n * sizeof *S.scratch)) {
		S.fail = "no memory for the leak scan's mark stack";
		goto out;
	}
	exclude_huge(e, &S.ix);
	exclude_index(e, &S.ix);
	hs_lk_exclude(e, (uintptr_t)S.scratch, (uintptr_t)S.scratch + S.scratch_bytes);
	if (!hs_lk_roots_prepare(&rt, me.sp)) {
		S.fail = "could not read the process's mappings";
		goto out;
	}
	exclude_boot(e, &rt.maps);

	struct hs_lk_graph g;
	hs_lk_init(&g, &S.ix.ops, S.scratch);
	g.heuristics = HS_LK_HEUR_ALL;              /* memcheck's default */
	g.is_vtable = hs_lk_maps_is_vtable;
	g.vtable_ctx = &rt.maps;
	g.copy = hs_lk_copy_mem;
	g.copy_buf = rt.copy_buf;                  /* free once roots are read */
	g.copy_len = HS_LK_COPY_CHUNK;
	S.records = hs_lk_records_new(&S.ix);
	g.tell = S.records ? hs_lk_records_tell : NULL;
	g.tell_ctx = S.records;
	hs_lk_roots_scan(&rt, &g);
	hs_lk_classify(&g);
	if (!S.records || !hs_lk_records_finish(S.records)) {
		S.fail = "no memory for the records";
		goto out;
	}
	ok = true;
out:
	hs_lk_roots_free(&rt);
	return ok;
}

/* ---- the three calls ------------------------------------------------------- */

bool hs_leaks_prepare(void)
{
	static bool done;
	if (done || !hs_trace_active())
		return false;
	done = true;
	dl_iterate_phdr(exclude_self_object, NULL);  /* takes the loader's lock */
	S.have_frame = hs_lk_exit_frame(&S.frame);  /* so does the unwind       */
	return true;
}

bool hs_leaks_collect(const struct hs_world *w, const struct hs_lk_self *self)
{
	hs_leaks_discard();
	S.ok = classify(self, w);
	return S.ok;
}

void hs_leaks_discard(void)
{
	hs_lk_records_free(S.records);
	S.records = NULL;
	hs_lk_index_free(&S.ix);
	hs_lk_unmap(S.scratch, S.scratch_bytes);
	S.scratch = NULL;
	S.scratch_bytes = 0;
	S.fail = NULL;
	S.ok = false;
}

const char *hs_leaks_failure(void)
{
	return S.fail;
}

void hs_leaks_write(void)
{
	if (S.ok) {
		hs_lk_records_write(S.records);
		S.records = NULL;
		say_untrusted(&S.ix);
	}
	hs_leaks_discard();
}
