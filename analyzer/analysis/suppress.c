/*
 * suppress.c — reads suppression files (formats in suppress.h).
 *
 * The format of a file is decided by its first meaningful line: '{'
 * starts a valgrind file, anything else must be a LeakSanitizer
 * "type:pattern" line. Lines are trimmed; blank lines and lines starting
 * with '#' are skipped in both. The first problem stops the read with
 * "FILE:LINE: what is wrong".
 */
#include "suppress_int.h"
#include "trace/trace_read.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (16u << 20)

struct parser {
	struct hs_supps *s;
	const char *name;
	unsigned lineno;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, unsigned line, const char *fmt, ...)
{
	char what[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->name, line, what);
	return -1;
}

struct hs_supps *hs_supps_new(void)
{
	return hs_xcalloc(1, sizeof(struct hs_supps));
}

static void supp_clear(struct hs_supp *sp)
{
	for (size_t i = 0; i < sp->nframes; i++)
		free(sp->frames[i].glob);
	free(sp->frames);
	free(sp->name);
	free(sp->file);
	free(sp->pattern);
}

void hs_supps_free(struct hs_supps *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		supp_clear(&s->v[i]);
	free(s->v);
	free(s);
}

size_t hs_supps_count(const struct hs_supps *s) { return s ? s->n : 0; }

void hs_supps_add_unrecorded(struct hs_supps *s, const char *name, unsigned kinds)
{
	struct hs_supp *sp = HS_PUSH(s->v, s->n, s->cap);
	memset(sp, 0, sizeof *sp);
	sp->name = hs_xstrdup(name);
	sp->file = hs_xstrdup("(built in)");
	sp->leak_kinds = kinds;
	sp->unrecorded = true;
}

const char *hs_supp_name(const struct hs_supp *sp) { return sp->name; }
const char *hs_supp_file(const struct hs_supp *sp) { return sp->file; }
unsigned hs_supp_line(const struct hs_supp *sp) { return sp->line; }

/* ---- line cursor --------------------------------------------------------- */
struct cursor {
	const char *p, *end;
};

/* Next line, trimmed, into buf (NUL-terminated); false at end of text.
 * Blank lines and comments are skipped. */
static int next_line(struct parser *ps, struct cursor *c, char *buf, size_t cap,
                     bool *got)
{
	while (c->p < c->end) {
		const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
		const char *le = nl ? nl : c->end;
		const char *b = c->p;
		c->p = nl ? nl + 1 : c->end;
		ps->lineno++;
		while (b < le && (*b == ' ' || *b == '\t' || *b == '\r'))
			b++;
		while (le > b && (le[-1] == ' ' || le[-1] == '\t' || le[-1] == '\r'))
			le--;
		if (b == le || *b == '#')
			continue;
		if ((size_t)(le - b) >= cap)
			return fail(ps, ps->lineno, "line longer than %zu bytes", cap - 1);
		if (memchr(b, 0, (size_t)(le - b)))
			return fail(ps, ps->lineno, "NUL byte in line");
		memcpy(buf, b, (size_t)(le - b));
		buf[le - b] = 0;
		*got = true;
		return 0;
	}
	*got = false;
	return 0;
}

/* ---- valgrind entries ---------------------------------------------------- */

static int leak_kinds(struct parser *ps, const char *list, unsigned *mask)
{
	char bad[64];
	if (hs_leak_kinds_parse(list, mask, bad, sizeof bad) < 0)
		return fail(ps, ps->lineno, "unknown leak kind '%s' (definite, "
		            "indirect, possible, reachable, all or none)", bad);
	return 0;
}

/* Sets the entry's kinds from "Tool[,Tool]:Kind"; *skip when the entry is
 * for another tool or a kind heapscope does not report (its remaining
 * lines, such as Memcheck:Param's extra line, are then not checked). */
