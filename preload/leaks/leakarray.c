/*
 * leakarray.c — a leak-scan node set over a sorted array of blocks
 * (leakgraph.h): what the scan uses for the few blocks that live outside
 * arenas (huge mappings, boot blocks), and what the unit tests build by
 * hand. Lookups are a binary search; the allocator's arena blocks go
 * through leakindex.c instead, in O(1).
 */
#include "leakgraph.h"

/* ---- sorting ------------------------------------------------------------ */

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		unsigned char t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

static void sift_down(unsigned char *b, size_t size, size_t root, size_t n,
                      uintptr_t (*key)(const void *))
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && key(b + (child + 1) * size) > key(b + child * size))
			child++;
		if (key(b + root * size) >= key(b + child * size))
			return;
		swap_bytes(b + root * size, b + child * size, size);
		root = child;
	}
}

void hs_lk_heapsort(void *base, size_t n, size_t size, uintptr_t (*key)(const void *))
{
	unsigned char *b = base;
	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(b, size, i, n, key);
	for (size_t end = n - 1; end > 0; end--) {
		swap_bytes(b, b + end * size, size);
		sift_down(b, size, 0, end, key);
	}
}

/* ---- the node set ------------------------------------------------------- */

static uintptr_t entry_key(const void *p)
{
	return ((const struct hs_lk_entry *)p)->start;
}

static uintptr_t entry_end(const struct hs_lk_entry *e)
{
	/* A zero-size block covers one byte (memcheck does the same) so that
	 * a pointer to malloc(0) is seen at all. */
	return e->start + (e->size ? e->size : 1);
}

struct hs_lk_entry *hs_lk_array_find(const struct hs_lk_array *a, uintptr_t p)
{
	if (!a->n || p < a->e[0].start)
		return NULL;
	/* Last entry with start <= p. */
	size_t lo = 0, hi = a->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->e[mid].start <= p)
			lo = mid;
		else
			hi = mid;
	}
	struct hs_lk_entry *e = &a->e[lo];
	return p < entry_end(e) ? e : NULL;
}

void hs_lk_array_node(struct hs_lk_entry *e, struct hs_lk_node *out)
{
	*out = (struct hs_lk_node){ .start = e->start, .size = e->size, .mark = &e->mark,
	                            .copy = e->copy, .where = e->where };
}

static bool array_find(const struct hs_lk_nodes *s, uintptr_t p, struct hs_lk_node *out)
{
	struct hs_lk_entry *e = hs_lk_array_find((const struct hs_lk_array *)s, p);
	if (!e || (e->mark & HS_LK_ABSENT))
		return false;
	hs_lk_array_node(e, out);
	return true;
}

static void array_walk(const struct hs_lk_nodes *s, bool reverse, uint8_t mask, uint8_t want,
                       unsigned flags, void (*fn)(void *arg, const struct hs_lk_node *n),
                       void *arg)
{
	(void)flags;                    /* a few blocks: nothing to fetch ahead */
	const struct hs_lk_array *a = (const struct hs_lk_array *)s;
	for (size_t k = 0; k < a->n; k++) {
		struct hs_lk_entry *e = &a->e[reverse ? a->n - 1 - k : k];
		if ((e->mark & mask) != want)
			continue;
		struct hs_lk_node n;
		hs_lk_array_node(e, &n);
		fn(arg, &n);
	}
}

void hs_lk_array_init(struct hs_lk_array *a, struct hs_lk_entry *e, size_t n)
{
	size_t i = 1;
	while (i < n && e[i - 1].start <= e[i].start)
		i++;
	if (i < n)                      /* the usual input is sorted already */
		hs_lk_heapsort(e, n, sizeof *e, entry_key);
	for (i = 0; i < n; i++)         /* a fresh graph's marks (leakgraph.h) */
		e[i].mark &= HS_LK_ABSENT;
	*a = (struct hs_lk_array){
		.ops = { .n = n, .find = array_find, .walk = array_walk },
		.e = e, .n = n,
	};
	if (n) {
		a->ops.lo = e[0].start;
		a->ops.hi = entry_end(&e[n - 1]);
	}
}
