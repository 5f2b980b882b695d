/*
 * fuzz_fault_policy.c — libFuzzer harness for the fault-policy parser
 * (preload/faults/fault_policy.c: hs_fault_parse), which reads HEAPSCOPE_FAIL and
 * hs_fail_begin() strings inside malloc: it must never read past the
 * string, overrun its fixed caller[] or err[] buffers, or overflow.
 * The error buffer is sized exactly so ASan catches a one-byte overrun;
 * a short one is tried too because callers may pass any errcap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faults/faults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';   /* the parser takes a C string: NULs end it early */

	struct hs_fault_policy pol;
	char *err = malloc(HS_FAULT_ERR_MAX);
	if (hs_fault_parse(text, &pol, err, HS_FAULT_ERR_MAX)) {
		/* A policy that parsed must be one the decision code can use. */
		if (pol.trigger == HS_TRIG_NONE)
			abort();
		if (!memchr(pol.caller, '\0', sizeof pol.caller))
			abort();
	} else if (!memchr(err, '\0', HS_FAULT_ERR_MAX)) {
		abort();   /* the message must be terminated */
	}
	char *small = malloc(7);
	(void)hs_fault_parse(text, &pol, small, 7);
	free(small);
	free(err);
	free(text);
	return 0;
}
