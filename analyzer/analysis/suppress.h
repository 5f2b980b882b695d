/*
 * suppress.h — suppression files, in the two formats users already have.
 *
 * valgrind (memcheck):            LeakSanitizer:
 *   {                               # comment
 *      name                         leak:libfoo.so
 *      Memcheck:Leak                leak:^make_cache$
 *      match-leak-kinds: definite   leak:legacy_*.c
 *      fun:malloc
 *      fun:make_*
 *      ...
 *      obj:/usr/lib/libfoo.so*
 *   }
 *
 * valgrind entries match a prefix of the stack, frame by frame: fun: the
 * function (mangled or demangled name), obj: the module path, src: the
 * source file's base name (and :LINE), `...` any number of frames; globs
 * use * and ?. Memcheck:Leak entries apply to leak records, Memcheck:Free
 * to invalid/double/mismatched frees, Memcheck:Addr* to overruns and
 * writes after free; other kinds and tools are read and ignored.
 * Because memcheck's stacks begin inside the allocator (fun:malloc,
 * fun:_Znwm ...) and heapscope's begin at the program's call to it, an
 * entry may start with one frame that matches an allocator (or, for
 * errors, a deallocator) entry point; it matches whichever one was called.
 *
 * LeakSanitizer lines match when the pattern is found in the function
 * name, the source file or the module path of any frame: a substring
 * match where * is any text, ^ anchors the start and $ the end.
 */
#ifndef HS_SUPPRESS_H
#define HS_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "trace/symbolize.h"

struct hs_supps;
struct hs_supp;

struct hs_supps *hs_supps_new(void);
void   hs_supps_free(struct hs_supps *s);
/* Add the entries of a file. On a bad file: -1 and err = "FILE:LINE: what
 * is wrong" (one line). */
int    hs_supps_load(struct hs_supps *s, const char *path, char *err, size_t errlen);
/* Same from memory; name is used in messages. */
int    hs_supps_parse(struct hs_supps *s, const char *name, const char *text,
                      size_t len, char *err, size_t errlen);
size_t hs_supps_count(const struct hs_supps *s);
/* An entry no file can write: it matches leak records of these kinds
 * (bits of enum hs_leak_kind) whose stack was not recorded at all --
 * blocks allocated before the recorder started (`heapscope` in
 * valgrind's style uses it, docs/VALGRIND.md). name is copied. */
void   hs_supps_add_unrecorded(struct hs_supps *s, const char *name, unsigned kinds);

/* The first entry that suppresses a leak record of kind (enum
 * hs_leak_kind) / an error of kind (enum hs_err_kind) with these frames,
 * or NULL. s may be NULL. */
const struct hs_supp *hs_supps_match_leak(const struct hs_supps *s, unsigned kind,
                                          const struct hs_frame *f, size_t n);
const struct hs_supp *hs_supps_match_error(const struct hs_supps *s, unsigned kind,
                                           const struct hs_frame *f, size_t n);
/* Could any entry apply to a leak record / an error of this kind? When
 * not, the caller need not symbolize the stack to ask the two above
 * (analyze.c saves libdwfl's work that way). s may be NULL. */
bool hs_supps_cover_leak(const struct hs_supps *s, unsigned kind);
bool hs_supps_cover_error(const struct hs_supps *s, unsigned kind);
/* The entry's name ("leak:PATTERN" for LSan lines), file and line. */
const char *hs_supp_name(const struct hs_supp *sp);
const char *hs_supp_file(const struct hs_supp *sp);
unsigned    hs_supp_line(const struct hs_supp *sp);

/* valgrind globs: * any text, ? one character, \ quotes the next. */
bool hs_glob_match(const char *pat, const char *s);
/* LeakSanitizer templates: substring, * any text, ^ start, $ end. */
bool hs_lsan_match(const char *templ, const char *s);

#endif
