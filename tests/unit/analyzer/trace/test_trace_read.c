/*
 * test_trace_read.c — the trace reader: a good trace read completely, and
 * every kind of damage reported at the right byte with what came before
 * it kept.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_read.h"

static const char good[] =
	"HEAPSCOPE-TRACE 1\n"
	"P 1234 1 1700000000 /usr/bin/my prog\n"
	"a my prog --x\n"
	"M 1 555500000000 555500001000 555500002000 0123abcd /usr/bin/my prog\n"
	"M 2 7f0000000000 7f0000010000 7f0000020000 - /lib/libc.so.6\n"
	"S 1 3 555500001100 555500001200 7f0000010010\n"
	"T 10 2048 1024 512 100 160 4096 3 1 0 1 2 3 4 5 6 7 8 9 10\n"
	"F 7 new[] 4096 1\n"
	"F 9 malloc 64 1 benign\n"
	"E double_free 55550000a000 1 2 1 freed twice\n"
	"E invalid_free 10 1 0 0\n"
	"Y some future record\n"
	"S 2 1 555500001300\n"
	"C 10 8 300 100 2\n"
	"L D 55550000b000 40 1\n"
	"L I 55550000c000 60 2\n"
	"L R 55550000d000 1 0\n"
	"! stack table full\n"
	"X signal 11\n";

static int parse(const char *text, size_t len, struct hs_trace *tr)
{
	FILE *f = fmemopen((void *)text, len, "r");
	ck_assert_ptr_nonnull(f);
	int rc = hs_trace_read_stream(f, "t.trace", tr);
	fclose(f);
	return rc;
}

START_TEST(reads_every_record)
{
	struct hs_trace tr;
	ck_assert_int_eq(parse(good, strlen(good), &tr), 0);
	ck_assert_str_eq(tr.error, "");
	ck_assert_uint_eq(tr.lines, 19);
	ck_assert_uint_eq(tr.bytes, strlen(good));
	ck_assert_int_eq(tr.pid, 1234);
	ck_assert_int_eq(tr.ppid, 1);
	ck_assert_str_eq(tr.exe, "/usr/bin/my prog");
	ck_assert_str_eq(tr.argv, "my prog --x");
	ck_assert_uint_eq(tr.nmodules, 2);
	ck_assert_uint_eq(tr.modules[0].bias, 0x555500000000ull);
	ck_assert_uint_eq(tr.modules[0].end, 0x555500002000ull);
	ck_assert_str_eq(tr.modules[0].build_id, "0123abcd");
	ck_assert_str_eq(tr.modules[0].path, "/usr/bin/my prog");
	ck_assert_ptr_null(tr.modules[1].build_id);
	ck_assert_uint_eq(tr.nstacks, 2);
	const struct hs_tstack *s = hs_trace_stack(&tr, 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 3);
	ck_assert_uint_eq(tr.ips[s->first + 2], 0x7f0000010010ull);
	ck_assert_uint_eq(s->nmodules, 2);
	ck_assert_ptr_null(hs_trace_stack(&tr, 3));
	ck_assert_ptr_null(hs_trace_stack(&tr, 0));
	ck_assert_uint_eq(tr.nsamples, 1);
	ck_assert_uint_eq(tr.samples[0].held, 4096);
	ck_assert_uint_eq(tr.samples[0].nr_free[10], 10);
	ck_assert_uint_eq(tr.nfaults, 2);
	ck_assert_uint_eq(tr.faults[0].fn, HS_FN_NEW_ARRAY);
	ck_assert_uint_eq(tr.faults[0].size, 4096);
	ck_assert(!tr.faults[0].benign);
	ck_assert_uint_eq(tr.faults[1].nth, 9);
	ck_assert(tr.faults[1].benign);
	ck_assert_uint_eq(tr.nerrors, 2);
	ck_assert_uint_eq(tr.errors[0].kind, HS_ERR_DOUBLE_FREE);
	ck_assert_uint_eq(tr.errors[0].alloc_stack, 2);  /* defined later: fine */
	ck_assert_str_eq(tr.errors[0].detail, "freed twice");
	ck_assert_str_eq(tr.errors[1].detail, "");
	ck_assert(tr.have_counters);
	ck_assert_uint_eq(tr.peak_bytes, 300);
	ck_assert_uint_eq(tr.live_blocks, 2);
	ck_assert_uint_eq(tr.nleaks, 3);
	ck_assert_uint_eq(tr.leaks[1].kind, HS_LEAK_INDIRECT);
	ck_assert_uint_eq(tr.leaks[1].bytes, 60);
	ck_assert_uint_eq(tr.leaks[1].blocks, 1);
	ck_assert_uint_eq(tr.leaks[1].addr, 0x55550000c000ull);
	ck_assert_uint_eq(tr.nnotes, 1);
	ck_assert_str_eq(tr.notes[0], "stack table full");
	ck_assert_int_eq(tr.end, HS_END_SIGNAL);
	ck_assert_int_eq(tr.end_value, 11);
	ck_assert_uint_eq(tr.undefined_refs, 0);
	hs_trace_free(&tr);
}
END_TEST

