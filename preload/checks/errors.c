/*
 * errors.c — the program did something wrong with the heap: say so.
 *
 * Each error is one line on stderr, memcheck's words on one line (the
 * full report with symbolised stacks is the analyzer's job), and an `E`
 * record in the trace: kind, address, the current stack (captured here),
 * the block's allocation and free stacks. The caller then carries on
 * without touching the bad block, so the heap stays intact, unless
 * HEAPSCOPE_ABORT_ON_ERROR asks to stop: then the trace is flushed and
 * the process aborts (the lifecycle's SIGABRT handler writes `X signal`).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "record/record.h"

__attribute__((weak)) bool hs_trace_active(void);
__attribute__((weak)) void hs_trace_printf(const char *fmt, ...);
__attribute__((weak)) void hs_trace_flush(void);
__attribute__((weak)) uint32_t hs_stack_capture(void);
int hs_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);

static _Atomic unsigned long nerrors;
static __thread int reporting;          /* an error while reporting one */

/* memcheck's words, where it has them; the overrun and write-after-free
 * details begin "Invalid write of size N" themselves. */
static const char *title(const char *kind)
{
	if (!strcmp(kind, "invalid_free") || !strcmp(kind, "double_free"))
		return "Invalid free() / delete / delete[] / realloc(): ";
	if (!strcmp(kind, "realloc_freed"))
		return "realloc() of a freed block: ";
	if (!strcmp(kind, "mismatched_free"))
		return "Mismatched free() / delete / delete []: ";
	return "";
}

void hs_error(const char *kind, const char *call, const void *addr,
              uint32_t alloc_stack, uint32_t free_stack, const char *fmt, ...)
{
	nerrors++;
	if (reporting)          /* the stack capture itself tripped a check */
		return;
	reporting = 1;
	int saved = errno;      /* a free that reports still preserves errno */
	char detail[320];
	va_list ap;
	va_start(ap, fmt);
	hs_vfmt(detail, sizeof detail, fmt, ap);
	va_end(ap);
	char human[32];         /* "double_free" -> "double free" */
	int i = 0;
	for (; kind[i] && i < (int)sizeof human - 1; i++)
		human[i] = kind[i] == '_' ? ' ' : kind[i];
	human[i] = '\0';
	/* stderr stands alone: kind, call, memcheck's title, the detail. The
	 * E line's detail leaves the title to the analyzer. */
	char where[64] = "";
	if (call)
		hs_fmt(where, sizeof where, "%s(%p): ", call, addr);
	hs_log("%s: %s%s%s", human, where, title(kind), detail);
	uint32_t stack = hs_initialized && hs_cfg.enabled && hs_stack_capture
	                 ? hs_stack_capture() : 0;
	if (hs_trace_active && hs_trace_active())
		hs_trace_printf("E %s %lx %u %u %u %s%s%s%s\n", kind,
		                (unsigned long)(uintptr_t)addr, hs_stack_ref(stack),
		                hs_stack_ref(alloc_stack), hs_stack_ref(free_stack),
		                call ? "in " : "", call ? call : "", call ? ": " : "", detail);
	reporting = 0;
	errno = saved;
	if (hs_cfg.abort_on_error) {
		hs_log("stopping at the first heap error (HEAPSCOPE_ABORT_ON_ERROR)");
		if (hs_trace_flush)
			hs_trace_flush();
		abort();
	}
}

unsigned long hs_error_count(void)
{
	return nerrors;
}
