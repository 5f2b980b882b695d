/*
 * shim_path.h — where libheapscope.so is, for `run` and `sweep`.
 */
#ifndef HS_SHIM_PATH_H
#define HS_SHIM_PATH_H

/* The preload library that belongs to this heapscope binary: beside it
 * (the build tree: build/heapscope, build/libheapscope.so), or in
 * ../lib/heapscope/ (what `make install` lays out: PREFIX/bin/heapscope,
 * PREFIX/lib/heapscope/libheapscope.so). Found through /proc/self/exe,
 * so an installed tree can be moved as a whole. Returns a malloc'd path,
 * or NULL after one line on stderr starting with `who`. */
char *hs_find_shim(const char *who);

#endif
