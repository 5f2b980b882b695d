/*
 * hook_mallinfo.c — the rest of glibc's malloc API: mallinfo, mallinfo2,
 * malloc_stats, malloc_info, malloc_trim, mallopt.
 *
 * Without them a program calls glibc's, which describe glibc's own heap:
 * empty under the shim (a program that checks mallinfo2().uordblks after
 * a malloc sees 0). Here they describe heapscope's heap (alloc/usage.c),
 * mapped onto glibc's fields so that their relations hold as glibc's do:
 *
 *   arena     bytes of arenas mapped (4 MiB each): glibc's main heap
 *   uordblks  bytes the program asked for that live in arenas (requested
 *             sizes: headers and rounding are not counted); the calling
 *             thread's counts are exact, other threads' lag by what they
 *             have not yet folded in (at most 256 KiB each)
 *   fordblks  arena - uordblks, so arena = uordblks + fordblks as in glibc
 *   ordblks   free buddy blocks (any order)
 *   hblks, hblkhd  blocks above 4 MiB, each in its own mapping, and the
 *             bytes of those mappings: glibc's mmapped chunks
 *   keepcost  free pages that may still be resident: what malloc_trim
 *             would give back
 *   smblks, fsmblks, usmblks  0 (no fastbins; glibc's usmblks is 0 too)
 * mallinfo() has the same figures in ints, saturated at INT_MAX (glibc
 * truncates them).
 *
 * malloc_trim(pad) flushes the caller's thread cache, unmaps whole free
 * arenas and cached huge mappings, and gives free pages back
 * (MADV_DONTNEED) until at most `pad` bytes of them may stay resident;
 * 1 if anything was given back, as glibc.
 *
 * mallopt accepts every parameter and value glibc accepts and returns
 * what glibc returns (1, except M_MXFAST above 80 * sizeof(size_t) / 4).
 * M_TRIM_THRESHOLD is honoured: it becomes the buddy's budget of free
 * resident pages (beyond it the decay gives pages back at once). The
 * rest do not map onto this allocator and are accepted and ignored:
 * M_MMAP_THRESHOLD (blocks above an arena always get their own mapping),
 * M_MMAP_MAX, M_TOP_PAD, M_MXFAST (no fastbins), M_ARENA_TEST,
 * M_ARENA_MAX (one heap, thread caches), M_CHECK_ACTION (heap errors are
 * always checked and reported), M_PERTURB (with checks on, freed blocks
 * are filled with 0xFD anyway).
 *
 * malloc_stats writes glibc's text, to stderr, with write(2): no stdio
 * inside the shim (a program that made stderr fully buffered sees it
 * ahead of what it buffered). malloc_info must write to the FILE the
 * program gives: the XML is formatted here and handed over with one
 * fwrite, which may allocate (that is the program's stream, outside the
 * allocator). Its shape is glibc's (`<malloc version="1">`, one heap, the
 * free blocks by size, totals for fast/rest/mmap, system and aspace).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "hooks.h"
#include "alloc/alloc.h"

/* glibc's largest M_MXFAST (MAX_FAST_SIZE). */
#define MXFAST_MAX (80 * sizeof(size_t) / 4)

static void fill(struct mallinfo2 *m, struct hs_heap_usage *u)
{
	hs_heap_usage(u);
	size_t huge = hs_huge_requested();
	uint64_t in_arenas = u->live > huge ? u->live - huge : 0;
	if (in_arenas > u->arena_bytes)
		in_arenas = u->arena_bytes;
	m->arena = u->arena_bytes;
	m->ordblks = u->free_blocks;
	m->smblks = 0;
	m->hblks = u->huge_maps;
	m->hblkhd = u->huge_bytes;
	m->usmblks = 0;
	m->fsmblks = 0;
	m->uordblks = in_arenas;
	m->fordblks = u->arena_bytes - in_arenas;
	m->keepcost = u->dirty_pages << HS_PAGE_SHIFT;
}

HS_API struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 m;
	struct hs_heap_usage u;
	fill(&m, &u);
	return m;
}

