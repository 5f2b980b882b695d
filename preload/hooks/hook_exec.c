/*
 * hook_exec.c — the exec family.
 *
 * Before an exec replaces the image, the trace is flushed and ends with
 * `X exec 0` (the new image loads the shim again through LD_PRELOAD and
 * writes its own trace). The new image is told, through HS_LINEAGE_VAR in
 * the environment it receives, that it was exec'd from a traced image of
 * the same pid, so it names its file apart from ours. If the exec fails,
 * the X line is taken back and recording goes on.
 *
 * Every variant is turned into one of four real calls with an explicit
 * environment (execv(p, a) is execve(p, a, environ), and so on), so the
 * lineage is set the same way whichever the program used.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "hooks.h"
#include "record/trace.h"

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

static execve_fn   real_execve, real_execvpe;
static fexecve_fn  real_fexecve;
static execveat_fn real_execveat;

/* Resolved before main: a vfork child must not be the first to dlsym. */
__attribute__((constructor)) static void resolve(void)
{
	real_execve   = (execve_fn)dlsym(RTLD_NEXT, "execve");
	real_execvpe  = (execve_fn)dlsym(RTLD_NEXT, "execvpe");
	real_fexecve  = (fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
	real_execveat = (execveat_fn)dlsym(RTLD_NEXT, "execveat");
}

/* Common part around every real exec. 'how' selects the real call. */
enum how { VIA_PATH, VIA_SEARCH, VIA_FD, VIA_AT };

static int do_exec(enum how how, int fd, const char *path, char *const argv[],
                   char *const envp[], int flags)
{
	if (!real_execve)
		resolve();
	char **env = NULL;
	bool traced = false;
	/* Only an image with a trace of its own (not a vfork child sharing
	 * our memory) ends its trace and passes a new lineage on. */
	if (hs_trace_owner() == (int)getpid()) {
		char lineage[48];
		hs_trace_lineage(lineage, sizeof lineage);
		env = hs_exec_env(envp, lineage);
		traced = hs_trace_exec_begin();
	}
	char *const *use = env ? env : envp;
	int r = -1;
	switch (how) {
	case VIA_PATH:   r = real_execve ? real_execve(path, argv, use) : (errno = ENOSYS, -1); break;
	case VIA_SEARCH: r = real_execvpe ? real_execvpe(path, argv, use) : (errno = ENOSYS, -1); break;
	case VIA_FD:     r = real_fexecve ? real_fexecve(fd, argv, use) : (errno = ENOSYS, -1); break;
	case VIA_AT:     r = real_execveat ? real_execveat(fd, path, argv, use, flags) : (errno = ENOSYS, -1); break;
	}
	int saved = errno;
	if (traced)
		hs_trace_exec_failed();
	hs_exec_env_free(env);
	errno = saved;
	return r;
}

HS_API int execve(const char *path, char *const argv[], char *const envp[])
{
	return do_exec(VIA_PATH, -1, path, argv, envp, 0);
}

HS_API int execv(const char *path, char *const argv[])
{
	return do_exec(VIA_PATH, -1, path, argv, environ, 0);
}

HS_API int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return do_exec(VIA_SEARCH, -1, file, argv, envp, 0);
}

HS_API int execvp(const char *file, char *const argv[])
{
	return do_exec(VIA_SEARCH, -1, file, argv, environ, 0);
}

HS_API int fexecve(int fd, char *const argv[], char *const envp[])
{
	return do_exec(VIA_FD, fd, NULL, argv, envp, 0);
}

HS_API int execveat(int dirfd, const char *path, char *const argv[],
                    char *const envp[], int flags)
{
	return do_exec(VIA_AT, dirfd, path, argv, envp, flags);
}

/* execl, execlp, execle: the arguments as an array on our stack, as
 * glibc does; execle's environment follows the terminating NULL. */
static size_t count_args(va_list *ap)
{
	va_list c;
	va_copy(c, *ap);
	size_t n = 1;                 /* the first argument, named            */
	while (va_arg(c, char *))
		n++;
	va_end(c);
	return n;
}

static void fill_args(char **argv, const char *first, size_t n, va_list *ap)
{
	argv[0] = (char *)first;
	for (size_t i = 1; i <= n; i++)   /* argv[n] is the NULL             */
		argv[i] = va_arg(*ap, char *);
}

static int exec_list(enum how how, const char *path, const char *arg,
                     va_list *ap, bool env_follows)
{
	size_t n = count_args(ap);
	char *argv[n + 1];
	fill_args(argv, arg, n, ap);
	char *const *envp = env_follows ? va_arg(*ap, char *const *) : environ;
	return do_exec(how, -1, path, argv, envp, 0);
}

HS_API int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = exec_list(VIA_PATH, path, arg, &ap, false);
	va_end(ap);
	return r;
}

HS_API int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = exec_list(VIA_SEARCH, file, arg, &ap, false);
	va_end(ap);
	return r;
}

HS_API int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = exec_list(VIA_PATH, path, arg, &ap, true);
	va_end(ap);
	return r;
}
