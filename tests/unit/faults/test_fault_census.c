/*
 * test_fault_census.c — the shim's side of `heapscope sweep`
 * (preload/faults/fault_census.c) and the cap on `F` lines (faults.c):
 *
 *   - HEAPSCOPE_CENSUS=1 arms a level 0 that counts every call and fails
 *     none, and writes one `N` line per new stack with its first call's
 *     number (checked in a real trace file);
 *   - HEAPSCOPE_FAIL_ONLY=PID[.GEN] lets HEAPSCOPE_FAIL act in that image
 *     only; a malformed value turns injection off with a message;
 *   - a forked child of a scoped image injects nothing;
 *   - each stack gets at most HS_FAULT_LINES_PER_STACK `F` lines; the
 *     failures go on.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "record/trace.h"
#include "faults/faults.h"

static bool call(uint32_t stack, struct hs_fault_record *r)
{
	if (!hs_faults_active())
		return false;
	struct hs_fault_call c = { HS_FN_MALLOC, 16, 0, stack, 1 };
	return hs_fault_should_fail(&c, r);
}

static void env(const char *fail, const char *only, const char *census)
{
	fail ? setenv("HEAPSCOPE_FAIL", fail, 1) : unsetenv("HEAPSCOPE_FAIL");
	only ? setenv("HEAPSCOPE_FAIL_ONLY", only, 1) : unsetenv("HEAPSCOPE_FAIL_ONLY");
	census ? setenv("HEAPSCOPE_CENSUS", census, 1) : unsetenv("HEAPSCOPE_CENSUS");
	hs_faults_reset();
	hs_faults_init_from_env();
}

/* Which of calls 1..n fail, as a bitmask (stack 0: no census lines). */
static uint64_t mask(int n)
{
	uint64_t m = 0;
	struct hs_fault_record r;
	for (int i = 1; i <= n; i++)
		if (call(7, &r))
			m |= 1ull << i;
	return m;
}

START_TEST(scope_picks_one_image)
{
	char me[32], other[32], gen1[32];
	snprintf(me, sizeof me, "%d", (int)getpid());
	snprintf(gen1, sizeof gen1, "%d.1", (int)getpid());
	snprintf(other, sizeof other, "%d.0", (int)getpid() + 1);

	env("nth=2", NULL, NULL);
	ck_assert_uint_eq(mask(4), 1u << 2);
	env("nth=2", me, NULL);                   /* this pid, generation 0 */
	ck_assert_uint_eq(mask(4), 1u << 2);
	env("nth=2", gen1, NULL);                 /* we are not generation 1 */
	ck_assert(!hs_faults_active());
	ck_assert_uint_eq(mask(4), 0);
	env("nth=2", other, NULL);
	ck_assert_uint_eq(mask(4), 0);
	ck_assert_int_eq(hs_fault_scope_here(), 0);
	setenv("HEAPSCOPE_FAIL_ONLY", "12x", 1);
	ck_assert_int_eq(hs_fault_scope_here(), -1);
	env("nth=2", "12x", NULL);                /* said on stderr, off     */
	ck_assert_uint_eq(mask(4), 0);
	env("nth=2", "", NULL);                   /* empty: no scope         */
	ck_assert_uint_eq(mask(4), 1u << 2);
	env(NULL, NULL, NULL);
}
END_TEST

