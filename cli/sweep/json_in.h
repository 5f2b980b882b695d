/*
 * json_in.h — reading JSON back (sweep --merge reads the shards' results).
 * A value tree; input is untrusted: nesting is limited, every error is
 * one message with the byte offset, numbers keep their integer value.
 */
#ifndef HS_JSON_IN_H
#define HS_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type type;
	bool     b;
	double   num;
	bool     is_int;           /* num was written without '.', 'e'      */
	int64_t  i;                /* its value then                        */
	char    *str;              /* JV_STR, UTF-8                         */
	struct jv *items;          /* JV_ARR, JV_OBJ                        */
	char   **keys;             /* JV_OBJ                                */
	size_t   n;
};

/* Parse text[0..len); 0, or -1 with err filled ("byte N: what"). */
int  jv_parse(const char *text, size_t len, struct jv *out, char *err, size_t errcap);
void jv_free(struct jv *v);
/* The member of an object, NULL when v is not an object or lacks it. */
const struct jv *jv_get(const struct jv *v, const char *key);
/* Equal values (objects: the same keys in the same order). */
bool jv_equal(const struct jv *a, const struct jv *b);

#endif
