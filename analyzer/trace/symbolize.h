/*
 * symbolize.h — return addresses to function, file:line, offline.
 *
 * The process is gone; what is left is the trace's module map (`M`: path,
 * load bias, executable range, build-id). Each module is opened lazily
 * with libdwfl in its own Dwfl session (so that two modules that used the
 * same range at different times, dlclose then dlopen, never collide),
 * checked against the trace (build-id, range) and then asked for ip - 1:
 * the ip is a return address and ip - 1 lies in the call instruction, so
 * the line is the call's, not the next statement's.
 *
 * A recorded ip that falls in inlined code becomes several frames: the
 * inlined function(s) first, each marked `inlined`, then the function
 * they were inlined into, all with the same address (as memcheck shows).
 */
#ifndef HS_SYMBOLIZE_H
#define HS_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace_read.h"

struct hs_frame {
	uint64_t    address;    /* the call site: recorded return address - 1,
	                           as memcheck prints it; give this one to
	                           addr2line and it names the same line      */
	const char *function;   /* demangled; NULL when unknown              */
	const char *mangled;    /* linkage/symbol name as in the binary (== function
	                           for C); NULL when unknown                  */
	const char *file;       /* source path from the debug info; NULL     */
	unsigned    line;       /* 0 when unknown                            */
	const char *module;     /* path from the `M` line; NULL: no module   */
	bool        inlined;    /* inlined into the next frame               */
	bool        below_main; /* the C runtime's start-up (symbolize.c)    */
};

struct hs_symbolizer;

/* warn: where to say once per module that it could not be used (file
 * missing, build-id differs); NULL for silence. The trace must outlive
 * the symbolizer. */
struct hs_symbolizer *hs_sym_new(const struct hs_trace *tr, FILE *warn);
/* The frames of a stack, innermost first, inlined calls expanded. Returns
 * the count (0 for id 0 or an undefined id); *out stays valid until
 * hs_sym_free. */
size_t hs_sym_stack(struct hs_symbolizer *s, uint32_t id, const struct hs_frame **out);
/* The frames a report shows: the same frames, but only down to the first
 * non-inlined `main` (included; the C runtime's start-up frames below it
 * are not shown, as memcheck does) and at most max of them (0: no limit).
 * Return addresses are looked up innermost first and only until that
 * point, so the frames below main -- in libc, whose separate debug info
 * is compressed and costs tens of ms to open -- are never looked up when
 * nothing else needs them. *out stays valid until hs_sym_free. */
size_t hs_sym_stack_to_main(struct hs_symbolizer *s, uint32_t id, size_t max,
                            const struct hs_frame **out);
void   hs_sym_free(struct hs_symbolizer *s);

/* What the symbolizer did so far: return addresses looked up (cache
 * misses) and modules it tried to open. Tests use it to check that
 * reports symbolize only what they show. */
struct hs_sym_stats {
	size_t addresses, modules;
};
void   hs_sym_stats(const struct hs_symbolizer *s, struct hs_sym_stats *out);

/* C++ names demangled (libstdc++'s __cxa_demangle, found with dlopen so
 * that heapscope links nothing extra); NULL when not a mangled name or no
 * demangler is available. The result is malloc'd. */
char *hs_demangle(const char *name);

#endif
