/*
 * trace_lines.c — the meaning of each trace line (docs/TRACE-FORMAT.md).
 *
 * One parser per tag. trace_read.c has already checked the field count;
 * here every field is converted with a range check, and the ordering
 * rules that the reader depends on are enforced: the header first, `P`
 * second, one `C`, one final `X`. An `X exec` may be followed by more
 * lines and a later `X`: when execve fails the process carries on.
 */
#include "trace_parse.h"
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODULES 65536

static int bad(struct hs_rd *rd, unsigned i, const char *what, const char *why)
{
	char q[48];
	return hs_rd_fail(rd, "%s line: field %u (%s): '%s' %s", rd->tag, i + 1,
	                  what, hs_rd_quote(&rd->f[i], q), why);
}

static int dec(struct hs_rd *rd, unsigned i, const char *what, uint64_t max,
               uint64_t *out)
{
	const struct hs_field *f = &rd->f[i];
	uint64_t v = 0;
	if (f->len > 20)
		return bad(rd, i, what, "is too long for a number");
	for (size_t k = 0; k < f->len; k++) {
		unsigned d = (unsigned char)f->p[k] - '0';
		if (d > 9)
			return bad(rd, i, what, "is not a decimal number");
		if (v > (UINT64_MAX - d) / 10)
			return bad(rd, i, what, "is out of range");
		v = v * 10 + d;
	}
	if (v > max) {
		char why[64];
		snprintf(why, sizeof why, "is out of range (at most %llu)",
		         (unsigned long long)max);
		return bad(rd, i, what, why);
	}
	*out = v;
	return 0;
}

