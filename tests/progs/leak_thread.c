/* A leak made in a second thread that has exited (and been joined) by
 * the time the process ends: its dead stack must not hide the leak. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

static void *worker(void *arg)
{
	char *p = malloc(72);                   /* LEAK definite 72 */
	memset(p, 7, 72);
	return arg;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	pthread_join(t, NULL);
	leakcase_scrub_stack();
	return 0;
}
