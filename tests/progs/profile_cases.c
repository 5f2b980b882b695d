/*
 * profile_cases.c — programs whose heap profile is known exactly, for
 * tests/e2e/profile.sh. Each mode prints what the profile must find.
 *
 *   grow [MS]   a request log nobody trims: 2 KiB records appended to a
 *               global list every ~6 ms for MS ms (default 3000), still
 *               reachable at exit (log_request); beside it a 32-slot cache
 *               that fills over the first third of the run and then
 *               recycles its slots (cache_put), and short-lived scratch
 *               blocks (scratch_work). Prints the log's real growth rate.
 *   temp N      N calls to temp_buf, each block freed at once (temporary),
 *               and N pairs from pair_a/pair_b where a is freed after b was
 *               allocated (pair_a: not temporary, pair_b: temporary).
 *   peak        three phases: A 100x1000 + B 50x3000, all freed; A 300x1000
 *               + C 200x2000 (the peak), all freed; B 100x3000 kept to exit.
 *   oom         64 KiB blocks from hog until malloc returns NULL (run it
 *               under --fail limit=BYTES), then 32 more from hog_more that
 *               are not needed; exits 0.
 *   realoom     the same against a real address-space limit (setrlimit).
 *   many BITS   2^BITS distinct call stacks (a binary tree of calls, each
 *               leaf one malloc of 16 bytes, freed at once) and one big
 *               site (big_site, 1 MiB kept).
 *
 * The sites are the lines tagged SITE(...) below (and the calls that make
 * one function two sites, CALL(...)); profile.sh finds their line numbers
 * by these tags.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { 0, (long)(ms * 1e6) };
	nanosleep(&ts, NULL);
}

/* ---- grow ---------------------------------------------------------------- */

struct record {
	struct record *next;
	char body[2048 - sizeof(struct record *)];
};
static struct record *request_log;
static void *cache[32];

static NOINLINE void log_request(unsigned i)
{
	struct record *r = malloc(sizeof *r);   /* SITE(log) */
	memset(r->body, (int)(i & 0xff), sizeof r->body);
	r->next = request_log;
	request_log = r;
}

static NOINLINE void cache_put(unsigned slot)
{
	free(cache[slot]);
	cache[slot] = malloc(2048);             /* SITE(cache) */
	memset(cache[slot], 1, 2048);
}

static NOINLINE unsigned scratch_work(unsigned i)
{
	char *s = malloc(512 + i % 512);        /* SITE(scratch) */
	memset(s, 2, 512);
	unsigned v = (unsigned)s[i % 512];
	free(s);
	return v;
}

static int grow(double ms)
{
	double t0 = now_s(), end = t0 + ms / 1000;
	unsigned i = 0, nslots = 1, sink = 0;
	size_t logged = 0;
	double t_first = 0, t_last = 0;
	while (now_s() < end) {
		log_request(i);
		logged += sizeof(struct record);
		t_last = now_s();
		if (!i)
			t_first = t_last;
		/* the cache takes a new slot every fifth step during the first
		 * third of the run; after that it only replaces the ones it has */
		if (nslots < 32 && now_s() - t0 < ms / 3000 && i % 5 == 0)
			nslots++;
		cache_put(i % nslots);
		for (int k = 0; k < 10; k++)
			sink += scratch_work(i * 10 + (unsigned)k);
		sleep_ms(6);
		i++;
	}
	printf("records %u bytes %zu rate %.0f sink %u\n", i, logged,
	       (double)(logged - sizeof(struct record)) / (t_last - t_first), sink & 1);
	return 0;
}

/* ---- temp ---------------------------------------------------------------- */

static NOINLINE void temp_buf(void)
{
	char *p = malloc(100);                  /* SITE(temp) */
	p[0] = 1;
	free(p);
}

static NOINLINE void *pair_a(void)
{
	return malloc(48);                      /* SITE(pair_a) */
}

static NOINLINE void *pair_b(void)
{
	return malloc(80);                      /* SITE(pair_b) */
}