/* Version 2: the exit records grouped (B), per slot size (Z), and the
 * pages of lost blocks (U). */
static const char good2[] =
	"HEAPSCOPE-TRACE 2\n"
	"P 1234 1 1700000000 /usr/bin/x\n"
	"S 1 1 555500001100\n"
	"C 10 8 300 4160 5\n"
	"B D 1 2 96\n"
	"B I 1 2 64\n"
	"B R 0 1 4000\n"
	"Z 48 4 160\n"
	"Z 0 1 4000\n"
	"V D 7f0000400000 3\n"
	"V P 7f0000404000 1\n"
	"X exit 0\n";

START_TEST(reads_version_2)
{
	struct hs_trace tr;
	ck_assert_int_eq(parse(good2, strlen(good2), &tr), 0);
	ck_assert_str_eq(tr.error, "");
	ck_assert_uint_eq(tr.nleaks, 3);
	ck_assert_uint_eq(tr.leaks[0].kind, HS_LEAK_DEFINITE);
	ck_assert_uint_eq(tr.leaks[0].addr, 0);
	ck_assert_uint_eq(tr.leaks[0].blocks, 2);
	ck_assert_uint_eq(tr.leaks[0].bytes, 96);
	ck_assert_uint_eq(tr.leaks[2].kind, HS_LEAK_REACHABLE);
	ck_assert_uint_eq(tr.leaks[2].stack, 0);
	ck_assert_uint_eq(tr.nclasses, 2);
	ck_assert_uint_eq(tr.classes[0].slot, 48);
	ck_assert_uint_eq(tr.classes[0].blocks, 4);
	ck_assert_uint_eq(tr.classes[1].slot, 0);
	ck_assert_uint_eq(tr.classes[1].bytes, 4000);
	ck_assert_uint_eq(tr.nlost_pages, 2);
	ck_assert_uint_eq(tr.lost_pages[0].kind, HS_LEAK_DEFINITE);
	ck_assert_uint_eq(tr.lost_pages[0].addr, 0x7f0000400000ull);
	ck_assert_uint_eq(tr.lost_pages[0].pages, 3);
	ck_assert_uint_eq(tr.lost_pages[1].kind, HS_LEAK_POSSIBLE);
	hs_trace_free(&tr);
}
END_TEST

START_TEST(missing_end_is_not_an_error)
{
	const char *t = "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\nS 1 1 10\nL D 10 4 1\nL D 20 4 9\n";
	struct hs_trace tr;
	ck_assert_int_eq(parse(t, strlen(t), &tr), 0);
	ck_assert_int_eq(tr.end, HS_END_NONE);
	ck_assert_uint_eq(tr.nleaks, 2);
	ck_assert_uint_eq(tr.undefined_refs, 1);     /* stack 9 never defined */
	hs_trace_free(&tr);
}
END_TEST

START_TEST(scan_line)
{
	const char *t = "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\n"
	                "W partial 3 1 1 1 thread 12 blocks the stop signal\nC 1 0 1 1 1\nX exit 0\n";
	struct hs_trace tr;
	ck_assert_int_eq(parse(t, strlen(t), &tr), 0);
	ck_assert_int_eq(tr.scan.result, HS_SCAN_PARTIAL);
	ck_assert_uint_eq(tr.scan.threads, 3);
	ck_assert_uint_eq(tr.scan.stopped, 1);
	ck_assert_uint_eq(tr.scan.idle, 1);
	ck_assert_uint_eq(tr.scan.running, 1);
	ck_assert_str_eq(tr.scan.detail, "thread 12 blocks the stop signal");
	hs_trace_free(&tr);

	t = "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\nW complete 0 0 0 0\nX signal 11\n";
	ck_assert_int_eq(parse(t, strlen(t), &tr), 0);
	ck_assert_int_eq(tr.scan.result, HS_SCAN_COMPLETE);
	ck_assert_str_eq(tr.scan.detail, "");
	hs_trace_free(&tr);

	t = "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\nW skipped 0 0 0 0 why\nW skipped 0 0 0 0 why\n";
	ck_assert_int_eq(parse(t, strlen(t), &tr), -1);
	ck_assert_ptr_nonnull(strstr(tr.error, "second W line"));
	hs_trace_free(&tr);
}
END_TEST

