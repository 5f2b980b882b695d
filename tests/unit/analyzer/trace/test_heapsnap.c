/*
 * test_heapsnap.c — the `h` cell grammar (docs/TRACE-FORMAT.md, version
 * 1): what a good line becomes, what a bad one is refused with, and the
 * same through the trace reader, whose message must name file, byte and
 * line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/heapsnap.h"
#include "trace/trace_read.h"

static char err[300];

static struct hs_snaps one(const char *cells, int *rc)
{
	struct hs_snaps ss = { 0 };
	ck_assert_int_eq(hs_snaps_begin(&ss, "exit", 4, 10, 0, 1, "exit", 4, err, sizeof err), 0);
	err[0] = 0;
	*rc = hs_snaps_arena(&ss, 3, 0x7f0000c00000ull, cells, strlen(cells), err, sizeof err);
	return ss;
}

START_TEST(good_line)
{
	int rc;
	/* pages 0-3 slab, 4-13 large, 14-15 dirty free, 16-31 free, three
	 * 10-page slabs 32-61, then free 62-63, 64-127, ... 512-1023 */
	const char *cells = "s48:4:341/341 l10 F1 f4 s5120:10:8/8*3 f1 f6 f7 f8 f9";
	struct hs_snaps ss = one(cells, &rc);
	ck_assert_msg(rc == 0, "%s", err);
	const struct hs_snap *s = &ss.v[0];
	ck_assert_uint_eq(s->narenas, 1);
	ck_assert_uint_eq(s->arenas[0].index, 3);
	ck_assert_uint_eq(s->arenas[0].n, 12);    /* the repeats expanded */
	const struct hs_sblock *b = s->blocks;
	ck_assert_int_eq(b[0].type, HS_SB_SLAB);
	ck_assert_uint_eq(b[0].slot, 48);
	ck_assert_uint_eq(b[0].used, 341);
	ck_assert_int_eq(b[1].type, HS_SB_LARGE);
	ck_assert_uint_eq(b[1].first, 4);
	ck_assert_uint_eq(b[1].npages, 10);
	ck_assert_int_eq(b[2].type, HS_SB_DIRTY);
	ck_assert_uint_eq(b[2].first, 14);
	ck_assert_uint_eq(b[4].first, 32);
	ck_assert_uint_eq(b[6].first, 52);
	ck_assert_uint_eq(b[7].first, 62);            /* s5120 x3 ends at 62 */
	ck_assert_int_eq(b[7].type, HS_SB_FREE);
	ck_assert_uint_eq(b[7].order, 1);
	hs_snaps_free(&ss);
}
END_TEST

START_TEST(lookups_and_counts)
{
	int rc;
	struct hs_snaps ss = one("l3 f0 f2 s64:8:10/512 f4 f5 f6 f7 f8 f9", &rc);
	ck_assert_msg(rc == 0, "%s", err);
	hs_snaps_finish(&ss);
	const struct hs_snap *s = &ss.v[0];
	const struct hs_sarena *a;
	const struct hs_sblock *b = hs_snap_block_at(s, 0x7f0000c00000ull + 2 * 4096 + 100, &a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->type, HS_SB_LARGE);
	b = hs_snap_block_at(s, 0x7f0000c00000ull + 9 * 4096, NULL);
	ck_assert_int_eq(b->type, HS_SB_SLAB);
	ck_assert_ptr_null(hs_snap_block_at(s, 0x7f0001000000ull, NULL));
	uint64_t nr[HS_SNAP_ORDERS], fp, dp;
	hs_snap_free_counts(s, nr, &fp, &dp);
	ck_assert_uint_eq(fp, 1024 - 3 - 8);
	ck_assert_uint_eq(dp, 0);
	ck_assert_uint_eq(nr[0], 1);
	ck_assert_uint_eq(nr[2], 1);
	ck_assert_uint_eq(nr[9], 1);
	ck_assert_ptr_eq(hs_snaps_find(&ss, "exit"), s);
	ck_assert_ptr_null(hs_snaps_find(&ss, "peak"));
	hs_snaps_free(&ss);
}
END_TEST

static void refused(const char *cells, const char *words)
{
	int rc;
	struct hs_snaps ss = one(cells, &rc);
	ck_assert_msg(rc < 0, "accepted: %s", cells);
	ck_assert_msg(strstr(err, words) != NULL, "'%s' does not say '%s'", err, words);
	hs_snaps_free(&ss);
}

START_TEST(bad_lines)
{
	refused("f10 f0", "runs past");
	refused("f9", "cover 512 pages, not 1024");
	refused("l1 f1 f2 f3 f4 f5 f6 f7 f8 f9 f0", "cannot start at page 1");
	refused("x4 f10", "cell 1 'x4' is not a cell");
	refused("s48:4:342/341 f2 f3 f4 f5 f6 f7 f8 f9", "is not a cell");  /* used > cap */
	refused("s48:4:1/400 f2 f3 f4 f5 f6 f7 f8 f9", "is not a cell");    /* too many slots */
	refused("f11", "is not a cell");
	refused("l0 f10", "is not a cell");
	refused("f9*1 f9", "is not a cell");                                  /* *1 */
	refused("f9*2 ", "space at the end");
	refused("", "cover 0 pages");
}
END_TEST

