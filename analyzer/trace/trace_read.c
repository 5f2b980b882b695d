/*
 * trace_read.c — reads a trace line by line into struct hs_trace.
 *
 * How: the file is read in large chunks; each complete line is split at
 * single spaces into at most the number of fields its tag allows (a *rest*
 * field keeps its spaces) and handed to the parser for its tag
 * (trace_lines.c). A line longer than HS_TRACE_MAX_LINE, a last line with
 * no newline, a NUL byte, an empty field, or a known tag with the wrong
 * number of fields stops the read. Unknown tags are skipped, as the format
 * promises newer writers.
 */
#include "trace_read.h"
#include "trace_parse.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const hs_leak_kind_json[HS_NR_LEAK_KINDS] = {
	"definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable",
};
const char *const hs_leak_kind_word[HS_NR_LEAK_KINDS] = {
	"definite", "indirect", "possible", "reachable",
};

int hs_leak_kinds_parse(const char *list, unsigned *mask, char *bad, size_t badcap)
{
	char tmp[256];
	*mask = 0;
	if (strlen(list) >= sizeof tmp) {
		snprintf(bad, badcap, "%.40s...", list);
		return -1;
	}
	strcpy(tmp, list);
	for (char *save = NULL, *w = strtok_r(tmp, ", \t", &save); w;
	     w = strtok_r(NULL, ", \t", &save)) {
		unsigned k;
		if (strcmp(w, "all") == 0) {
			*mask = (1u << HS_NR_LEAK_KINDS) - 1;
			continue;
		}
		if (strcmp(w, "none") == 0)
			continue;
		for (k = 0; k < HS_NR_LEAK_KINDS; k++)
			if (strcmp(w, hs_leak_kind_word[k]) == 0)
				break;
		if (k == HS_NR_LEAK_KINDS) {
			snprintf(bad, badcap, "%s", w);
			return -1;
		}
		*mask |= 1u << k;
	}
	return 0;
}
const char *const hs_err_kind_name[HS_NR_ERR_KINDS] = {
	"invalid_free", "double_free", "realloc_freed", "mismatched_free",
	"heap_overflow", "write_after_free",
};
const char *const hs_alloc_fn_name[HS_NR_FNS] = {
	"malloc", "calloc", "realloc", "aligned", "new", "new[]",
};

int hs_rd_fail(struct hs_rd *rd, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(rd->tr->error, sizeof rd->tr->error, "%s: byte %llu: line %llu: %s",
	         rd->tr->file, (unsigned long long)rd->off,
	         (unsigned long long)rd->lineno, what);
	return -1;
}

/* A field quoted for a message: at most 40 bytes, non-printables as '?'. */
const char *hs_rd_quote(const struct hs_field *f, char buf[48])
{
	size_t n = f->len < 40 ? f->len : 40, i;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f->p[i];
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (f->len > n)
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = 0;
	return buf;
}

/* Split the line after the tag. With rest, at most nfixed fields are cut
 * and the remainder (possibly empty) is the rest; without it, every space
 * separates and the count is checked by the caller. */
static int split(struct hs_rd *rd, const char *s, size_t len, unsigned nfixed,
                 bool rest)
{
	const char *end = s + len;
	rd->nf = 0;
	rd->rest = NULL;
	rd->rest_len = 0;
	while (s < end) {
		if (rest && rd->nf == nfixed) {
			rd->rest = s;
			rd->rest_len = (size_t)(end - s);
			return 0;
		}
		if (rd->nf == HS_RD_MAX_FIELDS)
			return hs_rd_fail(rd, "%s line: more than %u fields",
			                  rd->tag, HS_RD_MAX_FIELDS);
		const char *sp = memchr(s, ' ', (size_t)(end - s));
		const char *fe = sp ? sp : end;
		if (fe == s)
			return hs_rd_fail(rd, "%s line: empty field %u (two spaces, "
			                  "or a space at the start or end)",
			                  rd->tag, rd->nf + 1);
		rd->f[rd->nf].p = s;
		rd->f[rd->nf].len = (size_t)(fe - s);
		rd->nf++;
		if (!sp)
			break;
		s = sp + 1;
		if (s == end && !(rest && rd->nf == nfixed))
			return hs_rd_fail(rd, "%s line: space at the end of the line",
			                  rd->tag);
	}
	if (rest && rd->nf == nfixed && !rd->rest)
		rd->rest = end;               /* rest present but empty          */
	return 0;
}

