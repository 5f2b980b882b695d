/*
 * trace_sites.c — the heap profile's lines (docs/TRACE-FORMAT.md, "The
 * heap profile"): `U` live bytes of sites over time, `K` the peak, `Q` a
 * site's totals, `O` the first allocation failure and its `o` lines.
 * Checked like every other line: numbers in range, pairs complete, one
 * `K` and one `O`, `o` only after `O`.
 */
#include "trace_parse.h"
#include "util.h"

#include <string.h>

/* The pairs "stack live" from field `from` on, each pushed with time t. */
static int pairs(struct hs_rd *rd, unsigned from, uint64_t t, struct hs_tusage **v,
                 size_t *n, size_t *cap)
{
	if (rd->nf <= from || (rd->nf - from) % 2)
		return hs_rd_fail(rd, "%s line: %u field%s after the first %u: expected "
		                  "pairs of a stack id and live bytes", rd->tag, rd->nf - from,
		                  rd->nf - from == 1 ? "" : "s", from);
	for (unsigned i = from; i < rd->nf; i += 2) {
		struct hs_tusage u = { .t_ms = t };
		if (hs_rd_stack_id(rd, i, "stack id", &u.stack) < 0
		    || hs_rd_dec(rd, i + 1, "live bytes", UINT64_MAX, &u.live) < 0)
			return -1;
		*HS_PUSH(*v, *n, *cap) = u;
	}
	return 0;
}

int hs_rd_usage(struct hs_rd *rd)
{
	struct hs_trace *tr = rd->tr;
	uint64_t t;
	if (rd->nf < 1 || hs_rd_dec(rd, 0, "t_ms", UINT64_MAX, &t) < 0)
		return rd->nf < 1 ? hs_rd_fail(rd, "U line: no fields") : -1;
	return pairs(rd, 1, t, &tr->usage, &tr->nusage, &tr->cap_usage);
}

int hs_rd_peak(struct hs_rd *rd)
{
	struct hs_trace *tr = rd->tr;
	if (tr->have_peak)
		return hs_rd_fail(rd, "second K line");
	if (hs_rd_dec(rd, 0, "t_ms", UINT64_MAX, &tr->peak_t_ms) < 0
	    || hs_rd_dec(rd, 1, "live bytes", UINT64_MAX, &tr->peak_live) < 0)
		return -1;
	tr->have_peak = true;
	return 0;
}

int hs_rd_site(struct hs_rd *rd)
{
	struct hs_tsite s;
	if (hs_rd_stack_id(rd, 0, "stack id", &s.stack) < 0
	    || hs_rd_dec(rd, 1, "calls", UINT64_MAX, &s.calls) < 0
	    || hs_rd_dec(rd, 2, "bytes", UINT64_MAX, &s.bytes) < 0
	    || hs_rd_dec(rd, 3, "temporary", UINT64_MAX, &s.temporary) < 0
	    || hs_rd_dec(rd, 4, "peak live bytes", UINT64_MAX, &s.peak_live) < 0
	    || hs_rd_dec(rd, 5, "exit live bytes", UINT64_MAX, &s.exit_live) < 0)
		return -1;
	if (s.temporary > s.calls)
		return hs_rd_fail(rd, "Q line: %llu temporary allocations of %llu calls",
		                  (unsigned long long)s.temporary, (unsigned long long)s.calls);
	*HS_PUSH(rd->tr->sites, rd->tr->nsites, rd->tr->cap_sites) = s;
	return 0;
}

int hs_rd_oom(struct hs_rd *rd)
{
	struct hs_toom *o = &rd->tr->oom;
	const struct hs_field *how = &rd->f[0];
	if (o->have)
		return hs_rd_fail(rd, "second O line");
	if (how->len == 5 && !memcmp(how->p, "limit", 5))
		o->limit = true;
	else if (!(how->len == 4 && !memcmp(how->p, "real", 4)))
		return hs_rd_fail(rd, "O line: field 1 (how) is neither 'real' nor 'limit'");
	if (hs_rd_dec(rd, 1, "t_ms", UINT64_MAX, &o->t_ms) < 0
	    || hs_rd_dec(rd, 2, "live bytes", UINT64_MAX, &o->live) < 0
	    || hs_rd_dec(rd, 3, "size", UINT64_MAX, &o->size) < 0
	    || hs_rd_stack_id(rd, 4, "stack id", &o->stack) < 0)
		return -1;
	o->have = true;
	return 0;
}

int hs_rd_oom_sites(struct hs_rd *rd)
{
	struct hs_toom *o = &rd->tr->oom;
	if (!o->have)
		return hs_rd_fail(rd, "o line before the O line");
	return pairs(rd, 0, o->t_ms, &o->sites, &o->nsites, &o->cap_sites);
}
