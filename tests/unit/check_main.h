/*
 * check_main.h — the one main() every Check unit test uses: run the
 * suite, exit non-zero if any test failed (tests/run.sh reads the status).
 */
#ifndef HS_CHECK_MAIN_H
#define HS_CHECK_MAIN_H

#include <check.h>

#define HS_CHECK_MAIN(suite_fn)                                    \
	int main(void)                                             \
	{                                                          \
		SRunner *sr = srunner_create(suite_fn());          \
		srunner_run_all(sr, CK_NORMAL);                    \
		int failed = srunner_ntests_failed(sr);            \
		srunner_free(sr);                                  \
		return failed ? 1 : 0;                             \
	}

#endif