START_TEST(exec_then_more)
{
	/* execve failed after the shim wrote `X exec`: the process went on */
	const char *t = "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\nX exec 0\nC 1 1 1 0 0\nX exit 3\n";
	struct hs_trace tr;
	ck_assert_int_eq(parse(t, strlen(t), &tr), 0);
	ck_assert_int_eq(tr.end, HS_END_EXIT);
	ck_assert_int_eq(tr.end_value, 3);
	hs_trace_free(&tr);
}
END_TEST

/* Each case: a trace whose last line is bad. The error must name the
 * byte where that line starts and its line number, and every line before
 * it must have been read. */
struct bad_case {
	const char *last;        /* appended to the prefix below            */
	const char *why;         /* substring of the message                */
};
static const char prefix[] = "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\nS 1 1 10\nL D 10 4 1\n";
static const struct bad_case bad_cases[] = {
	{ "L D 10 4\n", "3 fields, expected 4" },
	{ "L D 10 4 1 7\n", "5 fields, expected 4" },
	{ "L Q 10 4 1\n", "field 1 (kind): 'Q' is not a known value" },
	{ "L D 10 4x 1\n", "field 3 (size): '4x' is not a decimal number" },
	{ "L D 1g 4 1\n", "field 2 (address): '1g' is not a hexadecimal number" },
	{ "L D 10 4 4294967296\n", "field 4 (stack id): '4294967296' is out of range" },
	{ "L D 10 99999999999999999999 1\n", "is out of range" },
	{ "L D 12345678901234567 4 1\n", "more than 16 hexadecimal digits" },
	{ "L D 10  4 1\n", "empty field 3" },
	{ "L D 10 4 1 \n", "space at the end" },
	{ " L D 10 4 1\n", "line starts with a space" },
	{ "\n", "empty line" },
	{ "S 2 2 10\n", "says 2 frames but has 1" },
	{ "S 0 1 10\n", "stack id 0 is reserved" },
	{ "S 1 1 20\n", "stack id 1 already defined on line 3" },
	{ "S 2 1025\n", "out of range (at most 1024)" },
	{ "S 2\n", "expected a stack id, a frame count" },
	{ "M 1 0 20 10 - /x\n", "start 20 is not below end 10" },
	{ "M 1 0 10 20 abc /x\n", "build-id" },
	{ "M 1 0 10 20 zz /x\n", "not hexadecimal" },
	{ "M 1 0 10 20\n", "4 fields, expected 5 and the rest" },
	{ "T 1 2 3\n", "3 fields, expected 20" },
	{ "F 1 mallocx 10 1\n", "field 2 (function): 'mallocx'" },
	{ "F 1 malloc 10 1 benignly\n", "only 'benign' may follow" },
	{ "E use_after_free 10 1 0 0 x\n", "field 1 (kind): 'use_after_free'" },
	{ "C 1 2 3 4\n", "4 fields, expected 5" },
	{ "X exit 256\n", "out of range (at most 255)" },
	{ "X exit -1\n", "'-1' is not a decimal number" },
	{ "W maybe 0 0 0 0\n", "field 1 (result): 'maybe' is not a known value" },
	{ "W complete 1 2\n", "3 fields, expected 5 and the rest" },
	{ "W complete 1 x 0 0\n", "field 3 (stopped): 'x' is not a decimal number" },
	{ "X signal 0\n", "signal 0 is not a signal" },
	{ "X quit 1\n", "field 1 (how): 'quit'" },
	{ "P 6 1 0 /bin/y\n", "second P line" },
	{ "HEAPSCOPE-TRACE 1\n", "HEAPSCOPE-TRACE line repeated" },
	{ "h 0 1000 abc\n", "h line before any H line" },
	{ "L D 10\0 4 1\n", "NUL byte" },
	{ "L D 10 4 1", "the last line is cut off" },
	{ "B D 1 0 0\n", "B line: a group of 0 blocks" },
	{ "B X 1 2 3\n", "field 1 (kind): 'X' is not a known value" },
	{ "B D 1 2\n", "3 fields, expected 4" },
	{ "Z 48 x 3\n", "field 2 (blocks): 'x' is not a decimal number" },
	{ "Z 4294967296 1 3\n", "field 1 (slot)" },
	{ "V I 1000 1\n", "field 1 (kind): 'I' is not a known value" },
	{ "V D 1001 1\n", "V line: not a run of whole pages" },
	{ "V D 1000 0\n", "V line: not a run of whole pages" },
	{ "V D fffffffffffff000 2\n", "V line: not a run of whole pages" },
};

