/*
 * test_lazysym.c — reports symbolize only what they print.
 *
 * Looking up a frame can mean opening a module's debug info (libc's is
 * compressed: tens of ms and ~20 MB), so `heapscope run` on a clean
 * program must not pay for stacks nobody sees. The symbolizer counts its
 * lookups (hs_sym_stats); these tests read the counts after writing the
 * text, JSON and HTML reports.
 */
#include <check.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/analyze.h"
#include "pictures/html.h"
#include "report/report.h"
#include "check_main.h"

#define DEFAULT_KINDS (1u << HS_LEAK_DEFINITE | 1u << HS_LEAK_INDIRECT | 1u << HS_LEAK_POSSIBLE)
#define ALL_KINDS     ((1u << HS_NR_LEAK_KINDS) - 1)

/* A trace whose one module does not exist: every lookup is a miss that
 * the symbolizer counts, and nothing depends on this machine. */
static const char *one_leak(char kind)
{
	static char text[512];
	snprintf(text, sizeof text,
	         "HEAPSCOPE-TRACE 1\n"
	         "P 10 1 0 /nonexistent/lazy/app\n"
	         "M 0 400000 401000 402000 - /nonexistent/lazy/app\n"
	         "S 1 2 401100 401200\n"
	         "C 1 0 64 64 1\n"
	         "L %c 7f0000000010 64 1\n"
	         "X exit 0\n", kind);
	return text;
}

static void read_trace(const char *text, struct hs_trace *tr)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hs_trace_read_stream(f, "lazy.trace", tr), 0);
	fclose(f);
}

/* Analyze and write all three reports; returns the symbolizer's counts. */
static struct hs_sym_stats report_all(const char *text, const struct hs_supps *supps,
                                      unsigned show, uint64_t *suppressed)
{
	struct hs_trace tr;
	read_trace(text, &tr);
	struct hs_symbolizer *sym = hs_sym_new(&tr, NULL);
	struct hs_analysis a;
	hs_analyze(&a, &tr, sym, supps, 0);
	struct hs_report_opts o = { .show_kinds = show };
	FILE *null = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(null);
	hs_report_text(null, &a, &o);
	hs_report_json(null, &a, &o);
	hs_report_html(null, &a, &o);
	fclose(null);
	*suppressed = a.suppressed.blocks;
	struct hs_sym_stats st;
	hs_sym_stats(sym, &st);
	hs_analysis_free(&a);
	hs_sym_free(sym);
	hs_trace_free(&tr);
	return st;
}

START_TEST(hidden_leak_not_symbolized)
{
	uint64_t supp;
	struct hs_sym_stats st = report_all(one_leak('R'), NULL, DEFAULT_KINDS, &supp);
	ck_assert_msg(st.addresses == 0 && st.modules == 0,
	              "a hidden still-reachable record was symbolized: %zu addresses, "
	              "%zu modules", st.addresses, st.modules);
	/* the same record shown: its two frames are looked up */
	st = report_all(one_leak('R'), NULL, ALL_KINDS, &supp);
	ck_assert_uint_eq(st.addresses, 2);
	ck_assert_uint_eq(st.modules, 1);
	st = report_all(one_leak('D'), NULL, DEFAULT_KINDS, &supp);
	ck_assert_uint_eq(st.addresses, 2);
}
END_TEST

static struct hs_supps *supps(const char *text)
{
	struct hs_supps *s = hs_supps_new();
	char err[256] = "";
	ck_assert_msg(hs_supps_parse(s, "lazy.supp", text, strlen(text), err, sizeof err) == 0,
	              "%s", err);
	return s;
}

START_TEST(suppressions_symbolize_only_kinds_they_cover)
{
	uint64_t supp;
	/* about definite leaks only: a reachable record need not be matched */
	struct hs_supps *s = supps("{\n d\n Memcheck:Leak\n match-leak-kinds: definite\n"
	                           " obj:/nonexistent/lazy/app\n}\n");
	struct hs_sym_stats st = report_all(one_leak('R'), s, DEFAULT_KINDS, &supp);
	ck_assert_uint_eq(supp, 0);
	ck_assert_uint_eq(st.addresses, 0);
	/* the same entry and a definite record: matched, so symbolized */
	st = report_all(one_leak('D'), s, DEFAULT_KINDS, &supp);
	ck_assert_uint_eq(supp, 1);
	ck_assert_uint_eq(st.addresses, 2);
	hs_supps_free(s);
	/* an entry about reachable blocks must see the hidden record's stack */
	s = supps("leak:/nonexistent/lazy/app\n");
	st = report_all(one_leak('R'), s, DEFAULT_KINDS, &supp);
	ck_assert_uint_eq(supp, 1);
	ck_assert_uint_eq(st.addresses, 2);
	hs_supps_free(s);
}
END_TEST

