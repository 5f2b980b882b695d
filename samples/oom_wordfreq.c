/*
 * oom_wordfreq.c — a word-frequency counter that makes about 5,000
 * allocation calls, every one of them checked: the workload for timing
 * `heapscope sweep --mode=nth` against `--mode=site` (docs/SWEEP.md).
 *
 * It counts the words of a text it generates itself (a fixed
 * pseudo-random sequence, so every run makes the same calls) in a hash
 * table that grows by doubling, then prints the most frequent words.
 * Allocation sites: the table (calloc, on every growth), an entry
 * (malloc), its word (strdup), the sort array (malloc) and stdio's own
 * buffer. On any failure it frees everything and exits with status 1.
 *
 * Run it: build/heapscope sweep --mode=nth build/samples/oom_wordfreq
 *         build/heapscope sweep build/samples/oom_wordfreq
 * Argument: the number of words to generate (default 3600).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	char *word;
	unsigned count;
};

struct table {
	struct entry **slot;
	size_t nslots, nentries;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int grow(struct table *t)
{
	size_t n = t->nslots ? 2 * t->nslots : 64;
	struct entry **slot = calloc(n, sizeof *slot);
	if (!slot)
		return -1;
	for (size_t i = 0; i < t->nslots; i++)
		for (struct entry *e = t->slot[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash(e->word) & (n - 1);
			e->next = slot[j];
			slot[j] = e;
		}
	free(t->slot);
	t->slot = slot;
	t->nslots = n;
	return 0;
}

static int add(struct table *t, const char *word)
{
	if (t->nentries + 1 > t->nslots * 3 / 4 && grow(t) < 0)
		return -1;
	size_t j = hash(word) & (t->nslots - 1);
	for (struct entry *e = t->slot[j]; e; e = e->next)
		if (strcmp(e->word, word) == 0) {
			e->count++;
			return 0;
		}
	struct entry *e = malloc(sizeof *e);
	if (!e)
		return -1;
	e->word = strdup(word);
	if (!e->word) {
		free(e);
		return -1;
	}
	e->count = 1;
	e->next = t->slot[j];
	t->slot[j] = e;
	t->nentries++;
	return 0;
}

static void destroy(struct table *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		for (struct entry *e = t->slot[i], *next; e; e = next) {
			next = e->next;
			free(e->word);
			free(e);
		}
	free(t->slot);
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->word, y->word);
}

/* The next word of the text: three syllables, each drawn from a fixed
 * xorshift stream (4,096 possible words). */
static uint32_t next(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static void make_word(uint32_t *state, char *out)
{
	static const char *const syl[] = {
		"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo",
		"be", "du", "fa", "go", "hi", "ju", "pe", "zo",
	};
	out[0] = '\0';
	for (int i = 0; i < 3; i++)
		strcat(out, syl[next(state) % 16]);
}

int main(int argc, char **argv)
{
	long words = argc > 1 ? strtol(argv[1], NULL, 10) : 3600;
	struct table t = { 0 };
	uint32_t state = 2463534242u;
	char word[16];
	for (long i = 0; i < words; i++) {
		make_word(&state, word);
		if (add(&t, word) < 0)
			goto oom;
	}
	struct entry **v = malloc(t.nentries * sizeof *v);
	if (!v)
		goto oom;
	size_t k = 0;
	for (size_t i = 0; i < t.nslots; i++)
		for (struct entry *e = t.slot[i]; e; e = e->next)
			v[k++] = e;
	qsort(v, k, sizeof *v, by_count);
	for (size_t i = 0; i < k && i < 5; i++)
		printf("%-10s %u\n", v[i]->word, v[i]->count);
	printf("%zu distinct words of %ld\n", k, words);
	free(v);
	destroy(&t);
	return 0;
oom:
	fputs("oom_wordfreq: out of memory\n", stderr);
	destroy(&t);
	return 1;
}
