/*
 * trace_read.h — a heapscope trace (docs/TRACE-FORMAT.md) in memory.
 *
 * The reader treats the file as untrusted: every line is bounded
 * (HS_TRACE_MAX_LINE), every stack too (HS_TRACE_MAX_FRAMES), numbers are
 * range checked, and the first malformed line stops the read with
 * "FILE: byte OFFSET: line N: what is wrong" in tr->error while everything
 * read before it stays in the model. Nothing here recurses.
 *
 * Stack ids are resolved when asked (hs_trace_stack), not while reading,
 * so a record naming a stack whose `S` line comes later still resolves;
 * ids never defined resolve to NULL and are counted in undefined_refs.
 */
#ifndef HS_TRACE_READ_H
#define HS_TRACE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "heapsnap.h"

#define HS_TRACE_VERSION     2            /* newest read; 1 is read too   */
#define HS_TRACE_MAX_LINE    (1u << 20)   /* bytes, newline excluded      */
#define HS_TRACE_MAX_FRAMES  1024         /* ips in one `S` line          */
#define HS_TRACE_MAX_BUILDID 64           /* bytes (128 hex digits)       */
#define HS_TRACE_ORDERS      11           /* nr_free[0..10] in `T` lines  */

/* Leak kinds, in memcheck's order of severity. */
enum hs_leak_kind {
	HS_LEAK_DEFINITE = 0,
	HS_LEAK_INDIRECT,
	HS_LEAK_POSSIBLE,
	HS_LEAK_REACHABLE,
	HS_NR_LEAK_KINDS
};

enum hs_err_kind {
	HS_ERR_INVALID_FREE = 0,
	HS_ERR_DOUBLE_FREE,
	HS_ERR_REALLOC_FREED,
	HS_ERR_MISMATCHED_FREE,
	HS_ERR_HEAP_OVERFLOW,
	HS_ERR_WRITE_AFTER_FREE,
	HS_NR_ERR_KINDS
};

enum hs_alloc_fn {
	HS_FN_MALLOC = 0, HS_FN_CALLOC, HS_FN_REALLOC, HS_FN_ALIGNED,
	HS_FN_NEW, HS_FN_NEW_ARRAY, HS_NR_FNS
};

enum hs_end_how { HS_END_NONE = 0, HS_END_EXIT, HS_END_SIGNAL, HS_END_EXEC };

/* `W`: how the leak scan went. */
enum hs_scan_result {
	HS_SCAN_NONE = 0,               /* no `W` line (older shim, or none)  */
	HS_SCAN_COMPLETE,               /* every other thread stopped or idle */
	HS_SCAN_PARTIAL,                /* some threads kept running          */
	HS_SCAN_SKIPPED,                /* no scan: detail says why           */
};
struct hs_tscan {
	enum hs_scan_result result;
	uint64_t threads, stopped, idle, running;   /* other threads          */
	char    *detail;                /* "" when there is nothing to say    */
};

struct hs_tmodule {                 /* `M` */
	uint32_t id;
	uint64_t bias;                  /* process address - file vaddr       */
	uint64_t start, end;            /* executable mappings, [start, end)  */
	char    *build_id;              /* lower-case hex, NULL for `-`       */
	char    *path;
};

struct hs_tstack {                  /* `S` */
	uint32_t id;                    /* >= 1                               */
	uint32_t n;                     /* frames                             */
	size_t   first;                 /* index of frame 0 in hs_trace.ips   */
	uint32_t nmodules;              /* `M` lines read before this one: an
	                                   ip belongs to the latest of them
	                                   that covers it (dlclose + dlopen
	                                   can reuse an address range)        */
	uint32_t line;                  /* line number, for messages          */
};

struct hs_tsample {                 /* `T` */
	uint64_t t_ms, vmsize_kb, vmrss_kb, vmdata_kb;
	uint64_t live, granted, held;   /* bytes                              */
	uint64_t allocs, frees;
	uint64_t nr_free[HS_TRACE_ORDERS];
};

struct hs_tfault {                  /* `F` */
	uint64_t nth, size;
	uint32_t stack;
	uint8_t  fn;                    /* enum hs_alloc_fn                   */
	bool     benign;                /* inside hs_benign_begin/end         */
};

struct hs_terror {                  /* `E` */
	uint8_t  kind;                  /* enum hs_err_kind                   */
	uint64_t addr;
	uint32_t stack, alloc_stack, free_stack;   /* 0 = unknown             */
	char    *detail;                /* may be ""                          */
};

struct hs_tleak {                   /* `B` (version 2), `L` (version 1) */
	uint64_t addr;                  /* `L`: the block; `B`: 0 (a group)   */
	uint64_t blocks, bytes;         /* `L`: 1 and the block's size        */
	uint32_t stack;
	uint8_t  kind;                  /* enum hs_leak_kind                  */
};

struct hs_tclass {                  /* `Z`: live blocks of one slot size  */
	uint32_t slot;                  /* bytes, header included; 0: pages   */
	uint64_t blocks, bytes;
};

