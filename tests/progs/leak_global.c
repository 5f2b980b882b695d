/* Blocks still pointed to from globals at exit: still reachable, both the
 * one a global points at and the one that block points at. */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

struct config {
	char *name;
	long size;
};

static struct config *global_config;
char *global_buffer;

static void __attribute__((noinline)) setup(void)
{
	global_buffer = malloc(64);                         /* LEAK reachable 64 */
	memset(global_buffer, 0, 64);
	global_config = malloc(sizeof *global_config);      /* LEAK reachable 16 */
	global_config->name = malloc(32);                   /* LEAK reachable 32 */
	strcpy(global_config->name, "config");
	global_config->size = 32;
}

int main(void)
{
	setup();
	leakcase_scrub_stack();
	return 0;
}
