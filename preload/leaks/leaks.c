/*
 * leaks.c — hs_leaks_scan(): the reachability scan at exit.
 *
 *   1. every live block, from the allocator itself (hs_heap_foreach_live),
 *      copied into an mmap'd array and sorted by address;
 *   2. what is never a root: our arenas and huge mappings (their live
 *      blocks are graph nodes; the rest is free memory with stale
 *      pointers), arena metadata, boot chunks, our library's data, the
 *      scan's own scratch (the block array holds every block's address);
 *   3. registers saved into this frame (getcontext), then the roots
 *      (leakroots.c) and the classification (leakgraph.c);
 *   4. one `C` line and one `L` line per live block (docs/TRACE-FORMAT.md).
 *
 * In three calls, around the world stop that hooks/ending.c makes:
 * hs_leaks_prepare() before it (what needs the loader's lock: our own
 * object's data), hs_leaks_collect() while every other thread is stopped
 * or idle and every allocator lock is held (steps 1-3: system calls and
 * our own memory only, nothing that a stopped thread may hold), and
 * hs_leaks_write() after the threads were resumed (step 4: the trace and
 * the stack table take locks of their own). A thread that could not be
 * stopped may still run; huge blocks are read through copies in case it
 * unmaps one (blocks freed meanwhile are at worst scanned stale).
 */
#include <link.h>
#include <sys/mman.h>

#include "leaks.h"
#include "record/record.h"
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

/* ---- 1. the blocks ------------------------------------------------------- */

enum { IN_ARENA, IN_HUGE, IN_BOOT, WHERE = 3 };  /* hs_lk_block.flags */

struct collect {
	struct hs_lk_block *b;
	size_t n, bytes;
	bool failed;
};

static void add_block(struct hs_header *h, void *user, void *ctx)
{
	struct collect *c = ctx;
	if ((c->n + 1) * sizeof *c->b > c->bytes) {
		void *p = c->b;
		if (!hs_lk_grow(&p, &c->bytes, c->bytes ? 2 * c->bytes : 256 * 1024)) {
			c->failed = true;
			return;
		}
		c->b = p;
	}
	c->b[c->n++] = (struct hs_lk_block){
		.start = (uintptr_t)user, .size = h->size, .stack = h->stack,
		/* a running thread may unmap a huge block's pages (realloc
		 * shrinks and moves them without the huge lock): copy reads */
		.flags = h->bin == HS_BIN_HUGE ? IN_HUGE | HS_LK_COPY
		       : h->bin == HS_BIN_BOOT ? IN_BOOT : IN_ARENA,
	};
}

