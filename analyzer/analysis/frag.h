/*
 * frag.h — fragmentation figures: where the bytes the process holds go.
 *
 *   internal   granted - requested: the 16-byte headers, rounding up to a
 *              slot size or to whole pages, and slots parked in thread
 *              caches. Per bin from the exit snapshot joined with the `L`
 *              lines (every block live at exit, with its size).
 *   external   free buddy blocks per order (as /proc/buddyinfo), the
 *              largest free block, and the kernel's unusable free space
 *              index per order (Mel Gorman; Linux's
 *              /sys/kernel/debug/extfrag/unusable_index):
 *                  F_j = ( TotalFree - sum_{i >= j} 2^i k_i ) / TotalFree
 *              k_i: free blocks of order i, TotalFree = sum_i 2^i k_i
 *              pages. F_j is the share of free memory that cannot serve a
 *              request of order j; 0 = none wasted, 1 = all; 1 when
 *              nothing is free (the kernel's convention: nothing can be
 *              served).
 *   slab fill  used / capacity slots per size class.
 *   efficiency live requested bytes / bytes held from the system.
 * At exit (last sample) and over time (every sample).
 */
#ifndef HS_FRAG_H
#define HS_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/heapsnap.h"
#include "trace/trace_read.h"

#define HS_HEADER_BYTES 16

/* ---- the formulas, on plain buddy states ------------------------------ */
uint64_t hs_free_pages(const uint64_t nr_free[HS_SNAP_ORDERS]);
/* -1 when nothing is free. */
int      hs_largest_free_order(const uint64_t nr_free[HS_SNAP_ORDERS]);
double   hs_unusable_index(const uint64_t nr_free[HS_SNAP_ORDERS], int order);

/* ---- per size class, from a snapshot (and the leak records) ----------- */
struct hs_bin_frag {
	uint32_t slot;              /* bytes per slot, header included        */
	uint64_t slabs, pages;
	uint64_t capacity, used;    /* slots                                  */
	double   fill;              /* used / capacity                        */
	bool     have_live;         /* the L lines were joined                */
	uint64_t live_blocks, live_bytes;  /* requested, from L lines          */
	uint64_t internal_bytes;    /* used * slot - live_bytes               */
};

struct hs_point {               /* one sample, over time                  */
	uint64_t t_ms;
	uint64_t live, granted, held, internal_bytes, free_pages;
	double   heap_efficiency;   /* NaN without held bytes                 */
	int      largest_free_order;
	double   unusable[HS_SNAP_ORDERS];
};

struct hs_frag {
	bool     have_sample;       /* the figures below come from the last T */
	uint64_t t_ms;
	uint64_t nr_free[HS_SNAP_ORDERS];
	uint64_t free_pages;
	int      largest_free_order;
	double   unusable[HS_SNAP_ORDERS];
	uint64_t live, granted, held;
	uint64_t internal_bytes;    /* granted - live                         */
	bool     have_blocks;
	uint64_t live_blocks;       /* C line, else allocs - frees            */
	uint64_t header_bytes;      /* 16 per live block                      */
	double   heap_efficiency;   /* live / held; NaN without held          */

	const struct hs_snap *snap; /* the exit snapshot, or NULL             */
	uint64_t snap_dirty_pages;  /* free but possibly resident             */
	struct hs_bin_frag *bins;   /* by slot size, from snap                */
	size_t   nbins;
	uint64_t large_blocks, large_pages, large_live_bytes;
	bool     have_large_live;
	uint64_t huge_blocks, huge_usable, huge_requested;

	struct hs_point *series;    /* every sample                           */
	size_t   nseries;
};

void hs_frag_compute(struct hs_frag *f, const struct hs_trace *tr);
void hs_frag_free(struct hs_frag *f);
/* One sample's figures. */
void hs_frag_point(const struct hs_tsample *s, struct hs_point *p);

#endif
