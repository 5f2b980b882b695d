/*
 * fuzz_config.c — libFuzzer harness for the HEAPSCOPE_* option parser
 * (preload/config.c, through util.c's hs_env and hs_log).
 *
 * hs_config_init() reads the process environment, so the harness builds
 * a fake `environ` from the input: one entry per line (a '\n' or NUL ends
 * an entry, as NUL ends a real one). The parsed settings are then checked
 * against the documented ranges, and hs_cfg is put back to its defaults
 * for the next input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

extern char **environ;
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VARS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hs_config defaults;
	static int saved;
	if (!saved) {
		defaults = hs_cfg;
		saved = 1;
	}
	hs_cfg = defaults;

	/* Each entry in its own exact-size allocation so that ASan sees a
	 * read past the end of one value. */
	char *vars[MAX_VARS + 1];
	size_t nv = 0, start = 0;
	for (size_t i = 0; i <= size && nv < MAX_VARS; i++) {
		if (i < size && data[i] != '\n' && data[i] != '\0')
			continue;
		size_t len = i - start;
		char *v = malloc(len + 1);
		memcpy(v, data + start, len);
		v[len] = '\0';
		vars[nv++] = v;
		start = i + 1;
	}
	vars[nv] = NULL;

	char **real = environ;
	environ = vars;
	hs_config_init();
	environ = real;

	if (hs_cfg.stack_depth < 1 || hs_cfg.stack_depth > 256)
		abort();
	if (hs_cfg.quarantine_bytes > ((size_t)1 << 40))
		abort();
	if ((hs_cfg.enabled | hs_cfg.abort_on_error | hs_cfg.stack_cache | hs_cfg.checks |
	     hs_cfg.unwind | hs_cfg.unwind_stats) & ~1)
		abort();
	for (size_t i = 0; i < nv; i++)
		free(vars[i]);
	return 0;
}
