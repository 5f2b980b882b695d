/*
 * test_trace.c — the trace writer and the stack table, linked directly.
 *
 * File rules (0600, never over an existing file or through a symlink, %p),
 * the preamble, line integrity across buffer flushes, the exec roll-back,
 * interning (same stack -> same id, S line once, growth, threads) and a
 * real capture from a known function.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record/trace.h"

static char dir[] = "/tmp/hs-test-trace.XXXXXX";

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* The whole file, NUL-terminated (malloc'd; the test runs on glibc). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static unsigned count_prefix(const char *text, const char *prefix)
{
	unsigned c = 0;
	size_t k = strlen(prefix);
	for (const char *l = text; *l; ) {
		if (strncmp(l, prefix, k) == 0)
			c++;
		const char *nl = strchr(l, '\n');
		if (!nl)
			break;
		l = nl + 1;
	}
	return c;
}

/* A fresh trace at dir/name; returns its path in out. */
static void start(char *out, size_t cap, const char *name)
{
	path_in(out, cap, name);
	unlink(out);
	ck_assert(hs_trace_start(out));
	ck_assert(hs_trace_active());
}

/* ---- names ------------------------------------------------------------ */

START_TEST(name_rules)
{
	char b[256];
	ck_assert_uint_gt(hs_trace_name(b, sizeof b, NULL, "prog", 42, 0, false), 0);
	ck_assert_str_eq(b, "heapscope.prog.42.trace");
	hs_trace_name(b, sizeof b, NULL, "prog", 42, 3, true);
	ck_assert_str_eq(b, "heapscope.prog.42.3.trace");
	hs_trace_name(b, sizeof b, "out/t.%p.trace", "x", 7, 0, false);
	ck_assert_str_eq(b, "out/t.7.trace");
	hs_trace_name(b, sizeof b, "a%pb%pc", "x", 7, 0, true);
	ck_assert_str_eq(b, "a7b7c");
	hs_trace_name(b, sizeof b, "t.%p", "x", 7, 2, false);
	ck_assert_str_eq(b, "t.7.2");
	hs_trace_name(b, sizeof b, "100%%.%q", "x", 7, 0, false);
	ck_assert_str_eq(b, "100%.%q");
	/* no %p: the first process keeps the name, the others add their pid */
	hs_trace_name(b, sizeof b, "run.trace", "x", 9, 0, false);
	ck_assert_str_eq(b, "run.trace");
	hs_trace_name(b, sizeof b, "run.trace", "x", 9, 0, true);
	ck_assert_str_eq(b, "run.trace.9");
	hs_trace_name(b, sizeof b, "run.trace", "x", 9, 1, false);
	ck_assert_str_eq(b, "run.trace.9.1");
	/* too long: 0, never a truncated name */
	ck_assert_uint_eq(hs_trace_name(b, 8, "abcdefgh", "x", 1, 0, false), 0);
	ck_assert_uint_eq(hs_trace_name(b, 12, "t.%p", "x", 123456789, 5, false), 0);
}
END_TEST

/* ---- safe creation ------------------------------------------------------ */

START_TEST(create_mode_0600)
{
	char p[512];
	path_in(p, sizeof p, "mode.trace");
	unlink(p);
	mode_t old = umask(0);          /* 0600 must not depend on the umask */
	int fd = hs_trace_create(p);
	umask(old);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
}
END_TEST

START_TEST(create_refuses_existing)
{
	char p[512];
	path_in(p, sizeof p, "exists.trace");
	FILE *f = fopen(p, "w");
	fputs("precious\n", f);
	fclose(f);
	ck_assert_int_eq(hs_trace_create(p), -EEXIST);
	ck_assert(!hs_trace_start(p));
	char *text = slurp(p, NULL);
	ck_assert_str_eq(text, "precious\n");
	free(text);
}
END_TEST

