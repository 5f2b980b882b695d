/* Plain leak: one malloc'd block whose only pointer dies with its frame. */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

static void __attribute__((noinline)) make_leak(void)
{
	char *p = malloc(100);                  /* LEAK definite 100 */
	memset(p, 'x', 100);
}

int main(void)
{
	char *tmp = malloc(1000);               /* freed: not a leak */
	memset(tmp, 0, 1000);
	make_leak();
	free(tmp);
	leakcase_scrub_stack();
	return 0;
}
