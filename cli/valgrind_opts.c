/*
 * valgrind_opts.c — memcheck's command line, translated into heapscope's
 * run options, so that `valgrind` can be swapped for `heapscope` in a
 * CI script, CTest's MEMORYCHECK_COMMAND or `meson test --wrap`.
 *
 * Each valgrind option is one of:
 *   taken      it sets the hs_cli field that does the same job, or is
 *              rewritten into heapscope's own option (--num-callers=N is
 *              --stack-depth=N) and parsed by options.c;
 *   noted      it only means something inside valgrind's virtual CPU
 *              (--track-origins=yes): accepted, with one note on stderr;
 *   silent     heapscope already behaves so (--keep-debuginfo=yes);
 *   refused    heapscope cannot do what it asks (--tool=helgrind,
 *              --vgdb=yes): one line, exit 2, the program is not run.
 * A name that is not in the table is left to options.c, which calls an
 * unknown one an error. docs/VALGRIND.md has the same table for people.
 *
 * Started as `heapscope [valgrind options] PROG` (no subcommand), the
 * defaults are valgrind's (hs_vg_defaults): --leak-check=summary,
 * --show-leak-kinds and --errors-for-leak-kinds definite,possible,
 * --trace-children=no, --num-callers=12, and the blocks that valgrind's
 * exit-time __libc_freeres would free are not reported (see
 * load_runtime_supps in options.c).
 */
#include "cli.h"
#include "report/report.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum vg_id {
	V_VERBOSE, V_TOOL, V_LEAK_CHECK, V_SHOW_REACHABLE, V_SHOW_POSSIBLY,
	V_ERR_KINDS, V_NUM_CALLERS, V_LOG_FILE, V_LOG_FD, V_XML, V_XML_FILE, V_XML_FD,
	V_EXITCODE, V_GEN_SUPPS, V_CHILDREN, V_CHILD_SILENT, V_DEFAULT_SUPPS,
	V_FREERES, V_FREELIST, V_NOTE_YES, V_SILENT, V_REFUSE_YES, V_REFUSE,
};

static const struct vg_opt {
	const char *name;          /* with its '=' when it takes a value     */
	enum vg_id  id;
	const char *why;           /* V_NOTE_YES, V_REFUSE*: what to say      */
} table[] = {
	{ "-v", V_VERBOSE, NULL }, { "--verbose", V_VERBOSE, NULL },
	{ "--tool=", V_TOOL, NULL },
	{ "--leak-check=", V_LEAK_CHECK, NULL },
	{ "--show-reachable=", V_SHOW_REACHABLE, NULL },
	{ "--show-possibly-lost=", V_SHOW_POSSIBLY, NULL },
	{ "--errors-for-leak-kinds=", V_ERR_KINDS, NULL },
	{ "--num-callers=", V_NUM_CALLERS, NULL },
	{ "--log-file=", V_LOG_FILE, NULL },
	{ "--log-fd=", V_LOG_FD, NULL },
	{ "--xml=", V_XML, NULL },
	{ "--xml-file=", V_XML_FILE, NULL },
	{ "--xml-fd=", V_XML_FD, NULL },
	{ "--error-exitcode=", V_EXITCODE, NULL },
	{ "--gen-suppressions=", V_GEN_SUPPS, NULL },
	{ "--trace-children=", V_CHILDREN, NULL },
	{ "--child-silent-after-fork=", V_CHILD_SILENT, NULL },
	{ "--default-suppressions=", V_DEFAULT_SUPPS, NULL },
	{ "--run-libc-freeres=", V_FREERES, NULL },
	{ "--run-cxx-freeres=", V_FREERES, NULL },
	{ "--freelist-vol=", V_FREELIST, NULL },
	{ "--track-origins=", V_NOTE_YES, "heapscope does not track uninitialised values" },
	{ "--undef-value-errors=", V_SILENT, NULL },
	{ "--time-stamp=", V_NOTE_YES, "heapscope writes its report after the program "
	  "ended, so its lines carry no time" },
	{ "--track-fds=", V_NOTE_YES, "heapscope does not check file descriptors" },
	{ "--trace-malloc=", V_NOTE_YES, "heapscope does not print each call; the trace "
	  "file (-o) has them" },
	{ "--show-below-main=", V_NOTE_YES, "stacks are shown down to main" },
	{ "--keep-debuginfo=", V_SILENT, NULL },
	{ "--leak-resolution=", V_SILENT, NULL },
	{ "--error-limit=", V_SILENT, NULL },
	{ "--show-error-list=", V_SILENT, NULL }, { "-s", V_SILENT, NULL },
	{ "--read-var-info=", V_SILENT, NULL },
	{ "--read-inline-info=", V_SILENT, NULL },
	{ "--demangle=", V_SILENT, NULL },
	{ "--smc-check=", V_SILENT, NULL },
	{ "--partial-loads-ok=", V_SILENT, NULL },
	{ "--expensive-definedness-checks=", V_SILENT, NULL },
	{ "--fair-sched=", V_SILENT, NULL },
	{ "--vgdb=", V_REFUSE_YES, "heapscope has no gdbserver; debug the program "
	  "with gdb directly" },
	{ "--vgdb-error=", V_REFUSE, "heapscope has no gdbserver; debug the program "
	  "with gdb directly" },
	{ "--db-attach=", V_REFUSE_YES, "heapscope has no debugger attachment" },
	{ "--log-socket=", V_REFUSE, "heapscope writes to files and descriptors "
	  "only (--log-file, --log-fd)" },
	{ "--xml-socket=", V_REFUSE, "heapscope writes to files and descriptors "
	  "only (--xml-file, --xml-fd)" },
};

