/*
 * leaks.c — the leaks heapscope is built to find, one of each kind.
 *
 *   a plain leak            make_greeting() returns a string nobody frees
 *   a leaked linked list    the head is lost: 1 block definitely lost,
 *                           the rest indirectly lost (only the head pointed
 *                           to them)
 *   a leak through realloc  the grown buffer is dropped
 *   still reachable         a global still points at it at exit
 *   possibly lost           only a pointer into the middle survives
 *
 * Run it: build/heapscope run build/samples/leaks
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	int value;
};

static char *config_cache;         /* still reachable at exit */
static char *cursor;               /* points into a block: possibly lost */

static char *make_greeting(const char *name)
{
	char *s = malloc(strlen(name) + 8);
	sprintf(s, "hello, %s", name);
	return s;
}

static struct node *build_list(int n)
{
	struct node *head = NULL;
	for (int i = 0; i < n; i++) {
		struct node *nd = malloc(sizeof *nd);
		nd->value = i;
		nd->next = head;
		head = nd;
	}
	return head;
}

static void grow_buffer(void)
{
	char *buf = malloc(16);
	strcpy(buf, "abc");
	buf = realloc(buf, 4096);      /* the grown block is never freed */
	buf[100] = 'x';
}

int main(void)
{
	char *g = make_greeting("world");
	puts(g);                       /* g is dropped without free */
	g = NULL;

	struct node *list = build_list(10);
	printf("list head value %d\n", list->value);
	list = NULL;                   /* the whole list leaks */

	grow_buffer();

	config_cache = malloc(256);
	strcpy(config_cache, "kept until exit on purpose");

	char *block = malloc(64);
	cursor = block + 10;           /* only an interior pointer remains */
	block = NULL;

	char *ok = malloc(100);        /* freed: not reported */
	free(ok);
	return 0;
}
