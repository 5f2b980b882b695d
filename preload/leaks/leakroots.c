/*
 * leakroots.c — which memory of the running process is a leak-scan root.
 *
 * Like memcheck, every readable and writable mapping is a root: loaded
 * objects' data and bss, anonymous mmaps (other allocators' arenas, the
 * main thread's TLS, thread stacks), [heap], [stack]. Devices are never
 * read, file mappings only up to the file's end (leakmaps.c). Not roots:
 *
 *   heapscope's own memory, named by leaks.c: arenas and huge mappings
 *     (their live blocks are graph nodes, scanned only when reached; the
 *     rest is free memory full of stale pointers), metadata, our
 *     library's data, the scan's scratch;
 *   stack areas that hold no live frame: below each known stack pointer,
 *     and whole stacks of threads that have exited (leakthreads.c).
 *
 * Root memory is read through copies (process_vm_readv), never in place:
 * other threads keep running and may unmap what the maps listed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "leaks.h"
#include "leakroots.h"

#define PAGE     ((uintptr_t)HS_PAGE_SIZE)

/* ---- exclusions ---------------------------------------------------------- */

bool hs_lk_exclude(struct hs_lk_excl *e, uintptr_t lo, uintptr_t hi)
{
	if (lo >= hi)
		return true;
	if ((e->n + 1) * sizeof *e->r > e->bytes) {
		void *p = e->r;
		/* 64K ranges up front: growing later moves the array, and
		 * nothing should move once the maps are read */
		if (!hs_lk_grow(&p, &e->bytes, e->bytes ? 2 * e->bytes : 1024 * 1024))
			return false;
		e->r = p;
	}
	e->r[e->n++] = (struct hs_lk_range){ lo, hi };
	return true;
}

static void sift(struct hs_lk_range *r, size_t i, size_t n)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && r[c + 1].lo > r[c].lo)
			c++;
		if (r[i].lo >= r[c].lo)
			return;
		struct hs_lk_range t = r[i];
		r[i] = r[c];
		r[c] = t;
	}
}

/* Sort by start (heapsort, as in leakgraph.c) and merge overlaps. */
static void excl_normalize(struct hs_lk_excl *e)
{
	size_t n = e->n;
	for (size_t i = n / 2; i-- > 0;)
		sift(e->r, i, n);
	for (size_t end = n; end-- > 1;) {
		struct hs_lk_range t = e->r[0];
		e->r[0] = e->r[end];
		e->r[end] = t;
		sift(e->r, 0, end);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && e->r[i].lo <= e->r[k - 1].hi) {
			if (e->r[i].hi > e->r[k - 1].hi)
				e->r[k - 1].hi = e->r[i].hi;
		} else {
			e->r[k++] = e->r[i];
		}
	}
	e->n = k;
}

/* ---- reading memory that may vanish --------------------------------------- */

/* Other threads keep running during the scan and may unmap memory we saw
 * in /proc/self/maps a moment ago (a thread stack freed, an munmap). Root
 * memory is therefore copied with process_vm_readv on ourselves, which
 * reports a fault as a short read instead of raising SIGSEGV. Where the
 * call is refused (old kernels, seccomp) we read directly. */
static char *copy_buf;
static int direct_reads;

size_t hs_lk_copy_mem(void *dst, uintptr_t src, size_t len, void *ctx)
{
	if (!direct_reads) {
		struct iovec local = { dst, len };
		struct iovec remote = { (void *)src, len };
		ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (n >= 0)
			return (size_t)n;
		if (errno == EFAULT)
			return 0;
		direct_reads = 1;            /* ENOSYS, EPERM: not available */
	}
	memcpy(dst, (const void *)src, len);
	return len;
}

/* ld.so rounds some of what it mallocs up for alignment and keeps only
 * the rounded pointer (dl_find_object's segments after a dlopen: 112
 * bytes in for a 16-aligned block); from ld.so's data a pointer into a
 * block's first bytes counts as a start pointer. memcheck never sees
 * those blocks: __libc_freeres frees them first. */
#define LOADER_SLACK 128

static void scan_copy(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi,
                      bool loader, struct hs_lk_root_stats *st)
{
	while (lo < hi) {
		size_t want = hi - lo < HS_LK_COPY_CHUNK ? hi - lo : HS_LK_COPY_CHUNK;
		size_t got = hs_lk_copy_mem(copy_buf, lo, want, NULL);
		if (got == 0) {                  /* gone: skip to the next page */
			lo = (lo + PAGE) & ~(PAGE - 1);
			continue;
		}
		if (loader)
			hs_lk_scan_root_slack(g, (uintptr_t)copy_buf,
			                      (uintptr_t)copy_buf + got, LOADER_SLACK);
		else
			hs_lk_scan_root(g, (uintptr_t)copy_buf, (uintptr_t)copy_buf + got);
		st->root_bytes += got;
		lo += got;
	}
}

/* A page of a private mapping that is neither present nor swapped out
 * was never written by this process (or was discarded), so it holds no
 * pointer into our heap: /proc/self/pagemap lets the scan skip it rather
 * than read gigabytes of never-touched reservations as zero pages. Shared
 * mappings are read whole: another process's writes do not show in our
 * page tables. */
#define PM_PRESENT ((uint64_t)1 << 63)
#define PM_SWAPPED ((uint64_t)1 << 62)
#define PM_BATCH   (HS_LK_COPY_CHUNK / HS_PAGE_SIZE)

static int pagemap_fd = -1;