/* One line for a value that is not one of the allowed ones. */
static int bad_value(const char *name, const char *v, const char *allowed)
{
	fprintf(stderr, "heapscope: %.*s: '%s' is not one of %s\n",
	        (int)strcspn(name, "="), name, v, allowed);
	return -1;
}

/* "yes" / "no"; -1 (said) otherwise. */
static int yes_no(const char *name, const char *v)
{
	if (strcmp(v, "yes") == 0)
		return 1;
	if (strcmp(v, "no") == 0)
		return 0;
	return bad_value(name, v, "yes, no");
}

static int number(const char *name, const char *v, long lo, long hi, long *out)
{
	return hs_cli_number("heapscope", name, (int)strcspn(name, "="), v, lo, hi, out);
}

static int kinds(const char *name, const char *v, unsigned *mask)
{
	char bad[64];
	if (hs_leak_kinds_parse(v, mask, bad, sizeof bad) == 0)
		return 0;
	return bad_value(name, bad, "definite, indirect, possible, reachable, all, none");
}

static void note(const char *arg, const char *why)
{
	fprintf(stderr, "heapscope: note: %s is accepted and has no effect: %s\n", arg, why);
}

/* A string heapscope keeps until exit (freed with the options). */
static char *keep(struct hs_cli *c, char *s)
{
	*HS_PUSH(c->owned, c->nowned, c->cap_owned) = s;
	return s;
}

/* valgrind's file names: %q{VAR} is VAR's value, read now (it is the
 * same environment the program gets); %p stays for the pid and %% for
 * '%' (hs_expand_name, when the file is opened). */
static char *expand_env(struct hs_cli *c, const char *name, const char *v)
{
	size_t cap = strlen(v) + 1, n = 0;
	char *out = hs_xmalloc(cap);
	while (*v) {
		if (v[0] == '%' && v[1] == 'q' && v[2] == '{') {
			const char *close = strchr(v + 3, '}');
			if (!close) {
				fprintf(stderr, "heapscope: %.*s: '%%q{' without its '}'\n",
				        (int)strcspn(name, "="), name);
				free(out);
				return NULL;
			}
			char *var = hs_xstrdup(v + 3);
			var[close - (v + 3)] = 0;
			const char *val = getenv(var);
			free(var);
			size_t vl = val ? strlen(val) : 0;
			cap += vl;
			out = hs_xrealloc(out, cap);
			memcpy(out + n, val ? val : "", vl);
			n += vl;
			v = close + 1;
			continue;
		}
		if (v[0] == '%' && v[1])
			out[n++] = *v++;       /* %p and %% are for later */
		out[n++] = *v++;
	}
	out[n] = 0;
	return keep(c, out);
}

