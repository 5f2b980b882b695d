/*
 * diff_api.c — a long random sequence of malloc-family calls whose
 * outcomes are logged without addresses, so a native run and a run under
 * heapscope (same seed) can be compared line for line.
 *
 *   diff_api [SEED=1] [OPS=20000]
 *
 * Every entry point: malloc calloc realloc reallocarray free memalign
 * posix_memalign aligned_alloc valloc pvalloc malloc_usable_size. Odd
 * sizes around the allocator's boundaries, odd and invalid alignments,
 * realloc to larger / smaller / zero / from NULL, overflowing requests
 * (errno and the untouched old block checked), and frees handed to a
 * second thread. (`diff_api info`: the statistics API, see info().)
 * Each line records what glibc's contract makes
 * observable: NULL or not, errno / return code on failure, alignment
 * honoured, malloc_usable_size >= requested, calloc zeroed, contents kept
 * across realloc. The last line counts contract violations; the exit
 * status is 1 if there were any.
 */
/* The overflowing requests are deliberate; mallinfo is deprecated but
 * still part of the API compared. */
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 256 };
static struct { unsigned char *p; size_t n; unsigned char c; } slot[SLOTS];
static uint64_t rs;
static long bad;
static size_t page;

static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }

/* Sizes that matter to an allocator: tiny, bin edges, page and buddy
 * edges, the 32 KiB small/large and 4 MiB buddy/huge boundaries. */
static size_t odd_size(void)
{
	static const size_t edge[] = { 0, 1, 15, 16, 17, 31, 32, 33, 127, 128, 129,
		4095, 4096, 4097, 32752, 32768, 32769, 65536, (4u << 20) - 16,
		(4u << 20), (4u << 20) + 1 };
	unsigned r = (unsigned)(rnd() % 100);
	if (r < 10) return edge[rnd() % (sizeof edge / sizeof edge[0])];
	if (r < 75) return rnd() % 700;
	if (r < 97) return rnd() % 70000;
	return rnd() % (7u << 20);
}

static size_t odd_align(void)
{
	static const size_t al[] = { 0, 1, 2, 3, 4, 8, 16, 24, 32, 48, 64, 100, 128,
		256, 1000, 4096, 8192, 65536, 1u << 20, (size_t)1 << 23 };
	return al[rnd() % (sizeof al / sizeof al[0])];
}

static size_t pow2_at_least(size_t a)
{
	size_t p = 1;
	while (p < a) p <<= 1;
	return p;
}

/* The bytes a block's pattern covers: all of a small block; the first
 * and last 4 KiB and every 509th byte of a large one (a shifted or
 * truncated copy still shows, and the test stays fast at -O0). */
static size_t next_pos(size_t i, size_t n)
{
	if (n <= 16384 || i + 1 < 4096 || i + 1 >= n - 4096) return i + 1;
	size_t j = (i + 1 + 508) / 509 * 509;
	return j < n - 4096 ? j : n - 4096;
}

static void fill(int k)
{
	for (size_t i = 0; i < slot[k].n; i = next_pos(i, slot[k].n))
		slot[k].p[i] = (unsigned char)(slot[k].c + i);
}

static int intact(int k, size_t upto)
{
	for (size_t i = 0; i < upto; i = next_pos(i, slot[k].n))
		if (slot[k].p[i] != (unsigned char)(slot[k].c + i)) return 0;
	return 1;
}

/* Log one outcome; a violated contract (want false) counts as bad. */
static void out(long i, const char *what, int ok)
{
	printf("%ld %s%s\n", i, what, ok ? "" : " VIOLATION");
	if (!ok) bad++;
}

/* Record a fresh block in slot k: check alignment and usable size. */
static void got(long i, int k, const char *call, void *p, size_t n, size_t align, int err)
{
	char buf[160];
	if (!p) {
		snprintf(buf, sizeof buf, "%s(%zu,%zu) NULL errno=%d", call, align, n, err);
		out(i, buf, 1);
		return;
	}
	int al = ((uintptr_t)p & (pow2_at_least(align ? align : 1) - 1)) == 0 &&
	         ((uintptr_t)p & 15) == 0;
	int us = malloc_usable_size(p) >= n;
	snprintf(buf, sizeof buf, "%s(%zu,%zu) ok align=%d usable=%d", call, align, n, al, us);
	out(i, buf, al && us);
	slot[k].p = p; slot[k].n = n; slot[k].c = (unsigned char)rnd();
	fill(k);
}

