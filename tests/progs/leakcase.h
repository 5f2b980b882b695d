/*
 * leakcase.h — shared by the leak-case programs (tests/progs/leak_*.c).
 *
 * A leak checker that scans the stack conservatively sees stale pointers
 * left in dead frames below the caller (memcheck does not: it tracks which
 * stack bytes are still defined). The cases make their leaks in helper
 * functions and then overwrite the dead stack area, so that the expected
 * answer is the same for every correct checker. Lines that make a leak
 * carry a LEAK marker comment; tests/e2e/leak_cases.sh checks that the
 * line numbers in tests/leak_cases.expected still point at them.
 */
#ifndef LEAKCASE_H
#define LEAKCASE_H

#include <string.h>

static void __attribute__((noinline)) leakcase_scrub_stack(void)
{
	volatile char pad[64 * 1024];
	memset((char *)pad, 0, sizeof pad);
}

#endif
