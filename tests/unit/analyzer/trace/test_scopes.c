/*
 * test_scopes.c — the scope table gives libdw's answer.
 *
 * For every function of every unit of a real -O2 binary (this test
 * itself: the analyzer's objects, full of inlined helpers), at every
 * other byte of its code, the chain of inlined instances and the
 * function from hs_scopes_at must be the DIEs dwarf_getscopes finds.
 * HS_TEST_SCOPES_MODULE=FILE checks another file the same way (a large
 * one: libpython, cc1 with debug info), every HS_TEST_SCOPES_STRIDE-th
 * byte (default 64: libdw's walk is what makes a large file slow).
 */
#include <check.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_main.h"
#include "trace/scopes.h"

static const Dwfl_Callbacks cb = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

struct tally { unsigned long pcs, inlined, deepest, beyond; };

static Dwarf_Addr stride = 2;

static void same_chain(struct hs_scopes *x, Dwarf_Die *cu, Dwarf_Addr pc, struct tally *t)
{
	Dwarf_Die *a, *b;
	int na = hs_scopes_at(x, cu, pc, &a);
	int nb = hs_scopes_at_libdw(cu, pc, &b);
	if (nb == 0 && na > 0) {
		/* libdw does not look inside namespaces (clang puts functions
		 * there): the table may know more, never something else */
		ck_assert_int_eq(dwarf_tag(&a[na - 1]), DW_TAG_subprogram);
		ck_assert_int_eq(dwarf_haspc(&a[na - 1], pc), 1);
		t->beyond++;
		free(a);
		return;
	}
	ck_assert_msg(na == nb, "pc %#lx: %d scopes, libdw %d", (unsigned long)pc, na, nb);
	for (int i = 0; i < na; i++)
		ck_assert_msg(dwarf_dieoffset(&a[i]) == dwarf_dieoffset(&b[i]),
		              "pc %#lx: scope %d is DIE %#lx, libdw's %#lx", (unsigned long)pc,
		              i, (unsigned long)dwarf_dieoffset(&a[i]),
		              (unsigned long)dwarf_dieoffset(&b[i]));
	t->pcs++;
	if (na > 1)
		t->inlined++;
	if ((unsigned long)na > t->deepest)
		t->deepest = (unsigned long)na;
	free(a);
	free(b);
}

/* Every other byte of the unit's code (its DW_AT_ranges or pc range):
 * functions at top level, in namespaces and classes, and whatever lies
 * between them. */
static void check_unit(struct hs_scopes *x, Dwarf_Die *cu, struct tally *t)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0)
		for (Dwarf_Addr pc = lo; pc < hi; pc += stride)
			same_chain(x, cu, pc, t);
}

static struct tally check_file(const char *path)
{
	struct tally t = { 0 };
	Dwfl *dwfl = dwfl_begin(&cb);
	ck_assert_ptr_nonnull(dwfl);
	dwfl_report_begin(dwfl);
	Dwfl_Module *mod = dwfl_report_offline(dwfl, path, path, -1);
	dwfl_report_end(dwfl, NULL, NULL);
	ck_assert_msg(mod != NULL, "%s: %s", path, dwfl_errmsg(-1));
	struct hs_scopes *x = hs_scopes_new();
	Dwarf_Addr bias;
	Dwarf_Die *cu = NULL;
	while ((cu = dwfl_module_nextcu(mod, cu, &bias)) != NULL)
		check_unit(x, cu, &t);
	hs_scopes_free(x);
	dwfl_end(dwfl);
	return t;
}

START_TEST(same_as_libdw_here)
{
	struct tally t = check_file("/proc/self/exe");
	/* the test is only worth something if it met inlined code */
	printf("this test: %lu addresses, %lu in inlined code, %lu deep at most\n",
	       t.pcs, t.inlined, t.deepest);
	ck_assert_msg(t.pcs > 10000, "only %lu addresses", t.pcs);
	ck_assert_msg(t.inlined > 1000, "only %lu addresses in inlined code", t.inlined);
	ck_assert_msg(t.deepest >= 3, "inlining at most %lu deep", t.deepest);
}
END_TEST

START_TEST(same_as_libdw_there)
{
	const char *path = getenv("HS_TEST_SCOPES_MODULE");
	if (!path)
		return;
	const char *st = getenv("HS_TEST_SCOPES_STRIDE");
	stride = st && atoi(st) > 0 ? (Dwarf_Addr)atoi(st) : 64;
	struct tally t = check_file(path);
	printf("%s: %lu addresses, %lu in inlined code, %lu deep at most, %lu in "
	       "functions libdw did not find\n", path, t.pcs, t.inlined, t.deepest, t.beyond);
}
END_TEST

/* No unit: nothing, and no chain to free. */
START_TEST(outside_every_function)
{
	Dwfl *dwfl = dwfl_begin(&cb);
	dwfl_report_begin(dwfl);
	Dwfl_Module *mod = dwfl_report_offline(dwfl, "self", "/proc/self/exe", -1);
	dwfl_report_end(dwfl, NULL, NULL);
	ck_assert_ptr_nonnull(mod);
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_nextcu(mod, NULL, &bias);
	ck_assert_ptr_nonnull(cu);
	struct hs_scopes *x = hs_scopes_new();
	Dwarf_Die *chain = (Dwarf_Die *)1;
	ck_assert_int_eq(hs_scopes_at(x, cu, 0, &chain), 0);
	ck_assert_ptr_null(chain);
	hs_scopes_free(x);
	dwfl_end(dwfl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scopes");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, same_as_libdw_here);
	tcase_add_test(tc, same_as_libdw_there);
	tcase_add_test(tc, outside_every_function);
	suite_add_tcase(s, tc);
	return s;
}

HS_CHECK_MAIN(suite)
