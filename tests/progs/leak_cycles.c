/* Lost structures with cycles (issue #15, class 5): every block is 16
 * bytes, 18 in all. memcheck reports 4 definitely lost (64 bytes) and 14
 * indirectly lost (224 bytes): one definite block per structure that no
 * other lost block reaches, the rest indirect, a cycle reached from
 * another lost cycle included. heapscope once led such a cycle with its
 * own definite block whenever it came first in address order (5 and 13).
 *
 *   a list of 3:   n0 -> n1 -> n2
 *   a cycle of 3:  c0 -> c1 -> c2 -> c0
 *   a tree:        root -> left, root -> right
 *   a cycle of 4 that points into a cycle of 5, at its second block, so
 *   that the answer does not depend on which block of the 5 comes first
 *   in memory. The cycle of 4 is allocated first: under valgrind it then
 *   lies lower, and memcheck's first-in-address-order leader reaches the
 *   cycle of 5 whole; heapscope must say the same wherever its allocator
 *   puts them. */
#include <stdlib.h>
#include "leakcase.h"

#define NOINLINE __attribute__((noinline))

struct node {
	struct node *next, *other;
};

static NOINLINE void lose_list(void)
{
	struct node *n[3];
	for (int i = 0; i < 3; i++)
		n[i] = calloc(1, sizeof(struct node));  /* LEAK definite 16, indirect 32 */
	n[0]->next = n[1];
	n[1]->next = n[2];
}

static NOINLINE void lose_cycle(void)
{
	struct node *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = calloc(1, sizeof(struct node));  /* LEAK definite 16, indirect 32 */
	for (int i = 0; i < 3; i++)
		c[i]->next = c[(i + 1) % 3];
}

static NOINLINE void lose_tree(void)
{
	struct node *root = calloc(1, sizeof(struct node));  /* LEAK definite 16 */
	root->next = calloc(1, sizeof(struct node));        /* LEAK indirect 16 */
	root->other = calloc(1, sizeof(struct node));       /* LEAK indirect 16 */
}

static NOINLINE struct node *ring(int n, struct node **out)
{
	for (int i = 0; i < n; i++)
		out[i] = calloc(1, sizeof(struct node));        /* LEAK definite 16, indirect 128 */
	for (int i = 0; i < n; i++)
		out[i]->next = out[(i + 1) % n];
	return out[0];
}

static NOINLINE void lose_cycle_into_cycle(void)
{
	struct node *up[4], *down[5];
	ring(4, up);
	ring(5, down);
	up[3]->other = down[1];
}

int main(void)
{
	lose_list();
	lose_cycle();
	lose_tree();
	lose_cycle_into_cycle();
	leakcase_scrub_stack();
	return 0;
}
