/*
 * test_json.c — JSON strings stay valid whatever bytes a trace holds.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

static char *json(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	hs_json_string(f, s);
	fclose(f);
	return buf;
}

static void check(const char *in, const char *want)
{
	char *got = json(in);
	ck_assert_msg(strcmp(got, want) == 0, "in '%s': got %s, want %s", in ? in : "NULL",
	              got, want);
	free(got);
}

START_TEST(escapes)
{
	check(NULL, "null");
	check("", "\"\"");
	check("plain /usr/lib/x.so", "\"plain /usr/lib/x.so\"");
	check("say \"hi\"", "\"say \\\"hi\\\"\"");
	check("C:\\dir", "\"C:\\\\dir\"");
	check("a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"");
	check("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
}
END_TEST

START_TEST(utf8)
{
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	check("bad \xff byte", "\"bad \\ufffd byte\"");
	check("\xc0\xaf", "\"\\ufffd\\ufffd\"");                /* overlong '/' */
	check("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");     /* a surrogate  */
	check("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  /* > U+10FFFF */
	check("cut \xe2\x82", "\"cut \\ufffd\\ufffd\"");        /* cut sequence */
	check("\xe2\x82" "A", "\"\\ufffd\\ufffdA\"");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, utf8);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
