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
};

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

void hs_config_init(void)
{
	read_bool("HEAPSCOPE_RECORD", &hs_cfg.enabled);
	read_int("HEAPSCOPE_STACK_DEPTH", 1, 256, &hs_cfg.stack_depth);
	/* --no-children: an exec'd descendant (the recorder marks them with
	 * HEAPSCOPE_TRACED) keeps our allocator but records nothing. Forked
	 * children are always traced, as valgrind does. */
	int children = 1;
	read_bool("HEAPSCOPE_CHILDREN", &children);
	if (!children && hs_env("HEAPSCOPE_TRACED"))
		hs_cfg.enabled = 0;
}