static int tool_kind(struct parser *ps, struct hs_supp *sp, const char *line,
                     bool *skip)
{
	const char *colon = strchr(line, ':');
	*skip = true;
	if (!colon || colon == line || !colon[1])
		return fail(ps, ps->lineno, "expected 'Tool:Kind' (such as "
		            "Memcheck:Leak), got '%.60s'", line);
	bool memcheck = false;
	for (const char *t = line; t < colon;) {
		const char *comma = memchr(t, ',', (size_t)(colon - t));
		const char *te = comma ? comma : colon;
		if (te - t == 8 && memcmp(t, "Memcheck", 8) == 0)
			memcheck = true;
		t = comma ? comma + 1 : colon;
	}
	const char *kind = colon + 1;
	if (!memcheck)
		return 0;
	if (strcmp(kind, "Leak") == 0) {
		sp->leak_kinds = (1u << HS_NR_LEAK_KINDS) - 1;
		*skip = false;
	} else if (strcmp(kind, "Free") == 0) {
		sp->err_kinds = 1u << HS_ERR_INVALID_FREE | 1u << HS_ERR_DOUBLE_FREE
		                | 1u << HS_ERR_REALLOC_FREED | 1u << HS_ERR_MISMATCHED_FREE;
		*skip = false;
	} else if (strncmp(kind, "Addr", 4) == 0) {
		sp->err_kinds = 1u << HS_ERR_HEAP_OVERFLOW | 1u << HS_ERR_WRITE_AFTER_FREE;
		*skip = false;
	}
	return 0;
}

static int frame_line(struct parser *ps, struct hs_supp *sp, const char *line,
                      size_t *cap)
{
	struct supp_frame f = { 0 };
	if (strcmp(line, "...") == 0) {
		f.type = SF_DOTS;
	} else if (strncmp(line, "fun:", 4) == 0 || strncmp(line, "obj:", 4) == 0
	           || strncmp(line, "src:", 4) == 0) {
		f.type = line[0] == 'f' ? SF_FUN : line[0] == 'o' ? SF_OBJ : SF_SRC;
		if (!line[4])
			return fail(ps, ps->lineno, "empty pattern after '%.4s'", line);
		f.glob = hs_xstrdup(line + 4);
		char *c = f.type == SF_SRC ? strrchr(f.glob, ':') : NULL;
		if (c && c[1] && strspn(c + 1, "0123456789") == strlen(c + 1)) {
			f.line = (unsigned)strtoul(c + 1, NULL, 10);
			*c = 0;
		}
	} else {
		return fail(ps, ps->lineno, "expected fun:, obj:, src:, '...' or '}', "
		            "got '%.60s'", line);
	}
	if (sp->nframes == HS_SUPP_MAX_FRAMES) {
		free(f.glob);
		return fail(ps, ps->lineno, "more than %d frames in one suppression",
		            HS_SUPP_MAX_FRAMES);
	}
	*HS_PUSH(sp->frames, sp->nframes, *cap) = f;
	return 0;
}

static int valgrind_entry(struct parser *ps, struct cursor *c, char *buf, size_t cap)
{
	struct hs_supp sp = { .file = hs_xstrdup(ps->name), .line = ps->lineno };
	size_t fcap = 0;
	bool got, skip = false;
	int state = 0;          /* 0 name, 1 tool:kind, 2 extra line, 3 frames */
	for (;;) {
		if (next_line(ps, c, buf, cap, &got) < 0)
			goto bad;
		if (!got) {
			fail(ps, sp.line, "suppression '%s' is not closed with '}'",
			     sp.name ? sp.name : "");
			goto bad;
		}
		if (strcmp(buf, "}") == 0) {
			if (state < 2) {
				fail(ps, ps->lineno, state == 0 ? "empty suppression"
				     : "suppression without a 'Tool:Kind' line");
				goto bad;
			}
			break;
		}
		if (strcmp(buf, "{") == 0) {
			fail(ps, ps->lineno, "'{' inside a suppression (missing '}' "
			     "before it?)");
			goto bad;
		}
		if (state == 0) {
			sp.name = hs_xstrdup(buf);
			state = 1;
		} else if (state == 1) {
			if (tool_kind(ps, &sp, buf, &skip) < 0)
				goto bad;
			state = 2;
		} else if (skip) {
			continue;       /* another tool's entry: its lines are its own */
		} else if (state == 2 && strncmp(buf, "match-leak-kinds:", 17) == 0) {
			if (!sp.leak_kinds) {
				fail(ps, ps->lineno, "match-leak-kinds: in a suppression "
				     "that is not Memcheck:Leak");
				goto bad;
			}
			if (leak_kinds(ps, buf + 17, &sp.leak_kinds) < 0)
				goto bad;
			state = 3;
		} else {
			state = 3;
			if (frame_line(ps, &sp, buf, &fcap) < 0)
				goto bad;
		}
	}
	if (skip || (!sp.leak_kinds && !sp.err_kinds)) {
		supp_clear(&sp);    /* read and checked, but nothing to apply    */
		return 0;
	}
	*HS_PUSH(ps->s->v, ps->s->n, ps->s->cap) = sp;
	return 0;
bad:
	supp_clear(&sp);
	return -1;
}