/* Rewritten as heapscope's own option, for options.c to parse. */
static int translate(char *out, size_t cap, const char *opt, const char *v)
{
	if ((size_t)snprintf(out, cap, "%s=%s", opt, v) >= cap)
		return bad_value(opt, v, "values of a sensible length");
	return 2;
}

static int take(struct hs_cli *c, const struct vg_opt *o, const char *arg, const char *v,
                char *out, size_t cap)
{
	long n;
	int b;
	switch (o->id) {
	case V_VERBOSE:
		c->quiet = false;      /* the report is the same: all there is */
		return 1;
	case V_TOOL:
		if (strcmp(v, "memcheck") == 0)
			return 1;
		fprintf(stderr, "heapscope: %s: heapscope does memcheck's work only; run "
		        "this one under valgrind\n", arg);
		return -1;
	case V_LEAK_CHECK:
		if (strcmp(v, "no") == 0)
			c->leak_check = HS_LEAK_CHECK_NO;
		else if (strcmp(v, "summary") == 0)
			c->leak_check = HS_LEAK_CHECK_SUMMARY;
		else if (strcmp(v, "yes") == 0 || strcmp(v, "full") == 0)
			c->leak_check = HS_LEAK_CHECK_FULL;
		else
			return bad_value(o->name, v, "no, summary, yes, full");
		return 1;
	case V_SHOW_REACHABLE:
	case V_SHOW_POSSIBLY:
		if ((b = yes_no(o->name, v)) < 0)
			return -1;
		if (o->id == V_SHOW_REACHABLE)     /* as valgrind: all, or not */
			c->show_kinds = b ? (1u << HS_NR_LEAK_KINDS) - 1
			                  : 1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_POSSIBLE;
		else if (b)
			c->show_kinds |= 1u << HS_LEAK_POSSIBLE;
		else
			c->show_kinds &= ~(1u << HS_LEAK_POSSIBLE);
		return 1;
	case V_ERR_KINDS:
		return kinds(o->name, v, &c->error_kinds) < 0 ? -1 : 1;
	case V_NUM_CALLERS:
		if (number(o->name, v, 1, 500, &n) < 0)
			return -1;
		if (n > HS_MAX_RECORD_DEPTH)
			fprintf(stderr, "heapscope: note: %s: stacks are recorded %d frames "
			        "deep at most\n", arg, HS_MAX_RECORD_DEPTH);
		snprintf(out, cap, "--stack-depth=%ld", n < HS_MAX_RECORD_DEPTH ? n
		         : HS_MAX_RECORD_DEPTH);
		return 2;
	case V_LOG_FILE:
	case V_XML_FILE: {
		if (!*v)
			return bad_value(o->name, v, "a file name");
		char *name = expand_env(c, o->name, v);
		if (!name)
			return -1;
		if (o->id == V_XML_FILE)
			c->xml_file = name;
		else
			c->log_file = name;
		return 1;
	}
	case V_LOG_FD:
	case V_XML_FD:
		if (number(o->name, v, 0, 1024, &n) < 0)
			return -1;
		*(o->id == V_LOG_FD ? &c->log_fd : &c->xml_fd) = (int)n;
		return 1;
	case V_XML:
		if ((b = yes_no(o->name, v)) < 0)
			return -1;
		c->xml = b;
		return 1;
	case V_EXITCODE:
		return translate(out, cap, "--error-exitcode", v);  /* 0 is off there too */
	case V_GEN_SUPPS:
		if (strcmp(v, "no") == 0)
			c->gen_supps = 0;
		else if (strcmp(v, "yes") == 0 || strcmp(v, "all") == 0)
			c->gen_supps = v[0] == 'y' ? 1 : 2;
		else
			return bad_value(o->name, v, "no, yes, all");
		if (c->gen_supps == 1)
			fprintf(stderr, "heapscope: note: %s: heapscope does not ask; every "
			        "error and loss record gets its suppression, as with =all\n", arg);
		return 1;
	case V_CHILDREN:
		if ((b = yes_no(o->name, v)) < 0)
			return -1;
		c->no_children = !b;
		return 1;
	case V_CHILD_SILENT:
		if ((b = yes_no(o->name, v)) < 0)
			return -1;
		c->child_silent = b;
		return 1;
	case V_DEFAULT_SUPPS:
	case V_FREERES:
		if ((b = yes_no(o->name, v)) < 0)
			return -1;
		c->runtime_supps = b;
		return 1;
	case V_FREELIST:
		return translate(out, cap, "--quarantine", v);
	case V_NOTE_YES:
		if ((b = yes_no(o->name, v)) < 0)
			return -1;
		if (b)
			note(arg, o->why);
		return 1;
	case V_SILENT:
		return 1;
	case V_REFUSE_YES:
		if (strcmp(v, "no") == 0)
			return 1;
		/* fall through */
	case V_REFUSE:
		fprintf(stderr, "heapscope: %s: %s\n", arg, o->why);
		return -1;
	}
	return 0;
}

