/*
 * grow.c — a slow, steady leak: a server loop that forgets one buffer
 * per request.
 *
 * For about 1.5 s it handles a request every 2 ms: a small session
 * record and a 48 KiB reply buffer; the record is freed, the buffer is
 * not. Memory grows by ~24 MiB/s from start to end, so heapscope's
 * VmSize verdict is "likely_leak", and the leak report names
 * handle_request() as the place the buffers were allocated.
 *
 * Run it: build/heapscope run --json grow.json build/samples/grow
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct session {
	int id;
	char peer[52];
	char *reply;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void handle_request(int id)
{
	struct session *s = malloc(sizeof *s);
	s->id = id;
	snprintf(s->peer, sizeof s->peer, "10.0.0.%d", id % 250);
	s->reply = malloc(48 * 1024);
	memset(s->reply, 'x', 48 * 1024);
	free(s);                     /* the reply buffer is never freed */
}

int main(void)
{
	double start = now();
	int n = 0;
	while (now() - start < 1.5) {
		handle_request(n++);
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	printf("handled %d requests\n", n);
	return 0;
}
