/*
 * sites_write.c — the per-site lines of the trace (docs/TRACE-FORMAT.md):
 * `U` (live bytes of sites over time), `K` (the peak), `Q` (every site's
 * totals at exit), `O` and `o` (who held the memory when it ran out).
 *
 * `U` lines are written with the samples, from a merge of every thread's
 * table (sites.c). Only sites whose live bytes moved since they were last
 * written are named, and only by at least max(1 KiB, 1/64 of the value
 * written): a site that never holds a KiB never appears, and one that
 * holds 100 MiB is rewritten when it has moved by 1.5 MiB. At most
 * HS_SITES_PER_SAMPLE per sample, the largest moves first (a bounded
 * min-heap over the candidates); the rest wait for a later sample, so a
 * reader that carries each site's last value forward is never further
 * off than the moves left out. A merge reads every entry of every table:
 * with a million sites that is tens of milliseconds, so the next merge
 * waits 50 times as long as the last one took (at most 2% of the time).
 */
#include <time.h>

#include "sites.h"

#define PAIRS_PER_LINE 32
#define MIN_MOVE       1024
#define MERGE_SHARE    50               /* wait this many times the merge's cost */

struct pick {
	uint32_t id;
	int64_t  live;
	uint64_t key;                   /* what the selection keeps the largest of */
};

static struct {
	uint64_t next_ns;               /* CLOCK_MONOTONIC: next merge allowed  */
	struct pick heap[HS_SITES_PER_SAMPLE];   /* min-heap on key             */
	unsigned nheap;
} W;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- keep the HS_SITES_PER_SAMPLE largest keys -------------------------- */

static void sift_down(unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		if (l < W.nheap && W.heap[l].key < W.heap[m].key)
			m = l;
		if (r < W.nheap && W.heap[r].key < W.heap[m].key)
			m = r;
		if (m == i)
			return;
		struct pick t = W.heap[i];
		W.heap[i] = W.heap[m];
		W.heap[m] = t;
		i = m;
	}
}

static void offer(uint32_t id, int64_t live, uint64_t key)
{
	struct pick p = { id, live, key };
	if (W.nheap < HS_SITES_PER_SAMPLE) {
		unsigned i = W.nheap++;
		W.heap[i] = p;
		while (i && W.heap[(i - 1) / 2].key > W.heap[i].key) {
			struct pick t = W.heap[i];
			W.heap[i] = W.heap[(i - 1) / 2];
			W.heap[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
	} else if (key > W.heap[0].key) {
		W.heap[0] = p;
		sift_down(0);
	}
}

/* ---- writing pairs ------------------------------------------------------- */

static uint64_t clamp(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

/* The picked sites as lines "HEAD id live id live ..." (HEAD: the tag
 * and the fields before the pairs). */
static void write_picks(const char *head)
{
	char line[64 + PAIRS_PER_LINE * 40];
	for (unsigned i = 0; i < W.nheap; ) {
		int n = hs_fmt(line, sizeof line, "%s", head);
		for (unsigned k = 0; k < PAIRS_PER_LINE && i < W.nheap; k++, i++) {
			const struct pick *p = &W.heap[i];
			n += hs_fmt(line + n, sizeof line - (size_t)n, " %u %lu",
			            p->id ? hs_stack_ref(p->id) : 0,
			            (unsigned long)clamp(p->live));
		}
		hs_trace_printf("%s\n", line);
	}
}

static void consider_move(uint32_t id, const struct hs_site_sum *s, void *ctx)
{
	(void)ctx;
	int64_t old = s->written;
	if (s->live == old)
		return;
	uint64_t move = s->live > old ? (uint64_t)(s->live - old) : (uint64_t)(old - s->live);
	uint64_t need = clamp(old < 0 ? -old : old) / 64;
	if (move >= (need > MIN_MOVE ? need : MIN_MOVE))
		offer(id, s->live, move);
}

static void sample_now(uint64_t t_ms)
{
	W.nheap = 0;
	if (!hs_sites_merge(false, consider_move, NULL))
		return;
	uint32_t id[HS_SITES_PER_SAMPLE];
	int64_t live[HS_SITES_PER_SAMPLE];
	for (unsigned i = 0; i < W.nheap; i++) {
		id[i] = W.heap[i].id;
		live[i] = W.heap[i].live;
	}
	hs_sites_set_written(id, live, W.nheap);
	char head[32];
	hs_fmt(head, sizeof head, "U %lu", (unsigned long)t_ms);
	write_picks(head);
}

void hs_sites_sample(uint64_t t_ms)
{
	if (!hs_sites_counting())
		return;
	uint64_t t0 = mono_ns();
	if (t0 < W.next_ns)
		return;
	sample_now(t_ms);
	W.next_ns = t0 + MERGE_SHARE * (mono_ns() - t0);
}

/* ---- at exit ----------------------------------------------------------------- */

static void write_total(uint32_t id, const struct hs_site_sum *s, void *ctx)
{
	(void)ctx;
	if (!s->calls && !s->live && !s->at_peak)
		return;
	hs_trace_printf("Q %u %lu %lu %lu %lu %lu\n", id ? hs_stack_ref(id) : 0,
	                (unsigned long)s->calls, (unsigned long)s->bytes,
	                (unsigned long)s->temporary, (unsigned long)clamp(s->at_peak),
	                (unsigned long)clamp(s->live));
}

void hs_sites_exit(uint64_t t_ms, uint64_t (*ms_of)(uint64_t ns))
{
	if (!hs_sites_counting())
		return;
	hs_sites_final_peak();
	sample_now(t_ms);
	int64_t peak;
	uint64_t when;
	hs_sites_peak_info(&peak, &when);
	hs_trace_printf("K %lu %lu\n", (unsigned long)(when ? ms_of(when) : t_ms),
	                (unsigned long)clamp(peak));
	hs_sites_merge(true, write_total, NULL);
	hs_trace_flush();
}

/* ---- out of memory ------------------------------------------------------- */

static void consider_holder(uint32_t id, const struct hs_site_sum *s, void *ctx)
{
	(void)ctx;
	if (s->live > 0)
		offer(id, s->live, (uint64_t)s->live);
}

void hs_sites_oom(const char *how, uint64_t t_ms, uint64_t live, size_t size,
                  uint32_t stack)
{
	if (!hs_sites_counting())
		return;
	hs_trace_printf("O %s %lu %lu %zu %u\n", how, (unsigned long)t_ms,
	                (unsigned long)live, size, stack ? hs_stack_ref(stack) : 0);
	W.nheap = 0;
	if (hs_sites_merge(false, consider_holder, NULL))
		write_picks("o");
	hs_trace_flush();
}
