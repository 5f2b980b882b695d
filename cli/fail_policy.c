/*
 * fail_policy.c — `--fail POLICY` checked before anything runs.
 *
 * The shim parses HEAPSCOPE_FAIL with hs_fault_parse and, on a bad
 * policy, only says so on the program's stderr and runs with injection
 * off: a CI job would pass without having injected anything. The command
 * links the shim's own parser (preload/faults/fault_policy.c, a unit of
 * its own in tests/e2e/layering.sh) so that it refuses exactly what the
 * shim would, with the same words. Apart from options.c because the
 * policy's names (HS_FN_MALLOC...) clash with the trace reader's.
 */
#include "fail_policy.h"
#include "faults/fault_policy.h"

bool hs_cli_fail_policy_ok(const char *policy, char *err, size_t cap)
{
	struct hs_fault_policy p;
	return hs_fault_parse(policy, &p, err, cap);
}
