/*
 * test_symtab.c — the in-process ELF symbol reader (preload/record/symtab.c)
 * and its use by caller=GLOB.
 *
 * Binaries are built by the test itself (cc), so that what the reader
 * should find is known: static functions, which dladdr cannot name; an
 * executable with and without PIE; a shared object loaded with dlopen,
 * and its stripped copy (.dynsym only). Every answer is checked against
 * `nm`, an independent reader of the same tables. Damaged files must be
 * refused, not read past their end.
 */
#include <check.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"
#include "faults/faults.h"
#include "record/symtab.h"

static char dir[] = "/tmp/hs-symtab-XXXXXX";

static int vsh(const char *fmt, va_list ap)
{
	char cmd[2048];
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Inside a test: a failed command fails the test. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vsh(fmt, ap);
	va_end(ap);
	ck_assert_int_eq(rc, 0);
}

/* Before the tests (no Check context yet): a failed command ends us. */
static void setup_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void setup_sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vsh(fmt, ap);
	va_end(ap);
	if (rc != 0)
		exit(EXIT_FAILURE);
}

static const char *path(const char *name)
{
	static char buf[8][256];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

/* A program whose functions are all static but main, so dladdr cannot
 * name them: the reader must find them in .symtab. */
static const char prog_src[] =
	"#include <stdio.h>\n"
	"static int leaf_one(int x) { return x * 3 + 1; }\n"
	"static int leaf_two(int x) { int s = 0; for (int i = 0; i < x; i++) s += leaf_one(i); return s; }\n"
	"static void __attribute__((noinline)) parse_header(char *b) { sprintf(b, \"%d\", leaf_two(4)); }\n"
	"int main(void) { char b[32]; parse_header(b); puts(b); return 0; }\n";

static const char lib_src[] =
	"static int hidden_worker(int x) { return x * x + 7; }\n"
	"int exported_entry(int x) { return hidden_worker(x) + 1; }\n"
	"void *worker_address(void) { return (void *)hidden_worker; }\n";

static void write_file(const char *p, const char *text, size_t n)
{
	FILE *f = fopen(p, "w");
	if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0) {
		perror(p);
		exit(EXIT_FAILURE);
	}
}

static void setup_dir(void)
{
	if (!mkdtemp(dir)) {
		perror(dir);
		exit(EXIT_FAILURE);
	}
	write_file(path("prog.c"), prog_src, strlen(prog_src));
	write_file(path("lib.c"), lib_src, strlen(lib_src));
	setup_sh("cc -O0 -g -no-pie -o %s %s", path("prog_nopie"), path("prog.c"));
	setup_sh("cc -O0 -g -pie -fPIE -o %s %s", path("prog_pie"), path("prog.c"));
	setup_sh("cc -O1 -g -shared -fPIC -o %s %s", path("lib.so"), path("lib.c"));
	setup_sh("cp %s %s && strip --strip-all %s", path("lib.so"),
	         path("lib_stripped.so"), path("lib_stripped.so"));
}

static void teardown_dir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Every defined function in `nm -S` of file, checked against the reader:
 * its start, middle and last byte name it (or an alias at the same
 * address). Returns how many were checked. */
static int check_against_nm(const char *file, const struct hs_symtab *t, bool dynamic)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "nm -S --defined-only %s %s", dynamic ? "-D" : "", file);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[512];
	int checked = 0;
	while (fgets(line, sizeof line, p)) {
		unsigned long addr, size;
		char type, name[256];
		if (sscanf(line, "%lx %lx %c %255s", &addr, &size, &type, name) != 4)
			continue;                /* no size: not a C function      */
		if (type != 't' && type != 'T' && type != 'i')
			continue;
		unsigned long probes[3] = { addr, addr + size / 2, addr + size - 1 };
		for (int i = 0; i < 3; i++) {
			const struct hs_sym *s = hs_symtab_find(t, probes[i]);
			ck_assert_msg(s != NULL, "%s: no symbol at %#lx (%s)", file, probes[i], name);
			ck_assert_msg(s->addr == addr, "%s: %#lx is in %s at %#lx, nm says %s at %#lx",
			              file, probes[i], s->name, (unsigned long)s->addr, name, addr);
		}
		checked++;
	}
	pclose(p);
	return checked;
}

static const struct hs_sym *find_name(const struct hs_symtab *t, const char *name)
{
	for (size_t i = 0; i < t->nsyms; i++)
		if (strcmp(t->syms[i].name, name) == 0)
			return &t->syms[i];
	return NULL;
}

START_TEST(executables_match_nm)
{
	const char *files[] = { path("prog_nopie"), path("prog_pie") };
	for (int f = 0; f < 2; f++) {
		struct hs_symtab t;
		ck_assert_msg(hs_symtab_open(files[f], &t), "cannot read %s", files[f]);
		ck_assert(t.from_symtab);
		ck_assert_int_ge(check_against_nm(files[f], &t, false), 4);
		/* the static functions are there, sorted addresses */
		const char *statics[] = { "leaf_one", "leaf_two", "parse_header" };
		for (int i = 0; i < 3; i++)
			ck_assert_msg(find_name(&t, statics[i]), "%s missing in %s", statics[i], files[f]);
		for (size_t i = 1; i < t.nsyms; i++)
			ck_assert_uint_lt(t.syms[i - 1].addr, t.syms[i].addr);
		/* just past a sized function, where no function starts: nothing */
		const struct hs_sym *ph = find_name(&t, "parse_header");
		const struct hs_sym *after = hs_symtab_find(&t, ph->addr + ph->size);
		ck_assert(after == NULL || after->addr == ph->addr + ph->size);
		ck_assert_ptr_null(hs_symtab_find(&t, 0x10));  /* below everything */
		hs_symtab_close(&t);
	}
}
END_TEST