/* A second thread frees what it is handed: cross-thread frees. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void *queue[64];
static int qn, done;

static void *freer(void *arg)
{
	pthread_mutex_lock(&mu);
	for (;;) {
		while (qn == 0 && !done) pthread_cond_wait(&cv, &mu);
		if (qn == 0) break;
		void *p = queue[--qn];
		pthread_mutex_unlock(&mu);
		free(p);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return arg;
}

static void hand_over(void *p)
{
	pthread_mutex_lock(&mu);
	while (qn == 64) {
		pthread_mutex_unlock(&mu);
		usleep(100);
		pthread_mutex_lock(&mu);
	}
	queue[qn++] = p;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static void release(long i, int k)
{
	char buf[64];
	if (!slot[k].p) return;
	int ok = intact(k, slot[k].n);
	snprintf(buf, sizeof buf, "free kept=%d", ok);
	out(i, buf, ok);
	if (rnd() % 4 == 0) hand_over(slot[k].p);
	else free(slot[k].p);
	slot[k].p = NULL;
}

/* Requests no allocator can satisfy: NULL + ENOMEM (or EINVAL for a bad
 * alignment), and an old block left as it was. */
static void overflow(long i, int k)
{
	char buf[96];
	void *p = NULL;
	int r = -1;
	unsigned which = (unsigned)(rnd() % 10);
	errno = 0;
	switch (which) {
	case 0: p = malloc(SIZE_MAX); break;
	case 1: p = malloc((size_t)PTRDIFF_MAX + 1); break;
	case 2: p = calloc(SIZE_MAX / 2 + 1, 2); break;
	case 3: p = calloc((size_t)1 << 33, (size_t)1 << 33); break;
	case 4: p = memalign(64, SIZE_MAX - 100); break;
	case 5: r = posix_memalign(&p, 64, SIZE_MAX - 100); break;
	case 6: p = aligned_alloc(4096, SIZE_MAX - 5000); break;
	case 7: p = valloc(SIZE_MAX - 10); break;
	case 8: p = pvalloc(SIZE_MAX - 10); break;
	case 9: p = memalign(SIZE_MAX / 2 + 2, 16); break;
	}
	int err = errno;
	snprintf(buf, sizeof buf, "overflow %u -> %s r=%d errno=%d", which, p ? "BLOCK" : "NULL", r, err);
	out(i, buf, p == NULL);
	free(p);
	if (!slot[k].p) return;
	/* Growing a live block past the limit: NULL, ENOMEM, block kept. */
	errno = 0;
	if (rnd() & 1) p = realloc(slot[k].p, SIZE_MAX - 8);
	else p = reallocarray(slot[k].p, SIZE_MAX / 3, 4);
	err = errno;
	int kept = intact(k, slot[k].n);
	snprintf(buf, sizeof buf, "grow-overflow -> %s errno=%d kept=%d", p ? "BLOCK" : "NULL", err, kept);
	out(i, buf, p == NULL && err == ENOMEM && kept);
}

