/*
 * test_suppress.c — suppression files (valgrind and LeakSanitizer): what
 * they match, and that bad files are refused with file:line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/suppress.h"
#include "trace/trace_read.h"

/* A stack as the symbolizer gives it: make_node <- build_list <- main,
 * with make_node calling strdup in libc first. */
static const struct hs_frame stack[] = {
	{ 0x7f0000001000, "strdup", "strdup", NULL, 0, "/lib/x86_64-linux-gnu/libc.so.6", false },
	{ 0x401100, "make_node", "make_node", "/src/list.c", 12, "/usr/bin/app", false },
	{ 0x401200, "ns::List::build(int)", "_ZN2ns4List5buildEi", "/src/list.cc", 40,
	  "/usr/bin/app", false },
	{ 0x401300, "main", "main", "/src/main.c", 7, "/usr/bin/app", false },
};
#define N (sizeof stack / sizeof stack[0])

static struct hs_supps *parse_ok(const char *text)
{
	struct hs_supps *s = hs_supps_new();
	char err[256] = "";
	int rc = hs_supps_parse(s, "s.supp", text, strlen(text), err, sizeof err);
	ck_assert_msg(rc == 0, "parse failed: %s", err);
	return s;
}

static void parse_bad(const char *text, const char *want)
{
	struct hs_supps *s = hs_supps_new();
	char err[256] = "";
	ck_assert_int_eq(hs_supps_parse(s, "s.supp", text, strlen(text), err, sizeof err), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s...'",
	              err, want);
	hs_supps_free(s);
}

START_TEST(globs)
{
	ck_assert(hs_glob_match("make_*", "make_node"));
	ck_assert(hs_glob_match("*", ""));
	ck_assert(hs_glob_match("m?ke_node", "make_node"));
	ck_assert(hs_glob_match("*node", "make_node"));
	ck_assert(hs_glob_match("*a*e*", "make_node"));
	ck_assert(!hs_glob_match("make", "make_node"));
	ck_assert(!hs_glob_match("*x*", "make_node"));
	ck_assert(hs_glob_match("a\\*b", "a*b"));
	ck_assert(!hs_glob_match("a\\*b", "axb"));
	ck_assert(hs_glob_match("*libc.so*", "/lib/x86_64-linux-gnu/libc.so.6"));
	/* many stars, no recursion blow-up */
	ck_assert(!hs_glob_match("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

START_TEST(lsan_templates)
{
	ck_assert(hs_lsan_match("node", "make_node"));
	ck_assert(hs_lsan_match("^make", "make_node"));
	ck_assert(!hs_lsan_match("^node", "make_node"));
	ck_assert(hs_lsan_match("node$", "make_node"));
	ck_assert(!hs_lsan_match("make$", "make_node"));
	ck_assert(hs_lsan_match("^make_node$", "make_node"));
	ck_assert(!hs_lsan_match("^make_nod$", "make_node"));
	ck_assert(hs_lsan_match("ma*no", "make_node"));
	ck_assert(!hs_lsan_match("no*ma", "make_node"));
	ck_assert(hs_lsan_match("foo$", "foofoo"));     /* the last one ends it */
	ck_assert(hs_lsan_match("libc.so", "/lib/x86_64-linux-gnu/libc.so.6"));
	ck_assert(!hs_lsan_match("x", NULL));
	ck_assert(!hs_lsan_match("x", ""));
}
END_TEST

START_TEST(valgrind_frames)
{
	struct hs_supps *s = parse_ok(
		"# comment\n"
		"{\n"
		"   strdup-in-make-node\n"
		"   Memcheck:Leak\n"
		"   match-leak-kinds: definite,indirect\n"
		"   fun:malloc\n"              /* memcheck's first frame: the allocator */
		"   fun:strdup\n"
		"   fun:make_*\n"
		"}\n");
	ck_assert_uint_eq(hs_supps_count(s), 1);
	const struct hs_supp *m = hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(hs_supp_name(m), "strdup-in-make-node");
	ck_assert_str_eq(hs_supp_file(m), "s.supp");
	ck_assert_uint_eq(hs_supp_line(m), 2);
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_POSSIBLE, stack, N));
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack + 1, N - 1));
	hs_supps_free(s);

	/* no allocator frame, mangled name, and `...` */
	s = parse_ok("{\n x\n Memcheck:Leak\n fun:strdup\n ...\n fun:_ZN2ns4List5buildEi\n}\n"
	             "{\n y\n Memcheck:Leak\n ...\n fun:ns::List::build(int)\n fun:main\n}\n");
	m = hs_supps_match_leak(s, HS_LEAK_REACHABLE, stack, N);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(hs_supp_name(m), "x");
	m = hs_supps_match_leak(s, HS_LEAK_REACHABLE, stack + 1, N - 1);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(hs_supp_name(m), "y");
	hs_supps_free(s);

	/* obj: and src:, a frame list longer than the stack, a wrong frame */
	s = parse_ok("{\n o\n Memcheck:Leak\n obj:*/libc.so*\n src:list.c:12\n}\n");
	ck_assert_ptr_nonnull(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N));
	hs_supps_free(s);
	s = parse_ok("{\n o\n Memcheck:Leak\n obj:*/libc.so*\n src:list.c:13\n}\n");
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N));
	hs_supps_free(s);
	s = parse_ok("{\n o\n Memcheck:Leak\n ...\n fun:main\n fun:__libc_start_main\n}\n");
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N));
	hs_supps_free(s);
	s = parse_ok("{\n o\n Memcheck:Leak\n fun:make_node\n}\n");
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N));
	hs_supps_free(s);
}
END_TEST