static void sort_blocks(struct collect *c)
{
	size_t bytes = 0;
	void *tmp = NULL;
	if (c->n > 1 && !hs_lk_grow(&tmp, &bytes, c->n * sizeof *c->b))
		tmp = NULL;                  /* heapsort in place instead */
	hs_lk_sort(c->b, c->n, tmp);
	hs_lk_unmap(tmp, bytes);
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
static void exclude_huge(struct hs_lk_excl *e, const struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct hs_lk_block *b = &c->b[i];
		if ((b->flags & WHERE) != IN_HUGE)
			continue;
		uintptr_t v = hs_pagemap_get((void *)b->start);
		if (v & HS_GRANULE_HUGE)
			hs_lk_exclude(e, v & ~HS_GRANULE_HUGE, page_up(b->start + b->size));
	}
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

/* ---- 3 and 4 ------------------------------------------------------------- */

static char kind_letter(unsigned state)
{
	static const char letters[4] = {
		[HS_LK_UNREACHED] = 'D', [HS_LK_INDIRECT] = 'I',
		[HS_LK_POSSIBLE] = 'P', [HS_LK_REACHABLE] = 'R',
	};
	return letters[state & 3];
}

/* The C line counts what the L lines list: blocks glibc keeps for itself
 * in its thread-stack cache are left out of both (leakroots.c says why). */
static void write_records(const struct collect *c)
{
	struct hs_counters k;
	hs_counters_read(&k);
	uint64_t bytes = 0;
	size_t blocks = 0;
	for (size_t i = 0; i < c->n; i++)
		if (!(c->b[i].flags & HS_LK_GLIBC_CACHE)) {
			bytes += c->b[i].size;
			blocks++;
		}
	/* The counters lag by what running threads have not folded yet; the
	 * walk is exact, and the peak was at least what is live now. */
	uint64_t peak = k.peak_bytes > bytes ? k.peak_bytes : bytes;
	hs_trace_printf("C %lu %lu %lu %lu %zu\n", (unsigned long)k.allocs,
	                (unsigned long)k.frees, (unsigned long)peak,
	                (unsigned long)bytes, blocks);
	for (size_t i = 0; i < c->n; i++) {
		const struct hs_lk_block *b = &c->b[i];
		if (b->flags & HS_LK_GLIBC_CACHE)
			continue;
		hs_trace_printf("L %c %lx %zu %u\n", kind_letter(b->state),
		                (unsigned long)b->start, b->size, hs_stack_ref(b->stack));
	}
}

/* Everything between the block walk and the records; the caller holds
 * every allocator lock, so no arena or huge mapping goes away while we
 * read blocks. self->sp is the caller's frame, which holds its saved
 * registers (or the interrupted context's, at a signal). Kept out of
 * line so that no block address it handles can sit in that frame. */
static __attribute__((noinline)) bool classify(struct collect *c,
                                               const struct hs_lk_self *self,
                                               const struct hs_world *w)
{
	struct hs_lk_roots rt = { .world = w, .self_ctx = self };
	struct hs_lk_excl *e = &rt.excl;
	uint32_t *stack = NULL;
	size_t stack_bytes = 0;
	bool ok = false;

	hs_buddy_foreach_arena_locked(exclude_arena, e);
	for (size_t i = 0; i < nself_obj; i++)
		hs_lk_exclude(e, self_obj[i].lo, self_obj[i].hi);
	sort_blocks(c);
	if (c->n && !hs_lk_grow((void **)&stack, &stack_bytes, c->n * sizeof *stack))
		goto out;
	exclude_huge(e, c);
	hs_lk_exclude(e, (uintptr_t)c->b, (uintptr_t)c->b + c->bytes);
	hs_lk_exclude(e, (uintptr_t)stack, (uintptr_t)stack + stack_bytes);
	if (!hs_lk_roots_prepare(&rt, self->sp))
		goto out;
	exclude_boot(e, &rt.maps);

	struct hs_lk_graph g;
	hs_lk_init(&g, c->b, c->n, stack);
	g.heuristics = HS_LK_HEUR_ALL;              /* memcheck's default */
	g.is_vtable = hs_lk_maps_is_vtable;
	g.vtable_ctx = &rt.maps;
	g.copy = hs_lk_copy_mem;
	g.copy_buf = rt.copy_buf;                  /* free once roots are read */
	g.copy_len = HS_LK_COPY_CHUNK;
	hs_lk_roots_scan(&rt, &g);
	hs_lk_classify(&g);
	ok = true;
out:
	hs_lk_roots_free(&rt);
	hs_lk_unmap(stack, stack_bytes);
	return ok;
}

/* ---- the three calls ------------------------------------------------------- */

static struct collect S;          /* the blocks, from collect to write */
static const char *S_fail;        /* why there are none                */
static bool S_ok;                 /* classified: write them            */

bool hs_leaks_prepare(void)
{
	static bool done;
	if (done || !hs_trace_active())
		return false;
	done = true;
	dl_iterate_phdr(exclude_self_object, NULL);  /* takes the loader's lock */
	return true;
}

bool hs_leaks_collect(const struct hs_world *w, const struct hs_lk_self *self)
{
	hs_leaks_discard();
	hs_heap_foreach_live_locked(add_block, &S);
	if (S.failed)
		S_fail = "no memory for the block list";
	else if (!classify(&S, self, w))
		S_fail = "could not read the process's mappings";
	else
		S_ok = true;
	return S_ok;
}

void hs_leaks_discard(void)
{
	hs_lk_unmap(S.b, S.bytes);
	S = (struct collect){ 0 };
	S_fail = NULL;
	S_ok = false;
}

const char *hs_leaks_failure(void)
{
	return S_fail;
}

void hs_leaks_write(void)
{
	if (S_ok)
		write_records(&S);
	hs_leaks_discard();
}
