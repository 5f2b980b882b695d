/*
 * config.c — HEAPSCOPE_* settings, read once when the library starts.
 *
 * Read through hs_env() (no allocation) in our constructor; a value that
 * does not parse is named on stderr and the default is used, never a
 * silent misread.
 */
#include <string.h>

#include "internal.h"

struct hs_config hs_cfg = {
	.enabled = 1,
	.stack_depth = 32,
	.tcache_bytes = 64 * 1024,
	.checks = -1,                   /* unset: follows .enabled            */
	.quarantine_bytes = 256 << 10,     /* per thread: see docs/ARCHITECTURE.md */
	.abort_on_error = 0,
	.stack_cache = 1,
	.unwind = 1,
	.log = 1,
};
int hs_initialized;
int hs_recording;

/* Parse a decimal number in [lo, hi]; false on anything else. */
static bool parse_num(const char *s, long lo, long hi, long *out)
{
	long v = 0;
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > hi)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void read_bool(const char *name, int *dst)
{
	const char *v = hs_env(name);
	if (!v)
		return;
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*dst = 1;
	else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
		*dst = 0;
	else
		hs_log("%s=%s: expected 1 or 0; using %d", name, v, *dst);
}

static void read_int(const char *name, long lo, long hi, int *dst)
{
	const char *v = hs_env(name);
	long n;
	if (!v)
		return;
	if (parse_num(v, lo, hi, &n))
		*dst = (int)n;
	else
		hs_log("%s=%s: expected a whole number from %ld to %ld; using %d",
		       name, v, lo, hi, *dst);
}

/* Bytes, with an optional k or m suffix (KiB, MiB). */
static void read_size(const char *name, size_t hi, size_t *dst)
{
	const char *v = hs_env(name);
	char num[24];
	long n;
	if (!v)
		return;
	size_t len = strlen(v), mul = 1;
	if (len && (v[len - 1] == 'k' || v[len - 1] == 'K'))
		mul = 1024, len--;
	else if (len && (v[len - 1] == 'm' || v[len - 1] == 'M'))
		mul = 1024 * 1024, len--;
	if (len < sizeof num) {
		memcpy(num, v, len);
		num[len] = '\0';
		if (parse_num(num, 0, (long)(hi / mul), &n)) {
			*dst = (size_t)n * mul;
			return;
		}
	}
	hs_log("%s=%s: expected a size in bytes (k or m suffix allowed) up to %zu; "
	       "using %zu", name, v, hi, *dst);
}

void hs_config_init(void)
{
	/* first, so that it also quiets what the settings below may say:
	 * `heapscope` in valgrind's style reports every error once, in its
	 * report (or log file), and not also as a line on the program's stderr */
	read_bool("HEAPSCOPE_LOG", &hs_cfg.log);
	read_bool("HEAPSCOPE_RECORD", &hs_cfg.enabled);
	read_int("HEAPSCOPE_STACK_DEPTH", 1, 256, &hs_cfg.stack_depth);
	read_bool("HEAPSCOPE_STACK_CACHE", &hs_cfg.stack_cache);
	/* Which unwinder takes a stack the cache misses: ours (record/unwind.c,
	 * libunwind where its rules cannot) or libunwind alone. */
	const char *unw = hs_env("HEAPSCOPE_UNWIND");
	if (unw && !strcmp(unw, "libunwind"))
		hs_cfg.unwind = 0;
	else if (unw && strcmp(unw, "dwarf"))
		hs_log("HEAPSCOPE_UNWIND=%s: expected dwarf or libunwind; using dwarf", unw);
	read_bool("HEAPSCOPE_UNWIND_STATS", &hs_cfg.unwind_stats);
	/* Tests: every stack the cache or the walk before gives is checked
	 * against libunwind's (slow: every allocation unwinds twice). */
	read_bool("HEAPSCOPE_UNWIND_VERIFY", &hs_cfg.unwind_verify);
	if (hs_cfg.unwind_verify)
		hs_cfg.unwind_stats = 1;
	/* --no-children: an exec'd descendant (the recorder marks them with
	 * HEAPSCOPE_TRACED) keeps our allocator but records nothing. Forked
	 * children are always traced, as valgrind does. */
	int children = 1;
	read_bool("HEAPSCOPE_CHILDREN", &children);
	if (!children && hs_env("HEAPSCOPE_TRACED"))
		hs_cfg.enabled = 0;
	/* Checks cost a little on every call: on by default when recording,
	 * off for the plain allocator (HEAPSCOPE_RECORD=0) unless asked for. */
	if (hs_cfg.checks < 0)
		hs_cfg.checks = hs_cfg.enabled;
	read_bool("HEAPSCOPE_CHECKS", &hs_cfg.checks);
	read_size("HEAPSCOPE_QUARANTINE", (size_t)1 << 40, &hs_cfg.quarantine_bytes);
	read_bool("HEAPSCOPE_ABORT_ON_ERROR", &hs_cfg.abort_on_error);
}