static int do_line(struct hs_rd *rd, const char *line, size_t len)
{
	if (memchr(line, 0, len))
		return hs_rd_fail(rd, "NUL byte inside the line");
	if (len == 0)
		return hs_rd_fail(rd, "empty line");
	const char *sp = memchr(line, ' ', len);
	size_t taglen = sp ? (size_t)(sp - line) : len;
	if (taglen == 0)
		return hs_rd_fail(rd, "line starts with a space");
	if (taglen >= sizeof rd->tag)
		taglen = sizeof rd->tag - 1;
	memcpy(rd->tag, line, taglen);
	rd->tag[taglen] = 0;

	const struct hs_tag_spec *spec = hs_tag_lookup(line, sp ? (size_t)(sp - line) : len);
	if (rd->lineno == 1 && (!spec || spec->kind != HS_TAG_HEADER))
		return hs_rd_fail(rd, "not a heapscope trace: the first line must be "
		                  "'HEAPSCOPE-TRACE %d'", HS_TRACE_VERSION);
	if (rd->lineno == 2 && (!spec || strcmp(spec->tag, "P") != 0))
		return hs_rd_fail(rd, "the second line must be the P (process) line");
	if (!spec)
		return 0;                     /* a newer writer's record: skip   */
	const char *args = sp ? sp + 1 : line + len;
	size_t alen = (size_t)(line + len - args);
	if (sp && alen == 0 && !spec->rest)
		return hs_rd_fail(rd, "%s line: space at the end of the line", rd->tag);
	if (split(rd, args, alen, spec->nfixed, spec->rest) < 0)
		return -1;
	if (spec->nfixed != HS_NF_VARIABLE && rd->nf != spec->nfixed)
		return hs_rd_fail(rd, "%s line: %u field%s, expected %u%s", rd->tag,
		                  rd->nf, rd->nf == 1 ? "" : "s", spec->nfixed,
		                  spec->rest ? " and the rest of the line" : "");
	return spec->parse(rd);
}

int hs_trace_read_stream(FILE *f, const char *name, struct hs_trace *tr)
{
	memset(tr, 0, sizeof *tr);
	tr->file = hs_xstrdup(name);
	struct hs_rd rd = { .tr = tr };
	/* The window grows to room for the longest line plus a generous
	 * chunk, so that most reads fill it and few lines are moved; it
	 * starts small because most traces are small (a fixed 5 MiB per
	 * read made each fuzz input cost ~2 ms under ASan). */
	const size_t cap_max = HS_TRACE_MAX_LINE + 1 + (4u << 20);
	size_t cap = 64u << 10;
	char *buf = hs_xmalloc(cap);
	size_t beg = 0, end = 0;
	uint64_t base = 0;                     /* file offset of buf[0]     */
	bool eof = false;
	int rc = 0;

	for (;;) {
		char *nl = memchr(buf + beg, '\n', end - beg);
		if (!nl) {
			rd.off = base + beg;
			rd.lineno = tr->lines + 1;
			if (end - beg > HS_TRACE_MAX_LINE) {
				rc = hs_rd_fail(&rd, "line longer than %u bytes",
				                HS_TRACE_MAX_LINE);
				break;
			}
			if (eof) {
				if (end > beg)
					rc = hs_rd_fail(&rd, "the last line is cut off (no "
					                "newline): the trace was truncated");
				else if (tr->lines == 0)
					rc = hs_rd_fail(&rd, "empty file, not a heapscope trace");
				break;
			}
			memmove(buf, buf + beg, end - beg);
			base += beg;
			end -= beg;
			beg = 0;
			/* Full and no newline: the line is longer than the window
			 * but, by the check above, not than HS_TRACE_MAX_LINE, so
			 * cap < cap_max here and the window can grow. */
			if (end == cap) {
				cap = cap * 2 < cap_max ? cap * 2 : cap_max;
				buf = hs_xrealloc(buf, cap);
			}
			size_t got = fread(buf + end, 1, cap - end, f);
			if (got == 0) {
				if (ferror(f)) {
					rc = hs_rd_fail(&rd, "read error: %s", strerror(errno));
					break;
				}
				eof = true;
			}
			end += got;
			continue;
		}
		rd.off = base + beg;
		rd.lineno = tr->lines + 1;
		if ((size_t)(nl - (buf + beg)) > HS_TRACE_MAX_LINE) {
			rc = hs_rd_fail(&rd, "line longer than %u bytes", HS_TRACE_MAX_LINE);
			break;
		}
		if (do_line(&rd, buf + beg, (size_t)(nl - (buf + beg))) < 0) {
			rc = -1;
			break;
		}
		tr->lines++;
		beg = (size_t)(nl + 1 - buf);
		tr->bytes = base + beg;
	}
	free(buf);
	hs_trace_resolve(tr);
	hs_snaps_finish(&tr->snaps);
	return rc;
}

