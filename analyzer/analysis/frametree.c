/*
 * frametree.c — a tree of call frames weighted by bytes (frametree.h).
 */
#include "frametree.h"

#include <stdlib.h>
#include <string.h>

static size_t add(struct hs_ftree *t, const char *label, const char *detail)
{
	struct hs_fnode *x = HS_PUSH(t->v, t->n, t->cap);
	memset(x, 0, sizeof *x);
	x->label = hs_intern(t->pool, label);
	x->detail = hs_intern(t->pool, detail ? detail : "");
	return t->n;
}

void hs_ftree_init(struct hs_ftree *t, const char *root_label)
{
	memset(t, 0, sizeof *t);
	t->pool = hs_strpool_new();
	add(t, root_label, "");
}

void hs_ftree_free(struct hs_ftree *t)
{
	free(t->v);
	hs_strpool_free(t->pool);
	memset(t, 0, sizeof *t);
}

size_t hs_ftree_child(struct hs_ftree *t, size_t parent, const char *label,
                      const char *detail)
{
	const char *l = hs_intern(t->pool, label);
	for (size_t c = hs_fnode(t, parent)->first; c; c = hs_fnode(t, c)->next)
		if (hs_fnode(t, c)->label == l)
			return c;
	size_t c = add(t, label, detail);
	hs_fnode(t, c)->next = hs_fnode(t, parent)->first;
	hs_fnode(t, parent)->first = c;
	return c;
}

void hs_ftree_add(struct hs_ftree *t, const char *const *labels, const char *const *details,
                  size_t n, const char *none, uint64_t bytes)
{
	size_t at = 1;
	hs_fnode(t, 1)->bytes += bytes;
	if (!n) {
		at = hs_ftree_child(t, at, none, NULL);
		hs_fnode(t, at)->bytes += bytes;
	}
	for (size_t i = 0; i < n; i++) {
		at = hs_ftree_child(t, at, labels[i], details ? details[i] : NULL);
		hs_fnode(t, at)->bytes += bytes;
	}
}

const char *hs_ftree_intern(struct hs_ftree *t, const char *s)
{
	return hs_intern(t->pool, s);
}

static int by_bytes(const void *x, const void *y, void *arg)
{
	const struct hs_ftree *t = arg;
	uint64_t a = hs_fnode(t, *(const size_t *)x)->bytes;
	uint64_t b = hs_fnode(t, *(const size_t *)y)->bytes;
	return a > b ? -1 : a < b;
}

size_t *hs_ftree_children(const struct hs_ftree *t, size_t i, size_t *n)
{
	size_t k = 0;
	for (size_t c = hs_fnode(t, i)->first; c; c = hs_fnode(t, c)->next)
		k++;
	size_t *kids = hs_xmalloc((k ? k : 1) * sizeof *kids);
	k = 0;
	for (size_t c = hs_fnode(t, i)->first; c; c = hs_fnode(t, c)->next)
		kids[k++] = c;
	qsort_r(kids, k, sizeof *kids, by_bytes, (void *)t);
	*n = k;
	return kids;
}

int hs_ftree_depth(const struct hs_ftree *t, size_t i)
{
	int d = 0;
	for (size_t c = hs_fnode(t, i)->first; c; c = hs_fnode(t, c)->next) {
		int k = hs_ftree_depth(t, c);
		d = k > d ? k : d;
	}
	return d + 1;
}
