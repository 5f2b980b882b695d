/*
 * fault_policy.c — parse a fault policy string into struct hs_fault_policy.
 *
 * The grammar is in faults.h. Parsing is strict on purpose: a policy that
 * is misread injects failures somewhere the user did not ask for and the
 * run proves nothing, so anything we do not understand exactly is refused
 * with a message naming the term. This runs inside malloc (HEAPSCOPE_FAIL
 * at init, hs_fail_begin at any time): no allocation, no stdio, no strtoul
 * (locale, errno games); messages are assembled by hand.
 */
#include <string.h>

#include "fault_policy.h"

enum term_id {
	T_NTH, T_AFTER, T_EVERY, T_PROB, T_LIMIT,   /* triggers first */
	T_SEED, T_TIMES, T_MINSIZE, T_FUNC, T_CALLER, T_THREAD,
	T_COUNT
};
#define NR_TRIGGERS (T_LIMIT + 1)

static const char *const term_name[T_COUNT] = {
	"nth", "after", "every", "prob", "limit",
	"seed", "times", "minsize", "func", "caller", "thread",
};

static const char *const fn_names[HS_FN_COUNT] = {
	"malloc", "calloc", "realloc", "aligned", "new", "new[]",
};

const char *hs_fault_fn_name(enum hs_fault_fn fn)
{
	return (unsigned)fn < HS_FN_COUNT ? fn_names[fn] : "?";
}

/* ---- messages ----------------------------------------------------------- */

/* A bounded string builder over the caller's buffer; truncates quietly. */
struct msg {
	char  *buf;
	size_t cap, len;
};

static void put_n(struct msg *m, const char *s, size_t n)
{
	if (!m->buf || m->cap == 0)
		return;
	while (n-- && *s && m->len + 1 < m->cap)
		m->buf[m->len++] = *s++;
	m->buf[m->len] = '\0';
}

static void put(struct msg *m, const char *s)
{
	put_n(m, s, (size_t)-1);
}

/* One term of the input, as a slice of it. */
struct slice {
	const char *p;
	size_t n;
};

/* "'TERM': WHY" — every message names the term as the user wrote it. */
static bool reject(struct msg *m, struct slice term, const char *why)
{
	put(m, "'");
	put_n(m, term.p, term.n);
	put(m, "': ");
	put(m, why);
	return false;
}

static bool slice_is(struct slice s, const char *word)
{
	size_t n = strlen(word);
	return s.n == n && memcmp(s.p, word, n) == 0;
}

/* ---- numbers ------------------------------------------------------------ */