START_TEST(stripped_keeps_dynsym_only)
{
	struct hs_symtab full, stripped;
	ck_assert(hs_symtab_open(path("lib.so"), &full));
	ck_assert(hs_symtab_open(path("lib_stripped.so"), &stripped));
	ck_assert(full.from_symtab);
	ck_assert(!stripped.from_symtab);
	ck_assert_ptr_nonnull(find_name(&full, "hidden_worker"));
	ck_assert_ptr_null(find_name(&stripped, "hidden_worker"));
	ck_assert_ptr_nonnull(find_name(&stripped, "exported_entry"));
	ck_assert_int_ge(check_against_nm(path("lib_stripped.so"), &stripped, true), 2);
	hs_symtab_close(&full);
	hs_symtab_close(&stripped);
}
END_TEST

/* Loaded objects: a static function of a dlopen'd library, and one of
 * this test program (linked without -rdynamic), which dladdr cannot name. */
static int __attribute__((noinline)) local_probe_fn(int x)
{
	return x + 1;
}

START_TEST(names_in_this_process)
{
	void *h = dlopen(path("lib.so"), RTLD_NOW);
	ck_assert_msg(h, "dlopen: %s", dlerror());
	void *(*addr_of)(void) = (void *(*)(void))dlsym(h, "worker_address");
	ck_assert_ptr_nonnull(addr_of);
	uintptr_t w = (uintptr_t)addr_of();
	ck_assert_str_eq(hs_symtab_name(w), "hidden_worker");
	ck_assert_str_eq(hs_symtab_name(w + 3), "hidden_worker");
	ck_assert_str_eq(hs_symtab_name((uintptr_t)dlsym(h, "exported_entry")), "exported_entry");

	uintptr_t me = (uintptr_t)local_probe_fn;
	Dl_info info;
	ck_assert(dladdr((void *)me, &info));
	ck_assert_msg(info.dli_sname == NULL || strcmp(info.dli_sname, "local_probe_fn") != 0,
	              "dladdr names a static function: this test proves nothing here");
	ck_assert_str_eq(hs_symtab_name(me + 1), "local_probe_fn");
	ck_assert_str_eq(hs_symtab_name((uintptr_t)hs_symtab_name), "hs_symtab_name");
	/* names outlive the library */
	const char *kept = hs_symtab_name(w);
	dlclose(h);
	ck_assert_str_eq(kept, "hidden_worker");
	ck_assert_int_eq(local_probe_fn(1), 2);
}
END_TEST

START_TEST(damaged_files_refused)
{
	struct hs_symtab t;
	ck_assert(!hs_symtab_open(path("does-not-exist"), &t));
	ck_assert(!hs_symtab_open(path("prog.c"), &t));               /* not ELF */
	ck_assert(!hs_symtab_open(dir, &t));                          /* a directory */
	/* cut-off copies: header only, and half of the file */
	sh("head -c 100 %s > %s", path("prog_pie"), path("cut100"));
	ck_assert(!hs_symtab_open(path("cut100"), &t));
	sh("head -c $(( $(stat -c %%s %s) / 2 )) %s > %s", path("prog_pie"),
	   path("prog_pie"), path("half"));
	ck_assert(!hs_symtab_open(path("half"), &t));
	/* section headers pointing past the end: e_shoff = huge */
	sh("cp %s %s && printf '\\377\\377\\377\\377\\377\\377\\377\\177' | "
	   "dd of=%s bs=1 seek=40 conv=notrunc status=none", path("prog_pie"),
	   path("badshoff"), path("badshoff"));
	ck_assert(!hs_symtab_open(path("badshoff"), &t));
	/* a valid ELF header and nothing after it */
	sh("cp %s %s", path("prog_pie"), path("zero"));
	int fd = open(path("zero"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64), 0);            /* header, nothing else */
	close(fd);
	ck_assert(!hs_symtab_open(path("zero"), &t));
}
END_TEST

/* caller=GLOB through the real hooks: stacks captured with libunwind,
 * names read from this executable's .symtab. */
static bool __attribute__((noinline)) call_from_parser(void)
{
	struct hs_fault_call c = { HS_FN_MALLOC, 16, 0, 0, -1 };
	struct hs_fault_record r;
	bool f = hs_fault_should_fail(&c, &r);
	__asm__ volatile("" ::: "memory");    /* keep this frame */
	return f;
}

static bool __attribute__((noinline)) call_from_elsewhere(void)
{
	/* not the same body as above: -O2 would fold identical functions */
	struct hs_fault_call c = { HS_FN_CALLOC, 32, 0, 0, -1 };
	struct hs_fault_record r;
	bool f = hs_fault_should_fail(&c, &r);
	__asm__ volatile("" ::: "memory");
	return f;
}

START_TEST(caller_glob_names_static_functions)
{
	char err[HS_FAULT_ERR_MAX];
	hs_faults_reset();
	hs_fault_use_recorder();
	ck_assert_int_eq(hs_fault_push("every=1,caller=call_from_pars*", err, sizeof err), 0);
	ck_assert(!call_from_elsewhere());
	ck_assert(call_from_parser());
	ck_assert(!call_from_elsewhere());
	ck_assert(call_from_parser());
	ck_assert_int_eq(hs_fault_pop(), 2);
}
END_TEST

int main(void)
{
	setup_dir();
	Suite *s = suite_create("symtab");
	TCase *tc = tcase_create("symtab");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, executables_match_nm);
	tcase_add_test(tc, stripped_keeps_dynsym_only);
	tcase_add_test(tc, names_in_this_process);
	tcase_add_test(tc, damaged_files_refused);
	tcase_add_test(tc, caller_glob_names_static_functions);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	teardown_dir();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
