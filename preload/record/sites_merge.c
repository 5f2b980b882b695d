/*
 * sites_merge.c — adding up the per-site counters for the sampler: every
 * registered thread's table and the ended threads', under the registry
 * lock, into one array that grows with the tables (sites.h says why not
 * from the samples), and what the `U` lines last said of each site.
 */
#include <string.h>

#include "sites_int.h"

#define R hs_sites_R

/* Room in the merge's array for cap sites (their written values move
 * along). Caller holds the lock. */
void hs_sites_fit_sum(uint32_t cap)
{
	if (cap)
		hs_sites_grow((void **)&R.sum, &R.sum_cap, &R.sum_len, cap - 1, sizeof *R.sum);
}


static void add_table(const struct hs_site_ctr *t, uint32_t cap, bool full, uint32_t ep)
{
	for (uint32_t i = 0; i < cap; i++) {
		const volatile struct hs_site_ctr *e = &t[i];
		struct hs_site_sum *s = &R.sum[i];
		int64_t live = e->live;
		s->live += live;
		if (full) {
			s->calls += e->calls;
			s->bytes += e->bytes;
			s->temporary += e->temporary;
			s->at_peak += hs_sites_at_peak(e, ep);
		}
	}
}

bool hs_sites_merge(bool full, void (*fn)(uint32_t id, const struct hs_site_sum *s,
                                           void *ctx), void *ctx)
{
	if (hs_spin_mine(&R.lock))
		return false;
	hs_spin_lock(&R.lock);
	uint32_t n = R.ended_cap;
	for (struct hs_site_tls *t = R.threads; t; t = t->next)
		n = t->cap > n ? t->cap : n;
	if (n > R.sum_cap)                 /* its growth failed: the rest waits */
		n = R.sum_cap;
	for (uint32_t i = 0; i < n; i++) {
		struct hs_site_sum *s = &R.sum[i];
		s->calls = s->bytes = s->temporary = 0;
		s->live = s->at_peak = 0;
	}
	uint32_t ep = atomic_load(&hs_site_epoch);
	add_table(R.ended, R.ended_cap < n ? R.ended_cap : n, full, ep);
	for (struct hs_site_tls *t = R.threads; t; t = t->next)
		add_table(t->tab, t->cap < n ? t->cap : n, full, ep);
	for (uint32_t i = 0; i < n; i++)
		fn(i, &R.sum[i], ctx);
	hs_spin_unlock(&R.lock);
	return n != 0;
}

void hs_sites_set_written(const uint32_t *id, const int64_t *live, size_t n)
{
	hs_spin_lock(&R.lock);
	for (size_t i = 0; i < n; i++)
		if (id[i] < R.sum_cap)
			R.sum[id[i]].written = live[i];
	hs_spin_unlock(&R.lock);
}

void hs_sites_forget_written(void)
{
	hs_spin_lock(&R.lock);
	for (uint32_t i = 0; i < R.sum_cap; i++)
		R.sum[i].written = 0;
	hs_spin_unlock(&R.lock);
}
