/* tests/clients: one block lost (memcheck: 1 definitely lost record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *__attribute__((noinline)) make_name(const char *who)
{
	char *s = malloc(strlen(who) + 7);
	strcpy(s, "hello ");
	strcat(s, who);
	return s;
}

int main(void)
{
	char *s = make_name("world");
	printf("%s\n", s);
	s = NULL;                   /* the only pointer is gone */
	return 0;
}
