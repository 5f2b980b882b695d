/*
 * api_user.c — a program written against heapscope.h, as a user would.
 *
 * list_build() is "the code under test": it allocates a node and a label
 * per element and must return -ENOMEM, with nothing leaked, when any
 * allocation fails. Under heapscope the regions make it fail at chosen
 * calls; without heapscope the same binary runs, every hs_* call is a
 * no-op and the builds succeed. Exit 0 when every expectation for the
 * world we are in holds; each check prints one line either way.
 *
 * Valid C and C++ (the e2e test compiles it both ways), no printing
 * inside a region (stdio allocates, and that would be counted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapscope.h"

struct node {
	struct node *next;
	char *label;
	int value;
};

struct list {
	struct node *head;
	int len;
};

static void list_free(struct list *l)
{
	while (l->head) {
		struct node *n = l->head;
		l->head = n->next;
		free(n->label);
		free(n);
	}
	l->len = 0;
}

/* n elements, two allocations each (node, then label): allocation call
 * 2k-1 is element k's node, 2k its label. */
static int list_build(struct list *l, int n)
{
	l->head = NULL;
	l->len = 0;
	for (int i = 0; i < n; i++) {
		struct node *nd = (struct node *)malloc(sizeof *nd);
		if (!nd)
			goto oom;
		nd->label = (char *)malloc(16);
		if (!nd->label) {
			free(nd);
			goto oom;
		}
		snprintf(nd->label, 16, "item-%d", i);
		nd->value = i;
		nd->next = l->head;
		l->head = nd;
		l->len++;
	}
	return 0;
oom:
	list_free(l);
	return -ENOMEM;
}

static int failures;

static void expect(int ok, const char *what)
{
	printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		failures++;
}

/* Build under POLICY; under heapscope expect -ENOMEM with `want`
 * failures injected, without it a normal build. */
static void build_under(const char *policy, int on, long want)
{
	struct list l;
	char what[160];
	int begun = hs_fail_begin(policy);
	int rc = list_build(&l, 5);
	long injected = hs_fail_end();
	snprintf(what, sizeof what, "%s: begin -> %d, build -> %d, injected %ld",
	         policy, begun, rc, injected);
	if (on)
		expect(begun == 1 && rc == -ENOMEM && l.head == NULL && l.len == 0
		       && injected == want, what);
	else
		expect(begun == 0 && rc == 0 && l.len == 5 && injected == 0, what);
	list_free(&l);
}

int main(void)
{
	struct list l;
	int on = hs_running();
	printf("running=%d\n", on);

	expect(list_build(&l, 5) == 0 && l.len == 5, "build outside any region");
	list_free(&l);

	build_under("nth=1", on, 1);          /* the first node              */
	build_under("nth=4", on, 1);          /* element 2's label           */
	build_under("after=3", on, 1);        /* build stops at the first    */
	build_under("nth=2,func=malloc,minsize=16", on, 1);  /* a label     */

	/* Past the region, allocation works again. */
	expect(list_build(&l, 5) == 0 && l.len == 5, "build after the regions");
	list_free(&l);

	/* A rejected policy opens a region with injection off: the build
	 * succeeds and the end still pairs with the begin. */
	int begun = hs_fail_begin("nth=0");
	int rc = list_build(&l, 5);
	long injected = hs_fail_end();
	expect(begun == (on ? -1 : 0) && rc == 0 && injected == 0,
	       "rejected policy nth=0: no injection, begin/end balanced");
	list_free(&l);

	/* Nested: the inner region decides and counts from its own start. */
	begun = hs_fail_begin("after=1");
	int inner = hs_fail_begin(NULL);      /* injection off inside        */
	rc = list_build(&l, 5);
	long n_inner = hs_fail_end();
	long n_outer = hs_fail_end();
	expect(begun == on && inner == on && rc == 0 && n_inner == 0 && n_outer == 0,
	       "NULL region inside after=1: builds fine");
	list_free(&l);

	/* Benign: the failure still happens and is counted. */
	hs_benign_begin();
	hs_fail_begin("nth=1");
	void *p = malloc(64);
	injected = hs_fail_end();
	hs_benign_end();
	expect(on ? (p == NULL && injected == 1) : (p != NULL && injected == 0),
	       "benign region: failure injected and counted");
	free(p);

	unsigned long total = hs_fail_count();
	printf("hs_fail_count() = %lu\n", total);
	expect(total == (on ? 5ul : 0ul), "total injected");
	/* under the shim (recording: the test sets HEAPSCOPE_OUT) a heap
	 * snapshot labelled "end" goes into the trace */
	expect(hs_snapshot("end") == on, "hs_snapshot: recorded under heapscope only");
	expect(hs_fail_end() == (on ? -1 : 0), "hs_fail_end with no region open");

	printf("%s\n", failures ? "api_user: FAILED" : "api_user: all expectations met");
	return failures ? 1 : 0;
}
