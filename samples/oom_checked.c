/*
 * oom_checked.c — every allocation is checked, and every error path frees
 * what it took. `heapscope sweep` fails each allocation in turn and finds
 * every run handled: the program says "out of memory" and exits with
 * status 1, with nothing leaked and no crash.
 *
 * The patterns are the usual ones: a linked list, strdup, a buffer grown
 * with realloc (keeping the old pointer until realloc succeeds), and
 * stdio, whose own buffer allocation glibc handles by itself.
 *
 * Run it: build/heapscope sweep build/samples/oom_checked
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	char *word;
};

static void free_list(struct node *n)
{
	while (n) {
		struct node *next = n->next;
		free(n->word);
		free(n);
		n = next;
	}
}

/* Push a copy of word; -1 (list unchanged) when out of memory. */
static int push(struct node **head, const char *word)
{
	struct node *n = malloc(sizeof *n);
	if (!n)
		return -1;
	n->word = strdup(word);
	if (!n->word) {
		free(n);
		return -1;
	}
	n->next = *head;
	*head = n;
	return 0;
}

/* Append s to the growing buffer *buf of *len bytes; -1 when out of
 * memory, the old buffer still owned by the caller. */
static int append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *grown = realloc(*buf, *len + n + 2);
	if (!grown)
		return -1;
	memcpy(grown + *len, s, n);
	*len += n;
	grown[(*len)++] = ',';
	grown[*len] = '\0';
	*buf = grown;
	return 0;
}

int main(void)
{
	static const char *const words[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
	struct node *list = NULL;
	char *joined = NULL;
	size_t len = 0;
	int status = 1;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (push(&list, words[i]) < 0)
			goto oom;
	for (struct node *n = list; n; n = n->next)
		if (append(&joined, &len, n->word) < 0)
			goto oom;
	int *counts = calloc(len + 1, sizeof *counts);
	if (!counts)
		goto oom;
	for (size_t i = 0; i < len; i++)
		counts[(unsigned char)joined[i] % (len + 1)]++;
	printf("%s %d\n", joined, counts[(unsigned char)',' % (len + 1)]);
	free(counts);
	status = 0;
	goto out;
oom:
	fputs("oom_checked: out of memory\n", stderr);
out:
	free(joined);
	free_list(list);
	return status;
}
