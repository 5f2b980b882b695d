/*
 * shim_path.c — find libheapscope.so relative to our own executable
 * (shim_path.h). The path must also survive LD_PRELOAD, which separates
 * entries with spaces and colons.
 */
#include "shim_path.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const places[] = {
	"/libheapscope.so",                 /* the build tree              */
	"/../lib/heapscope/libheapscope.so",/* PREFIX/bin -> PREFIX/lib    */
};

char *hs_find_shim(const char *who)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		fprintf(stderr, "%s: cannot resolve /proc/self/exe: %s\n", who, strerror(errno));
		return NULL;
	}
	self[n] = 0;
	*strrchr(self, '/') = 0;
	char *lib = NULL;
	for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
		size_t len = strlen(self) + strlen(places[i]) + 1;
		lib = hs_xmalloc(len);
		snprintf(lib, len, "%s%s", self, places[i]);
		char *real = realpath(lib, NULL);
		if (real && access(real, R_OK) == 0) {
			free(lib);
			lib = real;
			break;
		}
		free(real);
		free(lib);
		lib = NULL;
	}
	if (!lib) {
		fprintf(stderr, "%s: cannot find the preload library libheapscope.so in %s "
		        "or %s/../lib/heapscope\n", who, self, self);
		return NULL;
	}
	if (strpbrk(lib, " :")) {   /* LD_PRELOAD separates entries with these */
		fprintf(stderr, "%s: the path %s contains a space or ':', which LD_PRELOAD "
		        "cannot carry; install heapscope elsewhere\n", who, lib);
		free(lib);
		return NULL;
	}
	return lib;
}
