/*
 * json_in.c — a small JSON reader (json_in.h): recursive descent with a
 * depth limit, strings decoded to UTF-8 (\u escapes and surrogate pairs
 * included), integers kept exact as int64.
 */
#include "json_in.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct rd {
	const char *s, *end, *p;
	char *err;
	size_t errcap;
	bool failed;
};

static int fail(struct rd *r, const char *what)
{
	if (!r->failed)
		snprintf(r->err, r->errcap, "byte %zu: %s", (size_t)(r->p - r->s), what);
	r->failed = true;
	return -1;
}

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool word(struct rd *r, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	return true;
}

static int hex4(struct rd *r, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++, r->p++) {
		if (r->p >= r->end)
			return fail(r, "\\u escape cut short");
		char c = *r->p;
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return fail(r, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static void put_utf8(char *o, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* At the opening quote. Escapes never grow the text (\uXXXX is 6 bytes
 * for at most 4), so the output fits in the input's length. */
static int string(struct rd *r, char **out)
{
	const char *start = ++r->p;
	const char *q = start;
	while (q < r->end && *q != '"')
		q += *q == '\\' && q + 1 < r->end ? 2 : 1;
	if (q >= r->end)
		return fail(r, "string not closed");
	char *o = hs_xmalloc((size_t)(q - start) + 1);
	size_t n = 0;
	while (*r->p != '"') {
		unsigned char c = (unsigned char)*r->p;
		if (c < 0x20) {
			free(o);
			return fail(r, "control character in a string");
		}
		if (c != '\\') {
			o[n++] = (char)c;
			r->p++;
			continue;
		}
		r->p++;
		char e = *r->p++;
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e && simple) {
			o[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
			continue;
		}
		unsigned cp, lo;
		if (e != 'u' || hex4(r, &cp) < 0) {
			free(o);
			return fail(r, "bad escape in a string");
		}
		if (cp >= 0xd800 && cp < 0xdc00 && r->p + 1 < r->end && r->p[0] == '\\'
		    && r->p[1] == 'u') {
			r->p += 2;
			if (hex4(r, &lo) < 0) {
				free(o);
				return -1;
			}
			cp = lo >= 0xdc00 && lo < 0xe000 ? 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
			                                 : 0xfffd;
		} else if (cp >= 0xd800 && cp < 0xe000) {
			cp = 0xfffd;
		}
		put_utf8(o, &n, cp);
	}
	r->p++;
	o[n] = 0;
	*out = o;
	return 0;
}

static int number(struct rd *r, struct jv *v)
{
	const char *start = r->p;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	bool frac = false;
	while (r->p < r->end && strchr("0123456789.eE+-", *r->p)) {
		frac |= *r->p == '.' || *r->p == 'e' || *r->p == 'E';
		r->p++;
	}
	size_t len = (size_t)(r->p - start);
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return fail(r, "bad number");
	memcpy(buf, start, len);
	buf[len] = 0;
	char *end;
	errno = 0;
	v->type = JV_NUM;
	v->num = strtod(buf, &end);
	if (*end)
		return fail(r, "bad number");
	if (!frac) {
		long long i = strtoll(buf, &end, 10);
		v->is_int = !*end && !errno;
		v->i = i;
	}
	return 0;
}

static int value(struct rd *r, struct jv *v, int depth);

static int members(struct rd *r, struct jv *v, int depth, bool obj)
{
	size_t cap = 0, kcap = 0;
	char close = obj ? '}' : ']';
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		ws(r);
		char *key = NULL;
		if (obj) {
			if (r->p >= r->end || *r->p != '"' || string(r, &key) < 0)
				return fail(r, "expected a member name");
			ws(r);
			if (r->p >= r->end || *r->p++ != ':') {
				free(key);
				return fail(r, "expected ':'");
			}
		}
		struct jv *item = HS_PUSH(v->items, v->n, cap);
		memset(item, 0, sizeof *item);
		if (obj) {                  /* keys[i] names items[i] */
			hs_grow((void **)&v->keys, &kcap, v->n, sizeof *v->keys);
			v->keys[v->n - 1] = key;
		}
		if (value(r, item, depth + 1) < 0)
			return -1;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int value(struct rd *r, struct jv *v, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(r, "nested too deeply");
	ws(r);
	if (r->p >= r->end)
		return fail(r, "unexpected end");
	switch (*r->p) {
	case '{':
		v->type = JV_OBJ;
		return members(r, v, depth, true);
	case '[':
		v->type = JV_ARR;
		return members(r, v, depth, false);
	case '"':
		v->type = JV_STR;
		return string(r, &v->str);
	}
	if (word(r, "null"))
		v->type = JV_NULL;
	else if (word(r, "true") || word(r, "false")) {
		v->type = JV_BOOL;
		v->b = r->p[-1] == 'e' && r->p[-2] == 'u';
	} else
		return number(r, v);
	return 0;
}

int jv_parse(const char *text, size_t len, struct jv *out, char *err, size_t errcap)
{
	struct rd r = { .s = text, .end = text + len, .p = text, .err = err, .errcap = errcap };
	memset(out, 0, sizeof *out);
	if (value(&r, out, 0) == 0) {
		ws(&r);
		if (r.p == r.end)
			return 0;
		fail(&r, "text after the value");
	}
	jv_free(out);
	return -1;
}

void jv_free(struct jv *v)
{
	if (v->keys)
		for (size_t i = 0; i < v->n; i++)
			free(v->keys[i]);
	for (size_t i = 0; v->items && i < v->n; i++)
		jv_free(&v->items[i]);
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof *v);
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (!v || v->type != JV_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

bool jv_equal(const struct jv *a, const struct jv *b)
{
	if (!a || !b)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case JV_NULL: return true;
	case JV_BOOL: return a->b == b->b;
	case JV_NUM:  return a->is_int && b->is_int ? a->i == b->i : a->num == b->num;
	case JV_STR:  return strcmp(a->str, b->str) == 0;
	case JV_ARR:
	case JV_OBJ:
		if (a->n != b->n)
			return false;
		for (size_t i = 0; i < a->n; i++)
			if ((a->type == JV_OBJ && strcmp(a->keys[i], b->keys[i]) != 0)
			    || !jv_equal(&a->items[i], &b->items[i]))
				return false;
		return true;
	}
	return false;
}
