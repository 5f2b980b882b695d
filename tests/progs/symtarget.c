/* symtarget — a call chain with a known shape for the analyzer's
 * symbolization test (tests/e2e/symbolize.sh): main -> middle_function ->
 * leaf_function -> inlined_helper (always inlined) -> selftrace_print.
 * The comments "@NAME" mark the lines the test expects. */
#include "selftrace.h"

static inline __attribute__((always_inline)) void inlined_helper(void)
{
	selftrace_print();   /* @inlined_call */
}

__attribute__((noinline)) void leaf_function(void)
{
	inlined_helper();    /* @inline_site */
}

__attribute__((noinline)) static void middle_function(void)
{
	leaf_function();     /* @middle_call */
}

int main(void)
{
	middle_function();   /* @main_call */
	return 0;
}