START_TEST(create_refuses_symlink)
{
	char p[512], target[512], dangling[512];
	path_in(target, sizeof target, "victim");
	path_in(p, sizeof p, "link.trace");
	FILE *f = fopen(target, "w");
	fputs("victim\n", f);
	fclose(f);
	unlink(p);
	ck_assert_int_eq(symlink(target, p), 0);
	ck_assert_int_lt(hs_trace_create(p), 0);
	ck_assert(!hs_trace_start(p));
	char *text = slurp(target, NULL);
	ck_assert_str_eq(text, "victim\n");
	free(text);
	/* a dangling link must not create its target either */
	path_in(dangling, sizeof dangling, "dangling.trace");
	char nowhere[512];
	path_in(nowhere, sizeof nowhere, "nowhere");
	unlink(nowhere);
	unlink(dangling);
	ck_assert_int_eq(symlink(nowhere, dangling), 0);
	ck_assert_int_lt(hs_trace_create(dangling), 0);
	ck_assert_int_ne(access(nowhere, F_OK), 0);
}
END_TEST

/* ---- preamble and lines --------------------------------------------------- */

START_TEST(preamble)
{
	char p[512];
	start(p, sizeof p, "preamble.trace");
	ck_assert_str_eq(hs_trace_path(), p);
	hs_trace_close();
	char *text = slurp(p, NULL);
	ck_assert_msg(strncmp(text, "HEAPSCOPE-TRACE 2\n", 18) == 0, "first line: %.40s", text);

	char *l2 = strchr(text, '\n') + 1;
	int pid = -1, ppid = -1;
	unsigned long t0 = 0;
	char exe[4096] = "";
	ck_assert_int_eq(sscanf(l2, "P %d %d %lu %4095[^\n]", &pid, &ppid, &t0, exe), 4);
	ck_assert_int_eq(pid, getpid());
	ck_assert_int_eq(ppid, getppid());
	ck_assert_uint_gt(t0, 1600000000);
	char real_exe[4096];
	ssize_t n = readlink("/proc/self/exe", real_exe, sizeof real_exe - 1);
	real_exe[n > 0 ? n : 0] = '\0';
	ck_assert_str_eq(exe, real_exe);

	char *l3 = strchr(l2, '\n') + 1;
	ck_assert_msg(strncmp(l3, "a ", 2) == 0 && strstr(l3, "test_trace") != NULL,
	              "a line: %.80s", l3);

	/* Module 0 is the executable, each M line has 6 fields, the main
	 * program's start lies inside [start, end). */
	ck_assert_uint_ge(count_prefix(text, "M "), 2);
	char *m0 = strstr(text, "\nM 0 ");
	ck_assert_ptr_nonnull(m0);
	unsigned long bias, s, e;
	char id[200], path[4096];
	ck_assert_int_eq(sscanf(m0 + 1, "M 0 %lx %lx %lx %199s %4095[^\n]",
	                        &bias, &s, &e, id, path), 5);
	ck_assert_str_eq(path, real_exe);
	ck_assert_uint_lt(s, e);
	ck_assert((uintptr_t)&slurp >= s && (uintptr_t)&slurp < e);
	ck_assert_msg(strlen(id) == 40 || strcmp(id, "-") == 0, "build-id %s", id);
	free(text);
}
END_TEST

/* Many lines across many flushes: every one arrives whole and in order. */
START_TEST(lines_survive_flushes)
{
	char p[512];
	start(p, sizeof p, "lines.trace");
	const unsigned N = 20000;      /* ~ 1 MB: about 15 buffer flushes  */
	for (unsigned i = 0; i < N; i++)
		hs_trace_printf("T %u %s\n", i, "padding-padding-padding-padding-padding");
	hs_trace_close();
	hs_trace_printf("T after close\n");     /* dropped: trace closed    */
	char *text = slurp(p, NULL);
	unsigned next = 0, bad = 0;
	for (char *l = text; *l; ) {
		char *nl = strchr(l, '\n');
		ck_assert_ptr_nonnull(nl);   /* the file ends with a newline  */
		unsigned v;
		if (l[0] == 'T') {
			if (sscanf(l, "T %u padding-padding-padding-padding-padding\n", &v) != 1 ||
			    v != next)
				bad++;
			next++;
		}
		l = nl + 1;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(next, N);
	free(text);
}
END_TEST

/* The descriptor open on path, from /proc/self/fd; -1 if none. */
static int fd_of(const char *path)
{
	for (int fd = 0; fd < 1024; fd++) {
		char link[64], target[512];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strcmp(target, path) == 0)
				return fd;
		}
	}
	return -1;
}

