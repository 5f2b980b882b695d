/*
 * symtab.h — function names for code addresses, inside the process.
 *
 * caller=GLOB (faults.h) matches function names on the allocating stack
 * while the program runs. dladdr() cannot provide them: it searches only
 * the dynamic symbol table, so static functions, and every function of an
 * executable linked without -rdynamic, have no name there. This reader
 * goes to the object files themselves: the ELF .symtab (all functions,
 * unless the file was stripped) and .dynsym (exported ones, which survive
 * stripping).
 *
 * Everything here may run inside malloc: no allocation (files and indexes
 * are mmap'd), no stdio. An object is indexed once, the first time one of
 * its addresses is asked for, and kept for the life of the process: the
 * names handed out point into our own read-only mapping of the file, so
 * they stay valid even after the object is dlclose'd.
 */
#ifndef HS_SYMTAB_H
#define HS_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One symbol of the sorted index (file virtual addresses). */
struct hs_sym {
	uint64_t addr;          /* st_value                                   */
	uint64_t size;          /* st_size; 0 = unknown (assembler labels)    */
	const char *name;       /* into the mapped string table               */
};

/* The function symbols of one ELF file. */
struct hs_symtab {
	const void *map;        /* the whole file, PROT_READ                  */
	size_t map_len;
	struct hs_sym *syms;    /* sorted by addr, one per address            */
	size_t nsyms;
	size_t index_len;       /* bytes mapped for syms                      */
	bool from_symtab;       /* .symtab was there (else .dynsym only)      */
};

/* Map PATH and index its function symbols. False when the file cannot be
 * read or is not a well-formed 64-bit ELF file of this machine's byte
 * order; *t is then empty. A file without any symbols is not an error
 * (nsyms == 0). Bounds of every header, section and name are checked: the
 * file is trusted no more than any other input. */
bool hs_symtab_open(const char *path, struct hs_symtab *t);
void hs_symtab_close(struct hs_symtab *t);

/* The function containing file virtual address VADDR, or NULL: the symbol
 * with the greatest address <= VADDR, provided VADDR lies within its size
 * (a symbol of unknown size covers up to the next symbol). */
const struct hs_sym *hs_symtab_find(const struct hs_symtab *t, uint64_t vaddr);

/* The name of the function containing the code address ADDR in this
 * process, or NULL. Finds the loaded object with the dynamic linker
 * (dladdr1), indexes its file on first use (cached per object and load
 * address), and falls back to dladdr's own answer when the file has no
 * symbol there. Thread safe; the name stays valid for good. */
const char *hs_symtab_name(uintptr_t addr);

#endif
