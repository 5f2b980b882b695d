/*
 * leakheap — the exit-time leak scan on a large heap: `blocks` nodes of
 * 256 bytes (1 GiB at the default 4M) spread round-robin over 64 singly
 * linked lists, every node written, then half of the lists dropped and
 * the program ends. The other half stays reachable from a global array.
 * A leak checker has to walk the whole heap at exit: 2M blocks still
 * reachable, 32 lists of 64K blocks lost (32 definite, the rest hanging
 * off them). Natively this is allocation and page faults only.
 *
 *   leakheap [blocks=4194304] [seed=1]
 */
#include "common.h"

#define LISTS 64

struct node {
	struct node *next;
	uint64_t v[31];                 /* 256 bytes in all                   */
};

static struct node *heads[LISTS];

/* Out of line, so that no node address survives in main's frame: the
 * dropped lists must be lost, not held by a stale local. */
static __attribute__((noinline)) uint64_t build(long blocks, struct rng *r)
{
	uint64_t sum = 0;
	for (long i = 0; i < blocks; i++) {
		struct node *n = xmalloc(sizeof *n);
		uint64_t x = rng_next(r) >> 8;      /* never a heap address       */
		for (int k = 0; k < 31; k++)
			n->v[k] = x + (uint64_t)k;
		n->next = heads[i % LISTS];
		heads[i % LISTS] = n;
		sum += x & 0xffff;
	}
	return sum;
}

static __attribute__((noinline)) uint64_t drop_half(void)
{
	uint64_t sum = 0;
	for (int l = 0; l < LISTS; l++) {
		if (l % 2) {
			heads[l] = NULL;
			continue;
		}
		for (struct node *n = heads[l]; n; n = n->next)
			sum += n->v[7] & 0xff;
	}
	return sum;
}

static __attribute__((noinline)) void scrub_stack(void)
{
	volatile char pad[16 * 1024];
	memset((char *)pad, 0, sizeof pad);
}

int main(int argc, char **argv)
{
	long blocks = arg_long(argc, argv, 1, 4194304);
	struct rng r = { (uint64_t)arg_long(argc, argv, 2, 1) };
	uint64_t sum = build(blocks, &r);
	sum = sum * 31 + drop_half();
	scrub_stack();
	printf("leakheap blocks=%ld checksum=%016llx\n", blocks, (unsigned long long)sum);
	return 0;
}
