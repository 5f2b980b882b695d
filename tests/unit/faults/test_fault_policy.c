/*
 * test_fault_policy.c — the policy parser (every term; every kind of bad
 * input refused with a message that names the term) and the caller glob.
 */
#include <check.h>

#include "check_main.h"
#include <stdio.h>
#include <string.h>

#include "faults/faults.h"

static struct hs_fault_policy pol;
static char err[HS_FAULT_ERR_MAX];

static void parse_ok(const char *text)
{
	ck_assert_msg(hs_fault_parse(text, &pol, err, sizeof err),
	              "'%s' rejected: %s", text, err);
}

/* The policy is refused and the message quotes NAMED (the bad term). */
static void parse_bad(const char *text, const char *named)
{
	ck_assert_msg(!hs_fault_parse(text, &pol, err, sizeof err),
	              "'%s' accepted", text);
	ck_assert_msg(strstr(err, named) != NULL,
	              "'%s': message '%s' does not name '%s'", text, err, named);
}

/* ---- parser: every term ------------------------------------------------- */

START_TEST(parse_triggers)
{
	parse_ok("nth=3");
	ck_assert_int_eq(pol.trigger, HS_TRIG_NTH);
	ck_assert_uint_eq(pol.n, 3);
	parse_ok("after=10");
	ck_assert_int_eq(pol.trigger, HS_TRIG_AFTER);
	ck_assert_uint_eq(pol.n, 10);
	parse_ok("every=0x10");
	ck_assert_int_eq(pol.trigger, HS_TRIG_EVERY);
	ck_assert_uint_eq(pol.n, 16);
	parse_ok("nth=18446744073709551615");
	ck_assert_uint_eq(pol.n, UINT64_MAX);
	parse_ok("limit=4096");
	ck_assert_int_eq(pol.trigger, HS_TRIG_LIMIT);
	ck_assert_uint_eq(pol.limit, 4096);
	parse_ok("limit=0");
	ck_assert_uint_eq(pol.limit, 0);
}
END_TEST

START_TEST(parse_sizes)
{
	const struct { const char *t; uint64_t v; } cases[] = {
		{ "limit=1K", 1024 }, { "limit=3k", 3072 },
		{ "limit=2M", 2u << 20 }, { "limit=5m", 5u << 20 },
		{ "limit=1G", 1ull << 30 }, { "limit=16g", 16ull << 30 },
		{ "limit=0x100", 256 },
	};
	for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
		parse_ok(cases[i].t);
		ck_assert_uint_eq(pol.limit, cases[i].v);
	}
	parse_ok("nth=1,minsize=64K");
	ck_assert_uint_eq(pol.minsize, 65536);
}
END_TEST

START_TEST(parse_prob)
{
	parse_ok("prob=0.5");
	ck_assert_int_eq(pol.trigger, HS_TRIG_PROB);
	ck_assert_uint_eq(pol.prob, 1ull << 63);
	ck_assert(!pol.prob_always);
	ck_assert_uint_eq(pol.seed, 0);
	parse_ok("prob=.25,seed=42");
	ck_assert_uint_eq(pol.prob, 1ull << 62);
	ck_assert_uint_eq(pol.seed, 42);
	parse_ok("prob=25%");
	ck_assert_uint_eq(pol.prob, 1ull << 62);
	parse_ok("prob=12.5%,seed=0xdeadbeef");
	ck_assert_uint_eq(pol.prob, 1ull << 61);
	ck_assert_uint_eq(pol.seed, 0xdeadbeef);
	parse_ok("prob=1%");
	ck_assert_uint_eq(pol.prob, UINT64_MAX / 100);   /* floor(2^64/100) */
	parse_ok("prob=0");
	ck_assert_uint_eq(pol.prob, 0);
	ck_assert(!pol.prob_always);
	parse_ok("prob=1");
	ck_assert(pol.prob_always);
	parse_ok("prob=1.000");
	ck_assert(pol.prob_always);
	parse_ok("prob=100%");
	ck_assert(pol.prob_always);
	parse_ok("prob=0.000000000000000000001");      /* below resolution */
	ck_assert_uint_eq(pol.prob, 0);
}
END_TEST