struct hs_tlostpages {              /* `V`: pages holding lost blocks     */
	uint64_t addr, pages;
	uint8_t  kind;                  /* HS_LEAK_DEFINITE (definitely or
	                                   indirectly lost) or HS_LEAK_POSSIBLE */
};

struct hs_tusage {                  /* one site of a `U` or `o` line      */
	uint64_t t_ms;
	uint64_t live;                  /* bytes                              */
	uint32_t stack;
};

struct hs_tsite {                   /* `Q`: a site's totals at exit       */
	uint32_t stack;                 /* 0: allocations without a stack     */
	uint64_t calls, bytes, temporary;
	uint64_t peak_live, exit_live;  /* bytes                              */
};

struct hs_toom {                    /* `O`: the first allocation failure  */
	bool     have;
	bool     limit;                 /* a limit= policy; else a real one   */
	uint64_t t_ms, live, size;
	uint32_t stack;
	struct hs_tusage *sites;  size_t nsites, cap_sites;   /* `o` pairs    */
};

struct hs_trace {
	char    *file;                  /* name used in messages              */
	/* `P` and `a` */
	bool     have_process;
	long     pid, ppid;
	uint64_t start_time;
	char    *exe, *argv;            /* argv NULL when no `a` line         */

	struct hs_tmodule *modules;  size_t nmodules, cap_modules;
	struct hs_tstack  *stacks;   size_t nstacks,  cap_stacks;
	uint64_t          *ips;      size_t nips,     cap_ips;
	struct hs_tsample *samples;  size_t nsamples, cap_samples;
	struct hs_tfault  *faults;   size_t nfaults,  cap_faults;
	struct hs_terror  *errors;   size_t nerrors,  cap_errors;
	struct hs_tleak   *leaks;    size_t nleaks,   cap_leaks;
	struct hs_tclass  *classes;  size_t nclasses, cap_classes;     /* `Z` */
	struct hs_tlostpages *lost_pages; size_t nlost_pages, cap_lost_pages; /* `V` */
	char             **notes;    size_t nnotes,   cap_notes;   /* `!`    */

	/* the heap profile: `U` pairs in file order, `Q`, `K`, `O` and `o` */
	struct hs_tusage  *usage;    size_t nusage,   cap_usage;
	struct hs_tsite   *sites;    size_t nsites,   cap_sites;
	bool     have_peak;             /* `K` */
	uint64_t peak_t_ms, peak_live;
	struct hs_toom oom;

	struct hs_tscan scan;           /* `W` */
	bool     have_counters;         /* `C` */
	uint64_t allocs, frees, peak_bytes, live_bytes, live_blocks;

	enum hs_end_how end;            /* `X`; HS_END_NONE: no end record    */
	int      end_value;
	bool     end_from_wait;         /* no `X`: end and end_value come from
	                                   the parent's wait status (`run`)   */
	size_t   snapshots;             /* `H` lines                          */
	struct hs_snaps snaps;          /* H/h/g: heap maps (heapsnap.h)      */

	uint64_t lines, bytes;          /* complete lines and bytes accepted  */
	char     error[640];            /* "" when the whole file was read    */

	/* id -> index+1 in stacks[], open addressing (private) */
	uint32_t *stack_slots;  size_t stack_slot_cap;
	/* stack ids named by records but never defined (hs_trace_resolve) */
	size_t   undefined_refs;
};

/* Read the file at path. Returns 0 when the whole file was read, -1 when
 * it could not be opened or a line is malformed: tr->error then says
 * which file, byte and line, and the model holds every line before it. */
int  hs_trace_read(const char *path, struct hs_trace *tr);
/* Same from an open stream; name is used in messages. */
int  hs_trace_read_stream(FILE *f, const char *name, struct hs_trace *tr);
void hs_trace_free(struct hs_trace *tr);

/* The stack with this id, or NULL (0 = not recorded, or never defined). */
const struct hs_tstack *hs_trace_stack(const struct hs_trace *tr, uint32_t id);
/* Count the record references to stacks that were never defined (sets
 * tr->undefined_refs); call once after reading. */
void hs_trace_resolve(struct hs_trace *tr);

/* Names used by the JSON report and the text parser. */
extern const char *const hs_leak_kind_json[HS_NR_LEAK_KINDS];  /* "definitely_lost" */
extern const char *const hs_leak_kind_word[HS_NR_LEAK_KINDS];  /* "definite"        */
/* "definite,indirect" / "all" / "none" -> a mask of 1 << kind. On an
 * unknown word returns -1 and copies it into bad. */
int hs_leak_kinds_parse(const char *list, unsigned *mask, char *bad, size_t badcap);
extern const char *const hs_err_kind_name[HS_NR_ERR_KINDS];    /* "double_free"     */
extern const char *const hs_alloc_fn_name[HS_NR_FNS];          /* "new[]"           */

#endif
