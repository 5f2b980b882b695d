/*
 * fault_testutil.h — how the fault tests make a call: the way an entry
 * point does (test the armed flag, then ask hs_fault_should_fail), with
 * the last injected failure kept for assertions. Shared by test_faults.c
 * and test_fault_regions.c.
 */
#ifndef FAULT_TESTUTIL_H
#define FAULT_TESTUTIL_H

#include <check.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"
#include "faults/faults.h"

static struct hs_fault_record last;

static inline bool call3(enum hs_fault_fn fn, size_t size, size_t freed,
                         uint32_t stack, int main_thread)
{
	if (!hs_faults_active())
		return false;
	struct hs_fault_call c = { fn, size, freed, stack, main_thread };
	return hs_fault_should_fail(&c, &last);
}

static inline bool call(enum hs_fault_fn fn, size_t size)
{
	return call3(fn, size, 0, 0, 1);
}

/* Open POLICY as a region (fresh counters) and insist it parsed. */
static inline void arm(const char *policy)
{
	char err[HS_FAULT_ERR_MAX];
	hs_faults_reset();
	int r = hs_fault_push(policy, err, sizeof err);
	ck_assert_msg(r == 0, "policy '%s' rejected: %s", policy, err);
}

/* Which of calls 1..n (all malloc of 16 bytes) fail, as a bitmask. */
static inline uint64_t fail_mask(int n)
{
	uint64_t m = 0;
	for (int i = 1; i <= n; i++)
		if (call(HS_FN_MALLOC, 16))
			m |= 1ull << i;
	return m;
}

#endif