int hs_trace_read(const char *path, struct hs_trace *tr)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		memset(tr, 0, sizeof *tr);
		tr->file = hs_xstrdup(path);
		snprintf(tr->error, sizeof tr->error, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = hs_trace_read_stream(f, path, tr);
	fclose(f);
	return rc;
}

void hs_trace_free(struct hs_trace *tr)
{
	for (size_t i = 0; i < tr->nmodules; i++) {
		free(tr->modules[i].build_id);
		free(tr->modules[i].path);
	}
	for (size_t i = 0; i < tr->nerrors; i++)
		free(tr->errors[i].detail);
	for (size_t i = 0; i < tr->nnotes; i++)
		free(tr->notes[i]);
	free(tr->modules); free(tr->stacks); free(tr->ips); free(tr->samples);
	free(tr->faults); free(tr->errors); free(tr->leaks); free(tr->notes);
	free(tr->classes); free(tr->lost_pages);
	free(tr->usage); free(tr->sites); free(tr->oom.sites);
	free(tr->stack_slots);
	free(tr->exe); free(tr->argv); free(tr->file); free(tr->scan.detail);
	hs_snaps_free(&tr->snaps);
	memset(tr, 0, sizeof *tr);
}

/* ---- stack id index ---------------------------------------------------- */

const struct hs_tstack *hs_trace_stack(const struct hs_trace *tr, uint32_t id)
{
	if (id == 0 || !tr->stack_slot_cap)
		return NULL;
	size_t mask = tr->stack_slot_cap - 1;
	for (size_t j = hs_hash64(id) & mask; tr->stack_slots[j]; j = (j + 1) & mask) {
		const struct hs_tstack *s = &tr->stacks[tr->stack_slots[j] - 1];
		if (s->id == id)
			return s;
	}
	return NULL;
}

/* Index stacks[idx]; false if its id is already there. */
bool hs_trace_index_stack(struct hs_trace *tr, size_t idx)
{
	if ((tr->nstacks + 1) * 2 > tr->stack_slot_cap) {
		size_t ncap = tr->stack_slot_cap ? tr->stack_slot_cap * 2 : 1024;
		uint32_t *ns = hs_xcalloc(ncap, sizeof *ns);
		for (size_t i = 0; i < tr->stack_slot_cap; i++) {
			uint32_t v = tr->stack_slots[i];
			if (!v)
				continue;
			size_t j = hs_hash64(tr->stacks[v - 1].id) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = v;
		}
		free(tr->stack_slots);
		tr->stack_slots = ns;
		tr->stack_slot_cap = ncap;
	}
	size_t mask = tr->stack_slot_cap - 1;
	uint32_t id = tr->stacks[idx].id;
	size_t j = hs_hash64(id) & mask;
	for (; tr->stack_slots[j]; j = (j + 1) & mask)
		if (tr->stacks[tr->stack_slots[j] - 1].id == id)
			return false;
	tr->stack_slots[j] = (uint32_t)(idx + 1);
	return true;
}

static void ref(struct hs_trace *tr, uint32_t id)
{
	if (id && !hs_trace_stack(tr, id))
		tr->undefined_refs++;
}

void hs_trace_resolve(struct hs_trace *tr)
{
	tr->undefined_refs = 0;
	for (size_t i = 0; i < tr->nleaks; i++)
		ref(tr, tr->leaks[i].stack);
	for (size_t i = 0; i < tr->nfaults; i++)
		ref(tr, tr->faults[i].stack);
	for (size_t i = 0; i < tr->nsites; i++)
		ref(tr, tr->sites[i].stack);
	if (tr->oom.have)
		ref(tr, tr->oom.stack);
	for (size_t i = 0; i < tr->nerrors; i++) {
		ref(tr, tr->errors[i].stack);
		ref(tr, tr->errors[i].alloc_stack);
		ref(tr, tr->errors[i].free_stack);
	}
}
