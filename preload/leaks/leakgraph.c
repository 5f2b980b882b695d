/*
 * leakgraph.c — reachability classification of live blocks (see
 * leakgraph.h for the algorithm). Pure: reads the memory it is told to
 * read, writes only the block array and the mark stack it is given.
 */
#include "leakgraph.h"

/* Root and block memory is read as words of any type. */
typedef uintptr_t __attribute__((may_alias)) word_t;

#define WORD   sizeof(uintptr_t)
#define PAGE0  4096u            /* no vtable lives in page 0              */

/* ---- sorting ------------------------------------------------------------ */

static void swap_blocks(struct hs_lk_block *a, struct hs_lk_block *b)
{
	struct hs_lk_block t = *a;
	*a = *b;
	*b = t;
}

static void sift_down(struct hs_lk_block *b, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && b[child + 1].start > b[child].start)
			child++;
		if (b[root].start >= b[child].start)
			return;
		swap_blocks(&b[root], &b[child]);
		root = child;
	}
}

static void heapsort_blocks(struct hs_lk_block *b, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(b, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		swap_blocks(&b[0], &b[end]);
		sift_down(b, 0, end);
	}
}

/* End of the ascending run that starts at i. */
static size_t run_end(const struct hs_lk_block *b, size_t i, size_t n)
{
	while (i + 1 < n && b[i].start <= b[i + 1].start)
		i++;
	return i + 1;
}

static void merge(const struct hs_lk_block *a, size_t na,
                  const struct hs_lk_block *b, size_t nb, struct hs_lk_block *out)
{
	size_t i = 0, j = 0, k = 0;
	while (i < na && j < nb)
		out[k++] = b[j].start < a[i].start ? b[j++] : a[i++];
	while (i < na)
		out[k++] = a[i++];
	while (j < nb)
		out[k++] = b[j++];
}

/* Natural merge sort: the allocator walks arena by arena and slab by
 * slab, so the input is a few long ascending runs and this is close to
 * linear. Each pass merges neighbouring runs from one array into the
 * other. */
static void mergesort_blocks(struct hs_lk_block *b, size_t n, struct hs_lk_block *tmp)
{
	struct hs_lk_block *src = b, *dst = tmp;
	for (;;) {
		size_t runs = 0;
		for (size_t i = 0; i < n;) {
			size_t m = run_end(src, i, n);
			size_t e = m < n ? run_end(src, m, n) : n;
			merge(src + i, m - i, src + m, e - m, dst + i);
			runs++;
			i = e;
		}
		struct hs_lk_block *t = src;
		src = dst;
		dst = t;
		if (runs <= 1)
			break;
	}
	if (src != b)
		for (size_t i = 0; i < n; i++)
			b[i] = src[i];
}

/* No qsort: it may call malloc, and we are malloc. */
void hs_lk_sort(struct hs_lk_block *b, size_t n, struct hs_lk_block *tmp)
{
	if (n < 2)
		return;
	if (tmp)
		mergesort_blocks(b, n, tmp);
	else
		heapsort_blocks(b, n);
}

/* ---- lookup ------------------------------------------------------------- */

static uintptr_t block_end(const struct hs_lk_block *b)
{
	/* A zero-size block covers one byte (memcheck does the same) so that
	 * a pointer to malloc(0) is seen at all. */
	return b->start + (b->size ? b->size : 1);
}

void hs_lk_init(struct hs_lk_graph *g, struct hs_lk_block *b, size_t n,
                uint32_t *stack)
{
	*g = (struct hs_lk_graph){ .b = b, .n = n, .stack = stack };
	for (size_t i = 0; i < n; i++) {
		b[i].state = HS_LK_UNREACHED;
		b[i].pending = 0;
		b[i].heuristic = HS_LK_HEUR_NONE;
		b[i].leader = 0;
	}
	if (n) {
		g->lo = b[0].start;
		g->hi = block_end(&b[n - 1]);
	}
}

long hs_lk_find(const struct hs_lk_graph *g, uintptr_t p)
{
	if (p < g->lo || p >= g->hi)
		return -1;
	/* Last block with start <= p. */
	size_t lo = 0, hi = g->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->b[mid].start <= p)
			lo = mid;
		else
			hi = mid;
	}
	const struct hs_lk_block *b = &g->b[lo];
	return (p >= b->start && p < block_end(b)) ? (long)lo : -1;
}

/* ---- heuristics --------------------------------------------------------- */