/* ---- frames below main are not looked up ------------------------------- */

struct mod {
	const char *want;           /* NULL: the executable                   */
	char path[512];
	uint64_t bias, start, end;
};

static int find_mod(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mod *m = arg;
	bool exe = !info->dlpi_name[0];
	if (m->want ? !strstr(info->dlpi_name, m->want) : !exe)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
			m->bias = info->dlpi_addr;
			m->start = info->dlpi_addr + p->p_vaddr;
			m->end = m->start + p->p_memsz;
		}
	}
	if (exe) {
		ssize_t n = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
		m->path[n > 0 ? n : 0] = 0;
	} else {
		snprintf(m->path, sizeof m->path, "%s", info->dlpi_name);
	}
	return 1;
}

int main(void);

START_TEST(below_main_not_looked_up)
{
	struct mod exe = { .want = NULL }, libc = { .want = "libc.so" };
	dl_iterate_phdr(find_mod, &exe);
	dl_iterate_phdr(find_mod, &libc);
	ck_assert_msg(exe.path[0] && libc.path[0], "no executable or libc mapping");
	/* return addresses: one in main (ip - 1 is main's first byte), then
	 * one in libc, as __libc_start_call_main's would be */
	uint64_t in_main = (uint64_t)(uintptr_t)&main + 1;
	uint64_t in_libc = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "abort") + 1;
	char text[2048];
	snprintf(text, sizeof text,
	         "HEAPSCOPE-TRACE 1\nP 10 1 0 %s\n"
	         "M 0 %lx %lx %lx - %s\nM 1 %lx %lx %lx - %s\n"
	         "S 1 2 %lx %lx\nS 2 2 %lx %lx\n",
	         exe.path, (unsigned long)exe.bias, (unsigned long)exe.start,
	         (unsigned long)exe.end, exe.path, (unsigned long)libc.bias,
	         (unsigned long)libc.start, (unsigned long)libc.end, libc.path,
	         (unsigned long)in_main, (unsigned long)in_libc,
	         (unsigned long)in_libc, (unsigned long)in_main);
	struct hs_trace tr;
	read_trace(text, &tr);
	struct hs_symbolizer *sym = hs_sym_new(&tr, NULL);
	const struct hs_frame *f;
	struct hs_sym_stats st;

	size_t n = hs_sym_stack_to_main(sym, 1, 0, &f);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(f[0].function);
	ck_assert_str_eq(f[0].function, "main");
	hs_sym_stats(sym, &st);
	ck_assert_msg(st.addresses == 1 && st.modules == 1, "below main was looked up: "
	              "%zu addresses, %zu modules", st.addresses, st.modules);

	/* a frame limit stops the lookups too */
	n = hs_sym_stack_to_main(sym, 2, 1, &f);
	ck_assert_uint_eq(n, 1);
	hs_sym_stats(sym, &st);
	ck_assert_uint_eq(st.addresses, 2);

	/* the whole stack, for suppressions: the frames shown stay valid and
	 * the same (the stack's array grows, the old one is kept) */
	const struct hs_frame *shown = f;
	const struct hs_frame *all;
	ck_assert_uint_eq(hs_sym_stack(sym, 2, &all), 2);
	ck_assert_uint_eq(shown[0].address, all[0].address);
	ck_assert_uint_eq(hs_sym_stack(sym, 1, &all), 2);
	ck_assert_str_eq(all[0].function, "main");
	ck_assert_uint_eq(all[1].address, in_libc - 1);
	ck_assert_uint_eq(hs_sym_stack_to_main(sym, 1, 0, &f), 1);
	hs_sym_stats(sym, &st);
	ck_assert_uint_eq(st.addresses, 2);     /* (module, ip) cache: no new lookups */
	ck_assert_uint_eq(st.modules, 2);
	hs_sym_free(sym);
	hs_trace_free(&tr);
}
END_TEST

static Suite *lazysym_suite(void)
{
	Suite *s = suite_create("lazysym");
	TCase *tc = tcase_create("lazysym");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hidden_leak_not_symbolized);
	tcase_add_test(tc, suppressions_symbolize_only_kinds_they_cover);
	tcase_add_test(tc, below_main_not_looked_up);
	suite_add_tcase(s, tc);
	return s;
}

HS_CHECK_MAIN(lazysym_suite)