static void step(long i)
{
	int k = (int)(rnd() % SLOTS);
	unsigned op = (unsigned)(rnd() % 100);
	char buf[160];
	if (op < 3) { overflow(i, k); return; }
	if (slot[k].p && op < 55) {
		size_t old = slot[k].n, n;
		unsigned how = (unsigned)(rnd() % 10);
		if (how < 4) { release(i, k); return; }
		n = how == 4 ? 0 : how < 7 ? old + odd_size() : old ? rnd() % old : 0;
		void *q;
		errno = 0;
		if (how == 9 && n) {  /* reallocarray with a count */
			size_t m = n % 7 + 1;
			n = n / m * m;
			q = reallocarray(slot[k].p, n / m, m);
		} else {
			q = realloc(slot[k].p, n);
		}
		int err = errno;
		if (n == 0) {  /* glibc: realloc(p, 0) frees, returns NULL */
			snprintf(buf, sizeof buf, "realloc(%zu->0) %s", old, q ? "BLOCK" : "NULL");
			out(i, buf, 1);
			free(q);
			slot[k].p = NULL;
			return;
		}
		if (!q) {
			snprintf(buf, sizeof buf, "realloc(%zu->%zu) NULL errno=%d", old, n, err);
			out(i, buf, 1);
			return;
		}
		slot[k].p = q;
		int kept = intact(k, old < n ? old : n);
		int us = malloc_usable_size(q) >= n, al = ((uintptr_t)q & 15) == 0;
		snprintf(buf, sizeof buf, "realloc(%zu->%zu) ok kept=%d usable=%d align=%d", old, n, kept, us, al);
		out(i, buf, kept && us && al);
		slot[k].n = n;
		fill(k);
		return;
	}
	release(i, k);
	size_t n = odd_size(), al = odd_align();
	void *p = NULL;
	int r, err;
	errno = 0;
	switch (rnd() % 10) {
	case 0: case 1: case 2:
		got(i, k, "malloc", malloc(n), n, 16, errno); break;
	case 3: case 4: {
		size_t cnt = rnd() % 8 + 1, sz = n / cnt;
		unsigned char *c = calloc(cnt, sz);
		err = errno;
		int zero = 1;
		for (size_t j = 0; c && j < cnt * sz; j = next_pos(j, cnt * sz)) zero &= c[j] == 0;
		snprintf(buf, sizeof buf, "calloc-zeroed=%d", zero);
		out(i, buf, zero);
		got(i, k, "calloc", c, cnt * sz, 16, err);
		break;
	}
	case 5: got(i, k, "memalign", memalign(al, n), n, al, errno); break;
	case 6:
		p = (void *)0x1;  /* posix_memalign must leave it alone on failure */
		r = posix_memalign(&p, al, n);
		snprintf(buf, sizeof buf, "posix_memalign(%zu,%zu) r=%d untouched=%d", al, n, r, p == (void *)0x1);
		out(i, buf, r ? p == (void *)0x1 : p != (void *)0x1);
		if (r == 0) got(i, k, "posix_memalign", p, n, al, 0);
		break;
	case 7: p = aligned_alloc(al, n); got(i, k, "aligned_alloc", p, n, al, errno); break;
	case 8: got(i, k, "valloc", valloc(n), n, page, errno); break;
	case 9: {
		p = pvalloc(n);
		err = errno;
		/* glibc rounds 0 to 0: pvalloc(0) is a minimal block. */
		size_t want = (n + page - 1) / page * page;
		int us = !p || malloc_usable_size(p) >= want;
		snprintf(buf, sizeof buf, "pvalloc-usable-page=%d", us);
		out(i, buf, us);
		got(i, k, "pvalloc", p, n, page, err);
		break;
	}
	}
}

/* The statistics API (`diff_api info`): what glibc's semantics let two
 * allocators agree on. mallopt's return values exactly; malloc_info's
 * EINVAL and the XML's first and last line; mallinfo2's relations:
 * arena = uordblks + fordblks, uordblks grows by at least N with a
 * malloc(N) and stays within arena, an 8 MiB block is one more mmapped
 * block of at least 8 MiB and gone again after its free; malloc_trim
 * answers 0 or 1 and gives free memory back (trim()). malloc_stats
 * writes to stderr (the script compares it). */
static long rss_kb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
		fclose(f);
	}
	return res * (long)(page / 1024);
}

/* 1024 blocks of 64 KiB written, then every other one freed: 32 MiB of
 * free memory in holes between live blocks, which neither allocator
 * gives back by itself at once (glibc keeps it all, heapscope keeps what
 * its budget of free resident pages allows, 8 MiB or more). After
 * malloc_trim(0) at least 26 MiB of it must have left the resident set
 * (glibc: 30 MiB, as its chunk headers keep a page of each hole). */
static void trim(void)
{
	enum { N = 1024, SZ = 65536 - 64 };
	static char *b[N];
	for (int i = 0; i < N; i++) {
		b[i] = malloc(SZ);
		if (b[i]) memset(b[i], 3, SZ);
	}
	long full = rss_kb();
	for (int i = 0; i < N; i += 2) free(b[i]);
	int r = malloc_trim(0);
	long after = rss_kb();
	for (int i = 1; i < N; i += 2) free(b[i]);
	out(0, "malloc_trim(0) with 32 MiB free in holes: answers 1", r == 1);
	out(0, "malloc_trim(0) with 32 MiB free in holes: 26 MiB or more given back",
	    full - after >= 26 * 1024);
}

