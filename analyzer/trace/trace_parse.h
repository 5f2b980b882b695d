/*
 * trace_parse.h — private to the trace reader: the state of the line
 * being parsed (trace_read.c cuts lines and fields, trace_lines.c gives
 * them meaning) and the table of known tags.
 */
#ifndef HS_TRACE_PARSE_H
#define HS_TRACE_PARSE_H

#include "trace_read.h"

#define HS_RD_MAX_FIELDS (HS_TRACE_MAX_FRAMES + 2)   /* `S`: id, n, ips  */
#define HS_NF_VARIABLE   0xffffu

struct hs_field {
	const char *p;
	size_t len;
};

struct hs_rd {
	struct hs_trace *tr;
	uint64_t off;                  /* byte offset of the line's start     */
	uint64_t lineno;               /* 1-based                             */
	char tag[24];                  /* for messages                        */
	struct hs_field f[HS_RD_MAX_FIELDS];   /* fields after the tag        */
	unsigned nf;
	const char *rest;              /* NULL unless the tag has a rest      */
	size_t rest_len;
	uint64_t end_line;             /* line of the `X` record, 0 if none   */
};

enum hs_tag_kind { HS_TAG_HEADER, HS_TAG_OTHER };

struct hs_tag_spec {
	const char *tag;
	enum hs_tag_kind kind;
	unsigned nfixed;               /* fields before the rest, or VARIABLE */
	bool rest;                     /* a last field that keeps its spaces  */
	int (*parse)(struct hs_rd *rd);
};

const struct hs_tag_spec *hs_tag_lookup(const char *tag, size_t len);

/* Field converters (trace_lines.c), shared with trace_sites.c: each
 * checks field i and fails the read with a message naming it. */
int hs_rd_dec(struct hs_rd *rd, unsigned i, const char *what, uint64_t max, uint64_t *out);
int hs_rd_stack_id(struct hs_rd *rd, unsigned i, const char *what, uint32_t *out);

/* trace_sites.c: the heap profile's lines (`U`, `K`, `Q`, `O`, `o`). */
int hs_rd_usage(struct hs_rd *rd);
int hs_rd_peak(struct hs_rd *rd);
int hs_rd_site(struct hs_rd *rd);
int hs_rd_oom(struct hs_rd *rd);
int hs_rd_oom_sites(struct hs_rd *rd);

/* Set tr->error to "FILE: byte OFF: line N: <fmt>"; returns -1. */
int hs_rd_fail(struct hs_rd *rd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *hs_rd_quote(const struct hs_field *f, char buf[48]);
bool hs_trace_index_stack(struct hs_trace *tr, size_t idx);

#endif
