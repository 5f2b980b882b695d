/*
 * demangle.c — C++ symbol names made readable.
 *
 * elfutils has no public demangler, and linking libstdc++ into a C tool
 * for one function is heavy, so __cxa_demangle is looked up at run time.
 * Every C++ program has libstdc++.so.6 on the system; where it is missing
 * names stay mangled, which is still correct output.
 */
#include "symbolize.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);

static cxa_demangle_fn demangler(void)
{
	static int tried;
	static cxa_demangle_fn fn;
	if (!tried) {
		tried = 1;
		void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
		if (h)
			*(void **)&fn = dlsym(h, "__cxa_demangle");
	}
	return fn;
}

char *hs_demangle(const char *name)
{
	if (!name || strncmp(name, "_Z", 2) != 0)
		return NULL;
	cxa_demangle_fn fn = demangler();
	if (!fn)
		return NULL;
	int status = -1;
	char *out = fn(name, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}