/* ---- LeakSanitizer lines ------------------------------------------------- */

static int lsan_line(struct parser *ps, const char *line)
{
	const char *colon = strchr(line, ':');
	if (!colon)
		return fail(ps, ps->lineno, "expected 'leak:PATTERN', got '%.60s'", line);
	if (colon - line != 4 || memcmp(line, "leak", 4) != 0)
		return fail(ps, ps->lineno, "unknown suppression type '%.*s' (a "
		            "LeakSanitizer file holds 'leak:PATTERN' lines)",
		            (int)(colon - line > 40 ? 40 : colon - line), line);
	const char *pat = colon + 1;
	while (*pat == ' ' || *pat == '\t')
		pat++;
	if (!*pat)
		return fail(ps, ps->lineno, "empty pattern after 'leak:'");
	struct hs_supp sp = {
		.name = hs_xstrdup(line), .file = hs_xstrdup(ps->name),
		.line = ps->lineno, .lsan = true, .pattern = hs_xstrdup(pat),
		.leak_kinds = (1u << HS_NR_LEAK_KINDS) - 1,
	};
	*HS_PUSH(ps->s->v, ps->s->n, ps->s->cap) = sp;
	return 0;
}

int hs_supps_parse(struct hs_supps *s, const char *name, const char *text,
                   size_t len, char *err, size_t errlen)
{
	struct parser ps = { s, name, 0, err, errlen };
	struct cursor c = { text, text + len };
	size_t cap = 4096;
	char *buf = hs_xmalloc(cap);
	int format = 0;         /* 0 undecided, 1 valgrind, 2 LSan */
	int rc = 0;
	bool got;
	while (rc == 0 && (rc = next_line(&ps, &c, buf, cap, &got)) == 0 && got) {
		bool brace = strcmp(buf, "{") == 0;
		if (!format)
			format = brace ? 1 : 2;
		if (format == 1 && !brace)
			rc = fail(&ps, ps.lineno, "expected '{' to start a suppression, "
			          "got '%.60s'", buf);
		else if (format == 2 && brace)
			rc = fail(&ps, ps.lineno, "'{' in a LeakSanitizer suppression "
			          "file (one 'leak:PATTERN' per line)");
		else
			rc = brace ? valgrind_entry(&ps, &c, buf, cap) : lsan_line(&ps, buf);
	}
	free(buf);
	return rc;
}

int hs_supps_load(struct hs_supps *s, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t len = 0, cap = 0, got;
	do {                    /* read it all, up to MAX_FILE + 1 bytes      */
		hs_grow((void **)&text, &cap, len + 65536, 1);
		got = fread(text + len, 1, cap - len, f);
		len += got;
	} while (got && len <= MAX_FILE);
	int rc;
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		rc = -1;
	} else if (len > MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, MAX_FILE);
		rc = -1;
	} else {
		rc = hs_supps_parse(s, path, text, len, err, errlen);
	}
	fclose(f);
	free(text);
	return rc;
}
