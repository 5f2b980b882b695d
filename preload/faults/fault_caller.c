/*
 * fault_caller.c — the caller=GLOB filter: does a function whose name
 * matches GLOB appear on the allocating stack?
 *
 * Names come from the recorder (hooks.stack_names: dladdr on each return
 * address), which is far too slow to do per call, so the verdict is cached
 * per interned stack id: a stack is looked up and matched once, then every
 * later call from it costs one hash probe. The cache is a fixed table of
 * 64-bit words, lock free; an entry carries the generation of the policy
 * that produced it, so a new policy (another hs_fail_begin) never trusts
 * an old verdict and nothing has to be cleared. Collisions overwrite: a
 * lost entry is matched again, never answered wrongly.
 *
 * Names are matched as they are, without a compiler clone suffix
 * ("parse.isra.0", "main.cold": the user wrote "parse"), and, for C++,
 * as a qualified name demangled just far enough ("_ZN2ns3Foo3barEv" ->
 * "ns::Foo::bar"): the full demangler allocates, and a glob over the
 * function's qualified name is what a user can write.
 */
#include <string.h>

#include "faults.h"

bool hs_fault_caller_matches(const struct hs_fault_policy *pol, uint32_t gen,
                             uint32_t stack, const struct hs_fault_hooks *h);

/* ---- glob --------------------------------------------------------------- */

/* One bracket expression at *pp against c; advances *pp past it. A ']'
 * right after the '[' (or '[!') is a member; a '[' without its closing
 * ']' is a literal '[' (as in fnmatch). */
static bool bracket(const char **pp, char c)
{
	const char *p = *pp + 1;
	bool neg = *p == '!' || *p == '^';
	bool hit = false, first = true;
	if (neg)
		p++;
	for (;;) {
		if (*p == '\0') {             /* unterminated: literal '['     */
			*pp += 1;
			return c == '[';
		}
		if (*p == ']' && !first)
			break;
		first = false;
		char lo = *p++;
		if (lo == '\\' && *p)
			lo = *p++;
		char hi = lo;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			hi = *p++;
			if (hi == '\\' && *p)
				hi = *p++;
		}
		if (c >= lo && c <= hi)
			hit = true;
	}
	*pp = p + 1;
	return hit != neg;
}

/* Classic single-backtrack glob: on a mismatch go back to the last '*'
 * and let it swallow one more character. Linear enough for symbol names. */
bool hs_fault_glob(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		const char *q = p;
		if (*p == '*') {
			star = ++p;
			resume = s;
			continue;
		}
		if (*p == '?') {
			p++, s++;
			continue;
		}
		if (*p == '[') {
			if (bracket(&q, *s)) {
				p = q, s++;
				continue;
			}
		} else {
			char lit = *p;
			if (lit == '\\' && p[1])
				lit = *++q;
			if (lit && lit == *s) {
				p = q + 1, s++;
				continue;
			}
		}
		if (!star)
			return false;
		p = star;
		s = ++resume;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* ---- names -------------------------------------------------------------- */

/* Read an Itanium <source-name> (decimal length, then that many bytes)
 * and append it to out; false if it is not one. */
static bool source_name(const char **pp, char *out, size_t cap, size_t *len)
{
	const char *p = *pp;
	size_t n = 0;
	if (*p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		n = n * 10 + (size_t)(*p++ - '0');
		if (n > 4096)
			return false;
	}
	if (strnlen(p, n) < n || *len + n + 1 > cap)
		return false;
	memcpy(out + *len, p, n);
	*len += n;
	out[*len] = '\0';
	*pp = p + n;
	return true;
}

/* "_Z3fooi" -> "foo", "_ZN2ns3Foo3barEv" -> "ns::Foo::bar",
 * "_ZNSt6vectorIiE9push_backEOi" -> "std::vector" (stops at template
 * arguments, constructors and operators: the qualified prefix is still
 * useful for "std::vector*"). False if nothing could be read. */
static bool qualified_name(const char *m, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	if (m[0] != '_' || m[1] != 'Z')
		return false;
	const char *p = m + 2;
	if (*p == 'L')                    /* internal linkage: _ZL3foov      */
		p++;
	if (*p != 'N')
		return source_name(&p, out, cap, &len);
	p++;
	while (*p == 'K' || *p == 'V' || *p == 'r' || *p == 'R' || *p == 'O')
		p++;                          /* cv- and ref-qualifiers of this */
	if (p[0] == 'S' && p[1] == 't') {
		p += 2;
		memcpy(out, "std", 4);
		len = 3;
	}
	while (*p && *p != 'E') {
		if (len && len + 2 < cap) {
			memcpy(out + len, "::", 3);
			len += 2;
		}
		if (!source_name(&p, out, cap, &len)) {
			if (len >= 2 && out[len - 1] == ':')
				out[len -= 2] = '\0';
			break;
		}
	}
	return len > 0;
}

static bool name_matches(const char *glob, const char *name)
{
	if (hs_fault_glob(glob, name))
		return true;
	char buf[256];
	const char *dot = strchr(name, '.');
	if (dot && dot != name && (size_t)(dot - name) < sizeof buf) {
		memcpy(buf, name, (size_t)(dot - name));
		buf[dot - name] = '\0';
		if (hs_fault_glob(glob, buf))
			return true;
	}
	return qualified_name(name, buf, sizeof buf) && hs_fault_glob(glob, buf);
}

bool hs_fault_names_match(const char *glob, const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (names[i] && name_matches(glob, names[i]))
			return true;
	return false;
}

/* ---- the per-stack cache ------------------------------------------------ */

#define CACHE_SLOTS 4096               /* power of two; 32 KiB             */
#define MAX_FRAMES  64

/* entry = gen:31 | stack:32 | verdict:1; 0 = empty (gen >= 1). */
static _Atomic uint64_t cache[CACHE_SLOTS];

static uint64_t entry(uint32_t gen, uint32_t stack, bool verdict)
{
	return ((uint64_t)(gen & 0x7fffffffu) << 33) | ((uint64_t)stack << 1) | verdict;
}

bool hs_fault_caller_matches(const struct hs_fault_policy *pol, uint32_t gen,
                             uint32_t stack, const struct hs_fault_hooks *h)
{
	uint32_t slot = (stack * 0x9E3779B1u) & (CACHE_SLOTS - 1);
	uint64_t e = atomic_load_explicit(&cache[slot], memory_order_relaxed);
	if ((e >> 1) == (entry(gen, stack, 0) >> 1))
		return e & 1;
	if (!h->stack_names)
		return false;
	const char *names[MAX_FRAMES];
	unsigned n = h->stack_names(stack, names, MAX_FRAMES);
	bool verdict = hs_fault_names_match(pol->caller, names, n);
	atomic_store_explicit(&cache[slot], entry(gen, stack, verdict),
	                      memory_order_relaxed);
	return verdict;
}