static uintptr_t word_at(uintptr_t addr)
{
	return *(const word_t *)addr;
}

static bool copied(const struct hs_lk_graph *g, const struct hs_lk_block *b)
{
	return (b->flags & HS_LK_COPY) && g->copy;
}

/* One word of block b; false if its memory is gone (HS_LK_COPY blocks). */
static bool block_word(const struct hs_lk_graph *g, const struct hs_lk_block *b,
                       uintptr_t addr, uintptr_t *out)
{
	if (!copied(g, b)) {
		*out = word_at(addr);
		return true;
	}
	return g->copy(out, addr, WORD, g->copy_ctx) == WORD;
}

static bool plausible_vtable(const struct hs_lk_graph *g, uintptr_t v)
{
	return v % WORD == 0 && v >= PAGE0 && g->is_vtable(v, g->vtable_ctx);
}

/* Which heuristic (if any) lets interior pointer p count as a start
 * pointer to b. The conditions are memcheck's, so that both tools put the
 * same blocks in "still reachable". */
static enum hs_lk_heuristic heuristic_for(const struct hs_lk_graph *g,
                                          const struct hs_lk_block *b,
                                          uintptr_t p)
{
	unsigned on = g->heuristics;
	uintptr_t s = b->start, w0, w1, wp;
	size_t size = b->size;

	if (!on)
		return HS_LK_HEUR_NONE;
	/* an interior p means size > 0; words past the block are not read */
	bool have0 = size >= WORD && block_word(g, b, s, &w0);
	if ((on & (1u << HS_LK_HEUR_STDSTRING)) && p == s + 3 * WORD && have0
	    && block_word(g, b, s + WORD, &w1)) {
		/* length, capacity, refcount, then the characters */
		if (3 * WORD + w1 + 1 == size && w0 <= w1)
			return HS_LK_HEUR_STDSTRING;
	}
	if ((on & (1u << HS_LK_HEUR_LENGTH64)) && p == s + WORD && have0) {
		if (w0 > 0 && size - WORD == w0)
			return HS_LK_HEUR_LENGTH64;
	}
	if ((on & (1u << HS_LK_HEUR_NEWARRAY)) && p == s + WORD && have0) {
		if (w0 > 0 && (size - WORD) % w0 == 0)
			return HS_LK_HEUR_NEWARRAY;
	}
	if ((on & (1u << HS_LK_HEUR_MULTI)) && g->is_vtable && p % WORD == 0
	    && have0 && p + WORD <= s + size && block_word(g, b, p, &wp)) {
		if (plausible_vtable(g, wp) && plausible_vtable(g, w0))
			return HS_LK_HEUR_MULTI;
	}
	return HS_LK_HEUR_NONE;
}

/* ---- phase 1 ------------------------------------------------------------ */

static void push(struct hs_lk_graph *g, size_t i)
{
	if (g->b[i].pending)
		return;
	g->b[i].pending = 1;
	g->stack[g->top++] = (uint32_t)i;     /* top < n: each block once   */
}

/* Word w was found in memory whose own state is 'from_definite' (a root or
 * a REACHABLE block). Possibly raise the state of the block it hits. */
static void reach(struct hs_lk_graph *g, uintptr_t w, bool from_definite)
{
	long i = hs_lk_find(g, w);
	if (i < 0)
		return;
	struct hs_lk_block *b = &g->b[i];
	if (b->state == HS_LK_REACHABLE) {
		if (w == b->start)
			b->heuristic = HS_LK_HEUR_NONE;   /* a real start pointer  */
		return;
	}
	enum hs_lk_heuristic h = HS_LK_HEUR_NONE;
	bool start = w == b->start;
	if (!start) {
		h = heuristic_for(g, b, w);
		start = h != HS_LK_HEUR_NONE;
	}
	if (start && from_definite) {
		b->state = HS_LK_REACHABLE;
		b->heuristic = (uint8_t)h;
		push(g, (size_t)i);                 /* rescan with the new state */
	} else if (b->state == HS_LK_UNREACHED) {
		b->state = HS_LK_POSSIBLE;
		push(g, (size_t)i);
	}
}

/* What a word found in memory does: in phase 1 it may raise its target,
 * as a pointer from definite memory (a root, a REACHABLE block) or not;
 * in phase 2 it pulls its target into the clique of block 'leader'. */
enum mode { FROM_DEFINITE, FROM_POSSIBLE, CLIQUE };

