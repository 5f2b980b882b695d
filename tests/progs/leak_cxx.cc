// C++ leaks: a lost new, a lost new[] of ints, and a new[] of objects
// with a destructor still held by a global (the pointer kept is 8 bytes
// inside the block, past the element-count cookie: memcheck's "newarray"
// heuristic makes it still reachable).
#include <cstring>
#include "leakcase.h"

struct Point {
	long x, y, z;
};

struct Tracked {
	long id;
	~Tracked() { id = -1; }
};

Tracked *global_tracked;

static void __attribute__((noinline)) leak_new()
{
	Point *p = new Point;                   // LEAK definite 24
	p->x = 1;
}

static void __attribute__((noinline)) leak_new_array()
{
	int *a = new int[25];                   // LEAK definite 100
	a[3] = 3;
}

static void __attribute__((noinline)) keep_tracked()
{
	global_tracked = new Tracked[4];        // LEAK reachable 40
	global_tracked[0].id = 0;
}

int main()
{
	leak_new();
	leak_new_array();
	keep_tracked();
	leakcase_scrub_stack();
	return 0;
}
