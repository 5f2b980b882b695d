/*
 * leakmaps.c — /proc/self/maps as an array of regions, for the leak scan.
 *
 * Read with open/read into mmap'd memory and parsed by hand: no stdio
 * (it allocates), no malloc. Each region records how far it can be read
 * without a fault: a file mapping that reaches past the end of its file
 * raises SIGBUS there, so file regions are clamped to the file's size
 * (memcheck catches the signal instead; we would rather not install
 * handlers in someone else's process at exit).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leaks.h"
#include "leakroots.h"

#define PAGE ((uintptr_t)HS_PAGE_SIZE)

/* ---- reading ------------------------------------------------------------- */

/* The whole file in mmap'd memory; *len bytes of text. */
static char *slurp(const char *path, size_t *len, size_t *cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *buf = NULL;
	size_t size = 0, used = 0;
	for (;;) {
		if (used + 4096 > size && !hs_lk_grow(&buf, &size, size ? 2 * size : 64 * 1024))
			break;
		ssize_t r = read(fd, (char *)buf + used, size - used);
		if (r < 0)
			break;
		if (r == 0) {
			close(fd);
			*len = used;
			*cap = size;
			return buf;
		}
		used += (size_t)r;
	}
	close(fd);
	if (buf)
		hs_lk_unmap(buf, size);
	return NULL;
}

/* ---- parsing ------------------------------------------------------------- */

static const char *hex(const char *s, const char *end, uintptr_t *out)
{
	uintptr_t v = 0;
	for (; s < end; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			break;
		v = v << 4 | d;
	}
	*out = v;
	return s;
}

static const char *skip_field(const char *s, const char *end)
{
	while (s < end && *s != ' ')
		s++;
	while (s < end && *s == ' ')
		s++;
	return s;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static bool ends(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Classify a named mapping: [pseudo] entries, devices, files. */
static void classify_path(struct hs_lk_region *r, const char *path, size_t n,
                          uintptr_t offset)
{
	if (path[0] == '[') {
		if (starts(path, n, "[heap]") || starts(path, n, "[anon"))
			r->type = HS_LK_ANON;
		else if (starts(path, n, "[stack]")) {
			r->type = HS_LK_ANON;
			r->main_stack = 1;
		} else
			r->type = HS_LK_SKIP;          /* [vvar], [vdso], [vsyscall] */
		return;
	}
	/* MAP_SHARED|MAP_ANONYMOUS shows as the deleted /dev/zero. */
	if (starts(path, n, "/dev/zero")) {
		r->type = HS_LK_ANON;
		return;
	}
	/* ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld64.so.2, ... */
	const char *base = path + n;
	while (base > path && base[-1] != '/')
		base--;
	size_t bn = (size_t)(path + n - base);
	r->loader = starts(base, bn, "ld-linux") || starts(base, bn, "ld64.so")
	            || starts(base, bn, "ld.so");
	r->type = HS_LK_SKIP;
	if (ends(path, n, " (deleted)") || n >= 4096)
		return;                              /* memfd, SysV shm, gone  */
	char name[4096];
	memcpy(name, path, n);
	name[n] = '\0';
	struct stat sb;
	if (stat(name, &sb) != 0 || !S_ISREG(sb.st_mode))
		return;                              /* devices: never poke    */
	r->type = HS_LK_FILE;
	uintptr_t size = (uintptr_t)sb.st_size;
	uintptr_t avail = size > offset ? (size - offset + PAGE - 1) & ~(PAGE - 1) : 0;
	r->safe_hi = avail < r->hi - r->lo ? r->lo + avail : r->hi;
}

/* One line: "lo-hi perms offset dev inode   path". False if malformed. */
static bool parse_line(const char *s, const char *end, struct hs_lk_region *r)
{
	*r = (struct hs_lk_region){ 0 };
	uintptr_t offset;
	s = hex(s, end, &r->lo);
	if (s >= end || *s != '-')
		return false;
	s = hex(s + 1, end, &r->hi);
	if (s + 5 > end || *s != ' ' || r->hi <= r->lo)
		return false;
	r->r = s[1] == 'r';
	r->w = s[2] == 'w';
	r->x = s[3] == 'x';
	r->shared = s[4] == 's';
	s = skip_field(s + 1, end);              /* perms                  */
	s = hex(s, end, &offset);
	s = skip_field(s, end);                  /* rest of offset         */
	s = skip_field(s, end);                  /* dev                    */
	s = skip_field(s, end);                  /* inode                  */
	r->safe_hi = r->hi;
	if (s >= end) {
		r->type = HS_LK_ANON;
		return true;
	}
	classify_path(r, s, (size_t)(end - s), offset);
	return true;
}

bool hs_lk_maps_read(struct hs_lk_maps *m)
{
	*m = (struct hs_lk_maps){ 0 };
	size_t len, cap;
	char *text = slurp("/proc/self/maps", &len, &cap);
	if (!text)
		return false;
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	void *reg = NULL;
	size_t bytes = 0;
	if (!hs_lk_grow(&reg, &bytes, (lines + 1) * sizeof(struct hs_lk_region))) {
		hs_lk_unmap(text, cap);
		return false;
	}
	m->reg = reg;
	m->bytes = bytes;
	for (const char *s = text, *end = text + len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		if (parse_line(s, nl, &m->reg[m->n]))
			m->n++;
		s = nl + 1;
	}
	m->text = text;
	m->text_bytes = cap;
	return true;
}

void hs_lk_maps_free(struct hs_lk_maps *m)
{
	if (m->reg)
		hs_lk_unmap(m->reg, m->bytes);
	if (m->text)
		hs_lk_unmap(m->text, m->text_bytes);
	*m = (struct hs_lk_maps){ 0 };
}

const struct hs_lk_region *hs_lk_maps_find(const struct hs_lk_maps *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct hs_lk_region *r = &m->reg[mid];
		if (addr < r->lo)
			hi = mid;
		else if (addr >= r->hi)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* ---- vtables ------------------------------------------------------------- */

#define VTABLE_WORDS 20         /* memcheck looks at most this far        */

bool hs_lk_maps_is_vtable(uintptr_t addr, void *ctx)
{
	const struct hs_lk_maps *m = ctx;
	const struct hs_lk_region *r = hs_lk_maps_find(m, addr);
	if (!r || r->type != HS_LK_FILE || !r->r || addr + sizeof(uintptr_t) > r->safe_hi)
		return false;
	size_t len = VTABLE_WORDS * sizeof(uintptr_t);
	if (len > r->safe_hi - addr)
		len = r->safe_hi - addr;
	/* copied, not read: a library may be dlclosed under the scan */
	uintptr_t words[VTABLE_WORDS];
	size_t n = hs_lk_copy_mem(words, addr, len, NULL) / sizeof(uintptr_t);
	unsigned code_ptrs = 0;
	for (size_t i = 0; i < n; i++) {
		uintptr_t fn = words[i];
		if (fn == 0)
			continue;                    /* pure virtual slots, offsets */
		const struct hs_lk_region *t = hs_lk_maps_find(m, fn);
		if (!t || t->type != HS_LK_FILE || !t->x)
			return false;
		if (++code_ptrs == 2)
			return true;
	}
	return false;
}