static int hex(struct hs_rd *rd, unsigned i, const char *what, uint64_t *out)
{
	const struct hs_field *f = &rd->f[i];
	uint64_t v = 0;
	if (f->len > 16)
		return bad(rd, i, what, "has more than 16 hexadecimal digits");
	for (size_t k = 0; k < f->len; k++) {
		char c = f->p[k];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return bad(rd, i, what, "is not a hexadecimal number");
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static int word(struct hs_rd *rd, unsigned i, const char *what,
                const char *const *names, unsigned n, unsigned *out)
{
	const struct hs_field *f = &rd->f[i];
	for (unsigned k = 0; k < n; k++)
		if (strlen(names[k]) == f->len && memcmp(names[k], f->p, f->len) == 0) {
			*out = k;
			return 0;
		}
	return bad(rd, i, what, "is not a known value");
}

static int stack_id(struct hs_rd *rd, unsigned i, const char *what, uint32_t *out)
{
	uint64_t v;
	if (dec(rd, i, what, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static char *rest_dup(const struct hs_rd *rd)
{
	return hs_xstrndup(rd->rest ? rd->rest : "", rd->rest ? rd->rest_len : 0);
}

/* ---- one parser per tag ----------------------------------------------- */

static int p_header(struct hs_rd *rd)
{
	uint64_t v;
	if (rd->lineno != 1)
		return hs_rd_fail(rd, "HEAPSCOPE-TRACE line repeated");
	if (dec(rd, 0, "version", UINT32_MAX, &v) < 0)
		return -1;
	if (v < 1 || v > HS_TRACE_VERSION)
		return hs_rd_fail(rd, "trace version %llu is not supported (this "
		                  "heapscope reads versions 1 to %d)",
		                  (unsigned long long)v, HS_TRACE_VERSION);
	return 0;
}

static int p_process(struct hs_rd *rd)
{
	struct hs_trace *tr = rd->tr;
	uint64_t pid, ppid, t;
	if (tr->have_process)
		return hs_rd_fail(rd, "second P line");
	if (dec(rd, 0, "pid", INT_MAX, &pid) < 0 || dec(rd, 1, "ppid", INT_MAX, &ppid) < 0
	    || dec(rd, 2, "start time", UINT64_MAX, &t) < 0)
		return -1;
	tr->pid = (long)pid;
	tr->ppid = (long)ppid;
	tr->start_time = t;
	tr->exe = rest_dup(rd);
	tr->have_process = true;
	return 0;
}

static int p_argv(struct hs_rd *rd)
{
	if (rd->tr->argv)
		return hs_rd_fail(rd, "second a line");
	rd->tr->argv = rest_dup(rd);
	return 0;
}

static int p_module(struct hs_rd *rd)
{
	struct hs_trace *tr = rd->tr;
	struct hs_tmodule m = { 0 };
	uint64_t id;
	if (tr->nmodules >= MAX_MODULES)
		return hs_rd_fail(rd, "more than %d modules", MAX_MODULES);
	if (dec(rd, 0, "module id", UINT32_MAX, &id) < 0
	    || hex(rd, 1, "load bias", &m.bias) < 0 || hex(rd, 2, "start", &m.start) < 0
	    || hex(rd, 3, "end", &m.end) < 0)
		return -1;
	if (m.start >= m.end)
		return hs_rd_fail(rd, "M line: start %llx is not below end %llx",
		                  (unsigned long long)m.start, (unsigned long long)m.end);
	const struct hs_field *b = &rd->f[4];
	if (!(b->len == 1 && b->p[0] == '-')) {
		if (b->len % 2 || b->len > 2 * HS_TRACE_MAX_BUILDID)
			return bad(rd, 4, "build-id", "is not an even number of at most "
			           "128 hexadecimal digits");
		for (size_t k = 0; k < b->len; k++)
			if (!strchr("0123456789abcdefABCDEF", b->p[k]))
				return bad(rd, 4, "build-id", "is not hexadecimal (or '-')");
		m.build_id = hs_xstrndup(b->p, b->len);
		for (char *c = m.build_id; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
	}
	m.id = (uint32_t)id;
	m.path = rest_dup(rd);
	*HS_PUSH(tr->modules, tr->nmodules, tr->cap_modules) = m;
	return 0;
}

static int p_stack(struct hs_rd *rd)
{
	struct hs_trace *tr = rd->tr;
	uint64_t id, n;
	if (rd->nf < 2)
		return hs_rd_fail(rd, "S line: %u field%s, expected a stack id, a frame "
		                  "count and the frames", rd->nf, rd->nf == 1 ? "" : "s");
	if (dec(rd, 0, "stack id", UINT32_MAX, &id) < 0
	    || dec(rd, 1, "frame count", HS_TRACE_MAX_FRAMES, &n) < 0)
		return -1;
	if (id == 0)
		return hs_rd_fail(rd, "S line: stack id 0 is reserved for \"not recorded\"");
	if (rd->nf != 2 + n)
		return hs_rd_fail(rd, "S line: says %llu frames but has %u",
		                  (unsigned long long)n, rd->nf - 2);
	hs_grow((void **)&tr->ips, &tr->cap_ips, tr->nips + n, sizeof *tr->ips);
	for (unsigned i = 0; i < n; i++)
		if (hex(rd, 2 + i, "return address", &tr->ips[tr->nips + i]) < 0)
			return -1;
	struct hs_tstack *s = HS_PUSH(tr->stacks, tr->nstacks, tr->cap_stacks);
	s->id = (uint32_t)id;
	s->n = (uint32_t)n;
	s->first = tr->nips;
	s->nmodules = (uint32_t)tr->nmodules;
	s->line = (uint32_t)(rd->lineno > UINT32_MAX ? UINT32_MAX : rd->lineno);
	if (!hs_trace_index_stack(tr, tr->nstacks - 1)) {
		const struct hs_tstack *old = hs_trace_stack(tr, s->id);
		unsigned first = old->line;
		tr->nstacks--;
		return hs_rd_fail(rd, "S line: stack id %llu already defined on line %u",
		                  (unsigned long long)id, first);
	}
	tr->nips += n;
	return 0;
}

static int p_sample(struct hs_rd *rd)
{
	static const char *const names[9] = {
		"t_ms", "vmsize_kb", "vmrss_kb", "vmdata_kb", "live", "granted",
		"held", "allocs", "frees",
	};
	struct hs_tsample s;
	uint64_t *v[9] = { &s.t_ms, &s.vmsize_kb, &s.vmrss_kb, &s.vmdata_kb,
	                   &s.live, &s.granted, &s.held, &s.allocs, &s.frees };
	for (unsigned i = 0; i < 9; i++)
		if (dec(rd, i, names[i], UINT64_MAX, v[i]) < 0)
			return -1;
	for (unsigned k = 0; k < HS_TRACE_ORDERS; k++)
		if (dec(rd, 9 + k, "nr_free", UINT64_MAX, &s.nr_free[k]) < 0)
			return -1;
	*HS_PUSH(rd->tr->samples, rd->tr->nsamples, rd->tr->cap_samples) = s;
	return 0;
}

static int p_fault(struct hs_rd *rd)
{
	struct hs_tfault x;
	unsigned fn = 0;
	if (dec(rd, 0, "nth", UINT64_MAX, &x.nth) < 0
	    || word(rd, 1, "function", hs_alloc_fn_name, HS_NR_FNS, &fn) < 0
	    || dec(rd, 2, "size", UINT64_MAX, &x.size) < 0
	    || stack_id(rd, 3, "stack id", &x.stack) < 0)
		return -1;
	x.fn = (uint8_t)fn;
	/* then nothing, or "benign" (a failure in an hs_benign_begin region) */
	size_t n = rd->rest ? rd->rest_len : 0;
	x.benign = n == 6 && memcmp(rd->rest, "benign", 6) == 0;
	if (n && !x.benign)
		return hs_rd_fail(rd, "F line: after the stack id only 'benign' may follow");
	*HS_PUSH(rd->tr->faults, rd->tr->nfaults, rd->tr->cap_faults) = x;
	return 0;
}

static int p_error(struct hs_rd *rd)
{
	struct hs_terror e;
	unsigned kind = 0;
	if (word(rd, 0, "kind", hs_err_kind_name, HS_NR_ERR_KINDS, &kind) < 0
	    || hex(rd, 1, "address", &e.addr) < 0
	    || stack_id(rd, 2, "stack id", &e.stack) < 0
	    || stack_id(rd, 3, "alloc stack id", &e.alloc_stack) < 0
	    || stack_id(rd, 4, "free stack id", &e.free_stack) < 0)
		return -1;
	e.kind = (uint8_t)kind;
	e.detail = rest_dup(rd);
	*HS_PUSH(rd->tr->errors, rd->tr->nerrors, rd->tr->cap_errors) = e;
	return 0;
}

static const char *const leak_letters[HS_NR_LEAK_KINDS] = { "D", "I", "P", "R" };

/* `L` (version 1): one block. */
static int p_leak(struct hs_rd *rd)
{
	struct hs_tleak l = { .blocks = 1 };
	unsigned kind = 0;
	if (word(rd, 0, "kind", leak_letters, HS_NR_LEAK_KINDS, &kind) < 0
	    || hex(rd, 1, "address", &l.addr) < 0
	    || dec(rd, 2, "size", UINT64_MAX, &l.bytes) < 0
	    || stack_id(rd, 3, "stack id", &l.stack) < 0)
		return -1;
	l.kind = (uint8_t)kind;
	*HS_PUSH(rd->tr->leaks, rd->tr->nleaks, rd->tr->cap_leaks) = l;
	return 0;
}

/* `B` (version 2): the blocks of one kind and stack. */
static int p_blocks(struct hs_rd *rd)
{
	struct hs_tleak l = { .addr = 0 };
	unsigned kind = 0;
	if (word(rd, 0, "kind", leak_letters, HS_NR_LEAK_KINDS, &kind) < 0
	    || stack_id(rd, 1, "stack id", &l.stack) < 0
	    || dec(rd, 2, "blocks", UINT64_MAX, &l.blocks) < 0
	    || dec(rd, 3, "bytes", UINT64_MAX, &l.bytes) < 0)
		return -1;
	if (!l.blocks)
		return hs_rd_fail(rd, "B line: a group of 0 blocks");
	l.kind = (uint8_t)kind;
	*HS_PUSH(rd->tr->leaks, rd->tr->nleaks, rd->tr->cap_leaks) = l;
	return 0;
}

static int p_class(struct hs_rd *rd)
{
	struct hs_tclass c;
	uint64_t slot;
	if (dec(rd, 0, "slot", UINT32_MAX, &slot) < 0
	    || dec(rd, 1, "blocks", UINT64_MAX, &c.blocks) < 0
	    || dec(rd, 2, "bytes", UINT64_MAX, &c.bytes) < 0)
		return -1;
	c.slot = (uint32_t)slot;
	*HS_PUSH(rd->tr->classes, rd->tr->nclasses, rd->tr->cap_classes) = c;
	return 0;
}

static int p_lost_pages(struct hs_rd *rd)
{
	static const char *const kinds[2] = { "D", "P" };
	struct hs_tlostpages u;
	unsigned kind = 0;
	if (word(rd, 0, "kind", kinds, 2, &kind) < 0 || hex(rd, 1, "address", &u.addr) < 0
	    || dec(rd, 2, "pages", UINT32_MAX, &u.pages) < 0)
		return -1;
	if (u.addr % HS_SNAP_PAGE || !u.pages || u.addr + u.pages * HS_SNAP_PAGE < u.addr)
		return hs_rd_fail(rd, "V line: not a run of whole pages");
	u.kind = kind ? HS_LEAK_POSSIBLE : HS_LEAK_DEFINITE;
	*HS_PUSH(rd->tr->lost_pages, rd->tr->nlost_pages, rd->tr->cap_lost_pages) = u;
	return 0;
}

static int p_counters(struct hs_rd *rd)
{
	struct hs_trace *tr = rd->tr;
	if (tr->have_counters)
		return hs_rd_fail(rd, "second C line");
	if (dec(rd, 0, "allocs", UINT64_MAX, &tr->allocs) < 0
	    || dec(rd, 1, "frees", UINT64_MAX, &tr->frees) < 0
	    || dec(rd, 2, "peak_bytes", UINT64_MAX, &tr->peak_bytes) < 0
	    || dec(rd, 3, "live_bytes", UINT64_MAX, &tr->live_bytes) < 0
	    || dec(rd, 4, "live_blocks", UINT64_MAX, &tr->live_blocks) < 0)
		return -1;
	tr->have_counters = true;
	return 0;
}

/* Heap snapshots: the fields here, the cells in heapsnap.c. */
static int p_snapshot(struct hs_rd *rd)
{
	uint64_t t, live, version;
	char err[300];
	if (dec(rd, 1, "t_ms", UINT64_MAX, &t) < 0 || dec(rd, 2, "live", UINT64_MAX, &live) < 0
	    || dec(rd, 3, "cell version", UINT32_MAX, &version) < 0)
		return -1;
	rd->tr->snapshots++;
	if (hs_snaps_begin(&rd->tr->snaps, rd->f[0].p, rd->f[0].len, t, live, version,
	                   rd->rest, rd->rest_len, err, sizeof err) < 0)
		return hs_rd_fail(rd, "%s", err);
	return 0;
}

static int p_arena(struct hs_rd *rd)
{
	uint64_t idx, base;
	char err[300];
	if (dec(rd, 0, "arena index", UINT32_MAX, &idx) < 0 || hex(rd, 1, "arena base", &base) < 0)
		return -1;
	if (hs_snaps_arena(&rd->tr->snaps, idx, base, rd->rest, rd->rest_len, err,
	                   sizeof err) < 0)
		return hs_rd_fail(rd, "%s", err);
	return 0;
}

static int p_huge(struct hs_rd *rd)
{
	uint64_t addr, usable, req;
	char err[300];
	if (hex(rd, 0, "address", &addr) < 0 || dec(rd, 1, "usable bytes", UINT64_MAX, &usable) < 0
	    || dec(rd, 2, "requested bytes", UINT64_MAX, &req) < 0)
		return -1;
	if (hs_snaps_huge(&rd->tr->snaps, addr, usable, req, err, sizeof err) < 0)
		return hs_rd_fail(rd, "%s", err);
	return 0;
}

static int p_end(struct hs_rd *rd)
{
	static const char *const hows[3] = { "exit", "signal", "exec" };
	struct hs_trace *tr = rd->tr;
	unsigned how = 0;
	uint64_t v;
	if (tr->end == HS_END_EXIT || tr->end == HS_END_SIGNAL)
		return hs_rd_fail(rd, "second end record (the first is on line %llu)",
		                  (unsigned long long)rd->end_line);
	if (word(rd, 0, "how", hows, 3, &how) < 0)
		return -1;
	uint64_t max = how == 0 ? 255 : how == 1 ? 127 : INT_MAX;
	if (dec(rd, 1, "value", max, &v) < 0)
		return -1;
	if (how == 1 && v == 0)
		return hs_rd_fail(rd, "X line: signal 0 is not a signal");
	tr->end = how == 0 ? HS_END_EXIT : how == 1 ? HS_END_SIGNAL : HS_END_EXEC;
	tr->end_value = (int)v;
	rd->end_line = rd->lineno;
	return 0;
}

static int p_scan(struct hs_rd *rd)
{
	static const char *const results[3] = { "complete", "partial", "skipped" };
	struct hs_tscan *s = &rd->tr->scan;
	unsigned r = 0;
	if (s->result != HS_SCAN_NONE)
		return hs_rd_fail(rd, "second W line");
	if (word(rd, 0, "result", results, 3, &r) < 0
	    || dec(rd, 1, "threads", UINT32_MAX, &s->threads) < 0
	    || dec(rd, 2, "stopped", UINT32_MAX, &s->stopped) < 0
	    || dec(rd, 3, "idle", UINT32_MAX, &s->idle) < 0
	    || dec(rd, 4, "running", UINT32_MAX, &s->running) < 0)
		return -1;
	s->result = (enum hs_scan_result)(r + 1);
	s->detail = rest_dup(rd);
	return 0;
}

static int p_note(struct hs_rd *rd)
{
	*HS_PUSH(rd->tr->notes, rd->tr->nnotes, rd->tr->cap_notes) = rest_dup(rd);
	return 0;
}

static const struct hs_tag_spec specs[] = {
	{ "HEAPSCOPE-TRACE", HS_TAG_HEADER, 1, false, p_header },
	{ "P", HS_TAG_OTHER, 3, true, p_process },
	{ "a", HS_TAG_OTHER, 0, true, p_argv },
	{ "M", HS_TAG_OTHER, 5, true, p_module },
	{ "S", HS_TAG_OTHER, HS_NF_VARIABLE, false, p_stack },
	{ "T", HS_TAG_OTHER, 9 + HS_TRACE_ORDERS, false, p_sample },
	{ "F", HS_TAG_OTHER, 4, true, p_fault },
	{ "E", HS_TAG_OTHER, 5, true, p_error },
	{ "L", HS_TAG_OTHER, 4, false, p_leak },
	{ "B", HS_TAG_OTHER, 4, false, p_blocks },
	{ "Z", HS_TAG_OTHER, 3, false, p_class },
	{ "V", HS_TAG_OTHER, 3, false, p_lost_pages },
	{ "C", HS_TAG_OTHER, 5, false, p_counters },
	{ "H", HS_TAG_OTHER, 4, true, p_snapshot },
	{ "h", HS_TAG_OTHER, 2, true, p_arena },
	{ "g", HS_TAG_OTHER, 3, false, p_huge },
	{ "X", HS_TAG_OTHER, 2, false, p_end },
	{ "W", HS_TAG_OTHER, 5, true, p_scan },
	{ "!", HS_TAG_OTHER, 0, true, p_note },
	{ "U", HS_TAG_OTHER, HS_NF_VARIABLE, false, hs_rd_usage },
	{ "K", HS_TAG_OTHER, 2, false, hs_rd_peak },
	{ "Q", HS_TAG_OTHER, 6, false, hs_rd_site },
	{ "O", HS_TAG_OTHER, 5, false, hs_rd_oom },
	{ "o", HS_TAG_OTHER, HS_NF_VARIABLE, false, hs_rd_oom_sites },
};

int hs_rd_dec(struct hs_rd *rd, unsigned i, const char *what, uint64_t max, uint64_t *out)
{
	return dec(rd, i, what, max, out);
}

int hs_rd_stack_id(struct hs_rd *rd, unsigned i, const char *what, uint32_t *out)
{
	return stack_id(rd, i, what, out);
}

const struct hs_tag_spec *hs_tag_lookup(const char *tag, size_t len)
{
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
		if (strlen(specs[i].tag) == len && memcmp(specs[i].tag, tag, len) == 0)
			return &specs[i];
	return NULL;
}