START_TEST(order_and_versions)
{
	struct hs_snaps ss = { 0 };
	ck_assert_int_lt(hs_snaps_arena(&ss, 0, 0, "f10", 3, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "before any H"));
	/* a newer cell grammar: the snapshot is kept, its cells skipped */
	ck_assert_int_eq(hs_snaps_begin(&ss, "exit", 4, 1, 2, 7, "x", 1, err, sizeof err), 0);
	ck_assert_int_eq(hs_snaps_arena(&ss, 0, 0x400000, "whatever 2.0", 12, err, sizeof err), 0);
	ck_assert(ss.v[0].unreadable);
	ck_assert_uint_eq(ss.v[0].narenas, 0);
	ck_assert_int_eq(hs_snaps_begin(&ss, "peak", 4, 1, 2, 1, "peak", 4, err, sizeof err), 0);
	ck_assert_int_lt(hs_snaps_arena(&ss, 0, 0x400001, "f10", 3, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "not a multiple of 4 MiB"));
	ck_assert_int_lt(hs_snaps_huge(&ss, 0x1000, 10, 11, err, sizeof err), 0);
	ck_assert_int_eq(hs_snaps_huge(&ss, 0x1000, 8192, 5000, err, sizeof err), 0);
	ck_assert_uint_eq(ss.v[1].nhuge, 1);
	hs_snaps_free(&ss);
}
END_TEST

/* Through the reader: a whole trace in a temporary file. */
static int read_text(const char *text, struct hs_trace *tr)
{
	char path[] = "/tmp/hs-test-heapsnap.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int rc = hs_trace_read(path, tr);
	unlink(path);
	return rc;
}

START_TEST(reader_keeps_snapshots)
{
	struct hs_trace tr;
	int rc = read_text("HEAPSCOPE-TRACE 1\nP 1 0 0 /bin/x\n"
	                   "H peak 5 4096 1 peak\nh 1 7f0000800000 f10\nh 0 7f0000400000 l1024\n"
	                   "T 5 1 1 1 4096 8192 8388608 1 0 0 0 0 0 0 0 0 0 0 0 1\n"
	                   "H api 9 0 1 my label\ng 7f1000000010 8388000 8000000\n"
	                   "X exit 0\n", &tr);
	ck_assert_msg(rc == 0, "%s", tr.error);
	ck_assert_uint_eq(tr.snaps.n, 2);
	ck_assert_uint_eq(tr.snapshots, 2);
	const struct hs_snap *p = hs_snaps_find(&tr.snaps, "peak");
	ck_assert_uint_eq(p->narenas, 2);
	ck_assert_uint_eq(p->arenas[0].base, 0x7f0000400000ull);    /* sorted */
	ck_assert_uint_eq(p->live, 4096);
	const struct hs_snap *a = hs_snaps_find(&tr.snaps, "api");
	ck_assert_str_eq(a->label, "my label");
	ck_assert_uint_eq(a->nhuge, 1);
	ck_assert_uint_eq(a->huge[0].requested, 8000000);
	hs_trace_free(&tr);
}
END_TEST

START_TEST(reader_names_the_bad_cell)
{
	struct hs_trace tr;
	int rc = read_text("HEAPSCOPE-TRACE 1\nP 1 0 0 /bin/x\nH exit 5 0 1 exit\n"
	                   "h 0 7f0000400000 f9 f8 f8x\n", &tr);
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(tr.error, "byte 51: line 4") && strstr(tr.error, "cell 3 'f8x'"),
	              "%s", tr.error);
	ck_assert_uint_eq(tr.snaps.n, 1);      /* what came before is kept */
	hs_trace_free(&tr);
	rc = read_text("HEAPSCOPE-TRACE 1\nP 1 0 0 /bin/x\nH exit 5 0 1\n", &tr);
	ck_assert_int_eq(rc, 0);               /* empty label: the rest may be empty */
	hs_trace_free(&tr);
	rc = read_text("HEAPSCOPE-TRACE 1\nP 1 0 0 /bin/x\nH exit 5 1\n", &tr);
	ck_assert_int_lt(rc, 0);
	hs_trace_free(&tr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("heapsnap");
	TCase *tc = tcase_create("heapsnap");
	tcase_add_test(tc, good_line);
	tcase_add_test(tc, lookups_and_counts);
	tcase_add_test(tc, bad_lines);
	tcase_add_test(tc, order_and_versions);
	tcase_add_test(tc, reader_keeps_snapshots);
	tcase_add_test(tc, reader_names_the_bad_cell);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