static void info(void)
{
	static const int params[] = { M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD,
		M_MMAP_THRESHOLD, M_MMAP_MAX, M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST,
		M_ARENA_MAX, 0, 2, 3, 4, 99, -99 };
	static const int vals[] = { 0, 1, 64, 160, 161, 1 << 20, 32 << 20, -1 };
	char buf[200];
	struct mallinfo2 a = mallinfo2();
	out(0, "arena = uordblks + fordblks", a.arena == a.uordblks + a.fordblks);
	char *p = malloc(1000);
	memset(p, 1, 1000);
	struct mallinfo2 b = mallinfo2();
	out(0, "malloc(1000): uordblks +1000 or more", b.uordblks >= a.uordblks + 1000);
	out(0, "uordblks <= arena", b.uordblks <= b.arena && b.arena == b.uordblks + b.fordblks);
	struct mallinfo old = mallinfo();
	out(0, "mallinfo = mallinfo2", (size_t)old.uordblks == b.uordblks
	    && (size_t)old.arena == b.arena && (size_t)old.hblks == b.hblks);
	char *big = malloc(8u << 20);
	memset(big, 2, 8u << 20);
	struct mallinfo2 c = mallinfo2();
	out(0, "malloc(8 MiB): one more mmapped block of 8 MiB or more",
	    c.hblks == b.hblks + 1 && c.hblkhd >= b.hblkhd + (8u << 20));
	free(big);
	struct mallinfo2 d = mallinfo2();
	out(0, "free(8 MiB): the mmapped block is gone", d.hblks == b.hblks && d.hblkhd == b.hblkhd);
	free(p);
	/* after the mmap check: its frees leave glibc a big top that would
	 * serve 8 MiB; before mallopt, which sets heapscope's budget of free
	 * resident pages (trim's work would then be done on free already) */
	trim();
	for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
		int n = snprintf(buf, sizeof buf, "mallopt(%d):", params[i]);
		for (size_t j = 0; j < sizeof vals / sizeof *vals; j++)
			n += snprintf(buf + n, sizeof buf - (size_t)n, " %d", mallopt(params[i], vals[j]));
		out(0, buf, 1);
	}
	/* glibc's defaults again (the sweep above changed its thresholds) */
	mallopt(M_MXFAST, 64 * (int)sizeof(size_t) / 4);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	mallopt(M_TOP_PAD, 128 * 1024);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_MMAP_MAX, 65536);
	mallopt(M_PERTURB, 0);
	out(0, "malloc_info(1) = EINVAL", malloc_info(1, stdout) == EINVAL);
	char *xml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&xml, &len);
	int r = f ? malloc_info(0, f) : -1;

	if (f) fclose(f);
	out(0, "malloc_info(0) = 0", r == 0);
	out(0, "malloc_info xml <malloc version=\"1\"> ... </malloc>",
	    xml && strncmp(xml, "<malloc version=\"1\">\n", 21) == 0 && len > 10
	    && strcmp(xml + len - 10, "</malloc>\n") == 0);
	free(xml);
	fflush(stdout);
	malloc_stats();
}

int main(int argc, char **argv)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	if (argc > 1 && strcmp(argv[1], "info") == 0) {
		info();
		printf("diff_api info violations=%ld\n", bad);
		return bad != 0;
	}
	rs = argc > 1 ? strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull | 1 : 1;
	long ops = argc > 2 ? atol(argv[2]) : 20000;
	pthread_t t;
	if (pthread_create(&t, NULL, freer, NULL) != 0) return 2;
	out(0, "malloc(0) non-NULL", (slot[0].p = malloc(0)) != NULL);
	free(slot[0].p);
	slot[0].p = NULL;
	free(NULL);
	out(0, "usable(NULL)=0", malloc_usable_size(NULL) == 0);
	for (long i = 1; i <= ops; i++) step(i);
	for (int k = 0; k < SLOTS; k++) release(ops + 1, k);
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	printf("diff_api ops=%ld violations=%ld\n", ops, bad);
	return bad != 0;
}