/* The program dup2s its own file over our descriptor: not one byte of
 * trace may land in it, and recording stops. */
START_TEST(stolen_descriptor_is_not_written)
{
	char p[512], mine[512];
	start(p, sizeof p, "stolen.trace");
	path_in(mine, sizeof mine, "programs-own.txt");
	int fd = open(mine, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	int tfd = fd_of(p);
	ck_assert_int_ge(tfd, 3);
	ck_assert_int_ge(dup2(fd, tfd), 0);    /* over the trace's descriptor */
	hs_trace_printf("T would-go-astray\n");
	hs_trace_flush();
	ck_assert(!hs_trace_active());
	hs_trace_printf("T later\n");
	hs_trace_flush();
	close(fd);
	struct stat st;
	ck_assert_int_eq(stat(mine, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	close(tfd);
}
END_TEST

START_TEST(oversized_line_is_marked)
{
	char p[512];
	start(p, sizeof p, "big.trace");
	static char huge[HS_TRACE_BUF + 100];
	memset(huge, 'x', sizeof huge - 1);
	hs_trace_printf("E %s\n", huge);
	hs_trace_printf("T small\n");
	hs_trace_close();
	char *text = slurp(p, NULL);
	ck_assert_uint_eq(count_prefix(text, "E "), 0);
	ck_assert_uint_eq(count_prefix(text, "! "), 1);
	ck_assert_uint_eq(count_prefix(text, "T small"), 1);
	free(text);
}
END_TEST

START_TEST(exec_failure_takes_x_back)
{
	char p[512];
	start(p, sizeof p, "exec.trace");
	hs_trace_printf("T before\n");
	ck_assert(hs_trace_exec_begin());
	char *mid = slurp(p, NULL);
	ck_assert_uint_eq(count_prefix(mid, "X exec 0"), 1);   /* flushed   */
	free(mid);
	hs_trace_exec_failed();
	hs_trace_printf("T after\n");
	hs_trace_close();
	char *text = slurp(p, NULL);
	ck_assert_uint_eq(count_prefix(text, "X "), 0);
	ck_assert_ptr_nonnull(strstr(text, "T before\nT after\n"));
	free(text);
}
END_TEST

START_TEST(exec_env_sets_lineage)
{
	char *in[] = { "A=1", HS_LINEAGE_VAR "=1.0", "B=2", NULL };
	char **out = hs_exec_env(in, "77.3");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out[0], "A=1");
	ck_assert_str_eq(out[1], "B=2");
	ck_assert_str_eq(out[2], HS_LINEAGE_VAR "=77.3");
	ck_assert_ptr_null(out[3]);
	hs_exec_env_free(out);
	char *none[] = { NULL };
	out = hs_exec_env(none, "5.0");
	ck_assert_str_eq(out[0], HS_LINEAGE_VAR "=5.0");
	ck_assert_ptr_null(out[1]);
	hs_exec_env_free(out);
}
END_TEST

/* ---- stacks ---------------------------------------------------------------- */

/* The S line for id in text, parsed; returns n or -1. */
static int find_s(const char *text, uint32_t id, uintptr_t *ips, int max)
{
	char key[32];
	snprintf(key, sizeof key, "\nS %u ", id);
	const char *l = strstr(text, key);
	if (!l)
		return -1;
	l += strlen(key);
	char *end;
	int n = (int)strtol(l, &end, 10);
	for (int i = 0; i < n && i < max; i++)
		ips[i] = strtoul(end, &end, 16);
	ck_assert_msg(*end == '\n', "S line %u has more fields than n", id);
	return n;
}

START_TEST(intern_same_and_different)
{
	char p[512];
	start(p, sizeof p, "intern.trace");
	uintptr_t a[] = { 0x1000, 0x2000, 0x3000 };
	uintptr_t b[] = { 0x1000, 0x2000, 0x3001 };
	uint32_t ia = hs_stack_intern(a, 3), ib = hs_stack_intern(b, 3);
	uint32_t ia2 = hs_stack_intern(a, 3), ishort = hs_stack_intern(a, 2);
	ck_assert_uint_ge(ia, 1);
	ck_assert_uint_ne(ia, ib);
	ck_assert_uint_eq(ia, ia2);
	ck_assert_uint_ne(ishort, ia);
	const uintptr_t *got;
	ck_assert_uint_eq(hs_stack_get(ib, &got), 3);
	ck_assert_uint_eq(got[2], 0x3001);
	ck_assert_uint_eq(hs_stack_get(0, &got), 0);
	ck_assert_uint_eq(hs_stack_get(ishort + 1000000, &got), 0);
	hs_trace_close();
	char *text = slurp(p, NULL);
	uintptr_t ips[4];
	ck_assert_int_eq(find_s(text, ib, ips, 4), 3);
	ck_assert_uint_eq(ips[0], 0x1000);
	ck_assert_uint_eq(ips[2], 0x3001);
	/* written once: the second intern of a did not write again */
	char key[32];
	snprintf(key, sizeof key, "S %u 3 1000 2000 3000\n", ia);
	const char *first = strstr(text, key);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(strstr(first + 1, key));
	free(text);
}
END_TEST

START_TEST(s_line_format)
{
	char b[128];
	uintptr_t ips[] = { 0, 0xf, 0x10, 0x7fffdeadbeef, UINTPTR_MAX };
	size_t n = hs_stack_format(b, sizeof b, 4294967295u, ips, 5);
	b[n] = '\0';
	ck_assert_str_eq(b, "S 4294967295 5 0 f 10 7fffdeadbeef ffffffffffffffff\n");
	n = hs_stack_format(b, sizeof b, 1, ips + 2, 1);
	b[n] = '\0';
	ck_assert_str_eq(b, "S 1 1 10\n");
	ck_assert_uint_eq(hs_stack_format(b, 30, 1, ips, 5), 0);   /* no room */
}
END_TEST

/* A new trace gets S lines only for the stacks it uses: captured again
 * (a hit) or named through hs_stack_ref, each once. */
START_TEST(s_lines_are_per_trace)
{
	uintptr_t a[] = { 0xa1, 0xa2 }, b[] = { 0xb1, 0xb2 }, c[] = { 0xc1, 0xc2 };
	char p[512];
	start(p, sizeof p, "first.trace");
	uint32_t ia = hs_stack_intern(a, 2), ib = hs_stack_intern(b, 2);
	uint32_t ic = hs_stack_intern(c, 2);
	hs_trace_close();
	start(p, sizeof p, "second.trace");
	ck_assert_uint_eq(hs_stack_intern(a, 2), ia);     /* hit: written  */
	ck_assert_uint_eq(hs_stack_intern(a, 2), ia);     /* not again     */
	ck_assert_uint_eq(hs_stack_ref(ib), ib);          /* named: written */
	hs_stack_ref(ib);
	ck_assert_uint_eq(hs_stack_ref(0), 0);
	hs_trace_close();
	char *text = slurp(p, NULL);
	char line[64];
	snprintf(line, sizeof line, "\nS %u 2 a1 a2\n", ia);
	ck_assert_ptr_nonnull(strstr(text, line));
	ck_assert_ptr_null(strstr(strstr(text, line) + 1, line));
	snprintf(line, sizeof line, "\nS %u 2 b1 b2\n", ib);
	ck_assert_ptr_nonnull(strstr(text, line));
	ck_assert_ptr_null(strstr(strstr(text, line) + 1, line));
	snprintf(line, sizeof line, "\nS %u ", ic);
	ck_assert_ptr_null(strstr(text, line));           /* never used    */
	free(text);
}
END_TEST

START_TEST(intern_grows)
{
	/* Far more than the first table holds: ids stay stable and every
	 * stack stays findable while the table is rebuilt under us. */
	enum { N = 30000 };
	static uint32_t ids[N];
	for (unsigned i = 0; i < N; i++) {
		uintptr_t s[2] = { 0xabc000 + i, 0x77 };
		ids[i] = hs_stack_intern(s, 2);
		ck_assert_uint_ne(ids[i], 0);
	}
	for (unsigned i = 0; i < N; i++) {
		uintptr_t s[2] = { 0xabc000 + i, 0x77 };
		ck_assert_uint_eq(hs_stack_intern(s, 2), ids[i]);
		const uintptr_t *got;
		ck_assert_uint_eq(hs_stack_get(ids[i], &got), 2);
		ck_assert_uint_eq(got[0], 0xabc000 + i);
	}
}
END_TEST

enum { TH = 4, PER = 3000 };
static uint32_t th_ids[TH][PER];

static void *intern_worker(void *arg)
{
	long t = (long)arg;
	/* every thread interns the same set, in a different order */
	for (unsigned k = 0; k < PER; k++) {
		unsigned i = (k * 7 + (unsigned)t * 1013) % PER;
		uintptr_t s[3] = { 0x5000000 + i, 0x42, (uintptr_t)i * 3 };
		th_ids[t][i] = hs_stack_intern(s, 3);
	}
	return NULL;
}

START_TEST(intern_threads_agree)
{
	char p[512];
	start(p, sizeof p, "threads.trace");
	pthread_t th[TH];
	for (long t = 0; t < TH; t++)
		pthread_create(&th[t], NULL, intern_worker, (void *)t);
	for (int t = 0; t < TH; t++)
		pthread_join(th[t], NULL);
	for (unsigned i = 0; i < PER; i++)
		for (int t = 1; t < TH; t++)
			ck_assert_uint_eq(th_ids[t][i], th_ids[0][i]);
	hs_trace_close();
	char *text = slurp(p, NULL);
	/* each of the PER stacks has exactly one S line in this trace */
	unsigned lines = 0;
	for (const char *l = text; (l = strstr(l, " 3 50")) != NULL; l++)
		lines++;
	ck_assert_uint_eq(lines, PER);
	free(text);
}
END_TEST

/* A capture from a known function: the innermost frame is a return
 * address inside it (this file is linked statically with the core, so
 * the "skip our own frames" rule falls back to skipping only
 * hs_stack_capture itself). */
__attribute__((noinline)) static uint32_t known_caller(void)
{
	uint32_t id = hs_stack_capture();
	__asm__ volatile("" ::: "memory");   /* not a tail call */
	return id;
}

START_TEST(capture_from_known_function)
{
	uint32_t a = known_caller(), b = known_caller();
	ck_assert_uint_ne(a, 0);
	/* two calls from different lines above: different stacks */
	ck_assert_uint_ne(a, b);
	const uintptr_t *ips;
	unsigned n = hs_stack_get(a, &ips);
	ck_assert_uint_ge(n, 3);       /* known_caller, this test, check, main */
	uintptr_t f = (uintptr_t)&known_caller;
	ck_assert_msg(ips[0] > f && ips[0] < f + 64,
	              "innermost ip %lx not inside known_caller at %lx",
	              (unsigned long)ips[0], (unsigned long)f);
	uint32_t same_site[2];
	for (volatile int i = 0; i < 2; i++)   /* volatile: not unrolled  */
		same_site[i] = known_caller();   /* one call site, twice       */
	ck_assert_uint_eq(same_site[0], same_site[1]);
}
END_TEST

Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, name_rules);
	tcase_add_test(tc, create_mode_0600);
	tcase_add_test(tc, create_refuses_existing);
	tcase_add_test(tc, create_refuses_symlink);
	tcase_add_test(tc, preamble);
	tcase_add_test(tc, lines_survive_flushes);
	tcase_add_test(tc, oversized_line_is_marked);
	tcase_add_test(tc, stolen_descriptor_is_not_written);
	tcase_add_test(tc, exec_failure_takes_x_back);
	tcase_add_test(tc, exec_env_sets_lineage);
	tcase_add_test(tc, intern_same_and_different);
	tcase_add_test(tc, s_line_format);
	tcase_add_test(tc, s_lines_are_per_trace);
	tcase_add_test(tc, intern_grows);
	tcase_add_test(tc, intern_threads_agree);
	tcase_add_test(tc, capture_from_known_function);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	SRunner *sr = srunner_create(trace_suite());
	/* No fork per test: the trace state is the process's, and a forked
	 * test would open child traces. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (failed == 0 && system(cmd) != 0)
		return 1;
	return failed ? 1 : 0;
}
