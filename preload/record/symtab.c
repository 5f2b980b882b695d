/*
 * symtab.c — an ELF symbol-table reader that works inside malloc.
 *
 * How a lookup goes: dladdr1() names the loaded object that holds the
 * address and its load bias (link_map.l_addr: process address minus file
 * virtual address); the object's file is mapped read-only once, its
 * function symbols (.symtab and .dynsym) are copied into an mmap'd array,
 * sorted by address with an in-place heapsort (no recursion, no
 * allocation) and reduced to one symbol per address; then every lookup is
 * a binary search for address - bias.
 *
 * Why not the module map the recorder keeps (modules.c): it is built for
 * writing `M` lines, holds no symbols and takes its lock on the way; the
 * dynamic linker already answers "which object, which bias" without
 * allocating, and it is the authority on what is loaded right now.
 *
 * The cache is a fixed table of objects keyed by (bias, hash of path):
 * entries are filled under a spin lock and published by a release store
 * of the count, so readers take no lock. Nothing is ever unmapped, which
 * is what lets names outlive a dlclose.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "symtab.h"

/* ---- one file ------------------------------------------------------------ */

/* Is [off, off + len) inside a file of size total? Overflow safe. */
static bool inside(uint64_t off, uint64_t len, size_t total)
{
	return off <= total && len <= total - off;
}

/* Preference among symbols at one address: a sized one over an unsized
 * one, then global over weak over local, then a name without a leading
 * underscore ("malloc" over "__libc_malloc"). Lower is better. */
static unsigned rank(const Elf64_Sym *s, const char *name)
{
	unsigned r = s->st_size ? 0 : 8;
	unsigned bind = ELF64_ST_BIND(s->st_info);
	r += bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 2 : 4;
	return r + (name[0] == '_');
}

struct table {                     /* a symbol section and its strings */
	const Elf64_Sym *sym;
	size_t n;
	const char *str;
	size_t strsz;
};

/* The symbol section of type TYPE (SHT_SYMTAB or SHT_DYNSYM), checked. */
static bool find_table(const unsigned char *base, size_t len,
                       const Elf64_Shdr *sh, size_t shnum, unsigned type,
                       struct table *out)
{
	for (size_t i = 0; i < shnum; i++) {
		if (sh[i].sh_type != type)
			continue;
		if (sh[i].sh_entsize != sizeof(Elf64_Sym) || sh[i].sh_link >= shnum)
			return false;
		const Elf64_Shdr *st = &sh[sh[i].sh_link];
		if (st->sh_type != SHT_STRTAB || st->sh_size == 0 ||
		    !inside(sh[i].sh_offset, sh[i].sh_size, len) ||
		    !inside(st->sh_offset, st->sh_size, len) ||
		    sh[i].sh_offset % _Alignof(Elf64_Sym))
			return false;
		out->sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		out->n = sh[i].sh_size / sizeof(Elf64_Sym);
		out->str = (const char *)base + st->sh_offset;
		out->strsz = st->sh_size;
		return true;
	}
	return false;
}

/* The name of a function symbol worth indexing, else NULL. */
static const char *func_name(const struct table *t, const Elf64_Sym *s)
{
	unsigned type = ELF64_ST_TYPE(s->st_info);
	if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
	    s->st_shndx == SHN_UNDEF || s->st_value == 0 ||
	    s->st_name == 0 || s->st_name >= t->strsz)
		return NULL;
	const char *name = t->str + s->st_name;
	/* The string must end inside the table. */
	if (!memchr(name, '\0', t->strsz - s->st_name))
		return NULL;
	return name;
}

/* Heapsort keys: address, then rank; the rank is kept in the top bits of
 * the size while sorting (sizes of real functions are far below 2^59). */
#define RANK_SHIFT 59
#define SIZE_MASK  ((1ull << RANK_SHIFT) - 1)

static bool before(const struct hs_sym *a, const struct hs_sym *b)
{
	if (a->addr != b->addr)
		return a->addr < b->addr;
	return (a->size >> RANK_SHIFT) < (b->size >> RANK_SHIFT);
}

static void sift_down(struct hs_sym *v, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && before(&v[child], &v[child + 1]))
			child++;
		if (!before(&v[root], &v[child]))
			return;
		struct hs_sym tmp = v[root];
		v[root] = v[child];
		v[child] = tmp;
		root = child;
	}
}

static void heapsort_syms(struct hs_sym *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (size_t end = n; end-- > 1;) {
		struct hs_sym tmp = v[0];
		v[0] = v[end];
		v[end] = tmp;
		sift_down(v, 0, end);
	}
}

static size_t add_table(const struct table *t, struct hs_sym *out, size_t at)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *name = func_name(t, &t->sym[i]);
		if (!name)
			continue;
		if (out) {
			uint64_t size = t->sym[i].st_size & SIZE_MASK;
			out[at].addr = t->sym[i].st_value;
			out[at].size = size | (uint64_t)rank(&t->sym[i], name) << RANK_SHIFT;
			out[at].name = name;
		}
		at++;
	}
	return at;
}

/* Sort, keep the best symbol of each address, clear the rank bits. */
static size_t sort_unique(struct hs_sym *v, size_t n)
{
	heapsort_syms(v, n);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && v[k - 1].addr == v[i].addr)
			continue;              /* the first of a run ranks best */
		v[k] = v[i];
		v[k].size &= SIZE_MASK;
		k++;
	}
	return k;
}