START_TEST(malformed_line)
{
	const struct bad_case *c = &bad_cases[_i];
	size_t plen = strlen(prefix);
	/* the NUL case has an embedded NUL: its length is up to the "\n" */
	size_t llen = strlen(c->last);
	if (strstr(c->why, "NUL"))
		llen = 12;
	char *text = malloc(plen + llen);
	memcpy(text, prefix, plen);
	memcpy(text + plen, c->last, llen);
	struct hs_trace tr;
	ck_assert_int_eq(parse(text, plen + llen, &tr), -1);
	char want[128];
	snprintf(want, sizeof want, "t.trace: byte %zu: line 5: ", plen);
	ck_assert_msg(strncmp(tr.error, want, strlen(want)) == 0,
	              "case %d: '%s' does not start with '%s'", _i, tr.error, want);
	ck_assert_msg(strstr(tr.error, c->why), "case %d: '%s' lacks '%s'", _i,
	              tr.error, c->why);
	ck_assert_uint_eq(tr.lines, 4);             /* everything before kept */
	ck_assert_uint_eq(tr.nleaks, 1);
	ck_assert_ptr_nonnull(hs_trace_stack(&tr, 1));
	hs_trace_free(&tr);
	free(text);
}
END_TEST

START_TEST(first_lines)
{
	struct hs_trace tr;
	ck_assert_int_eq(parse("", 0, &tr), -1);
	ck_assert_str_eq(tr.error, "t.trace: byte 0: line 1: empty file, not a heapscope trace");
	hs_trace_free(&tr);
	const char *t1 = "hello\n";
	ck_assert_int_eq(parse(t1, strlen(t1), &tr), -1);
	ck_assert_ptr_nonnull(strstr(tr.error, "byte 0: line 1: not a heapscope trace"));
	hs_trace_free(&tr);
	const char *t2 = "HEAPSCOPE-TRACE 3\n";
	ck_assert_int_eq(parse(t2, strlen(t2), &tr), -1);
	ck_assert_ptr_nonnull(strstr(tr.error, "trace version 3 is not supported"));
	hs_trace_free(&tr);
	const char *t0 = "HEAPSCOPE-TRACE 0\n";
	ck_assert_int_eq(parse(t0, strlen(t0), &tr), -1);
	ck_assert_ptr_nonnull(strstr(tr.error, "trace version 0 is not supported"));
	hs_trace_free(&tr);
	const char *t3 = "HEAPSCOPE-TRACE 1\nL D 10 4 0\n";
	ck_assert_int_eq(parse(t3, strlen(t3), &tr), -1);
	ck_assert_str_eq(tr.error, "t.trace: byte 18: line 2: the second line must be "
	                 "the P (process) line");
	hs_trace_free(&tr);
}
END_TEST

/* Cutting the good trace anywhere inside a line keeps every line before
 * it and names the byte where the cut line starts. */
START_TEST(truncated_anywhere)
{
	size_t len = strlen(good);
	for (size_t cut = 1; cut < len; cut++) {
		if (good[cut - 1] == '\n')
			continue;                  /* a clean cut: no error */
		size_t start = cut;
		while (start > 0 && good[start - 1] != '\n')
			start--;
		size_t lines = 0;
		for (size_t i = 0; i < start; i++)
			lines += good[i] == '\n';
		struct hs_trace tr;
		ck_assert_int_eq(parse(good, cut, &tr), -1);
		char want[96];
		snprintf(want, sizeof want, "t.trace: byte %zu: line %zu: ", start, lines + 1);
		ck_assert_msg(strncmp(tr.error, want, strlen(want)) == 0, "cut %zu: %s",
		              cut, tr.error);
		/* a cut line that still parses as a shorter record is refused by
		 * its field count, or as truncated; either way nothing after */
		ck_assert_uint_eq(tr.lines, lines);
		hs_trace_free(&tr);
	}
}
END_TEST

