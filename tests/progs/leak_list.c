/* A leaked linked list: the head is definitely lost, the nine nodes
 * behind it are indirectly lost (each reachable only from a lost block). */
#include <stdlib.h>
#include "leakcase.h"

struct node {
	struct node *next;
	long value;
};

static struct node *__attribute__((noinline)) push(struct node *head, long v)
{
	struct node *n = malloc(sizeof *n);     /* LEAK definite 16, indirect 144 */
	n->next = head;
	n->value = v;
	return n;
}

static void __attribute__((noinline)) build_and_drop(void)
{
	struct node *head = NULL;
	for (long i = 0; i < 10; i++)
		head = push(head, i);
	/* head goes out of scope: the list is lost */
}

int main(void)
{
	build_and_drop();
	leakcase_scrub_stack();
	return 0;
}
