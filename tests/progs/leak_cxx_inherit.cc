// C++ multiple inheritance: a global holds a pointer to the second base
// of a heap object, which is 8 bytes inside the block. memcheck's
// "multipleinheritance" heuristic (vtable pointers at the block's start
// and at the target) makes it still reachable; the same layout reached
// through a pointer to a non-vtable word stays possibly lost.
#include <cstring>
#include "leakcase.h"

struct Shape {
	virtual ~Shape() {}
	virtual double area() const { return 0; }
};

struct Named {
	virtual ~Named() {}
	virtual const char *name() const { return "named"; }
};

struct Square : Shape, Named {
	double side = 2;
	double area() const override { return side * side; }
	const char *name() const override { return "square"; }
};

struct Plain {
	long a, b, c;
};

Named *global_named;
long *global_field;

static void __attribute__((noinline)) keep_second_base()
{
	global_named = new Square;              // LEAK reachable 24
}

static void __attribute__((noinline)) keep_field()
{
	Plain *p = new Plain;                   // LEAK possible 24
	p->a = p->b = p->c = 0;
	global_field = &p->b;
}

int main()
{
	keep_second_base();
	keep_field();
	leakcase_scrub_stack();
	return 0;
}
