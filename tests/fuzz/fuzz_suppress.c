/*
 * fuzz_suppress.c — libFuzzer harness for the suppression-file parser
 * (analyzer/analysis/suppress.c) and the matcher behind it (suppress_match.c):
 * users pass files they found elsewhere, so both the parse and the glob
 * / LSan pattern matching of whatever was parsed must be safe and must
 * finish (patterns like "*a*a*a*a*b" must not take exponential time).
 */
#include <stdint.h>
#include <string.h>

#include "analysis/suppress.h"
#include "trace/trace_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A stack that looks like a real leak: allocator-side names, a C++ name,
 * a source file with a line, modules with versions. */
static const struct hs_frame frames[] = {
	{ .address = 0x401000, .function = "make_cache", .mangled = "make_cache",
	  .file = "/src/cache.c", .line = 42, .module = "/usr/bin/prog" },
	{ .address = 0x7f0000001000, .function = "foo::Bar::Bar()",
	  .mangled = "_ZN3foo3BarC2Ev", .file = "bar.cc", .line = 7,
	  .module = "/usr/lib/libfoo.so.1", .inlined = true },
	{ .address = 0x7f0000002000, .module = "/lib/x86_64-linux-gnu/libc.so.6" },
	{ .address = 0x401100, .function = "main", .mangled = "main",
	  .file = "main.c", .line = 3, .module = "/usr/bin/prog" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_supps *s = hs_supps_new();
	char err[256];
	hs_supps_parse(s, "fuzz.supp", (const char *)data, size, err, sizeof err);
	size_t n = sizeof frames / sizeof frames[0];
	for (unsigned k = 0; k < HS_NR_LEAK_KINDS; k++)
		(void)hs_supps_match_leak(s, k, frames, n);
	for (unsigned k = 0; k < HS_NR_ERR_KINDS; k++)
		(void)hs_supps_match_error(s, k, frames, n);
	hs_supps_free(s);
	return 0;
}
