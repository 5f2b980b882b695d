/*
 * frametree.h — a tree of call frames weighted by bytes, for the pictures
 * and exports of the heap profile: massif's trees (innermost frame under
 * the root, callers below) and the flame graph (main under the root,
 * callees below). A node is one frame label under one parent; adding a
 * site's frames walks down from the root, making the nodes it lacks, and
 * adds the site's bytes to every node on the way.
 *
 * Labels are interned (hs_intern), so siblings compare by pointer. The
 * tree is a vector of nodes linked first-child / next-sibling; node 1 is
 * the root (indices are 1-based so that 0 can mean none).
 */
#ifndef HS_FRAMETREE_H
#define HS_FRAMETREE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct hs_fnode {
	const char *label;              /* interned                            */
	const char *detail;             /* interned; "" when none              */
	uint64_t bytes;
	size_t   first, next;           /* children, siblings: index; 0 none   */
};

struct hs_ftree {
	struct hs_fnode *v;             /* v[i - 1] is node i                  */
	size_t n, cap;
	struct hs_strpool *pool;
};

/* A tree with only its root. */
void hs_ftree_init(struct hs_ftree *t, const char *root_label);
void hs_ftree_free(struct hs_ftree *t);
/* The child of parent labelled label (made if missing; detail is kept
 * from the first). Strings need not be interned by the caller. */
size_t hs_ftree_child(struct hs_ftree *t, size_t parent, const char *label,
                      const char *detail);
/* One site's path from the root: labels[0] under the root, labels[1]
 * under it, ... (details may be NULL); bytes added to the root and to
 * every node on the path. n 0: the path is `none` alone. */
void hs_ftree_add(struct hs_ftree *t, const char *const *labels, const char *const *details,
                  size_t n, const char *none, uint64_t bytes);
/* A label that stays valid as long as the tree (for building a path). */
const char *hs_ftree_intern(struct hs_ftree *t, const char *s);
/* Node i's children, most bytes first; *n set. malloc'd. */
size_t *hs_ftree_children(const struct hs_ftree *t, size_t i, size_t *n);
/* Levels below and including node i (1 for a leaf). */
int hs_ftree_depth(const struct hs_ftree *t, size_t i);

static inline struct hs_fnode *hs_fnode(const struct hs_ftree *t, size_t i)
{
	return &t->v[i - 1];
}

#endif
