/*
 * test_fault_regions.c — policy levels: HEAPSCOPE_FAIL, nested regions
 * (hs_fail_begin/end), benign regions, the messages on bad input, and the
 * exported API functions.
 */
#include <check.h>

#include "check_main.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"
#include "faults/faults.h"
#define HEAPSCOPE_SHIM
#include "heapscope.h"

#include "fault_testutil.h"

/* ---- regions, benign, env ------------------------------------------------ */

START_TEST(regions_nest)
{
	char e[HS_FAULT_ERR_MAX];
	setenv("HEAPSCOPE_FAIL", "after=3", 1);
	hs_faults_reset();
	hs_faults_init_from_env();
	ck_assert(hs_faults_active());
	ck_assert_uint_eq(fail_mask(2), 0);             /* env calls 1, 2 */
	ck_assert_int_eq(hs_fault_push(NULL, e, sizeof e), 0);
	ck_assert(!hs_faults_active());                 /* paused region */
	ck_assert_uint_eq(fail_mask(5), 0);
	ck_assert_int_eq(hs_fault_push("nth=2", e, sizeof e), 0);
	ck_assert_uint_eq(fail_mask(3), 1u << 2);       /* counts from 1 again */
	ck_assert_uint_eq(last.nth, 2);
	ck_assert_int_eq(hs_fault_pop(), 1);
	ck_assert_int_eq(hs_fault_pop(), 0);
	ck_assert(hs_faults_active());
	ck_assert(call(HS_FN_MALLOC, 1));               /* env call 3 */
	ck_assert_uint_eq(last.nth, 3);
	ck_assert_int_eq(hs_fault_pop(), -1);           /* nothing open */
	ck_assert_uint_eq(hs_fault_total(), 2);
}
END_TEST

START_TEST(regions_balance_on_error)
{
	char e[HS_FAULT_ERR_MAX];
	hs_faults_reset();
	ck_assert_int_eq(hs_fault_push("every=1", e, sizeof e), 0);
	ck_assert_int_eq(hs_fault_push("nth=0", e, sizeof e), -1);
	ck_assert(strstr(e, "nth=0"));
	ck_assert(!call(HS_FN_MALLOC, 1));               /* rejected: off */
	ck_assert_int_eq(hs_fault_pop(), 0);
	ck_assert(call(HS_FN_MALLOC, 1));                /* outer is back */
	for (int i = 1; i < HS_FAULT_DEPTH; i++)
		ck_assert_int_eq(hs_fault_push(NULL, e, sizeof e), 0);
	ck_assert_int_eq(hs_fault_push("every=1", e, sizeof e), -2);
	ck_assert_int_eq(hs_fault_push("every=1", e, sizeof e), -2);
	ck_assert_int_eq(hs_fault_pop(), 0);
	ck_assert_int_eq(hs_fault_pop(), 0);
	for (int i = 1; i < HS_FAULT_DEPTH; i++)
		ck_assert_int_eq(hs_fault_pop(), 0);
	ck_assert(call(HS_FN_MALLOC, 1));                /* still the outer */
	ck_assert_int_eq(hs_fault_pop(), 2);
	ck_assert_int_eq(hs_fault_pop(), -1);
}
END_TEST

START_TEST(benign_marks)
{
	arm("every=1");
	ck_assert(call(HS_FN_MALLOC, 1));
	ck_assert(!last.benign);
	hs_fault_benign_enter();
	hs_fault_benign_enter();
	ck_assert(call(HS_FN_MALLOC, 1));
	ck_assert(last.benign);
	hs_fault_benign_leave();
	ck_assert(call(HS_FN_MALLOC, 1));
	ck_assert(last.benign);
	hs_fault_benign_leave();
	hs_fault_benign_leave();                         /* extra: harmless */
	ck_assert(call(HS_FN_MALLOC, 1));
	ck_assert(!last.benign);
}
END_TEST

/* Run fn with fd 2 sent to a file; return what was written. */
static const char *stderr_of(void (*fn)(void))
{
	static char out[2048];
	char path[] = "/tmp/hs-test-faults-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, sizeof out - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

START_TEST(env_policy)
{
	const char *msg;
	setenv("HEAPSCOPE_FAIL", "nth=2,minsize=12Q", 1);
	hs_faults_reset();
	msg = stderr_of(hs_faults_init_from_env);
	ck_assert_msg(strstr(msg, "HEAPSCOPE_FAIL") && strstr(msg, "minsize=12Q")
	              && strstr(msg, "OFF"), "message: %s", msg);
	ck_assert(!hs_faults_active());
	setenv("HEAPSCOPE_FAIL", "", 1);
	msg = stderr_of(hs_faults_init_from_env);
	ck_assert_str_eq(msg, "");
	ck_assert(!hs_faults_active());
	unsetenv("HEAPSCOPE_FAIL");
	msg = stderr_of(hs_faults_init_from_env);
	ck_assert_str_eq(msg, "");
	ck_assert(!hs_faults_active());
	setenv("HEAPSCOPE_FAIL", "every=2", 1);
	msg = stderr_of(hs_faults_init_from_env);
	ck_assert_str_eq(msg, "");
	ck_assert_uint_eq(fail_mask(4), (1u << 2) | (1u << 4));
}
END_TEST

static void begin_bad(void)
{
	ck_assert_int_eq(hs_fail_begin("nth=1,bogus=2"), -1);
}

static void end_unopened(void)
{
	ck_assert_int_eq(hs_fail_end(), -1);
}

START_TEST(api_functions)
{
	hs_faults_reset();
	ck_assert_int_eq(hs_running(), 1);
	ck_assert_int_eq(hs_fail_begin("nth=2"), 1);
	ck_assert(!call(HS_FN_MALLOC, 1));
	ck_assert(call(HS_FN_MALLOC, 1));
	ck_assert_uint_eq(hs_fail_count(), 1);
	ck_assert_int_eq(hs_fail_end(), 1);
	const char *msg = stderr_of(begin_bad);
	ck_assert_msg(strstr(msg, "hs_fail_begin") && strstr(msg, "bogus=2"),
	              "message: %s", msg);
	ck_assert_int_eq(hs_fail_end(), 0);             /* balances the bad one */
	msg = stderr_of(end_unopened);
	ck_assert_msg(strstr(msg, "no hs_fail_begin region"), "message: %s", msg);
	ck_assert_int_eq(hs_snapshot("x"), 0);
	const struct heapscope_api_v1 *t = heapscope_api_v1();
	ck_assert_uint_eq(t->version, 1);
	ck_assert_ptr_eq(t->fail_begin, hs_fail_begin);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fault_regions");
	TCase *r = tcase_create("regions");
	tcase_add_test(r, regions_nest);
	tcase_add_test(r, regions_balance_on_error);
	tcase_add_test(r, benign_marks);
	tcase_add_test(r, env_policy);
	tcase_add_test(r, api_functions);
	suite_add_tcase(s, r);
	return s;
}

HS_CHECK_MAIN(suite)
