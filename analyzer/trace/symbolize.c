/*
 * symbolize.c — see symbolize.h for what and why.
 *
 * Three caches, from cheap to expensive: stack id -> frames (each stack
 * is expanded once, and only as deep as asked: see hs_sym_stack_to_main),
 * (module, ip) -> frames (stacks share most of their outer frames), and
 * per module its Dwfl session, opened on first use.
 */
#include "symbolize.h"
#include "scopes.h"
#include "util.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INLINE_DEPTH 64     /* frames from one ip; bounds bad DWARF   */

enum { MOD_UNTRIED = 0, MOD_OK, MOD_UNUSABLE };

struct modstate {
	int state;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct hs_scopes *scopes;   /* its units' function tables           */
};

struct modent {                 /* modules sorted by start, for lookup    */
	uint64_t start, end;
	uint32_t idx;
};

struct addr_entry {             /* (module, ip) -> frames                 */
	uint64_t ip;
	uint32_t mod;               /* module index + 1, 0 = none             */
	uint32_t n;
	struct hs_frame *frames;
};

struct stack_entry {             /* the first nips ips of a stack, resolved */
	uint32_t nips;
	uint32_t n, cap;            /* frames from those ips, room for more   */
	uint32_t main_at;           /* index + 1 of the first non-inlined main
	                               frame, 0 while none was seen           */
	struct hs_frame *frames;
};

struct hs_symbolizer {
	const struct hs_trace *tr;
	FILE *warn;
	struct hs_strpool *pool;
	struct modstate *mods;
	struct modent *sorted;
	uint64_t max_len;           /* longest module range: bounds the scan  */
	struct addr_entry *addrs;   /* open addressing, key (ip, mod)         */
	size_t addr_cap, addr_used;
	struct stack_entry *stacks; /* parallel to tr->stacks                 */
	/* Frames arrays a stack outgrew: the callers may still hold them
	 * (hs_sym_stack's promise), so they are freed with the symbolizer. */
	struct hs_frame **retired;
	size_t nretired, retired_cap;
	struct hs_sym_stats stats;
};

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static int by_start(const void *a, const void *b)
{
	const struct modent *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start ? 1
	       : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

struct hs_symbolizer *hs_sym_new(const struct hs_trace *tr, FILE *warn)
{
	struct hs_symbolizer *s = hs_xcalloc(1, sizeof *s);
	s->tr = tr;
	s->warn = warn;
	s->pool = hs_strpool_new();
	s->mods = hs_xcalloc(tr->nmodules, sizeof *s->mods);
	s->sorted = hs_xcalloc(tr->nmodules, sizeof *s->sorted);
	for (size_t i = 0; i < tr->nmodules; i++) {
		s->sorted[i] = (struct modent){ tr->modules[i].start, tr->modules[i].end,
		                                (uint32_t)i };
		if (tr->modules[i].end - tr->modules[i].start > s->max_len)
			s->max_len = tr->modules[i].end - tr->modules[i].start;
	}
	qsort(s->sorted, tr->nmodules, sizeof *s->sorted, by_start);
	s->addr_cap = 1024;
	s->addrs = hs_xcalloc(s->addr_cap, sizeof *s->addrs);
	s->stacks = hs_xcalloc(tr->nstacks, sizeof *s->stacks);
	return s;
}

/* The module that held pc when the stack was recorded: among the first
 * `limit` modules, the latest one whose range covers pc; -1 if none. */
static long find_module(const struct hs_symbolizer *s, uint64_t pc, uint32_t limit)
{
	size_t lo = 0, hi = s->tr->nmodules;
	while (lo < hi) {               /* first entry with start > pc        */
		size_t mid = (lo + hi) / 2;
		if (s->sorted[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	long best = -1;
	for (size_t i = lo; i-- > 0;) {
		const struct modent *e = &s->sorted[i];
		if (pc - e->start >= s->max_len)
			break;                  /* no earlier module can reach pc     */
		if (pc < e->end && e->idx < limit && (long)e->idx > best)
			best = e->idx;
	}
	return best;
}

static void warnf(struct hs_symbolizer *s, const char *path, const char *what)
{
	if (s->warn)
		fprintf(s->warn, "heapscope: warning: %s: %s; its frames are shown "
		        "without symbols\n", path, what);
}

static bool build_id_matches(Dwfl_Module *mod, const char *want)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr);
	if (len <= 0 || (size_t)len * 2 != strlen(want))
		return false;
	for (int i = 0; i < len; i++) {
		char h[3];
		snprintf(h, sizeof h, "%02x", bits[i]);
		if (memcmp(h, want + 2 * i, 2) != 0)
			return false;
	}
	return true;
}

static struct modstate *open_module(struct hs_symbolizer *s, uint32_t idx)
{
	struct modstate *ms = &s->mods[idx];
	if (ms->state != MOD_UNTRIED)
		return ms;
	s->stats.modules++;
	const struct hs_tmodule *m = &s->tr->modules[idx];
	ms->state = MOD_UNUSABLE;
	if (m->path[0] != '/')
		return ms;                  /* vdso, or no path recorded          */
	/* The path comes from the trace: never open a FIFO or a device (it
	 * could block or never end), only a regular file. */
	struct stat st;
	if (stat(m->path, &st) != 0) {
		warnf(s, m->path, strerror(errno));
		return ms;
	}
	if (!S_ISREG(st.st_mode)) {
		warnf(s, m->path, "not a regular file");
		return ms;
	}
	ms->dwfl = dwfl_begin(&offline_callbacks);
	if (!ms->dwfl)
		return ms;
	dwfl_report_begin(ms->dwfl);
	/* add_p_vaddr: `base` is the load bias, the value the dynamic
	 * linker adds to every file address (0 for a non-PIE executable). */
	ms->mod = dwfl_report_elf(ms->dwfl, m->path, m->path, -1, m->bias, true);
	dwfl_report_end(ms->dwfl, NULL, NULL);
	if (!ms->mod) {
		warnf(s, m->path, dwfl_errmsg(-1));
		return ms;
	}
	if (m->build_id && !build_id_matches(ms->mod, m->build_id)) {
		warnf(s, m->path, "the file on disk is not the one that ran "
		      "(build-id differs)");
		return ms;
	}
	Dwarf_Addr low, high;
	dwfl_module_info(ms->mod, NULL, &low, &high, NULL, NULL, NULL, NULL);
	if (m->start < low || m->end > high) {
		warnf(s, m->path, "the traced load address does not fit the file "
		      "(changed since the run?)");
		return ms;
	}
	ms->scopes = hs_scopes_new();
	ms->state = MOD_OK;
	return ms;
}

/* Function name of a DWARF subprogram or inlined instance, following
 * abstract_origin/specification: linkage name if any (mangled C++), else
 * the plain name. */
static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a)
	    || dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a)
	    || dwarf_attr_integrate(die, DW_AT_name, &a))
		return dwarf_formstring(&a);
	return NULL;
}