START_TEST(parse_filters)
{
	parse_ok("after=2, times=3 ,minsize=100,func=calloc|new[],thread=main,caller=parse_*");
	ck_assert_int_eq(pol.trigger, HS_TRIG_AFTER);
	ck_assert_uint_eq(pol.times, 3);
	ck_assert_uint_eq(pol.minsize, 100);
	ck_assert_uint_eq(pol.funcs, (1u << HS_FN_CALLOC) | (1u << HS_FN_NEW_ARRAY));
	ck_assert(pol.main_only);
	ck_assert_str_eq(pol.caller, "parse_*");
	parse_ok("nth=1,thread=all");
	ck_assert(!pol.main_only);
	ck_assert_str_eq(pol.caller, "");
	ck_assert_uint_eq(pol.funcs, 0);
	parse_ok("nth=1,func=malloc|calloc|realloc|aligned|new|new[]");
	ck_assert_uint_eq(pol.funcs, (1u << HS_FN_COUNT) - 1);
	for (int f = 0; f < HS_FN_COUNT; f++) {
		char t[64];
		snprintf(t, sizeof t, "every=2,func=%s", hs_fault_fn_name(f));
		parse_ok(t);
		ck_assert_uint_eq(pol.funcs, 1u << f);
	}
	char glob[HS_FAULT_GLOB_MAX + 16];
	memset(glob, 'a', sizeof glob);
	memcpy(glob, "nth=1,caller=", 13);
	glob[13 + HS_FAULT_GLOB_MAX - 1] = '\0';             /* 127 chars: fits */
	parse_ok(glob);
	ck_assert_uint_eq(strlen(pol.caller), HS_FAULT_GLOB_MAX - 1);
}
END_TEST

/* ---- parser: bad input, each named ------------------------------------- */

START_TEST(parse_rejects)
{
	parse_bad("nth=0", "nth=0");
	parse_bad("every=0", "every=0");
	parse_bad("after=0", "after=0");
	parse_bad("nth=1,times=0", "times=0");
	parse_bad("nth=abc", "nth=abc");
	parse_bad("nth=3x", "nth=3x");
	parse_bad("nth=-1", "nth=-1");
	parse_bad("nth=+1", "nth=+1");
	parse_bad("nth=0x", "nth=0x");
	parse_bad("nth=18446744073709551616", "nth=18446744073709551616");
	parse_bad("nth=", "nth=");
	parse_bad("nth", "nth");
	parse_bad("bogus=1", "bogus=1");
	parse_bad("nth=1,NTH=2", "NTH=2");
	parse_bad("prob=1.5", "prob=1.5");
	parse_bad("prob=-0.1", "prob=-0.1");
	parse_bad("prob=101%", "prob=101%");
	parse_bad("prob=2", "prob=2");
	parse_bad("prob=99999999999999999999999", "prob=99999999999999999999999");
	parse_bad("prob=abc", "prob=abc");
	parse_bad("prob=0.5.1", "prob=0.5.1");
	parse_bad("prob=.", "prob=.");
	parse_bad("prob=1e-3", "prob=1e-3");
	parse_bad("prob=0.5,seed=x", "seed=x");
	parse_bad("nth=1,seed=3", "seed=3");                 /* needs prob */
	parse_bad("limit=10X", "limit=10X");
	parse_bad("limit=1T", "limit=1T");
	parse_bad("limit=K", "limit=K");
	parse_bad("limit=20000000000G", "limit=20000000000G"); /* overflows */
	parse_bad("nth=1,minsize=1.5K", "minsize=1.5K");
	parse_bad("nth=1,nth=2", "nth=2");                   /* duplicate */
	parse_bad("nth=1,times=2,times=3", "times=3");
	parse_bad("nth=1,every=2", "every=2");               /* two triggers */
	parse_bad("limit=1M,prob=0.5", "prob=0.5");
	parse_bad("times=3", "times=3");                     /* no trigger */
	parse_bad("func=malloc,minsize=8", "func=malloc,minsize=8");
	parse_bad("nth=1,func=free", "free");
	parse_bad("nth=1,func=malloc|", "func=malloc|");
	parse_bad("nth=1,func=", "func=");
	parse_bad("nth=1,thread=other", "thread=other");
	parse_bad("nth=1,,times=2", "nth=1,,times=2");       /* stray comma */
	parse_bad("nth=1,", "nth=1,");
	parse_bad("", "empty policy");
	parse_bad("   ", "empty policy");

	char glob[HS_FAULT_GLOB_MAX + 32];
	memset(glob, 'a', sizeof glob);
	memcpy(glob, "nth=1,caller=", 13);
	glob[13 + HS_FAULT_GLOB_MAX] = '\0';                 /* 128 chars */
	parse_bad(glob, "caller=aaaa");
	ck_assert(strstr(err, "longer than") != NULL);
}
END_TEST

