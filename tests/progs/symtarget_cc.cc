// symtarget_cc — C++ names for the analyzer's demangling test
// (tests/e2e/symbolize.sh): main -> shapes::Circle::grow(int) ->
// shapes::make<double>(double) -> selftrace_print. "@NAME" marks lines.
#include "selftrace.h"

namespace shapes {
template <typename T> __attribute__((noinline)) T make(T v)
{
	selftrace_print();   // @template_call
	return v;
}

struct Circle {
	double r;
	__attribute__((noinline)) void grow(int by)
	{
		r = make<double>(r + by);   // @method_call
	}
};
}

int main()
{
	shapes::Circle c{1.0};
	c.grow(2);   // @main_call
	return c.r > 0 ? 0 : 1;
}