static void set_name(struct hs_symbolizer *s, struct hs_frame *f, const char *raw)
{
	if (!raw)
		return;
	char *d = hs_demangle(raw);
	f->mangled = hs_intern(s->pool, raw);
	f->function = d ? hs_intern(s->pool, d) : f->mangled;
	free(d);
}

/* Source paths as absolute as the debug info allows: a relative name is
 * relative to the compilation directory. */
static const char *source_path(struct hs_symbolizer *s, const char *file,
                               const char *comp_dir)
{
	if (!file)
		return NULL;
	if (file[0] == '/' || !comp_dir || !comp_dir[0])
		return hs_intern(s->pool, file);
	size_t n = strlen(comp_dir) + strlen(file) + 2;
	char *full = hs_xmalloc(n);
	snprintf(full, n, "%s/%s", comp_dir, file);
	const char *r = hs_intern(s->pool, full);
	free(full);
	return r;
}

/* The caller-side location of an inlined instance: DW_AT_call_file/line. */
static void call_site(struct hs_symbolizer *s, Dwarf_Die *cu, Dwarf_Die *inl,
                      struct hs_frame *f)
{
	Dwarf_Attribute a;
	Dwarf_Word idx, line;
	Dwarf_Files *files;
	size_t nfiles;
	if (dwarf_attr(inl, DW_AT_call_file, &a) && dwarf_formudata(&a, &idx) == 0
	    && dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && idx < nfiles) {
		Dwarf_Attribute cd;
		const char *comp_dir = dwarf_attr(cu, DW_AT_comp_dir, &cd)
		                       ? dwarf_formstring(&cd) : NULL;
		f->file = source_path(s, dwarf_filesrc(files, idx, NULL, NULL), comp_dir);
	}
	if (dwarf_attr(inl, DW_AT_call_line, &a) && dwarf_formudata(&a, &line) == 0)
		f->line = line > UINT32_MAX ? 0 : (unsigned)line;
}

/* The C runtime's start-up, which calls main: what memcheck calls "below
 * main". A program without symbols has no main to stop at; its stacks
 * stop here instead, and these frames are never looked up in DWARF (for
 * libc that means inflating its compressed debug info: ~80 ms a run). */
