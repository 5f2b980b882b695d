/* util.c — see util.h. */
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("heapscope: out of memory\n", stderr);
	exit(1);
}

void *hs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *hs_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *hs_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *hs_xstrdup(const char *s)
{
	return hs_xstrndup(s, strlen(s));
}

char *hs_xstrndup(const char *s, size_t n)
{
	char *d = hs_xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

void hs_grow(void **arr, size_t *cap, size_t need, size_t elsize)
{
	if (need <= *cap)
		return;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / elsize)
			oom();
		c *= 2;
	}
	*arr = hs_xrealloc(*arr, c * elsize);
	*cap = c;
}

/* ---- string pool: open addressing over FNV-1a hashes ------------------ */
struct hs_strpool {
	char **slots;
	size_t cap, used;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

struct hs_strpool *hs_strpool_new(void)
{
	struct hs_strpool *p = hs_xcalloc(1, sizeof(*p));
	p->cap = 256;
	p->slots = hs_xcalloc(p->cap, sizeof(char *));
	return p;
}

static void pool_rehash(struct hs_strpool *p)
{
	size_t ncap = p->cap * 2;
	char **ns = hs_xcalloc(ncap, sizeof(char *));
	for (size_t i = 0; i < p->cap; i++) {
		if (!p->slots[i])
			continue;
		size_t j = str_hash(p->slots[i]) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = ns;
	p->cap = ncap;
}

const char *hs_intern(struct hs_strpool *p, const char *s)
{
	if (!s)
		return NULL;
	if ((p->used + 1) * 2 > p->cap)    /* keep load <= 1/2 */
		pool_rehash(p);
	size_t j = str_hash(s) & (p->cap - 1);
	while (p->slots[j]) {
		if (strcmp(p->slots[j], s) == 0)
			return p->slots[j];
		j = (j + 1) & (p->cap - 1);
	}
	p->slots[j] = hs_xstrdup(s);
	p->used++;
	return p->slots[j];
}

void hs_strpool_free(struct hs_strpool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->cap; i++)
		free(p->slots[i]);
	free(p->slots);
	free(p);
}

const char *hs_commas(uint64_t v, char buf[32])
{
	char tmp[32];
	int n = 0, digits = 0;
	do {                    /* digits come out backwards, least first */
		if (digits && digits % 3 == 0)
			tmp[n++] = ',';
		tmp[n++] = (char)('0' + v % 10);
		digits++;
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return buf;
}

char *hs_expand_name(const char *pattern, const char *id, bool append)
{
	size_t idl = strlen(id), len = strlen(pattern) + idl + 2;
	for (const char *q = pattern; (q = strstr(q, "%p")); q += 2)
		len += idl;
	char *out = hs_xmalloc(len), *o = out;
	bool had_p = false;
	for (const char *q = pattern; *q;) {
		if (q[0] == '%' && q[1] == 'p') {
			memcpy(o, id, idl);
			o += idl;
			q += 2;
			had_p = true;
		} else if (q[0] == '%' && q[1] == '%') {
			*o++ = '%';
			q += 2;
		} else {
			*o++ = *q++;
		}
	}
	if (append && !had_p) {
		*o++ = '.';
		memcpy(o, id, idl);
		o += idl;
	}
	*o = 0;
	return out;
}

void hs_sb_printf(struct hs_sb *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->n;
		int k = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if ((size_t)k < room) {
			b->n += (size_t)k;
			return;
		}
		hs_grow((void **)&b->p, &b->cap, b->n + (size_t)k + 1, 1);
	}
}

void hs_sb_free(struct hs_sb *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