static bool elf_ok(const Elf64_Ehdr *eh, size_t len)
{
	return len >= sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
	       eh->e_ident[EI_CLASS] == ELFCLASS64 &&
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	       eh->e_ident[EI_DATA] == ELFDATA2LSB &&
#else
	       eh->e_ident[EI_DATA] == ELFDATA2MSB &&
#endif
	       eh->e_shoff != 0 && eh->e_shentsize == sizeof(Elf64_Shdr) &&
	       eh->e_shoff % _Alignof(Elf64_Shdr) == 0;
}

bool hs_symtab_open(const char *path, struct hs_symtab *t)
{
	memset(t, 0, sizeof *t);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	size_t len = (size_t)st.st_size;
	const unsigned char *base = map;
	const Elf64_Ehdr *eh = map;
	if (!elf_ok(eh, len) || !inside(eh->e_shoff, sizeof(Elf64_Shdr), len))
		goto bad;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	/* Extended numbering: 0 in the header, the count in section 0. */
	size_t shnum = eh->e_shnum ? eh->e_shnum : sh[0].sh_size;
	if (shnum == 0 || shnum > len / sizeof(Elf64_Shdr) ||
	    !inside(eh->e_shoff, shnum * sizeof(Elf64_Shdr), len))
		goto bad;
	struct table tabs[2];
	size_t ntabs = 0;
	if (find_table(base, len, sh, shnum, SHT_SYMTAB, &tabs[ntabs])) {
		ntabs++;
		t->from_symtab = true;
	}
	if (find_table(base, len, sh, shnum, SHT_DYNSYM, &tabs[ntabs]))
		ntabs++;
	size_t n = 0;
	for (size_t i = 0; i < ntabs; i++)
		n = add_table(&tabs[i], NULL, n);
	t->map = map;
	t->map_len = len;
	if (n == 0)
		return true;
	size_t bytes = (n * sizeof(struct hs_sym) + 4095) & ~(size_t)4095;
	struct hs_sym *v = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		goto bad;
	size_t at = 0;
	for (size_t i = 0; i < ntabs; i++)
		at = add_table(&tabs[i], v, at);
	t->syms = v;
	t->nsyms = sort_unique(v, at);
	t->index_len = bytes;
	return true;
bad:
	munmap(map, len);
	memset(t, 0, sizeof *t);
	return false;
}

void hs_symtab_close(struct hs_symtab *t)
{
	if (t->syms)
		munmap(t->syms, t->index_len);
	if (t->map)
		munmap((void *)t->map, t->map_len);
	memset(t, 0, sizeof *t);
}

const struct hs_sym *hs_symtab_find(const struct hs_symtab *t, uint64_t vaddr)
{
	size_t lo = 0, hi = t->nsyms;          /* first symbol with addr > vaddr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct hs_sym *s = &t->syms[lo - 1];
	if (s->size && vaddr - s->addr >= s->size)
		return NULL;
	return s;
}

/* ---- the objects of this process ----------------------------------------- */

#define MAX_OBJECTS 256

struct object {
	uintptr_t bias;
	uint64_t path_hash;
	bool ok;                    /* the file was indexed                     */
	struct hs_symtab tab;
};

static struct object objects[MAX_OBJECTS];
static _Atomic size_t nobjects;             /* published entries         */
static atomic_flag fill_lock = ATOMIC_FLAG_INIT;

static uint64_t hash_path(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;       /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static const struct object *lookup(uintptr_t bias, uint64_t hash, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (objects[i].bias == bias && objects[i].path_hash == hash)
			return &objects[i];
	return NULL;
}

/* The main program's link_map has an empty name: its file is our exe. */
static const char *exe_path(void)
{
	static char buf[4096];
	static _Atomic int state;               /* 0 unread, 1 ok, 2 failed */
	int s = atomic_load_explicit(&state, memory_order_acquire);
	if (s == 0) {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
		if (n > 0)
			buf[n] = '\0';
		s = n > 0 ? 1 : 2;
		atomic_store_explicit(&state, s, memory_order_release);
	}
	return s == 1 ? buf : NULL;
}

static const struct object *object_for(uintptr_t bias, const char *path)
{
	uint64_t hash = hash_path(path);
	const struct object *o = lookup(bias, hash,
	        atomic_load_explicit(&nobjects, memory_order_acquire));
	if (o)
		return o;
	while (atomic_flag_test_and_set_explicit(&fill_lock, memory_order_acquire))
		;
	size_t n = atomic_load_explicit(&nobjects, memory_order_relaxed);
	o = lookup(bias, hash, n);            /* another thread was quicker */
	if (!o && n < MAX_OBJECTS) {
		struct object *e = &objects[n];
		e->bias = bias;
		e->path_hash = hash;
		int cancel = hs_cancel_off();   /* open(2) under fill_lock */
		e->ok = hs_symtab_open(path, &e->tab);
		hs_cancel_restore(cancel);
		atomic_store_explicit(&nobjects, n + 1, memory_order_release);
		o = e;
	}
	atomic_flag_clear_explicit(&fill_lock, memory_order_release);
	return o;
}

const char *hs_symtab_name(uintptr_t addr)
{
	Dl_info info;
	struct link_map *lm = NULL;
	if (!dladdr1((void *)addr, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return NULL;
	const char *path = lm->l_name && lm->l_name[0] ? lm->l_name : exe_path();
	const struct object *o = path ? object_for(lm->l_addr, path) : NULL;
	if (o && o->ok) {
		const struct hs_sym *s = hs_symtab_find(&o->tab, addr - lm->l_addr);
		if (s)
			return s->name;
	}
	return info.dli_sname;
}