START_TEST(valgrind_errors_and_other_tools)
{
	struct hs_supps *s = parse_ok(
		"{\n f\n Memcheck:Free\n fun:free\n fun:strdup\n}\n"
		"{\n p\n Memcheck:Param\n write(buf)\n fun:write\n}\n"
		"{\n h\n Helgrind:Race\n whatever the tool wants\n}\n"
		"{\n c\n Memcheck:Cond\n fun:x\n}\n");
	ck_assert_uint_eq(hs_supps_count(s), 1);      /* only Memcheck:Free applies */
	ck_assert_ptr_nonnull(hs_supps_match_error(s, HS_ERR_DOUBLE_FREE, stack, N));
	ck_assert_ptr_null(hs_supps_match_error(s, HS_ERR_HEAP_OVERFLOW, stack, N));
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N));
	hs_supps_free(s);
}
END_TEST

START_TEST(valgrind_bad_files)
{
	parse_bad("{\n a\n Memcheck:Leak\n fun:x\n", "s.supp:1: suppression 'a' is not closed");
	parse_bad("\n\n{\n a\n Memcheck:Leak\n bad:x\n}\n", "s.supp:6: expected fun:, obj:, src:");
	parse_bad("{\n a\n Memcheck:Leak\n match-leak-kinds: definite,lost\n}\n",
	          "s.supp:4: unknown leak kind 'lost'");
	parse_bad("{\n a\n Memcheck:Free\n match-leak-kinds: all\n}\n",
	          "s.supp:4: match-leak-kinds: in a suppression that is not Memcheck:Leak");
	parse_bad("{\n a\n MemcheckLeak\n}\n", "s.supp:3: expected 'Tool:Kind'");
	parse_bad("{\n}\n", "s.supp:2: empty suppression");
	parse_bad("{\n a\n}\n", "s.supp:3: suppression without a 'Tool:Kind' line");
	parse_bad("{\n a\n Memcheck:Leak\n{\n", "s.supp:4: '{' inside a suppression");
	parse_bad("{\n a\n Memcheck:Leak\n}\nleak:x\n", "s.supp:5: expected '{'");
	parse_bad("{\n a\n Memcheck:Leak\n fun:\n}\n", "s.supp:4: empty pattern after 'fun:'");
}
END_TEST

START_TEST(lsan_files)
{
	struct hs_supps *s = parse_ok("# LSan\nleak:make_node\n\nleak:^main$\n  leak:libfoo.so  \n");
	ck_assert_uint_eq(hs_supps_count(s), 3);
	const struct hs_supp *m = hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(hs_supp_name(m), "leak:make_node");
	ck_assert_uint_eq(hs_supp_line(m), 2);
	hs_supps_free(s);
	s = parse_ok("leak:list.cc\n");                 /* a file name */
	ck_assert_ptr_nonnull(hs_supps_match_leak(s, HS_LEAK_REACHABLE, stack, N));
	hs_supps_free(s);
	s = parse_ok("leak:libc.so\n");                 /* a module */
	ck_assert_ptr_nonnull(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack, N));
	ck_assert_ptr_null(hs_supps_match_leak(s, HS_LEAK_DEFINITE, stack + 1, N - 1));
	ck_assert_ptr_null(hs_supps_match_error(s, HS_ERR_DOUBLE_FREE, stack, N));
	hs_supps_free(s);

	parse_bad("leak:a\nrace:b\n", "s.supp:2: unknown suppression type 'race'");
	parse_bad("leak:a\n\nleak:\n", "s.supp:3: empty pattern after 'leak:'");
	parse_bad("leak:a\n{\n", "s.supp:2: '{' in a LeakSanitizer suppression file");
	parse_bad("make_node\n", "s.supp:1: expected 'leak:PATTERN'");
}
END_TEST

START_TEST(load_from_disk)
{
	char path[] = "/tmp/hs-supp-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *t = "leak:a\nleak:b\n";
	ck_assert_int_eq(write(fd, t, strlen(t)), (int)strlen(t));
	close(fd);
	struct hs_supps *s = hs_supps_new();
	char err[256];
	ck_assert_int_eq(hs_supps_load(s, path, err, sizeof err), 0);
	ck_assert_uint_eq(hs_supps_count(s), 2);
	unlink(path);
	ck_assert_int_eq(hs_supps_load(s, path, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	hs_supps_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suppress");
	TCase *tc = tcase_create("suppress");
	tcase_add_test(tc, globs);
	tcase_add_test(tc, lsan_templates);
	tcase_add_test(tc, valgrind_frames);
	tcase_add_test(tc, valgrind_errors_and_other_tools);
	tcase_add_test(tc, valgrind_bad_files);
	tcase_add_test(tc, lsan_files);
	tcase_add_test(tc, load_from_disk);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
