/*
 * fuzz_trace.c — libFuzzer harness for the trace reader (trace_read.c,
 * trace_lines.c, heapsnap.c). The reader only takes a FILE*, so the input
 * is handed over through fmemopen(); after the read every query the
 * reports make of the model is asked once, because a model that reads
 * fine but holds an out-of-range index is as bad as a crash in the reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;   /* fmemopen refuses a zero-sized buffer */
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	struct hs_trace tr;
	memset(&tr, 0, sizeof tr);
	hs_trace_read_stream(f, "fuzz", &tr);
	fclose(f);
	hs_trace_resolve(&tr);

	/* Walk every stack reference the records hold. */
	for (size_t i = 0; i < tr.nleaks; i++) {
		const struct hs_tstack *s = hs_trace_stack(&tr, tr.leaks[i].stack);
		if (s && s->n)
			(void)tr.ips[s->first + s->n - 1];
	}
	for (size_t i = 0; i < tr.nerrors; i++) {
		(void)hs_trace_stack(&tr, tr.errors[i].stack);
		(void)hs_trace_stack(&tr, tr.errors[i].alloc_stack);
		(void)hs_trace_stack(&tr, tr.errors[i].free_stack);
	}
	/* And every heap snapshot: free counts and a lookup per arena. */
	for (size_t i = 0; i < tr.snaps.n; i++) {
		const struct hs_snap *s = &tr.snaps.v[i];
		uint64_t nr_free[HS_SNAP_ORDERS], freep, dirtyp;
		hs_snap_free_counts(s, nr_free, &freep, &dirtyp);
		for (size_t a = 0; a < s->narenas; a++) {
			/* The block returned must be one of the arena's and hold
			 * the page asked about (reads it, so ASan sees a bad one). */
			const struct hs_sarena *ar = NULL;
			const struct hs_sblock *b =
				hs_snap_block_at(s, s->arenas[a].base + HS_SNAP_PAGE * 3 + 8, &ar);
			if (b && (b < s->blocks + ar->first || b >= s->blocks + ar->first + ar->n
			          || b->first > 3 || b->first + b->npages <= 3))
				abort();
			(void)hs_snap_block_at(s, s->arenas[a].base - 1, &ar);
		}
	}
	(void)hs_snaps_find(&tr.snaps, "exit");
	hs_trace_free(&tr);
	return 0;
}