static int as_int(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

HS_API struct mallinfo mallinfo(void)
{
	struct mallinfo2 m;
	struct hs_heap_usage u;
	fill(&m, &u);
	struct mallinfo o = {
		.arena = as_int(m.arena), .ordblks = as_int(m.ordblks),
		.smblks = as_int(m.smblks), .hblks = as_int(m.hblks),
		.hblkhd = as_int(m.hblkhd), .usmblks = as_int(m.usmblks),
		.fsmblks = as_int(m.fsmblks), .uordblks = as_int(m.uordblks),
		.fordblks = as_int(m.fordblks), .keepcost = as_int(m.keepcost),
	};
	return o;
}

HS_API int malloc_trim(size_t pad)
{
	return hs_heap_trim(&hs_tc, pad) > 0;
}

HS_API int mallopt(int param, int value)
{
	switch (param) {
	case M_MXFAST:
		return (size_t)value <= MXFAST_MAX;
	case M_TRIM_THRESHOLD:
		/* a negative value is a huge size_t to glibc: never trim */
		hs_buddy_set_dirty_budget((size_t)(long)value >> HS_PAGE_SHIFT);
		return 1;
	default:
		return 1;
	}
}

/* ---- text ----------------------------------------------------------------- */

struct text {
	char buf[4096];
	size_t len;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	t->len += (size_t)hs_vfmt(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
	va_end(ap);
}

/* "label = %10lu\n", as glibc prints it. */
static void stat_line(struct text *t, const char *label, unsigned long v)
{
	char num[24];
	int n = hs_fmt(num, sizeof num, "%lu", v);
	add(t, "%s = ", label);
	for (; n < 10; n++)
		add(t, " ");
	add(t, "%s\n", num);
}

HS_API void malloc_stats(void)
{
	struct mallinfo2 m;
	struct hs_heap_usage u;
	fill(&m, &u);
	struct text t = { .len = 0 };
	add(&t, "Arena 0:\n");
	stat_line(&t, "system bytes    ", (unsigned)m.arena);
	stat_line(&t, "in use bytes    ", (unsigned)m.uordblks);
	add(&t, "Total (incl. mmap):\n");
	stat_line(&t, "system bytes    ", (unsigned)(m.arena + m.hblkhd));
	stat_line(&t, "in use bytes    ", (unsigned)(m.uordblks + m.hblkhd));
	stat_line(&t, "max mmap regions", (unsigned)u.huge_peak_maps);
	stat_line(&t, "max mmap bytes  ", (unsigned long)u.huge_peak_bytes);
	for (size_t done = 0; done < t.len;) {
		ssize_t w = write(2, t.buf + done, t.len - done);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			done += (size_t)w;
	}
}

/* The totals glibc gives per heap and again for the process. */
static void totals(struct text *t, const struct mallinfo2 *m, const struct hs_heap_usage *u,
                   bool with_mmap)
{
	add(t, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
	add(t, "<total type=\"rest\" count=\"%lu\" size=\"%lu\"/>\n",
	    (unsigned long)u->free_blocks, (unsigned long)(u->free_pages << HS_PAGE_SHIFT));
	if (with_mmap)
		add(t, "<total type=\"mmap\" count=\"%lu\" size=\"%lu\"/>\n",
		    (unsigned long)m->hblks, (unsigned long)m->hblkhd);
	add(t, "<system type=\"current\" size=\"%lu\"/>\n", (unsigned long)m->arena);
	add(t, "<system type=\"max\" size=\"%lu\"/>\n", (unsigned long)u->peak_arena_bytes);
	add(t, "<aspace type=\"total\" size=\"%lu\"/>\n", (unsigned long)m->arena);
	add(t, "<aspace type=\"mprotect\" size=\"%lu\"/>\n", (unsigned long)m->arena);
}

HS_API int malloc_info(int options, FILE *fp)
{
	if (options != 0 || !fp)
		return EINVAL;
	struct mallinfo2 m;
	struct hs_heap_usage u;
	fill(&m, &u);
	struct text t = { .len = 0 };
	add(&t, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
	for (int o = 0; o < HS_NR_ORDERS; o++)
		if (u.nr_free[o]) {
			unsigned long size = (unsigned long)HS_PAGE_SIZE << o;
			add(&t, "  <size from=\"%lu\" to=\"%lu\" total=\"%lu\" count=\"%lu\"/>\n",
			    size, size, size * (unsigned long)u.nr_free[o],
			    (unsigned long)u.nr_free[o]);
		}
	add(&t, "</sizes>\n");
	totals(&t, &m, &u, false);
	add(&t, "</heap>\n");
	totals(&t, &m, &u, true);
	add(&t, "</malloc>\n");
	fwrite(t.buf, 1, t.len, fp);
	return 0;
}
