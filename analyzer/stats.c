/*
 * stats.c — numbers derived from the samples (`T` lines), nothing more:
 * where the trace has no samples these report "no data" and the reports
 * print null rather than a made-up value.
 */
#include "report.h"

#include <string.h>

void hs_vmstats(const struct hs_trace *tr, struct hs_vmstats *out)
{
	memset(out, 0, sizeof *out);
	out->samples = tr->nsamples;
	if (!tr->nsamples)
		return;
	out->first_kb = tr->samples[0].vmsize_kb;
	out->last_kb = tr->samples[tr->nsamples - 1].vmsize_kb;
	/* least squares of VmSize (bytes) against time (seconds), centred on
	 * the means so that large timestamps lose no precision */
	double mt = 0, mv = 0;
	for (size_t i = 0; i < tr->nsamples; i++) {
		const struct hs_tsample *s = &tr->samples[i];
		if (s->vmsize_kb > out->peak_kb)
			out->peak_kb = s->vmsize_kb;
		mt += (double)s->t_ms / 1000.0;
		mv += (double)s->vmsize_kb * 1024.0;
	}
	mt /= (double)tr->nsamples;
	mv /= (double)tr->nsamples;
	double sxx = 0, sxy = 0;
	for (size_t i = 0; i < tr->nsamples; i++) {
		double dt = (double)tr->samples[i].t_ms / 1000.0 - mt;
		double dv = (double)tr->samples[i].vmsize_kb * 1024.0 - mv;
		sxx += dt * dt;
		sxy += dt * dv;
	}
	if (sxx > 0) {
		out->have_growth = true;
		out->growth_bytes_per_s = sxy / sxx;
	}
}

void hs_fragstats(const struct hs_trace *tr, struct hs_fragstats *out)
{
	memset(out, 0, sizeof *out);
	out->largest_free_order = -1;
	if (!tr->nsamples)
		return;
	const struct hs_tsample *s = &tr->samples[tr->nsamples - 1];
	out->have = true;
	uint64_t free_pages = 0;
	for (int k = 0; k < HS_TRACE_ORDERS; k++) {
		out->nr_free[k] = s->nr_free[k];
		free_pages += s->nr_free[k] << k;
		if (s->nr_free[k])
			out->largest_free_order = k;
	}
	/* Linux's unusable free space index for order j: the share of free
	 * pages that sit in blocks too small for an order-j request;
	 * 1 when nothing is free, as the kernel reports it. */
	for (int j = 0; j < HS_TRACE_ORDERS; j++) {
		if (!free_pages) {
			out->unusable[j] = 1.0;
			continue;
		}
		uint64_t usable = 0;
		for (int k = j; k < HS_TRACE_ORDERS; k++)
			usable += s->nr_free[k] << k;
		out->unusable[j] = (double)(free_pages - usable) / (double)free_pages;
	}
	out->internal_bytes = s->granted > s->live ? s->granted - s->live : 0;
	if (s->held) {
		out->have_efficiency = true;
		out->heap_efficiency = (double)s->live / (double)s->held;
	}
}
