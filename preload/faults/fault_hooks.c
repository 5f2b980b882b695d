/*
 * fault_hooks.c — give the fault engine the recorder's services: stack
 * capture (stacks.c) and function names for caller=GLOB (symtab.c).
 *
 * The engine itself (faults.c) knows nothing about unwinding or symbols;
 * it asks through struct hs_fault_hooks. This file fills that table once
 * the shim starts. The stack functions are weak so that the engine still
 * links where the recorder is absent (caller= then never matches, as
 * faults.h promises).
 */
#include "record/record.h"
#include "faults.h"
#include "record/symtab.h"

__attribute__((weak)) uint32_t hs_stack_capture(void);
__attribute__((weak)) unsigned hs_stack_get(uint32_t id, const uintptr_t **ips);

static uint64_t live_bytes(void)
{
	struct hs_counters c;
	hs_counters_read(&c);
	return c.live_bytes;
}

static uint32_t capture(void)
{
	return hs_stack_capture();
}

/* Recorded ips are return addresses: ip - 1 lies in the call instruction,
 * so a call that is the last instruction of its function (a noreturn
 * callee) is still named after the caller, not the next function. */
static unsigned stack_names(uint32_t stack, const char **names, unsigned max)
{
	const uintptr_t *ips;
	unsigned n = hs_stack_get(stack, &ips);
	if (n > max)
		n = max;
	for (unsigned i = 0; i < n; i++)
		names[i] = ips[i] ? hs_symtab_name(ips[i] - 1) : NULL;
	return n;
}

void hs_fault_use_recorder(void)
{
	struct hs_fault_hooks h = { .live_bytes = live_bytes };
	if (hs_stack_capture && hs_stack_get) {
		h.capture = capture;
		h.stack_names = stack_names;
	}
	hs_fault_set_hooks(&h);
}
