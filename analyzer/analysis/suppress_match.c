/*
 * suppress_match.c — does a suppression cover this stack?
 *
 * All matching is iterative: a pattern with stars is matched by the
 * classic "remember the last star and retry one further" loop, which is
 * linear in practice and never recurses. The same loop matches a
 * valgrind frame list against a stack, with `...` as the star and each
 * frame line as a predicate.
 */
#include "suppress_int.h"
#include "trace/trace_read.h"

#include <string.h>

bool hs_glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *retry = NULL;
	while (*s) {
		if (*pat == '*') {
			star = ++pat;
			retry = s;
			continue;
		}
		if (*pat == '\\' && pat[1]) {
			if (pat[1] == *s) {
				pat += 2;
				s++;
				continue;
			}
		} else if (*pat && (*pat == '?' || *pat == *s)) {
			pat++;
			s++;
			continue;
		}
		if (!star)
			return false;
		pat = star;             /* let the last star take one more char */
		s = ++retry;
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

/* One '*'-free piece of an LSan template: [p, p+len). */
static const char *find_piece(const char *s, const char *p, size_t len)
{
	if (!len)
		return s;
	for (; *s; s++)
		if (strncmp(s, p, len) == 0)
			return s;
	return NULL;
}

bool hs_lsan_match(const char *templ, const char *s)
{
	if (!s || !*s)
		return false;           /* unknown names never match (as LSan) */
	bool anchor_start = templ[0] == '^';
	if (anchor_start)
		templ++;
	size_t tl = strlen(templ);
	bool anchor_end = tl && templ[tl - 1] == '$';
	if (anchor_end)
		tl--;
	const char *cur = s;
	bool first = true;
	for (size_t i = 0; i <= tl;) {
		const char *star = memchr(templ + i, '*', tl - i);
		size_t plen = (star ? (size_t)(star - templ) : tl) - i;
		const char *piece = templ + i;
		bool last = !star;
		if (last && anchor_end) {
			/* the last piece must end the string: check the suffix */
			size_t sl = strlen(cur);
			if (sl < plen || strncmp(cur + sl - plen, piece, plen) != 0)
				return false;
			if (first && anchor_start && sl != plen)
				return false;
			return true;
		}
		const char *at = find_piece(cur, piece, plen);
		if (!at || (first && anchor_start && at != cur))
			return false;
		cur = at + plen;
		first = false;
		if (last)
			break;
		i = (size_t)(star - templ) + 1;
	}
	return true;
}

/* ---- valgrind frame lists ----------------------------------------------- */

/* Entry points a memcheck stack starts in, for the one leading frame that
 * heapscope's stacks do not have (mangled and demangled spellings). */
static const char *const alloc_names[] = {
	"malloc", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
	"aligned_alloc", "valloc", "pvalloc",
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
	"operator new(unsigned long)", "operator new[](unsigned long)",
	"operator new(unsigned long, std::nothrow_t const&)",
	"operator new[](unsigned long, std::nothrow_t const&)",
	"operator new(unsigned long, std::align_val_t)",
	"operator new[](unsigned long, std::align_val_t)",
	NULL,
};
static const char *const free_names[] = {
	"free", "realloc", "cfree",
	"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t",
	"_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
	"operator delete(void*)", "operator delete[](void*)",
	"operator delete(void*, unsigned long)", "operator delete[](void*, unsigned long)",
	NULL,
};

static bool frame_ok(const struct supp_frame *p, const struct hs_frame *f,
                     const char *const *virt)
{
	if (virt) {                  /* the allocator frame heapscope omits    */
		if (p->type != SF_FUN)
			return false;
		for (; *virt; virt++)
			if (hs_glob_match(p->glob, *virt))
				return true;
		return false;
	}
	switch (p->type) {
	case SF_FUN:
		if (!f->function)
			return hs_glob_match(p->glob, "???");
		return hs_glob_match(p->glob, f->function)
		       || (f->mangled && hs_glob_match(p->glob, f->mangled));
	case SF_OBJ:
		return hs_glob_match(p->glob, f->module ? f->module : "???");
	case SF_SRC: {
		if (!f->file)
			return false;
		const char *base = strrchr(f->file, '/');
		base = base ? base + 1 : f->file;
		return hs_glob_match(p->glob, base) && (!p->line || p->line == f->line);
	}
	case SF_DOTS:
		break;
	}
	return false;
}

/* Does the frame list match a prefix of [virtual frame] + f[0..n)? */
static bool frames_match(const struct hs_supp *sp, const struct hs_frame *f,
                         size_t n, const char *const *virt)
{
	size_t total = n + (virt ? 1 : 0);
	size_t pi = 0, si = 0, star_p = 0, star_s = 0;
	bool star = false;
	while (pi < sp->nframes) {
		const struct supp_frame *p = &sp->frames[pi];
		if (p->type == SF_DOTS) {
			star = true;
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (si < total) {
			bool is_virt = virt && si == 0;
			const struct hs_frame *fr = is_virt ? NULL : &f[si - (virt ? 1 : 0)];
			if (frame_ok(p, fr, is_virt ? virt : NULL)) {
				pi++;
				si++;
				continue;
			}
		}
		if (!star || star_s >= total)
			return false;
		pi = star_p;            /* `...` takes one more frame            */
		si = ++star_s;
	}
	return true;                /* the rest of the stack is free         */
}

static bool lsan_stack(const struct hs_supp *sp, const struct hs_frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hs_lsan_match(sp->pattern, f[i].function)
		    || hs_lsan_match(sp->pattern, f[i].file)
		    || hs_lsan_match(sp->pattern, f[i].module))
			return true;
	return false;
}

bool hs_supps_cover_leak(const struct hs_supps *s, unsigned kind)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->v[i].leak_kinds & (1u << kind))
			return true;
	return false;
}

bool hs_supps_cover_error(const struct hs_supps *s, unsigned kind)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->v[i].err_kinds & (1u << kind))
			return true;
	return false;
}

const struct hs_supp *hs_supps_match_leak(const struct hs_supps *s, unsigned kind,
                                          const struct hs_frame *f, size_t n)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct hs_supp *sp = &s->v[i];
		if (!(sp->leak_kinds & (1u << kind)))
			continue;
		if (sp->unrecorded) {
			if (n == 0)
				return sp;
			continue;
		}
		if (sp->lsan ? lsan_stack(sp, f, n)
		             : frames_match(sp, f, n, NULL) || frames_match(sp, f, n, alloc_names))
			return sp;
	}
	return NULL;
}

const struct hs_supp *hs_supps_match_error(const struct hs_supps *s, unsigned kind,
                                           const struct hs_frame *f, size_t n)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct hs_supp *sp = &s->v[i];
		if (!(sp->err_kinds & (1u << kind)) || sp->unrecorded)
			continue;
		if (frames_match(sp, f, n, NULL) || frames_match(sp, f, n, free_names))
			return sp;
	}
	return NULL;
}
