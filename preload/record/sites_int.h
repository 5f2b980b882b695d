/*
 * sites_int.h — private to sites.c and sites_merge.c: the registry of
 * thread tables, the ended threads' table, the merge's array, the peak.
 */
#ifndef HS_SITES_INT_H
#define HS_SITES_INT_H

#include <pthread.h>

#include "sites.h"
#include "trace.h"

struct hs_sites_registry {
	struct hs_spin lock;
	struct hs_site_tls *threads;    /* registered tables of live threads  */
	struct hs_site_ctr *ended;      /* counts of threads that ended       */
	uint32_t ended_cap;
	size_t   ended_len;
	int64_t *written;               /* per site: what its last `U` said    */
	uint32_t written_cap;
	size_t   written_len;
	_Atomic bool ready;             /* hs_sites_init ran: counting is on   */
	_Atomic int64_t peak;           /* live bytes at the highest peak seen */
	_Atomic uint64_t peak_ns;       /* when (CLOCK_MONOTONIC_COARSE)       */
};
extern struct hs_sites_registry hs_sites_R;

/* Grow an array of *cap elements of el bytes (a fresh mapping, the old
 * one copied and unmapped) to hold index id. Under the registry lock. */
bool hs_sites_grow(void **arr, uint32_t *cap, size_t *len, uint32_t id, size_t el);
/* Room for cap sites' written values (sites_merge.c). Under the lock. */
void hs_sites_fit_sum(uint32_t cap);

/* An entry's live bytes at the current peak (sites.h). */
static inline int64_t hs_sites_at_peak(const volatile struct hs_site_ctr *e, uint32_t ep)
{
	return e->epoch == ep ? e->at_peak : e->live;
}

#endif