/* Lines longer than the reader's first window (64 KiB), up to the limit,
 * are read whole: the window grows. */
START_TEST(long_lines_grow_the_window)
{
	size_t plen = strlen(prefix), n1 = 200000, n2 = (1u << 20) - 1;
	size_t len = plen + n1 + 1 + n2 + 1;
	char *t = malloc(len);
	memcpy(t, prefix, plen);
	char *p = t + plen;
	memset(p, 'x', n1);
	p[0] = '!';
	p[1] = ' ';
	p[n1] = '\n';
	p += n1 + 1;
	memset(p, 'y', n2);
	p[0] = '!';
	p[1] = ' ';
	p[n2] = '\n';
	struct hs_trace tr;
	ck_assert_int_eq(parse(t, len, &tr), 0);
	ck_assert_str_eq(tr.error, "");
	ck_assert_uint_eq(tr.lines, 6);
	ck_assert_uint_eq(tr.nnotes, 2);
	ck_assert_uint_eq(strlen(tr.notes[0]), n1 - 2);
	ck_assert_uint_eq(strlen(tr.notes[1]), n2 - 2);
	hs_trace_free(&tr);
	free(t);
}
END_TEST

START_TEST(overlong_line)
{
	size_t n = (1u << 20) + 10;
	size_t plen = strlen(prefix);
	char *t = malloc(plen + n + 1);
	memcpy(t, prefix, plen);
	memset(t + plen, 'a', n);
	t[plen] = '!';
	t[plen + 1] = ' ';
	t[plen + n] = '\n';
	struct hs_trace tr;
	ck_assert_int_eq(parse(t, plen + n + 1, &tr), -1);
	ck_assert_ptr_nonnull(strstr(tr.error, "line longer than 1048576 bytes"));
	ck_assert_uint_eq(tr.lines, 4);
	hs_trace_free(&tr);
	free(t);
}
END_TEST

/* A million lines: the counts come out right (speed is measured in the
 * report, not asserted here). */
START_TEST(million_lines)
{
	size_t cap = 40u << 20, len = 0;
	char *t = malloc(cap);
	len += (size_t)sprintf(t, "HEAPSCOPE-TRACE 1\nP 5 1 0 /bin/x\n");
	for (int i = 1; i <= 1000; i++)
		len += (size_t)sprintf(t + len, "S %d 4 %x 1000 2000 3000\n", i, 0x400000 + i);
	for (int i = 0; i < 999000; i++)
		len += (size_t)sprintf(t + len, "L %c %x %d %d\n", "DIPR"[i % 4],
		                       0x10000 + i * 16, i % 100, 1 + i % 1000);
	len += (size_t)sprintf(t + len, "X exit 0\n");
	struct hs_trace tr;
	ck_assert_int_eq(parse(t, len, &tr), 0);
	ck_assert_uint_eq(tr.lines, 1000000 + 3);
	ck_assert_uint_eq(tr.nleaks, 999000);
	ck_assert_uint_eq(tr.nstacks, 1000);
	ck_assert_uint_eq(hs_trace_stack(&tr, 777)->n, 4);
	hs_trace_free(&tr);
	free(t);
}
END_TEST

START_TEST(missing_file)
{
	struct hs_trace tr;
	ck_assert_int_eq(hs_trace_read("/nonexistent/x.trace", &tr), -1);
	ck_assert_str_eq(tr.error, "/nonexistent/x.trace: No such file or directory");
	hs_trace_free(&tr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trace_read");
	TCase *tc = tcase_create("reader");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reads_every_record);
	tcase_add_test(tc, reads_version_2);
	tcase_add_test(tc, missing_end_is_not_an_error);
	tcase_add_test(tc, exec_then_more);
	tcase_add_test(tc, scan_line);
	tcase_add_loop_test(tc, malformed_line, 0, sizeof bad_cases / sizeof bad_cases[0]);
	tcase_add_test(tc, first_lines);
	tcase_add_test(tc, truncated_anywhere);
	tcase_add_test(tc, overlong_line);
	tcase_add_test(tc, long_lines_grow_the_window);
	tcase_add_test(tc, million_lines);
	tcase_add_test(tc, missing_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
