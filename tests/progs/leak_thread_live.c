/* A block referenced only from the stack of a thread that is still
 * running (blocked) when main exits: a root, so not definitely lost. */
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "leakcase.h"

static sem_t ready;
static int never[2];

static void *worker(void *arg)
{
	char *volatile p = malloc(56);          /* LEAK reachable 56 */
	memset(p, 5, 56);
	sem_post(&ready);
	char c;
	while (read(never[0], &c, 1) != 0)      /* blocks until exit */
		;
	free(p);
	return arg;
}

int main(void)
{
	pthread_t t;
	if (pipe(never) != 0 || sem_init(&ready, 0, 0) != 0)
		return 1;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	sem_wait(&ready);
	leakcase_scrub_stack();
	return 0;
}
