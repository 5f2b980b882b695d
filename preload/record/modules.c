/*
 * modules.c — the module map: every loaded object's path, load bias,
 * executable range and build-id, written as `M` lines so that the analyzer
 * can symbolise return addresses after the process is gone.
 *
 * The loader counts objects added and removed (dl_phdr_info.dlpi_adds and
 * dlpi_subs). A new stack checks those counters first — one callback, then
 * stop — and rescans only when they moved, so a dlopen'd library gets its
 * M line before the first S line that points into it, and the common case
 * costs one uncontended lock in the loader.
 *
 * Entries are never removed: after a dlclose an address range may be
 * reused by another object, which then gets its own, later M line (readers
 * take the latest M line covering an address).
 */
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"
#include "unwind.h"

#define MAX_MODULES  1024
#define BUILD_ID_MAX 64               /* bytes; GNU build-ids are 20      */
#define NAMES_BYTES  (256 * 1024)     /* paths of all modules, NUL-ended  */

/* Everything an M line needs is copied here, so that a new trace (open,
 * fork child) can write the map without asking the loader while holding
 * our locks: the loader lock always comes first (trace.h). */
struct module {
	uintptr_t bias;                   /* dlpi_addr                          */
	uintptr_t start, end;             /* executable PT_LOAD range, biased   */
	uint32_t  name_hash;              /* with bias/start/end: identity      */
	uint32_t  name_off;               /* path in MT.names                   */
	uint8_t   id_len;                 /* build-id bytes, 0 = none           */
	uint8_t   id[BUILD_ID_MAX];
};

static struct {
	struct hs_spin lock;
	unsigned n;
	bool full_said;
	_Atomic unsigned long long adds, subs;   /* loader counters last seen   */
	struct module m[MAX_MODULES];
	size_t names_used;
	char names[NAMES_BYTES];
} MT;

static char exe_path[4096];

const char *hs_modules_exe_path(void)
{
	if (!exe_path[0]) {
		ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
		if (n <= 0)
			n = 0;
		exe_path[n] = '\0';
		if (n == 0)
			memcpy(exe_path, "?", 2);
	}
	return exe_path;
}

void hs_modules_lock(void)   { hs_spin_lock(&MT.lock); }
void hs_modules_unlock(void) { hs_spin_unlock(&MT.lock); }
void hs_modules_reset_child(void) { hs_spin_reset(&MT.lock); }

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;           /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *name_of(const struct dl_phdr_info *info)
{
	/* The main program is the first entry and has an empty name. */
	return info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name
	                                             : hs_modules_exe_path();
}

static void text_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t a = UINTPTR_MAX, b = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (s < a)
			a = s;
		if (s + ph->p_memsz > b)
			b = s + ph->p_memsz;
	}
	*lo = a == UINTPTR_MAX ? 0 : a;
	*hi = b;
}

/* NT_GNU_BUILD_ID from the PT_NOTE segments. */
static void build_id(const struct dl_phdr_info *info, struct module *m)
{
	m->id_len = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		size_t align = ph->p_align == 8 ? 8 : 4;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *nh;
			const char *desc = name + ((nh->n_namesz + align - 1) & ~(align - 1));
			const char *next = desc + ((nh->n_descsz + align - 1) & ~(align - 1));
			if (next > end || next <= p)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && nh->n_descsz > 0 &&
			    nh->n_descsz <= BUILD_ID_MAX) {
				memcpy(m->id, desc, nh->n_descsz);
				m->id_len = (uint8_t)nh->n_descsz;
				return;
			}
			p = next;
		}
	}
}

/* Copy a path into the names arena, control bytes replaced (they would
 * break the line format). Locked. */
