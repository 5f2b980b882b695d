/*
 * scopes.h — the inlined calls and the function that hold an address.
 *
 * What libdw's dwarf_getscopes answers, at report speed: it walks a
 * compile unit's DIE tree from the top for every address, and then again
 * (dwarf_getscopes_die) to find the scope's parents, so a program whose
 * units are large (libpython's ceval.c) spent most of a report's time
 * there. Here each unit gets, on first use, a sorted table of its
 * functions' address ranges; an address finds its function by binary
 * search and descends only through that function's nested scopes.
 */
#ifndef HS_SCOPES_H
#define HS_SCOPES_H

#include <elfutils/libdw.h>

struct hs_scopes;               /* one per module's Dwarf                  */

struct hs_scopes *hs_scopes_new(void);
void hs_scopes_free(struct hs_scopes *x);

/* The DW_TAG_inlined_subroutine DIEs that hold pc (a DWARF address, the
 * bias taken off), innermost first, then the DW_TAG_subprogram they are
 * inlined into: *chain is malloc'd, the count returned. 0 when pc is in
 * no function of the unit (*chain NULL). Addresses the table cannot
 * place (a function nested in another, overlapping ranges) are answered
 * with dwarf_getscopes: the answer is libdw's, except that a function
 * inside a namespace, which dwarf_getscopes does not find (clang puts
 * C++ functions there), is found here (tests/unit/analyzer/trace/
 * test_scopes.c compares the two on every address). */
int hs_scopes_at(struct hs_scopes *x, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **chain);

/* The same answer from dwarf_getscopes alone: the reference the tests
 * compare with. */
int hs_scopes_at_libdw(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **chain);

#endif
