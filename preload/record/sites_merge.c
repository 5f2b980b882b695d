/*
 * sites_merge.c — adding up the per-site counters for the sampler: every
 * registered thread's table and the ended threads', under the registry
 * lock, one site at a time, and what the `U` lines last said of each site
 * (an array that grows with the tables: sites.h says why not from the
 * samples).
 */
#include <string.h>

#include "sites_int.h"

#define R hs_sites_R

/* Room for cap sites' written values. Caller holds the lock. */
void hs_sites_fit_sum(uint32_t cap)
{
	if (cap)
		hs_sites_grow((void **)&R.written, &R.written_cap, &R.written_len, cap - 1,
		              sizeof *R.written);
}

/* Add entry id of table t (cap entries) to s. */
static void add(struct hs_site_sum *s, const struct hs_site_ctr *t, uint32_t cap, uint32_t id,
                bool full, uint32_t ep)
{
	if (id >= cap)
		return;
	const volatile struct hs_site_ctr *e = &t[id];
	int64_t live = e->live;
	s->live += live;
	if (full) {
		s->calls += e->calls;
		s->bytes += e->bytes;
		s->temporary += e->temporary;
		s->at_peak += hs_sites_at_peak(e, ep);
	}
}

/* One site at a time, summed over the tables as it goes: no array of sums
 * (a million sites would need 40 MB more of it). */
bool hs_sites_merge(bool full, void (*fn)(uint32_t id, const struct hs_site_sum *s,
                                           void *ctx), void *ctx)
{
	if (hs_spin_mine(&R.lock))
		return false;
	hs_spin_lock(&R.lock);
	uint32_t n = R.ended_cap;
	for (struct hs_site_tls *t = R.threads; t; t = t->next)
		n = t->cap > n ? t->cap : n;
	/* tables are sized to powers of two: up to twice the ids there are */
	if (n > hs_stack_count() + 1)
		n = hs_stack_count() + 1;
	if (n > R.written_cap)             /* its growth failed: the rest waits */
		n = R.written_cap;
	uint32_t ep = atomic_load(&hs_site_epoch);
	for (uint32_t i = 0; i < n; i++) {
		struct hs_site_sum s = { .written = R.written[i] };
		add(&s, R.ended, R.ended_cap, i, full, ep);
		for (struct hs_site_tls *t = R.threads; t; t = t->next)
			add(&s, t->tab, t->cap, i, full, ep);
		fn(i, &s, ctx);
	}
	hs_spin_unlock(&R.lock);
	return n != 0;
}

void hs_sites_set_written(const uint32_t *id, const int64_t *live, size_t n)
{
	hs_spin_lock(&R.lock);
	for (size_t i = 0; i < n; i++)
		if (id[i] < R.written_cap)
			R.written[id[i]] = live[i];
	hs_spin_unlock(&R.lock);
}

void hs_sites_forget_written(void)
{
	hs_spin_lock(&R.lock);
	if (R.written)
		memset(R.written, 0, (size_t)R.written_cap * sizeof *R.written);
	hs_spin_unlock(&R.lock);
}
