/*
 * util.c — what stdio and getenv would give us, without allocating.
 *
 * Everything here may run inside malloc, in a signal handler or in a child
 * between fork and exec: no locks, no malloc, errno preserved.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

static size_t put_unsigned(char *buf, size_t cap, size_t at, unsigned long long v,
                           unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n-- > 0)
		if (at + 1 < cap)
			buf[at++] = tmp[n];
	return at;
}

static int vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t at = 0;
	if (cap == 0)
		return 0;
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			if (at + 1 < cap)
				buf[at++] = *f;
			continue;
		}
		f++;
		/* length modifiers: l, ll, z (all read as 64-bit where needed) */
		int lng = 0;
		while (*f == 'l' || *f == 'z') {
			lng = 1;
			f++;
		}
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (*s && at + 1 < cap)
				buf[at++] = *s++;
			break;
		}
		case 'c':
			if (at + 1 < cap)
				buf[at++] = (char)va_arg(ap, int);
			break;
		case 'd': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			unsigned long long u = (unsigned long long)v;
			if (v < 0) {
				if (at + 1 < cap)
					buf[at++] = '-';
				u = 0 - u;
			}
			at = put_unsigned(buf, cap, at, u, 10);
			break;
		}
		case 'u':
			at = put_unsigned(buf, cap, at,
			                  lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10);
			break;
		case 'x':
			at = put_unsigned(buf, cap, at,
			                  lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16);
			break;
		case 'p':
			if (at + 2 < cap) {
				buf[at++] = '0';
				buf[at++] = 'x';
			}
			at = put_unsigned(buf, cap, at, (uintptr_t)va_arg(ap, void *), 16);
			break;
		case '%':
			if (at + 1 < cap)
				buf[at++] = '%';
			break;
		case '\0':
			f--;
			break;
		default:   /* unknown conversion: print it as is, never guess */
			if (at + 2 < cap) {
				buf[at++] = '%';
				buf[at++] = *f;
			}
		}
	}
	buf[at] = '\0';
	return (int)at;
}

/* The va_list form, for writers with their own variadic entry point
 * (hs_trace_printf). */
int hs_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	return vfmt(buf, cap, fmt, ap);
}

int hs_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* write(2) all of it, retrying on EINTR and short writes. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void hs_log(const char *fmt, ...)
{
	if (!hs_cfg.log)
		return;
	int saved = errno;
	char line[512];
	int n = hs_fmt(line, sizeof line, "==%d== heapscope: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	n += vfmt(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > 0 && line[n - 1] != '\n')
		line[n++] = '\n';
	write_all(2, line, (size_t)n);
	errno = saved;
}

/* The environment as the process started with it: read through the
 * `environ` array, which the loader sets up before any constructor runs.
 * Settings are read once at init, so a later setenv cannot move them. */
const char *hs_env(const char *name)
{
	size_t len = strlen(name);
	if (!environ)
		return NULL;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}
