/*
 * err_mismatched.cc — memory released by the wrong family
 * (tests/e2e/heap_errors.sh finds the @NAME lines):
 *
 *   err_mismatched new_free      new, then free()
 *   err_mismatched array_delete  new[], then delete (not delete[])
 *   err_mismatched malloc_delete malloc(), then delete
 *
 * Reported as mismatched_free; the block is released anyway (as memcheck
 * does) and the program prints "done".
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>

struct Thing {
	int v[6];
};

static Thing *make_one()
{
	return new Thing;                          // @alloc_new
}

static int *make_array()
{
	return new int[10];                        // @alloc_array
}

static Thing *make_malloced()
{
	return static_cast<Thing *>(std::malloc(sizeof(Thing)));   // @alloc_malloc
}

static void release_with_free(Thing *t)
{
	std::free(t);                              // @free_new
}

static void release_array_wrongly(int *a)
{
	delete a;                                  // @delete_array
}

static void release_malloced_wrongly(Thing *t)
{
	delete t;                                  // @delete_malloc
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "new_free";
	if (std::strcmp(mode, "new_free") == 0) {
		release_with_free(make_one());
	} else if (std::strcmp(mode, "array_delete") == 0) {
		release_array_wrongly(make_array());
	} else {
		release_malloced_wrongly(make_malloced());
	}
	/* matched pairs are fine */
	delete new Thing;
	delete[] new int[5];
	std::free(std::malloc(5));
	std::puts("done");
	return 0;
}
