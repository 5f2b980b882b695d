/* Every block freed before exit: no leak of any kind may be reported. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

static void *worker(void *arg)
{
	char *p = malloc(300);
	memset(p, 1, 300);
	free(p);
	return arg;
}

int main(void)
{
	void *blocks[100];
	for (int i = 0; i < 100; i++)
		blocks[i] = malloc((size_t)i * 37 + 1);
	for (int i = 0; i < 100; i += 2)
		free(blocks[i]);
	for (int i = 1; i < 100; i += 2)
		blocks[i] = realloc(blocks[i], (size_t)i * 91);
	for (int i = 1; i < 100; i += 2)
		free(blocks[i]);
	char *s = strdup("clean");
	free(s);
	void *a = NULL;
	if (posix_memalign(&a, 256, 1000) == 0)
		free(a);
	free(calloc(3, 1 << 20));               /* a large block too */
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) == 0)
		pthread_join(t, NULL);
	return 0;
}