/* A tiny message buffer truncates and stays a string. */
START_TEST(parse_small_error_buffer)
{
	char small[8];
	memset(small, 'x', sizeof small);
	ck_assert(!hs_fault_parse("bogus=1", &pol, small, sizeof small));
	ck_assert_uint_eq(strlen(small), sizeof small - 1);
	ck_assert(!hs_fault_parse("bogus=1", &pol, NULL, 0));
}
END_TEST

/* ---- glob and names ------------------------------------------------------- */

START_TEST(glob_rules)
{
	ck_assert(hs_fault_glob("*", ""));
	ck_assert(hs_fault_glob("*", "anything"));
	ck_assert(hs_fault_glob("parse_*", "parse_header"));
	ck_assert(!hs_fault_glob("parse_*", "xparse_header"));
	ck_assert(hs_fault_glob("*_alloc*", "xml_alloc_node"));
	ck_assert(hs_fault_glob("a?c", "abc"));
	ck_assert(!hs_fault_glob("a?c", "ac"));
	ck_assert(hs_fault_glob("[a-c]x", "bx"));
	ck_assert(!hs_fault_glob("[a-c]x", "dx"));
	ck_assert(hs_fault_glob("[!a-c]x", "dx"));
	ck_assert(!hs_fault_glob("[^a-c]x", "ax"));
	ck_assert(hs_fault_glob("[]]", "]"));
	ck_assert(hs_fault_glob("\\*", "*"));
	ck_assert(!hs_fault_glob("\\*", "a"));
	ck_assert(hs_fault_glob("[ab", "[ab"));           /* unterminated */
	ck_assert(hs_fault_glob("*a*b*c*", "xxaxxbxxcxx"));
	ck_assert(!hs_fault_glob("*a*b*c*", "xxaxxcxxbxx"));
	ck_assert(!hs_fault_glob("main", "main2"));
	ck_assert(!hs_fault_glob("main2", "main"));
}
END_TEST

START_TEST(names_match)
{
	const char *n[] = { NULL, "main.cold", "_ZNSt6vectorIiE9push_backEOi",
	                    "_ZNK3Foo3getEv", "_ZL6helperv" };
	ck_assert(hs_fault_names_match("main", n, 5));
	ck_assert(hs_fault_names_match("std::vector*", n, 5));
	ck_assert(hs_fault_names_match("Foo::get", n, 5));
	ck_assert(hs_fault_names_match("helper", n, 5));
	ck_assert(hs_fault_names_match("_ZNK3Foo*", n, 5));  /* raw name too */
	ck_assert(!hs_fault_names_match("push_back", n, 5));
	ck_assert(!hs_fault_names_match("mai", n, 5));
	ck_assert(!hs_fault_names_match("*", n, 0));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fault_policy");
	TCase *p = tcase_create("parse");
	tcase_add_test(p, parse_triggers);
	tcase_add_test(p, parse_sizes);
	tcase_add_test(p, parse_prob);
	tcase_add_test(p, parse_filters);
	tcase_add_test(p, parse_rejects);
	tcase_add_test(p, parse_small_error_buffer);
	suite_add_tcase(s, p);
	TCase *g = tcase_create("glob");
	tcase_add_test(g, glob_rules);
	tcase_add_test(g, names_match);
	suite_add_tcase(s, g);
	return s;
}

HS_CHECK_MAIN(suite)
