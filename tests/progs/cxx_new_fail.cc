/*
 * cxx_new_fail.cc — operator new under injected failures
 * (tests/e2e/cxx_new.sh runs it with HEAPSCOPE_FAIL). Each step prints one
 * line saying what the program saw:
 *
 *   throw    new int[10]: "bad_alloc" if it threw std::bad_alloc, else "ok"
 *   nothrow  new (nothrow) int[10]: "null" or "ok"
 *   handler  with a new_handler installed that uninstalls itself on its
 *            second call: new int / new (nothrow) int, and how many
 *            times the handler ran
 *   aligned  new of an over-aligned type, throwing and nothrow
 *   bad_align  operator new / new[] with alignments that are not powers
 *            of two (and 1 and 8, which are): per alignment, n/p for the
 *            nothrow new and new[] (NULL or a pointer), b/p for the
 *            throwing ones (bad_alloc or a pointer), with a new_handler
 *            installed that libstdc++ never calls for a bad alignment
 *
 * Every block that was returned is deleted with the matching operator, so
 * a clean run reports no error.
 */
#include <cstdio>
#include <cstring>
#include <new>

struct alignas(64) Wide {
	char c[100];
};

static int calls;
static void handler()
{
	if (++calls >= 2)
		std::set_new_handler(nullptr);
}

static const char *try_throwing()
{
	try {
		int *p = new int[10];
		delete[] p;
		return "ok";
	} catch (const std::bad_alloc &) {
		return "bad_alloc";
	}
}

static const char *try_nothrow()
{
	int *p = new (std::nothrow) int[10];
	delete[] p;
	return p ? "ok" : "null";
}

static const char *try_aligned()
{
	try {
		Wide *w = new Wide;
		bool ok = (reinterpret_cast<unsigned long>(w) % 64) == 0;
		delete w;
		return ok ? "ok" : "misaligned";
	} catch (const std::bad_alloc &) {
		return "bad_alloc";
	}
}

static void bad_align()
{
	static const size_t al[] = { 63, 0, 3, 24, 48, 1, 8 };
	std::set_new_handler(handler);
	std::printf("bad_align");
	for (size_t a : al) {
		std::align_val_t v = std::align_val_t(a);
		void *p = ::operator new(10, v, std::nothrow);
		void *q = ::operator new[](10, v, std::nothrow);
		std::printf(" %zu:%c%c", a, p ? 'p' : 'n', q ? 'p' : 'n');
		::operator delete(p, v, std::nothrow);
		::operator delete[](q, v, std::nothrow);
		try {
			void *r = ::operator new(10, v);
			std::putchar('p');
			::operator delete(r, v);
		} catch (const std::bad_alloc &) {
			std::putchar('b');
		}
		try {
			void *r = ::operator new[](10, v);
			std::putchar('p');
			::operator delete[](r, v);
		} catch (const std::bad_alloc &) {
			std::putchar('b');
		}
	}
	std::printf(" calls=%d\n", calls);
}

int main(int argc, char **argv)
{
	const char *step = argc > 1 ? argv[1] : "throw";
	if (!std::strcmp(step, "throw")) {
		std::printf("throw %s\n", try_throwing());
	} else if (!std::strcmp(step, "nothrow")) {
		std::printf("nothrow %s\n", try_nothrow());
	} else if (!std::strcmp(step, "handler")) {
		std::set_new_handler(handler);
		const char *r;
		try {
			int *p = new int;
			delete p;
			r = "ok";
		} catch (const std::bad_alloc &) {
			r = "bad_alloc";
		}
		std::printf("handler %s calls=%d\n", r, calls);
	} else if (!std::strcmp(step, "handler_nothrow")) {
		std::set_new_handler(handler);
		int *p = new (std::nothrow) int;
		std::printf("handler_nothrow %s calls=%d\n", p ? "ok" : "null", calls);
		delete p;
	} else if (!std::strcmp(step, "aligned")) {
		std::printf("aligned %s\n", try_aligned());
	} else if (!std::strcmp(step, "aligned_nothrow")) {
		Wide *w = new (std::nothrow) Wide;
		std::printf("aligned_nothrow %s\n", w ? "ok" : "null");
		delete w;
	} else if (!std::strcmp(step, "bad_align")) {
		bad_align();
	}
	return 0;
}