static void scan_piece(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi,
                       const struct hs_lk_region *r, struct hs_lk_root_stats *st)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	hi &= ~(uintptr_t)7;
	if (pagemap_fd < 0 || r->shared) {
		scan_copy(g, lo, hi, r->loader, st);
		return;
	}
	uint64_t pm[PM_BATCH];
	while (lo < hi) {
		uintptr_t first = lo / PAGE;
		uintptr_t end = (first + PM_BATCH) * PAGE < hi ? (first + PM_BATCH) * PAGE : hi;
		size_t npages = (end - 1) / PAGE - first + 1;
		ssize_t n = pread(pagemap_fd, pm, npages * sizeof pm[0], (off_t)(first * sizeof pm[0]));
		if (n != (ssize_t)(npages * sizeof pm[0])) {
			scan_copy(g, lo, end, r->loader, st);
			lo = end;
			continue;
		}
		uintptr_t run = 0;                 /* start of pages with data */
		for (size_t k = 0; k < npages; k++) {
			uintptr_t plo = (first + k) * PAGE < lo ? lo : (first + k) * PAGE;
			bool data = pm[k] & (PM_PRESENT | PM_SWAPPED);
			if (data && !run)
				run = plo;
			if (!data) {
				if (run)
					scan_copy(g, run, plo, r->loader, st);
				run = 0;
				st->skipped_bytes += ((first + k + 1) * PAGE < end ? (first + k + 1) * PAGE : end) - plo;
			}
		}
		if (run)
			scan_copy(g, run, end, r->loader, st);
		lo = end;
	}
}

/* Scan [lo, hi) minus the (normalized) exclusions. */
static void scan_minus(struct hs_lk_graph *g, const struct hs_lk_excl *e,
                       const struct hs_lk_region *r, struct hs_lk_root_stats *st)
{
	uintptr_t lo = r->lo, hi = r->safe_hi;
	size_t a = 0, b = e->n;              /* first exclusion ending after lo */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (e->r[mid].hi <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (size_t i = a; i < e->n && lo < hi && e->r[i].lo < hi; i++) {
		if (e->r[i].lo > lo)
			scan_piece(g, lo, e->r[i].lo, r, st);
		if (e->r[i].hi > lo)
			lo = e->r[i].hi;
	}
	if (lo < hi)
		scan_piece(g, lo, hi, r, st);
}

/* ---- the scan ------------------------------------------------------------ */

bool hs_lk_roots_prepare(struct hs_lk_roots *rt, uintptr_t sp)
{
	rt->sp = sp;
	rt->self = (int32_t)syscall(SYS_gettid);
	rt->copy_buf = hs_lk_map(HS_LK_COPY_CHUNK);
	if (!rt->copy_buf)
		return false;
	hs_lk_exclude(&rt->excl, (uintptr_t)rt->copy_buf, (uintptr_t)rt->copy_buf + HS_LK_COPY_CHUNK);
	rt->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	rt->pagemap_open = rt->pagemap_fd >= 0;
	hs_lk_list_threads(&rt->threads, rt->self, sp, rt->world);
	/* the stop's slot table holds registers (scanned one by one, as
	 * roots, for the threads they belong to) and stale entries */
	if (rt->world)
		hs_lk_exclude(&rt->excl, (uintptr_t)rt->world->t,
		              (uintptr_t)(rt->world->t + HS_WORLD_MAX));
	if (rt->self_ctx)
		hs_lk_exclude(&rt->excl, rt->self_ctx->skip_lo, rt->self_ctx->skip_hi);
	/* Last: from here on none of our scratch is mapped or moved, so the
	 * regions read describe it as it stays. */
	if (!hs_lk_maps_read(&rt->maps))
		return false;
	hs_lk_exclude(&rt->excl, (uintptr_t)rt->threads.t,
	              (uintptr_t)rt->threads.t + rt->threads.bytes);
	hs_lk_exclude(&rt->excl, (uintptr_t)rt->maps.reg,
	              (uintptr_t)rt->maps.reg + rt->maps.bytes);
	hs_lk_exclude(&rt->excl, (uintptr_t)rt->maps.text,
	              (uintptr_t)rt->maps.text + rt->maps.text_bytes);
	return true;
}

void hs_lk_roots_scan(struct hs_lk_roots *rt, struct hs_lk_graph *g)
{
	const struct hs_lk_maps *m = &rt->maps;
	struct hs_lk_excl *e = &rt->excl;
	struct hs_lk_root_stats *st = &rt->stats;
	copy_buf = rt->copy_buf;
	pagemap_fd = rt->pagemap_open ? rt->pagemap_fd : -1;

	hs_lk_threads_apply(rt, g);
	hs_lk_threads_regs(rt, g);
	hs_lk_exclude(e, (uintptr_t)e->r, (uintptr_t)e->r + e->bytes);
	excl_normalize(e);

	for (size_t i = 0; i < m->n; i++) {
		const struct hs_lk_region *r = &m->reg[i];
		if (r->type == HS_LK_SKIP || !r->r || !r->w)
			continue;
		scan_minus(g, e, r, st);
	}
	copy_buf = NULL;
	pagemap_fd = -1;
}

void hs_lk_roots_free(struct hs_lk_roots *rt)
{
	hs_lk_maps_free(&rt->maps);
	hs_lk_unmap(rt->threads.t, rt->threads.bytes);
	hs_lk_unmap(rt->excl.r, rt->excl.bytes);
	hs_lk_unmap(rt->copy_buf, HS_LK_COPY_CHUNK);
	if (rt->pagemap_open)
		close(rt->pagemap_fd);
	*rt = (struct hs_lk_roots){ 0 };
}
