/*
 * errors.c — the program did something wrong with the heap: say so.
 *
 * One line on stderr naming the problem and the address, and an `E` record
 * in the trace when one is open. The caller then carries on without
 * touching the bad block, so the heap stays intact.
 */
#include "internal.h"

__attribute__((weak)) bool hs_trace_active(void);
__attribute__((weak)) void hs_trace_printf(const char *fmt, ...);

static _Atomic unsigned long nerrors;

void hs_report_error(const char *kind, const char *call, const void *addr,
                     const struct hs_header *h)
{
	nerrors++;
	char human[32];              /* "double_free" -> "double free" */
	int i = 0;
	for (; kind[i] && i < (int)sizeof human - 1; i++)
		human[i] = kind[i] == '_' ? ' ' : kind[i];
	human[i] = '\0';
	if (h)
		hs_log("%s: %s(%p): block of %zu bytes was already freed",
		       human, call, addr, (size_t)h->size);
	else
		hs_log("%s: %s(%p): not the start of a block heapscope handed out",
		       human, call, addr);
	if (hs_trace_active && hs_trace_active())
		hs_trace_printf("E %s %lx %u %u %u %s(%p)\n", kind, (unsigned long)(uintptr_t)addr,
		                0u, h ? (unsigned)hs_stack_ref(h->stack) : 0u, 0u, call, addr);
}

unsigned long hs_error_count(void)
{
	return nerrors;
}
