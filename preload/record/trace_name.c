/*
 * trace_name.c — what this process's trace file is called
 * (docs/TRACE-FORMAT.md, "Files").
 *
 * The name depends on HEAPSCOPE_OUT, the executable's name, the pid and
 * the lineage: whether a traced ancestor exists (then a name without %p
 * gets ".pid") and how many images this pid has exec'd before us (then
 * the pid reads "pid.gen"). All are read once, when the trace opens; a
 * fork child reuses them as generation 0 of its own pid.
 */
#include <string.h>
#include <unistd.h>

#include "trace.h"

static char pattern[1024];     /* HEAPSCOPE_OUT as read at open            */
static bool have_pattern;
static char prog[64];          /* basename of the executable, sanitised   */
static unsigned lineage_gen;   /* exec generation of this image           */
static bool lineage_descendant;/* a traced process is among our ancestors */

static size_t put(char *out, size_t cap, size_t at, const char *s)
{
	while (*s && at + 1 < cap)
		out[at++] = *s++;
	return *s ? cap : at;         /* cap: "did not fit"                   */
}

size_t hs_trace_name(char *out, size_t cap, const char *pat, const char *prg,
                     int pid, unsigned gen, bool descendant)
{
	char id[32];
	size_t at = 0;
	if (gen)
		hs_fmt(id, sizeof id, "%d.%u", pid, gen);
	else
		hs_fmt(id, sizeof id, "%d", pid);
	if (cap == 0)
		return 0;
	if (!pat || !*pat) {
		at = put(out, cap, at, "heapscope.");
		at = put(out, cap, at, prg);
		at = put(out, cap, at, ".");
		at = put(out, cap, at, id);
		at = put(out, cap, at, ".trace");
	} else {
		bool has_pid = false;
		for (const char *p = pat; *p && at < cap; p++) {
			char one[2] = { *p, 0 };
			if (p[0] == '%' && p[1] == 'p') {
				at = put(out, cap, at, id);
				has_pid = true;
				p++;
			} else if (p[0] == '%' && p[1] == '%') {
				at = put(out, cap, at, "%");
				p++;
			} else {
				at = put(out, cap, at, one);
			}
		}
		/* Without %p every process but the first would fight over one
		 * name: descendants and exec'd images add their own pid. */
		if (!has_pid && (descendant || gen)) {
			at = put(out, cap, at, ".");
			at = put(out, cap, at, id);
		}
	}
	if (at >= cap)
		return 0;
	out[at] = '\0';
	return at;
}

/* Lineage from the environment: are we a descendant of a traced process,
 * and which exec generation of our pid are we? */

static void read_lineage(void)
{
	const char *v = hs_env(HS_LINEAGE_VAR);
	if (!v)
		return;
	unsigned long pid = 0, gen = 0;
	while (*v >= '0' && *v <= '9')
		pid = pid * 10 + (unsigned long)(*v++ - '0');
	if (*v == '.')
		while (*++v >= '0' && *v <= '9')
			gen = gen * 10 + (unsigned long)(*v - '0');
	lineage_descendant = true;
	lineage_gen = pid == (unsigned long)getpid() ? (unsigned)gen + 1 : 0;
}

void hs_trace_lineage(char *out, size_t cap)
{
	hs_fmt(out, cap, "%d.%u", (int)getpid(), lineage_gen);
}

static void set_prog(void)
{
	const char *exe = hs_modules_exe_path();
	const char *base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	size_t n = 0;
	for (; base[n] && n < sizeof prog - 1; n++) {
		char c = base[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		          c == '-' || c == '+';
		prog[n] = ok ? c : '_';
	}
	prog[n] = '\0';
	if (n == 0)
		hs_fmt(prog, sizeof prog, "prog");
}

bool hs_trace_my_name(char *out, size_t cap, bool fork_child)
{
	static bool read;
	if (!read) {
		const char *v = hs_env("HEAPSCOPE_OUT");
		if (v && *v) {
			size_t n = strlen(v);
			if (n >= sizeof pattern) {
				hs_log("HEAPSCOPE_OUT is too long: nothing will be recorded");
				return false;
			}
			memcpy(pattern, v, n + 1);
			have_pattern = true;
		}
		read_lineage();
		set_prog();
		read = true;
	}
	if (fork_child) {
		lineage_descendant = true;
		lineage_gen = 0;
	}
	if (!hs_trace_name(out, cap, have_pattern ? pattern : NULL, prog,
	                   (int)getpid(), lineage_gen, lineage_descendant)) {
		hs_log("trace file name too long: nothing will be recorded");
		return false;
	}
	return true;
}