/* Decimal or 0x-hex, no sign, nothing left over, no overflow. */
static bool parse_u64(struct slice v, uint64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;
	unsigned base = 10;
	if (v.n > 2 && v.p[0] == '0' && (v.p[1] == 'x' || v.p[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == v.n)
		return false;
	for (; i < v.n; i++) {
		char c = v.p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (x > (UINT64_MAX - d) / base)
			return false;
		x = x * base + d;
	}
	*out = x;
	return true;
}

/* A byte count: a number, optionally followed by K, M or G (powers of
 * 1024, either case). */
static bool parse_size(struct slice v, uint64_t *out)
{
	unsigned shift = 0;
	if (v.n > 1) {
		switch (v.p[v.n - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		}
	}
	if (shift)
		v.n--;
	uint64_t x;
	if (!parse_u64(v, &x) || x > (UINT64_MAX >> shift))
		return false;
	*out = x << shift;
	return true;
}

/* A probability: "0", "1", "0.25", ".5", "1.0", or a percentage "12.5%".
 * Kept exact as a fraction num/den and turned into a threshold on a
 * 64-bit draw: fail when draw < P * 2^64. */
static bool parse_prob(struct slice v, struct hs_fault_policy *pol,
                       bool *out_of_range)
{
	typedef unsigned __int128 u128;
	u128 num = 0, den = 1;
	bool pct = false, any = false;
	size_t i = 0;
	*out_of_range = false;
	if (v.n && v.p[v.n - 1] == '%') {
		pct = true;
		v.n--;
	}
	for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++) {
		if (num > 1000)              /* already out of range; stay small */
			*out_of_range = true;
		else
			num = num * 10 + (unsigned)(v.p[i] - '0');
		any = true;
	}
	if (i < v.n && v.p[i] == '.') {
		for (i++; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++) {
			/* 18 digits are finer than a 64-bit draw resolves */
			if (den < (u128)1000000000000000000ull) {
				num = num * 10 + (unsigned)(v.p[i] - '0');
				den *= 10;
			}
			any = true;
		}
	}
	if (!any || i != v.n)
		return false;
	if (pct)
		den *= 100;                  /* den <= 10^20, num < 10^22: fits */
	if (*out_of_range || num > den) {
		*out_of_range = true;
		return false;
	}
	pol->prob_always = (num == den);
	/* num < den here, so num * 2^64 / den < 2^64; num < 10^22 < 2^74 and
	 * the shift needs 138 bits: divide first, then refine the remainder. */
	u128 q = (num << 32) / den, r = (num << 32) % den;
	pol->prob = pol->prob_always ? UINT64_MAX
	          : (uint64_t)((q << 32) + (r << 32) / den);
	return true;
}

/* ---- terms -------------------------------------------------------------- */

static bool parse_func(struct slice term, struct slice v,
                       struct hs_fault_policy *pol, struct msg *m)
{
	const char *p = v.p, *end = v.p + v.n;
	while (p <= end) {
		const char *bar = p;
		while (bar < end && *bar != '|')
			bar++;
		struct slice name = { p, (size_t)(bar - p) };
		unsigned f;
		for (f = 0; f < HS_FN_COUNT; f++)
			if (slice_is(name, fn_names[f]))
				break;
		if (f == HS_FN_COUNT) {
			reject(m, term, "unknown function '");
			put_n(m, name.p, name.n);
			put(m, "' (malloc, calloc, realloc, aligned, new, new[], joined by '|')");
			return false;
		}
		pol->funcs |= 1u << f;
		p = bar + 1;
	}
	return true;
}

static bool parse_term(struct slice term, struct hs_fault_policy *pol,
                       struct msg *m, struct slice *seed_term)
{
	const char *eq = memchr(term.p, '=', term.n);
	if (!eq)
		return reject(m, term, "expected NAME=VALUE");
	struct slice key = { term.p, (size_t)(eq - term.p) };
	struct slice v = { eq + 1, term.n - key.n - 1 };
	unsigned id;
	for (id = 0; id < T_COUNT; id++)
		if (slice_is(key, term_name[id]))
			break;
	if (id == T_COUNT)
		return reject(m, term, "unknown term (triggers: nth, after, every, "
		              "prob, limit; filters: seed, times, minsize, func, "
		              "caller, thread)");
	if (pol->given & (1u << id))
		return reject(m, term, "given twice");
	if (id < NR_TRIGGERS && pol->trigger != HS_TRIG_NONE) {
		reject(m, term, "only one trigger per policy, already have ");
		for (unsigned t = 0; t < NR_TRIGGERS; t++)
			if (pol->given & (1u << t))
				put(m, term_name[t]);
		return false;
	}
	pol->given |= 1u << id;
	if (v.n == 0)
		return reject(m, term, "empty value");

	bool oor;
	uint64_t x;
	switch (id) {
	case T_NTH: case T_AFTER: case T_EVERY: case T_TIMES:
		if (!parse_u64(v, &x))
			return reject(m, term, "not a number");
		if (x == 0)
			return reject(m, term, "must be at least 1 (calls count from 1)");
		if (id == T_TIMES) {
			pol->times = x;
		} else {
			pol->n = x;
			pol->trigger = id == T_NTH ? HS_TRIG_NTH
			             : id == T_AFTER ? HS_TRIG_AFTER : HS_TRIG_EVERY;
		}
		return true;
	case T_PROB:
		if (!parse_prob(v, pol, &oor))
			return reject(m, term, oor ? "must be between 0 and 1 (or 0% and 100%)"
			                           : "not a probability (0.25 or 25%)");
		pol->trigger = HS_TRIG_PROB;
		return true;
	case T_SEED:
		if (!parse_u64(v, &pol->seed))
			return reject(m, term, "not a number");
		*seed_term = term;
		return true;
	case T_LIMIT:
		if (!parse_size(v, &pol->limit))
			return reject(m, term, "not a byte count (N, NK, NM or NG)");
		pol->trigger = HS_TRIG_LIMIT;
		return true;
	case T_MINSIZE:
		if (!parse_size(v, &pol->minsize))
			return reject(m, term, "not a byte count (N, NK, NM or NG)");
		return true;
	case T_FUNC:
		return parse_func(term, v, pol, m);
	case T_CALLER:
		if (v.n >= sizeof pol->caller)
			return reject(m, term, "pattern longer than 127 characters");
		memcpy(pol->caller, v.p, v.n);
		pol->caller[v.n] = '\0';
		return true;
	case T_THREAD:
		if (slice_is(v, "main"))
			pol->main_only = true;
		else if (!slice_is(v, "all"))
			return reject(m, term, "must be main or all");
		return true;
	}
	return false;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

bool hs_fault_parse(const char *text, struct hs_fault_policy *pol,
                    char *err, size_t errcap)
{
	struct msg m = { err, errcap, 0 };
	put(&m, "");
	memset(pol, 0, sizeof *pol);
	if (!text)
		text = "";
	const char *p = text;
	struct slice seed_term = { "", 0 };
	bool blank = true;
	for (const char *q = text; *q; q++)
		blank = blank && is_space(*q);
	if (blank) {
		put(&m, "empty policy (give a trigger: nth=, after=, every=, prob= or limit=)");
		return false;
	}
	for (;;) {
		const char *end = p;
		while (*end && *end != ',')
			end++;
		struct slice term = { p, (size_t)(end - p) };
		while (term.n && is_space(*term.p)) {
			term.p++;
			term.n--;
		}
		while (term.n && is_space(term.p[term.n - 1]))
			term.n--;
		if (term.n == 0) {
			put(&m, "empty term (stray comma) in '");
			put(&m, text);
			put(&m, "'");
			return false;
		}
		if (!parse_term(term, pol, &m, &seed_term))
			return false;
		if (!*end)
			break;
		p = end + 1;
	}
	/* Cross-term checks, named by the term that makes no sense alone. */
	struct slice whole = { text, strlen(text) };
	if (pol->trigger == HS_TRIG_NONE)
		return reject(&m, whole, "no trigger (add nth=, after=, every=, "
		              "prob= or limit=)");
	if ((pol->given & (1u << T_SEED)) && pol->trigger != HS_TRIG_PROB)
		return reject(&m, seed_term, "needs prob=P (a seed only chooses "
		              "the random stream)");
	return true;
}