static int temp(long n)
{
	for (long i = 0; i < n; i++)
		temp_buf();
	for (long i = 0; i < n; i++) {
		void *a = pair_a(), *b = pair_b();
		free(a);                /* b was allocated since: not temporary */
		free(b);                /* nothing allocated since b: temporary */
	}
	printf("temp %ld\n", n);
	return 0;
}

/* ---- peak ---------------------------------------------------------------- */

static void *blocks[1000];
static size_t nblocks;

static NOINLINE void site_a(int n)
{
	for (int i = 0; i < n; i++)
		blocks[nblocks++] = malloc(1000);       /* SITE(a) */
}

static NOINLINE void site_b(int n)
{
	for (int i = 0; i < n; i++)
		blocks[nblocks++] = malloc(3000);       /* SITE(b) */
}

static NOINLINE void site_c(int n)
{
	for (int i = 0; i < n; i++)
		blocks[nblocks++] = malloc(2000);       /* SITE(c) */
}

static void free_all(void)
{
	while (nblocks)
		free(blocks[--nblocks]);
}

static int peak(void)
{
	site_a(100);            /* CALL(a1) */
	site_b(50);             /* CALL(b1) */
	free_all();
	site_a(300);            /* CALL(a2) */
	site_c(200);            /* CALL(c2) */
	free_all();
	site_b(100);            /* CALL(b3) */
	printf("peak a=300000 b=0 c=400000; exit b=300000\n");
	return 0;
}

/* ---- oom ----------------------------------------------------------------- */

static NOINLINE void *hog(void)
{
	return malloc(64 * 1024);               /* SITE(hog) */
}

static NOINLINE void *hog_more(void)
{
	return malloc(64 * 1024);               /* SITE(hog_more) */
}

static int oom(int real)
{
	if (real) {
		struct rlimit rl;
		getrlimit(RLIMIT_AS, &rl);
		/* what is mapped now plus 64 MiB */
		FILE *f = fopen("/proc/self/statm", "r");
		unsigned long pages = 0;
		if (!f || fscanf(f, "%lu", &pages) != 1)
			return 2;
		fclose(f);
		rl.rlim_cur = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (64ul << 20);
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			return 3;
	}
	size_t n = 0;
	void *keep[100000];
	while (n < 100000 && (keep[n] = hog()) != NULL) {
		memset(keep[n], 3, 64 * 1024);
		n++;
	}
	for (int i = 0; i < 32; i++)
		free(hog_more());
	printf("oom after %zu blocks of 64 KiB\n", n);
	while (n)
		free(keep[--n]);
	return 0;
}

/* ---- many ---------------------------------------------------------------- */

static NOINLINE void leaf(void)
{
	free(malloc(16));                       /* SITE(leaf) */
}

/* Two calls at each level, so each path through the tree is its own
 * call stack. */
static NOINLINE void tree(int depth)
{
	if (!depth) {
		leaf();
		return;
	}
	tree(depth - 1);
	tree(depth - 1);
}

static NOINLINE void *big_site(void)
{
	return malloc(1 << 20);                 /* SITE(big) */
}

static int many(int bits)
{
	void *big = big_site();
	memset(big, 4, 1 << 20);
	tree(bits);
	printf("many %d sites %ld\n", bits, 1L << bits);
	return big ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "grow"))
		return grow(argc > 2 ? atof(argv[2]) : 3000);
	if (!strcmp(mode, "temp"))
		return temp(argc > 2 ? atol(argv[2]) : 1000);
	if (!strcmp(mode, "peak"))
		return peak();
	if (!strcmp(mode, "oom"))
		return oom(0);
	if (!strcmp(mode, "realoom"))
		return oom(1);
	if (!strcmp(mode, "many"))
		return many(argc > 2 ? atoi(argv[2]) : 10);
	fprintf(stderr, "usage: profile_cases grow [MS] | temp N | peak | oom | realoom | many BITS\n");
	return 2;
}
