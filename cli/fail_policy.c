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

#include <stdio.h>

bool hs_cli_fail_policy_ok(const char *policy, char *err, size_t cap)
{
	struct hs_fault_policy p;
	return hs_fault_parse(policy, &p, err, cap);
}

/* What faults.h says of the grammar, for the user: `heapscope help fail`
 * (include/heapscope.h sends them here). */
void hs_cli_fail_help(FILE *f)
{
	fputs(
"A fault policy (heapscope run --fail POLICY, HEAPSCOPE_FAIL=POLICY,\n"
"hs_fail_begin(POLICY)) is comma-separated terms: exactly one trigger\n"
"\n"
"  nth=N         fail the Nth matching call, once\n"
"  after=N       fail every matching call from the Nth on (persistent)\n"
"  every=N       fail matching calls N, 2N, 3N, ...\n"
"  prob=P        fail each matching call with probability P (0..1, or a\n"
"                percentage such as 5%); seed=S picks the stream (default 0)\n"
"  limit=BYTES   fail a call that would grow the live heap past BYTES\n"
"                (K, M, G are powers of 1024)\n"
"\n"
"and any of these filters, which decide which calls match:\n"
"\n"
"  times=N       at most N failures in all\n"
"  minsize=B     only calls asking for at least B bytes\n"
"  func=F|F...   only these entry points: malloc calloc realloc aligned new new[]\n"
"  caller=GLOB   only calls with a function matching GLOB on the stack\n"
"  thread=main   only the main thread (thread=all, the default: any)\n"
"\n"
"Every call of an allocation entry point counts one (realloc and malloc(0)\n"
"too, free never). The trigger counts only the calls that pass the filters:\n"
"nth=3,func=calloc fails the third calloc. A failed call returns NULL with\n"
"errno ENOMEM (operator new throws std::bad_alloc). The report's failure\n"
"lines give the call's number among all calls, so nth=THAT with no filter\n"
"fails the same call again in a deterministic program.\n"
"\n"
"Examples: nth=5   after=100,func=malloc   prob=0.01,seed=7\n"
"          limit=64M   every=5,times=2,caller=parse_*\n", f);
}