int hs_vg_option(struct hs_cli *c, const char *arg, char *out, size_t cap)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct vg_opt *o = &table[i];
		size_t nl = strlen(o->name);
		bool valued = o->name[nl - 1] == '=';
		if (valued ? strncmp(arg, o->name, nl) != 0 : strcmp(arg, o->name) != 0)
			continue;
		return take(c, o, arg, valued ? arg + nl : "", out, cap);
	}
	return 0;
}

void hs_vg_defaults(struct hs_cli *c)
{
	unsigned dp = 1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_POSSIBLE;
	c->leak_check = HS_LEAK_CHECK_SUMMARY;
	c->show_kinds = dp;
	c->error_kinds = dp;
	c->no_children = true;
	c->stack_depth = 12;
	c->runtime_supps = true;
	/* valgrind writes each error once, to its log: the shim's own line on
	 * the program's stderr would be a second copy (CTest, which reads
	 * both, would count every error twice) */
	c->shim_silent = true;
}

int hs_vg_check(struct hs_cli *c)
{
	if (c->xml && !c->xml_file && c->xml_fd < 0) {
		fprintf(stderr, "heapscope: --xml=yes needs a destination: --xml-file=FILE "
		        "or --xml-fd=N\n");
		return -1;
	}
	if (!c->xml && (c->xml_file || c->xml_fd >= 0))
		c->xml = true;           /* asking for the file is asking for XML */
	/* as memcheck: a summary has no place in the XML, which lists the
	 * loss records (and so they count for --error-exitcode) */
	if (c->xml && c->leak_check == HS_LEAK_CHECK_SUMMARY)
		c->leak_check = HS_LEAK_CHECK_FULL;
	if (!c->valgrind || c->out)
		return 0;
	/* valgrind leaves no files behind: the traces go to a private
	 * directory, removed once reported (hs_vg_cleanup); -o keeps them */
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	size_t len = strlen(tmp) + sizeof "/heapscope.XXXXXX";
	char *dir = keep(c, hs_xmalloc(len));
	snprintf(dir, len, "%s/heapscope.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "heapscope: cannot create a directory in %s: %s\n", tmp,
		        strerror(errno));
		return -1;
	}
	c->trace_dir = dir;
	len = strlen(dir) + sizeof "/%p.trace";
	char *out = keep(c, hs_xmalloc(len));
	snprintf(out, len, "%s/%%p.trace", dir);
	c->out = out;
	return 0;
}

void hs_vg_cleanup(struct hs_cli *c)
{
	if (!c->trace_dir)
		return;
	DIR *d = opendir(c->trace_dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	if (rmdir(c->trace_dir) != 0)
		fprintf(stderr, "heapscope: %s not removed: %s\n", c->trace_dir, strerror(errno));
	c->trace_dir = NULL;
}

bool hs_vg_is_program(const char *arg)
{
	if (strchr(arg, '/'))
		return true;
	const char *path = getenv("PATH");
	if (!path || !*arg)
		return false;
	char *dirs = hs_xstrdup(path);
	bool found = false;
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		size_t len = strlen(d) + strlen(arg) + 2;
		char *p = hs_xmalloc(len);
		snprintf(p, len, "%s/%s", d, arg);
		struct stat st;
		found = stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
		free(p);
	}
	free(dirs);
	return found;
}
