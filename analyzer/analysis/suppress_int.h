/* suppress_int.h — the suppression entry, shared by the parser
 * (suppress.c) and the matcher (suppress_match.c) only. */
#ifndef HS_SUPPRESS_INT_H
#define HS_SUPPRESS_INT_H

#include "suppress.h"

#include <stdint.h>

#define HS_SUPP_MAX_FRAMES 256

enum supp_frame_type { SF_FUN, SF_OBJ, SF_SRC, SF_DOTS };

struct supp_frame {
	enum supp_frame_type type;
	char *glob;                 /* SF_SRC: file glob, line in `line`      */
	unsigned line;              /* SF_SRC: 0 = any line                   */
};

struct hs_supp {
	char *name, *file;
	unsigned line;              /* line of '{' or of the LSan line        */
	bool lsan;                  /* LSan pattern instead of frames         */
	char *pattern;              /* LSan                                   */
	unsigned leak_kinds;        /* bit per enum hs_leak_kind; 0: not a leak entry */
	unsigned err_kinds;         /* bit per enum hs_err_kind                */
	struct supp_frame *frames;
	size_t nframes;
	bool unrecorded;            /* matches only records without a stack
	                               (hs_supps_add_unrecorded)              */
};

struct hs_supps {
	struct hs_supp *v;
	size_t n, cap;
};

#endif
