/*
 * test_leakroots.c — the process side of the leak scan on this very
 * process: /proc/self/maps parsing, the vtable test, and a root scan over
 * hand-made blocks (carved from a static buffer that is excluded from the
 * roots, as heapscope's arenas are) with pointers planted in a global, in
 * a mostly untouched mmap, in a live blocked thread's stack and in an
 * exited thread's stack.
 *
 * Addresses the test must remember are kept XOR-ed, so that its own
 * frames (which the scan reads) hold no pointer to a block.
 */
#include <check.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leaks/leakroots.h"

#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5aull)

/* ---- maps ---------------------------------------------------------------- */

static int code_a(void) { return 1; }
static int code_b(void) { return 2; }
/* const with relocations: lands in .data.rel.ro, a file mapping */
static int (*const fake_vtable[])(void) = { code_a, code_b, 0 };
static uintptr_t plain_data[4] = { 1, 2, 3, 4 };

START_TEST(maps_describe_this_process)
{
	struct hs_lk_maps m;
	ck_assert(hs_lk_maps_read(&m));
	ck_assert_uint_gt(m.n, 5);
	for (size_t i = 1; i < m.n; i++)
		ck_assert_uint_le(m.reg[i - 1].hi, m.reg[i].lo);

	int local = 0;
	const struct hs_lk_region *r = hs_lk_maps_find(&m, (uintptr_t)&local);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->r && r->w && r->type == HS_LK_ANON);

	r = hs_lk_maps_find(&m, (uintptr_t)&code_a);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->x && r->type == HS_LK_FILE && r->safe_hi == r->hi);
	ck_assert_ptr_null(hs_lk_maps_find(&m, 16));

	ck_assert(hs_lk_maps_is_vtable((uintptr_t)fake_vtable, &m));
	ck_assert(!hs_lk_maps_is_vtable((uintptr_t)plain_data, &m));   /* small ints */
	ck_assert(!hs_lk_maps_is_vtable((uintptr_t)&local, &m));       /* not a file */
	hs_lk_maps_free(&m);
}
END_TEST

/* ---- a root scan --------------------------------------------------------- */

enum { GLOBAL, LIVE_STACK, DEAD_STACK, NOWHERE, INTERIOR, IN_MMAP, NB };

static _Alignas(64) unsigned char heap[NB * 64];
static struct hs_lk_entry blocks[NB];
static struct hs_lk_array arr;
static uintptr_t scratch[3 * NB];
static volatile uintptr_t global_ptr;   /* a root: our own .bss */
static volatile uintptr_t global_interior;
static uintptr_t hidden[NB];            /* block addresses, XOR-ed */
static sem_t ready, release;

static uintptr_t block_addr(int i)
{
	return hidden[i] ^ HIDE;
}

static void *live_thread(void *arg)
{
	/* volatile: the pointer really sits in this stack frame */
	volatile uintptr_t p = block_addr(LIVE_STACK);
	sem_post(&ready);
	sem_wait(&release);                 /* blocked in the kernel */
	return (void *)(p ^ p);
}

static void *dead_thread(void *arg)
{
	volatile uintptr_t p = block_addr(DEAD_STACK);
	return (void *)(p ^ p);             /* exits; joined below */
}

static int kind_of(const struct hs_lk_graph *g, int i)
{
	struct hs_lk_node n;
	ck_assert(hs_lk_find(g, block_addr(i), &n));
	return *n.mark & HS_LK_STATE;
}

static __attribute__((noinline)) void scan(struct hs_lk_graph *g)
{
	struct hs_lk_roots rt = { 0 };
	/* the "heap" and the scan's arrays are ours, never roots */
	ck_assert(hs_lk_exclude(&rt.excl, (uintptr_t)heap, (uintptr_t)heap + sizeof heap));
	ck_assert(hs_lk_exclude(&rt.excl, (uintptr_t)blocks, (uintptr_t)(blocks + NB)));
	ck_assert(hs_lk_exclude(&rt.excl, (uintptr_t)hidden, (uintptr_t)(hidden + NB)));
	int here;
	ck_assert(hs_lk_roots_prepare(&rt, (uintptr_t)&here));
	hs_lk_array_init(&arr, blocks, NB);
	hs_lk_init(g, &arr.ops, scratch);
	hs_lk_roots_scan(&rt, g);
	hs_lk_classify(g);
	ck_assert_uint_ge(rt.stats.threads, 2);
	ck_assert_uint_ge(rt.stats.threads_with_sp, 2);     /* us + the blocked one */
	/* the 64 MiB reservation: one page written, the rest skipped */
	ck_assert_uint_ge(rt.stats.skipped_bytes, (size_t)60 << 20);
#if defined(__x86_64__)
	ck_assert(rt.stats.tid_known);
	ck_assert_uint_ge(rt.stats.dead_stacks, 1);
#endif
	hs_lk_roots_free(&rt);
}

static __attribute__((noinline)) void setup(void)
{
	for (int i = 0; i < NB; i++) {
		uintptr_t a = (uintptr_t)heap + (uintptr_t)i * 64;
		blocks[i] = (struct hs_lk_entry){ .start = a, .size = 48 };
		hidden[i] = a ^ HIDE;
	}
	global_ptr = block_addr(GLOBAL);
	global_interior = block_addr(INTERIOR) + 24;
	/* a big private reservation, written in one page only */
	char *big = mmap(NULL, (size_t)64 << 20, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(big != MAP_FAILED);
	*(volatile uintptr_t *)(big + (40 << 20) + 8) = block_addr(IN_MMAP);
}

/* What setup() left in its dead frame must not count as a root. */
static __attribute__((noinline)) void scrub_stack(void)
{
	volatile char pad[16 * 1024];
	memset((char *)pad, 0, sizeof pad);
}

START_TEST(roots_globals_and_thread_stacks)
{
	pthread_t dead, live;
	setup();
	/* the live thread first: a stack cached by the dead one would be
	 * reused for it */
	sem_init(&ready, 0, 0);
	sem_init(&release, 0, 0);
	ck_assert_int_eq(pthread_create(&live, NULL, live_thread, NULL), 0);
	sem_wait(&ready);
	ck_assert_int_eq(pthread_create(&dead, NULL, dead_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(dead, NULL), 0);
	usleep(20 * 1000);                  /* let it block in sem_wait */
	scrub_stack();

	struct hs_lk_graph g;
	scan(&g);
	ck_assert_int_eq(kind_of(&g, GLOBAL), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(&g, LIVE_STACK), HS_LK_REACHABLE);
	ck_assert_int_eq(kind_of(&g, INTERIOR), HS_LK_POSSIBLE);
	ck_assert_int_eq(kind_of(&g, NOWHERE), HS_LK_UNREACHED);
	ck_assert_int_eq(kind_of(&g, IN_MMAP), HS_LK_REACHABLE);
#if defined(__x86_64__)
	/* the exited thread's stack is still mapped (glibc caches it) with
	 * the pointer in it, but it is not a root */
	ck_assert_int_eq(kind_of(&g, DEAD_STACK), HS_LK_UNREACHED);
#endif
	sem_post(&release);
	pthread_join(live, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leakroots");
	TCase *tc = tcase_create("process");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, maps_describe_this_process);
	tcase_add_test(tc, roots_globals_and_thread_stacks);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
