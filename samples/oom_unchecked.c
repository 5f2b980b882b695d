/*
 * oom_unchecked.c — a program with three unchecked allocations among
 * checked ones. `heapscope sweep` fails each allocation in turn and
 * names the unchecked calls: they crash with SIGSEGV when malloc returns
 * NULL. The checked ones print a message and exit with status 1.
 *
 * The three unchecked calls carry an UNCHECKED comment; tests/e2e/sweep.sh
 * finds their line numbers by that mark, so keep it on the same line.
 *
 * Run it: build/heapscope sweep build/samples/oom_unchecked
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *name;
	int score;
};

/* Checked: a failed allocation is reported and the caller gives up. */
static struct entry *new_entry(const char *name, int score)
{
	struct entry *e = malloc(sizeof *e);
	if (!e)
		return NULL;
	e->name = strdup(name);
	if (!e->name) {
		free(e);
		return NULL;
	}
	e->score = score;
	return e;
}

static void free_entry(struct entry *e)
{
	free(e->name);
	free(e);
}

/* Unchecked: the buffer is used straight away. */
static char *label(const struct entry *e)
{
	char *s = malloc(strlen(e->name) + 16); /* UNCHECKED */
	sprintf(s, "%s=%d", e->name, e->score);
	return s;
}

/* Unchecked: calloc's result is written through at once. */
static int *histogram(const struct entry *const *v, int n)
{
	int *h = calloc(10, sizeof *h); /* UNCHECKED */
	for (int i = 0; i < n; i++)
		h[v[i]->score % 10]++;
	return h;
}

int main(void)
{
	static const char *const names[] = { "ada", "brian", "claude", "dennis" };
	enum { N = 4 };
	struct entry **v = calloc(N, sizeof *v);
	if (!v) {
		fputs("out of memory\n", stderr);
		return 1;
	}
	for (int i = 0; i < N; i++) {
		v[i] = new_entry(names[i], 17 * (i + 1));
		if (!v[i]) {
			fputs("out of memory\n", stderr);
			while (i-- > 0)
				free_entry(v[i]);
			free(v);
			return 1;
		}
	}
	/* Unchecked: a growing buffer, realloc'd without a look. */
	char *all = NULL;
	size_t len = 0;
	for (int i = 0; i < N; i++) {
		char *l = label(v[i]);
		all = realloc(all, len + strlen(l) + 2); /* UNCHECKED */
		memcpy(all + len, l, strlen(l));
		len += strlen(l);
		all[len++] = ' ';
		all[len] = '\0';
		free(l);
	}
	int *h = histogram((const struct entry *const *)v, N);
	fprintf(stderr, "%s| %d %d\n", all, h[7], h[4]);
	free(h);
	free(all);
	for (int i = 0; i < N; i++)
		free_entry(v[i]);
	free(v);
	return 0;
}