static bool below_main(const char *name)
{
	return name && (!strcmp(name, "__libc_start_call_main") ||
	                !strcmp(name, "__libc_start_main") ||
	                !strcmp(name, "__libc_start_main_impl") || !strcmp(name, "_start"));
}

/* Frames for one ip in a usable module; returns the count (>= 1). */
static uint32_t lookup(struct hs_symbolizer *s, struct modstate *ms, const char *modpath,
                       uint64_t ip, struct hs_frame *out)
{
	Dwfl_Module *mod = ms->mod;
	Dwarf_Addr pc = ip - 1;
	struct hs_frame base = { .address = pc, .module = modpath };
	GElf_Sym sym;
	GElf_Off off;
	const char *symname = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
	if (symname) {
		/* "__libc_start_main@@GLIBC_2.34": the version is not the name */
		char name[512];
		snprintf(name, sizeof name, "%s", symname);
		name[strcspn(name, "@")] = 0;
		set_name(s, &base, name);
		if (below_main(name)) {
			base.below_main = true;
			out[0] = base;
			return 1;
		}
	}
	Dwfl_Line *ln = dwfl_module_getsrc(mod, pc);
	if (ln) {
		int lineno = 0;
		const char *src = dwfl_lineinfo(ln, NULL, &lineno, NULL, NULL, NULL);
		base.file = source_path(s, src, dwfl_line_comp_dir(ln));
		base.line = lineno > 0 ? (unsigned)lineno : 0;
	}
	out[0] = base;

	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
	Dwarf_Die *chain = NULL;
	int nchain = cu ? hs_scopes_at(ms->scopes, cu, pc - bias, &chain) : 0;
	uint32_t n = 0;
	const char *outer_file = base.file;
	unsigned outer_line = base.line;
	for (int i = 0; i < nchain && n < MAX_INLINE_DEPTH; i++) {
		int tag = dwarf_tag(&chain[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		struct hs_frame f = { .address = pc, .module = modpath,
		                      .file = outer_file, .line = outer_line };
		if (tag == DW_TAG_subprogram) {
			/* the real function: the symbol table's name agrees with
			 * what other tools print; DWARF when there is none */
			if (base.function) {
				f.function = base.function;
				f.mangled = base.mangled;
			} else {
				set_name(s, &f, die_name(&chain[i]));
			}
			out[n++] = f;
			break;
		}
		set_name(s, &f, die_name(&chain[i]));
		f.inlined = true;
		out[n++] = f;
		struct hs_frame site = { 0 };
		call_site(s, cu, &chain[i], &site);
		outer_file = site.file;
		outer_line = site.line;
	}
	free(chain);
	if (n == 0)
		return 1;                    /* no function scope: keep the base   */
	if (!out[n - 1].inlined || n == MAX_INLINE_DEPTH)
		return n;
	/* inlined frames but no enclosing subprogram found: the symbol
	 * table's function is the outermost one */
	base.file = outer_file;
	base.line = outer_line;
	out[n++] = base;
	return n;
}

static struct addr_entry *addr_slot(struct hs_symbolizer *s, uint64_t ip, uint32_t mod)
{
	if ((s->addr_used + 1) * 2 > s->addr_cap) {
		size_t ncap = s->addr_cap * 2;
		struct addr_entry *na = hs_xcalloc(ncap, sizeof *na);
		for (size_t i = 0; i < s->addr_cap; i++) {
			if (!s->addrs[i].frames)
				continue;
			size_t j = hs_hash64(s->addrs[i].ip ^ (uint64_t)s->addrs[i].mod << 48)
			           & (ncap - 1);
			while (na[j].frames)
				j = (j + 1) & (ncap - 1);
			na[j] = s->addrs[i];
		}
		free(s->addrs);
		s->addrs = na;
		s->addr_cap = ncap;
	}
	size_t j = hs_hash64(ip ^ (uint64_t)mod << 48) & (s->addr_cap - 1);
	while (s->addrs[j].frames && !(s->addrs[j].ip == ip && s->addrs[j].mod == mod))
		j = (j + 1) & (s->addr_cap - 1);
	return &s->addrs[j];
}

static struct addr_entry *symbolize_ip(struct hs_symbolizer *s, uint64_t ip,
                                       uint32_t limit)
{
	long mi = ip ? find_module(s, ip - 1, limit) : -1;
	uint32_t key = (uint32_t)(mi + 1);
	struct addr_entry *e = addr_slot(s, ip, key);
	if (e->frames)
		return e;
	s->stats.addresses++;
	struct hs_frame tmp[MAX_INLINE_DEPTH + 1];
	uint32_t n = 1;
	tmp[0] = (struct hs_frame){ .address = ip ? ip - 1 : 0 };
	if (mi >= 0) {
		const struct hs_tmodule *m = &s->tr->modules[mi];
		const char *path = hs_intern(s->pool, m->path);
		tmp[0].module = path;
		struct modstate *ms = open_module(s, (uint32_t)mi);
		if (ms->state == MOD_OK)
			n = lookup(s, ms, path, ip, tmp);
	}
	e->ip = ip;
	e->mod = key;
	e->n = n;
	e->frames = hs_xmalloc(n * sizeof *e->frames);
	memcpy(e->frames, tmp, n * sizeof *tmp);
	s->addr_used++;
	return e;
}

static bool is_main(const struct hs_frame *f)
{
	return !f->inlined && f->function && strcmp(f->function, "main") == 0;
}

/* Room for `need` frames. Growing moves the frames to a new, doubled
 * array and retires the old one instead of freeing it: frames handed out
 * earlier stay valid (hs_sym_stack's promise). */
static void reserve(struct hs_symbolizer *s, struct stack_entry *se, size_t need)
{
	if (need <= se->cap)
		return;
	size_t cap = se->cap ? se->cap : 8;
	while (cap < need)
		cap *= 2;
	struct hs_frame *fr = hs_xmalloc(cap * sizeof *fr);
	if (se->n)
		memcpy(fr, se->frames, se->n * sizeof *fr);
	if (se->frames)
		*HS_PUSH(s->retired, s->nretired, s->retired_cap) = se->frames;
	se->frames = fr;
	se->cap = (uint32_t)cap;
}

/* Resolve the stack's ips up to (not including) index `upto`, appending
 * their frames. */
static void extend(struct hs_symbolizer *s, struct stack_entry *se,
                   const struct hs_tstack *st, uint32_t upto)
{
	for (uint32_t i = se->nips; i < upto && i < st->n; i++) {
		const struct addr_entry *e =
			symbolize_ip(s, s->tr->ips[st->first + i], st->nmodules);
		reserve(s, se, (size_t)se->n + e->n);
		memcpy(se->frames + se->n, e->frames, e->n * sizeof *e->frames);
		for (uint32_t k = 0; k < e->n && !se->main_at; k++)
			if (is_main(&e->frames[k]))
				se->main_at = se->n + k + 1;
			else if (e->frames[k].below_main && se->n + k > 0)
				se->main_at = se->n + k;        /* main had no symbol */
		se->n += e->n;
		se->nips = i + 1;
	}
}

static struct stack_entry *entry(struct hs_symbolizer *s, uint32_t id,
                                 const struct hs_tstack **st)
{
	*st = hs_trace_stack(s->tr, id);
	return *st ? &s->stacks[*st - s->tr->stacks] : NULL;
}

size_t hs_sym_stack(struct hs_symbolizer *s, uint32_t id, const struct hs_frame **out)
{
	const struct hs_tstack *st;
	struct stack_entry *se = entry(s, id, &st);
	*out = NULL;
	if (!se)
		return 0;
	extend(s, se, st, st->n);
	*out = se->frames;
	return se->n;
}

size_t hs_sym_stack_to_main(struct hs_symbolizer *s, uint32_t id, size_t max,
                            const struct hs_frame **out)
{
	const struct hs_tstack *st;
	struct stack_entry *se = entry(s, id, &st);
	*out = NULL;
	if (!se)
		return 0;
	/* one ip at a time: each may expand into several (inlined) frames */
	while (!se->main_at && (!max || se->n < max) && se->nips < st->n)
		extend(s, se, st, se->nips + 1);
	size_t n = se->main_at ? se->main_at : se->n;
	if (max && n > max)
		n = max;
	*out = se->frames;
	return n;
}

void hs_sym_stats(const struct hs_symbolizer *s, struct hs_sym_stats *out)
{
	*out = s->stats;
}

void hs_sym_free(struct hs_symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->tr->nmodules; i++)
		if (s->mods[i].dwfl) {
			hs_scopes_free(s->mods[i].scopes);
			dwfl_end(s->mods[i].dwfl);
		}
	for (size_t i = 0; i < s->addr_cap; i++)
		free(s->addrs[i].frames);
	for (size_t i = 0; i < s->tr->nstacks; i++)
		free(s->stacks[i].frames);
	for (size_t i = 0; i < s->nretired; i++)
		free(s->retired[i]);
	free(s->retired);
	free(s->addrs);
	free(s->stacks);
	free(s->mods);
	free(s->sorted);
	hs_strpool_free(s->pool);
	free(s);
}