/* A forked child is another process: under a scope it never injects. */
START_TEST(scope_ends_at_fork)
{
	char me[32];
	snprintf(me, sizeof me, "%d.0", (int)getpid());
	env("after=1", me, NULL);
	struct hs_fault_record r;
	ck_assert(call(7, &r));
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(call(7, &r) ? 1 : 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child injected");
	ck_assert(call(7, &r));                   /* the parent still does  */
	env(NULL, NULL, NULL);
}
END_TEST

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Two distinct stacks from two call sites in this file. */
static uint32_t __attribute__((noinline)) census_from_a(void)
{
	struct hs_fault_record r;
	struct hs_fault_call c = { HS_FN_MALLOC, 24, 0, 0, 1 };
	ck_assert(!hs_fault_should_fail(&c, &r));
	return 1;
}

static uint32_t __attribute__((noinline)) census_from_b(void)
{
	struct hs_fault_record r;
	struct hs_fault_call c = { HS_FN_CALLOC, 40, 0, 0, 1 };
	ck_assert(!hs_fault_should_fail(&c, &r));
	return 2;
}

START_TEST(census_counts_and_names_first_calls)
{
	char path[] = "/tmp/hs-census-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);
	ck_assert(hs_trace_start(path));
	env(NULL, NULL, "1");
	ck_assert(hs_faults_active());            /* counting, never failing */
	/* one call site each, so one stack each: calls 1 and 3 are new */
	for (const char *q = "aabab"; *q; q++)
		if (*q == 'a')
			census_from_a();
		else
			census_from_b();
	ck_assert_uint_eq(hs_fault_calls(), 5);
	hs_trace_close();
	const char *text = slurp(path);
	unsigned long nth[4];
	char fn[4][16];
	unsigned long size[4], stack[4];
	int n = 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (l[0] == 'N' && l[1] == ' ' && n < 4) {
			ck_assert_int_eq(sscanf(l, "N %lu %15s %lu %lu", &nth[n], fn[n],
			                        &size[n], &stack[n]), 4);
			n++;
		}
	ck_assert_msg(n == 2, "expected 2 N lines, trace:\n%s", text);
	ck_assert_uint_eq(nth[0], 1);
	ck_assert_str_eq(fn[0], "malloc");
	ck_assert_uint_eq(size[0], 24);
	ck_assert_uint_eq(nth[1], 3);
	ck_assert_str_eq(fn[1], "calloc");
	ck_assert_uint_eq(size[1], 40);
	ck_assert_uint_ne(stack[0], stack[1]);
	ck_assert_uint_ne(stack[0], 0);
	/* each N names a stack whose S line came before it */
	char s_line[32];
	snprintf(s_line, sizeof s_line, "\nS %lu ", stack[1]);
	const char *s = strstr(text, s_line), *nl = strstr(text, "\nN 3 ");
	ck_assert(s && nl && s < nl);
	unlink(path);
	env(NULL, NULL, NULL);
	hs_fault_census_stop();
}
END_TEST

/* With both: the census counts and the policy still fails. */
START_TEST(census_with_a_policy)
{
	env("nth=3", NULL, "1");
	ck_assert_uint_eq(mask(5), 1u << 3);
	ck_assert_uint_eq(hs_fault_calls(), 5);
	hs_fault_census_stop();
	env(NULL, NULL, NULL);
}
END_TEST

START_TEST(lines_capped_per_stack)
{
	env("after=1", NULL, NULL);
	struct hs_fault_record r;
	int loud = 0;
	for (int i = 0; i < 3 * HS_FAULT_LINES_PER_STACK; i++) {
		ck_assert(call(11, &r));            /* every call fails ...      */
		ck_assert_uint_eq(r.stack, 11);
		loud += !r.quiet;
		ck_assert(i < HS_FAULT_LINES_PER_STACK ? !r.quiet : r.quiet);
	}
	ck_assert_int_eq(loud, HS_FAULT_LINES_PER_STACK);  /* ... few are written */
	ck_assert(call(12, &r));                /* a new stack gets its line  */
	ck_assert(!r.quiet);
	env(NULL, NULL, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault_census");
	TCase *tc = tcase_create("census");
	tcase_add_test(tc, scope_picks_one_image);
	tcase_add_test(tc, scope_ends_at_fork);
	tcase_add_test(tc, census_counts_and_names_first_calls);
	tcase_add_test(tc, census_with_a_policy);
	tcase_add_test(tc, lines_capped_per_stack);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