static uint32_t keep_name(const char *s)
{
	size_t n = strlen(s);
	if (MT.names_used + n + 1 > NAMES_BYTES)
		s = "?", n = 1;
	if (MT.names_used + n + 1 > NAMES_BYTES)
		return 0;                     /* names[0] is a path already: fine */
	uint32_t off = (uint32_t)MT.names_used;
	for (size_t i = 0; i < n; i++)
		MT.names[off + i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	MT.names[off + n] = '\0';
	MT.names_used += n + 1;
	return off;
}

/* M line for table entry i. Modules and trace locks held. */
static void emit_locked(unsigned i)
{
	static const char hex[] = "0123456789abcdef";
	const struct module *m = &MT.m[i];
	char id[2 * BUILD_ID_MAX + 1] = "-";
	for (unsigned k = 0; k < m->id_len; k++) {
		id[2 * k] = hex[m->id[k] >> 4];
		id[2 * k + 1] = hex[m->id[k] & 15];
		id[2 * k + 2] = '\0';
	}
	hs_trace_printf_locked("M %u %lx %lx %lx %s %s\n", i, (unsigned long)m->bias,
	                       (unsigned long)m->start, (unsigned long)m->end, id,
	                       MT.names + m->name_off);
}

void hs_modules_emit_all_locked(void)
{
	for (unsigned i = 0; i < MT.n; i++)
		emit_locked(i);
}

/* Record the object if new, and write its M line if the trace is open.
 * Runs under the loader lock (dl_iterate_phdr), then takes ours. */
static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct module k;
	text_range(info, &k.start, &k.end);
	if (k.start == k.end)
		return 0;                 /* nothing executable: no ip lands here */
	k.bias = info->dlpi_addr;
	const char *name = name_of(info);
	k.name_hash = hash_str(name);
	hs_modules_lock();
	unsigned i;
	for (i = 0; i < MT.n; i++)
		if (MT.m[i].bias == k.bias && MT.m[i].start == k.start &&
		    MT.m[i].end == k.end && MT.m[i].name_hash == k.name_hash)
			break;
	if (i == MT.n) {
		hs_trace_lock();
		if (MT.n < MAX_MODULES) {
			build_id(info, &k);
			k.name_off = keep_name(name);
			MT.m[MT.n++] = k;
			if (hs_trace_writable_locked())
				emit_locked(i);
		} else if (!MT.full_said) {
			MT.full_said = true;
			hs_trace_printf_locked("! module table full (%d)\n", MAX_MODULES);
		}
		hs_trace_unlock();
	}
	hs_modules_unlock();
	return 0;
}

static int peek_counters(struct dl_phdr_info *info, size_t size, void *out)
{
	unsigned long long *c = out;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;                        /* the first entry is enough         */
}

void hs_modules_refresh(void)
{
	unsigned long long c[2] = { 0, 0 };
	dl_iterate_phdr(peek_counters, c);
	if (c[0] && c[0] == atomic_load(&MT.adds) && c[1] == atomic_load(&MT.subs))
		return;
	dl_iterate_phdr(visit, NULL);
	hs_unwind_modules_changed();     /* a dlclose retires cached rules */
	atomic_store(&MT.adds, c[0]);
	atomic_store(&MT.subs, c[1]);
}

/* Our text, if we are a library of our own. Linked into a program (the
 * unit tests) the range would be the whole program: report it empty. */
static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t *r = arg, lo, hi;
	text_range(info, &lo, &hi);
	if (r[0] >= lo && r[0] < hi) {
		bool main_program = !info->dlpi_name || !info->dlpi_name[0];
		r[1] = main_program ? 1 : lo;
		r[2] = main_program ? 1 : hi;
		return 1;
	}
	return 0;
}

void hs_modules_self_text(uintptr_t *lo, uintptr_t *hi)
{
	static _Atomic uintptr_t s_lo, s_hi;
	if (!atomic_load_explicit(&s_hi, memory_order_acquire)) {
		uintptr_t r[3] = { (uintptr_t)&hs_modules_self_text, 0, 0 };
		dl_iterate_phdr(find_self, r);
		atomic_store(&s_lo, r[1]);
		atomic_store_explicit(&s_hi, r[2], memory_order_release);
	}
	*lo = atomic_load(&s_lo);
	*hi = atomic_load_explicit(&s_hi, memory_order_relaxed);
}
