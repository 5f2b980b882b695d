/* exit() called by a second thread while main is blocked in
 * pthread_join: the scan runs on the second thread. main's stack is a
 * live thread's stack (its local keeps a block reachable); what the
 * exiting thread dropped is lost. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

static void __attribute__((noinline)) drop(void)
{
	char *p = malloc(88);                   /* LEAK definite 88 */
	memset(p, 8, 88);
}

static void *quitter(void *arg)
{
	drop();
	leakcase_scrub_stack();
	exit(0);
	return arg;
}

static char *__attribute__((noinline)) make_kept(void)
{
	char *p = malloc(120);                  /* LEAK reachable 120 */
	memset(p, 1, 120);
	return p;
}

int main(void)
{
	char *volatile kept = make_kept();
	pthread_t t;
	if (pthread_create(&t, NULL, quitter, NULL) != 0)
		return 1;
	pthread_join(t, NULL);                  /* never returns */
	free(kept);
	return 1;
}
