/*
 * api.c — the shim's side of include/heapscope.h.
 *
 * Programs reach these through heapscope_api_v1(), the one symbol the
 * header looks up; the functions are exported by name as well, for a
 * debugger (`call hs_snapshot("x")`) and for code that links the shim
 * directly. They run in the program's context, not inside malloc, but
 * still allocate nothing: a call made inside an injection region must not
 * itself be counted as an allocation.
 */
#define HEAPSCOPE_SHIM
#include "heapscope.h"
#include "hooks.h"
#include "faults/faults.h"
#include "record/sampler.h"

HS_API int hs_running(void)
{
	return 1;
}

HS_API int hs_fail_begin(const char *policy)
{
	char err[HS_FAULT_ERR_MAX];
	if (hs_fault_push(policy, err, sizeof err) < 0) {
		hs_log("hs_fail_begin: %s; no failures in this region", err);
		return -1;
	}
	return 1;
}

HS_API long hs_fail_end(void)
{
	long n = hs_fault_pop();
	if (n < 0)
		hs_log("hs_fail_end: no hs_fail_begin region is open");
	return n;
}

HS_API unsigned long hs_fail_count(void)
{
	return (unsigned long)hs_fault_total();
}

HS_API void hs_benign_begin(void)
{
	hs_fault_benign_enter();
}

HS_API void hs_benign_end(void)
{
	hs_fault_benign_leave();
}

/* A sample and a heap snapshot labelled LABEL (sampler.c); 0 when not
 * recording. */
HS_API int hs_snapshot(const char *label)
{
	return hs_sampler_api_snapshot(label) ? 1 : 0;
}

static const struct heapscope_api_v1 table = {
	.version      = 1,
	.size         = sizeof(struct heapscope_api_v1),
	.running      = hs_running,
	.fail_begin   = hs_fail_begin,
	.fail_end     = hs_fail_end,
	.fail_count   = hs_fail_count,
	.benign_begin = hs_benign_begin,
	.benign_end   = hs_benign_end,
	.snapshot     = hs_snapshot,
};

HS_API const struct heapscope_api_v1 *heapscope_api_v1(void)
{
	return &table;
}