/* Phase 2: any pointer counts, start or interior, as in memcheck. */
static void join_clique(struct hs_lk_graph *g, uintptr_t w, size_t leader)
{
	long j = hs_lk_find(g, w);
	if (j < 0 || (size_t)j == leader)
		return;
	struct hs_lk_block *t = &g->b[j];
	if (t->state != HS_LK_UNREACHED)
		return;
	t->state = HS_LK_INDIRECT;
	t->leader = (uint32_t)leader;
	push(g, (size_t)j);
}

static void visit_words(struct hs_lk_graph *g, const word_t *w, size_t n,
                        enum mode mode, size_t leader)
{
	uintptr_t blo = g->lo, bhi = g->hi;
	g->scanned_bytes += n * WORD;
	for (size_t i = 0; i < n; i++) {
		uintptr_t v = w[i];
		if (v < blo || v >= bhi)            /* cheap filter first        */
			continue;
		if (mode == CLIQUE)
			join_clique(g, v, leader);
		else
			reach(g, v, mode == FROM_DEFINITE);
	}
}

/* The whole words of [lo, hi). */
static void scan_range(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi,
                       enum mode mode, size_t leader)
{
	lo = (lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
	hi &= ~(uintptr_t)(WORD - 1);
	if (lo < hi)
		visit_words(g, (const word_t *)lo, (hi - lo) / WORD, mode, leader);
}

/* A block's words; an HS_LK_COPY block chunk by chunk through g->copy,
 * stopping where its memory is gone (freed under us). */
static void scan_block(struct hs_lk_graph *g, const struct hs_lk_block *b,
                       enum mode mode, size_t leader)
{
	uintptr_t lo = b->start, hi = (b->start + b->size) & ~(uintptr_t)(WORD - 1);
	if (!copied(g, b)) {
		scan_range(g, lo, hi, mode, leader);
		return;
	}
	while (lo < hi) {
		size_t want = hi - lo < g->copy_len ? hi - lo : g->copy_len;
		size_t got = g->copy(g->copy_buf, lo, want, g->copy_ctx) & ~(WORD - 1);
		if (!got)
			return;
		visit_words(g, (const word_t *)g->copy_buf, got / WORD, mode, leader);
		lo += got;
	}
}

void hs_lk_scan_root(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi)
{
	scan_range(g, lo, hi, FROM_DEFINITE, 0);
}

void hs_lk_root_word(struct hs_lk_graph *g, uintptr_t w)
{
	reach(g, w, true);
}

void hs_lk_scan_root_slack(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi,
                           size_t slack)
{
	lo = (lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
	hi &= ~(uintptr_t)(WORD - 1);
	g->scanned_bytes += hi > lo ? hi - lo : 0;
	for (uintptr_t a = lo; a < hi; a += WORD) {
		uintptr_t v = word_at(a);
		if (v < g->lo || v >= g->hi)
			continue;
		long i = hs_lk_find(g, v);
		if (i < 0)
			continue;
		uintptr_t start = g->b[i].start;
		reach(g, v - start < slack ? start : v, true);
	}
}

static void drain(struct hs_lk_graph *g)
{
	while (g->top) {
		struct hs_lk_block *b = &g->b[g->stack[--g->top]];
		b->pending = 0;
		/* A POSSIBLE block passes on only "possible"; its state may have
		 * risen since it was pushed, which is why it is read here. */
		scan_block(g, b, b->state == HS_LK_POSSIBLE ? FROM_POSSIBLE : FROM_DEFINITE, 0);
	}
}

/* ---- phase 2 ------------------------------------------------------------ */

/* Everything UNREACHED hanging off block 'leader' joins its clique. */
static void gather_clique(struct hs_lk_graph *g, size_t leader)
{
	push(g, leader);
	while (g->top) {
		struct hs_lk_block *b = &g->b[g->stack[--g->top]];
		b->pending = 0;
		scan_block(g, b, CLIQUE, leader);
	}
}

void hs_lk_classify(struct hs_lk_graph *g)
{
	drain(g);
	for (size_t i = 0; i < g->n; i++)
		if (g->b[i].state == HS_LK_UNREACHED)
			gather_clique(g, i);
}

void hs_lk_totals(const struct hs_lk_graph *g, struct hs_lk_totals *t)
{
	*t = (struct hs_lk_totals){ { 0 }, { 0 } };
	for (size_t i = 0; i < g->n; i++) {
		t->blocks[g->b[i].state]++;
		t->bytes[g->b[i].state] += g->b[i].size;
	}
}
