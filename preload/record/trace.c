/*
 * trace.c — the trace file writer (docs/TRACE-FORMAT.md).
 *
 * One static 64 KiB buffer behind one lock; lines are formatted straight
 * into the buffer and the buffer goes out with write(2) when it fills, at
 * samples, before fork and exec, at exit and from fatal-signal handlers.
 * Nothing here allocates: the shim is the allocator.
 *
 * Invariant: buf[0, len) holds only complete lines. A line is formatted
 * into the free tail and len moves past it only once it is whole, so a
 * flush at any moment (even from a signal handler that interrupted a
 * writer on this thread) never writes half a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"

__thread char hs_self_token;

static struct {
	struct hs_spin lock;
	int fd;                    /* -1 when no trace is open                */
	int pid;                   /* the process the open file belongs to    */
	_Atomic bool open;         /* lines are accepted                       */
	size_t len;                /* bytes of complete lines in buf          */
	uint64_t written;          /* bytes in the file                        */
	uint64_t exec_mark;        /* file size before `X exec 0`             */
	uint64_t lost;             /* bytes dropped by failed writes          */
	_Atomic unsigned reentered;/* lines dropped: the writer was re-entered */
	char path[HS_TRACE_NAME_MAX];   /* the open file's name               */
	dev_t dev;                 /* identity of the file behind fd: the     */
	ino_t ino;                 /* program may close or dup2 over our fd   */
} T = { .fd = -1 };

/* Apart from T, which has an initializer and so lives in .data: in .bss
 * only the pages lines have reached become resident (a short run writes
 * a few KiB; inside T all 64 KiB were resident from the start). The +1
 * is room for the formatter's NUL. */
static char tbuf[HS_TRACE_BUF + 1];


void hs_trace_lock(void)   { hs_spin_lock(&T.lock); }
void hs_trace_unlock(void) { hs_spin_unlock(&T.lock); }
bool hs_trace_lock_mine(void) { return hs_spin_mine(&T.lock); }
bool hs_trace_active(void) { return atomic_load_explicit(&T.open, memory_order_relaxed); }
int  hs_trace_owner(void)  { return T.fd >= 0 ? T.pid : 0; }
const char *hs_trace_path(void) { return T.fd >= 0 ? T.path : NULL; }
bool hs_trace_writable_locked(void) { return T.open; }

/* ---- safe creation ------------------------------------------------------ */

int hs_trace_create(const char *path)
{
	/* O_EXCL refuses any existing name, a dangling symlink included;
	 * O_NOFOLLOW makes that explicit; O_CLOEXEC so an exec'd image cannot
	 * write into its parent's file. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Out of the way of the small numbers programs pick themselves. */
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	return fd;
}

/* ---- writing ----------------------------------------------------------- */

/* write(2) all of it; false (with *done bytes written) on failure. */
static bool write_all(const char *p, size_t n, size_t *done)
{
	size_t d = 0;
	int cancel = hs_cancel_off();   /* the caller holds the trace lock */
	while (d < n) {
		ssize_t w = write(T.fd, p + d, n - d);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		d += (size_t)w;
	}
	hs_cancel_restore(cancel);
	T.written += d;
	if (done)
		*done = d;
	return d == n;
}

/* Programs close descriptors they did not open (daemons close them all)
 * or dup2 onto them (shell `exec 3>file`): never write through an fd that
 * no longer is our file. */
static bool still_ours(void)
{
	struct stat st;
	if (fstat(T.fd, &st) == 0 && st.st_dev == T.dev && st.st_ino == T.ino)
		return true;
	hs_log("the program closed or replaced the trace file's descriptor: "
	       "recording stopped");
	atomic_store(&T.open, false);
	T.fd = -1;
	return false;
}

static void flush_locked(void)
{
	if (T.len == 0 || T.fd < 0)
		return;
	int saved = errno;
	/* A clone()d or vfork()ed child shares or copied our state without
	 * going through the fork handlers: the file is not its to write. */
	if (T.pid == (int)getpid() && still_ours()) {
		if (T.lost) {
			char note[96];
			int k = hs_fmt(note, sizeof note,
			               "\n! lost %lu bytes of trace: write failed\n",
			               (unsigned long)T.lost);
			if (write_all(note, (size_t)k, NULL))
				T.lost = 0;
		}
		size_t done;
		if (!write_all(tbuf, T.len, &done)) {
			T.lost += T.len - done;
			/* Say it once: the program goes on, the trace has a gap
			 * (a `!` line marks it if writing recovers) and ends
			 * without its X line, so the report says it is partial. */
			static bool said;
			if (!said) {
				said = true;
				hs_log("writing the trace failed (errno %d%s): records are "
				       "being lost; the report will be incomplete", errno,
				       errno == ENOSPC ? ", disk full" : "");
			}
		}
	}
	T.len = 0;
	errno = saved;
}

char *hs_trace_room_locked(size_t n)
{
	if (!T.open || n > HS_TRACE_BUF)
		return NULL;
	if (HS_TRACE_BUF - T.len < n)
		flush_locked();
	return tbuf + T.len;
}

void hs_trace_advance_locked(size_t n)
{
	T.len += n;
}

static void vprintf_locked(const char *fmt, va_list ap)
{
	if (!T.open)
		return;
	/* The formatter truncates silently: a result that fills the room to
	 * the last byte may have been cut, so flush and format again. */
	va_list again;
	va_copy(again, ap);
	size_t room = HS_TRACE_BUF - T.len;
	size_t n = (size_t)hs_vfmt(tbuf + T.len, room + 1, fmt, ap);
	if (n < room) {
		T.len += n;
	} else {
		flush_locked();
		n = (size_t)hs_vfmt(tbuf, HS_TRACE_BUF + 1, fmt, again);
		if (n < HS_TRACE_BUF)
			T.len = n;
		else
			T.len = (size_t)hs_fmt(tbuf, HS_TRACE_BUF,
			                       "! a record longer than %lu bytes was dropped\n",
			                       (unsigned long)HS_TRACE_BUF);
	}
	va_end(again);
}

void hs_trace_printf_locked(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf_locked(fmt, ap);
	va_end(ap);
}

/* A signal handler that writes a line (a heap error, an injected fault)
 * while its own thread is inside the writer would wait for a lock it
 * holds; appending instead would interleave with the half-formatted line
 * under it. Its line is dropped and counted; the close says how many. */
static bool reentered(void)
{
	if (!hs_spin_mine(&T.lock))
		return false;
	atomic_fetch_add_explicit(&T.reentered, 1, memory_order_relaxed);
	return true;
}

void hs_trace_printf(const char *fmt, ...)
{
	if (!hs_trace_active() || reentered())
		return;
	va_list ap;
	va_start(ap, fmt);
	hs_trace_lock();
	vprintf_locked(fmt, ap);
	hs_trace_unlock();
	va_end(ap);
}

void hs_trace_flush(void)
{
	if (!hs_trace_active() || hs_spin_mine(&T.lock))
		return;
	hs_trace_lock();
	flush_locked();
	hs_trace_unlock();
}

void hs_trace_close(void)
{
	if (hs_spin_mine(&T.lock))      /* re-entered: the outer call closes */
		return;
	hs_trace_lock();
	unsigned dropped = atomic_exchange(&T.reentered, 0);
	if (dropped)
		hs_trace_printf_locked("! %u line(s) dropped: written from a signal "
		                       "handler while its thread was writing the trace\n",
		                       dropped);
	flush_locked();
	atomic_store(&T.open, false);
	hs_trace_unlock();
}

void hs_trace_emergency(const char *line, size_t n)
{
	if (!hs_trace_active() || T.pid != (int)getpid())
		return;
	/* If this thread was interrupted inside the trace code it holds the
	 * lock already: buf[0, len) is still whole lines, go ahead. If another
	 * thread holds it, give it a moment to finish, then go ahead anyway
	 * rather than hang a crashing process. */
	bool locked = false;
	if (!hs_spin_mine(&T.lock))
		for (unsigned i = 0; i < 20000 && !(locked = hs_spin_try(&T.lock)); i++)
			sched_yield();
	flush_locked();
	if (T.open && T.fd >= 0)
		write_all(line, n, NULL);
	atomic_store(&T.open, false);
	if (locked)
		hs_spin_unlock(&T.lock);
}

/* ---- the preamble -------------------------------------------------------- */

/* Replace what would break the line format (newlines, control bytes). */
static void sanitize(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
}

/* The `a` line: /proc/self/cmdline, NULs turned into spaces. */
static void write_argv_locked(void)
{
	static char cmd[4096];
	size_t n = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r;
		while (n < sizeof cmd - 1 &&
		       (r = read(fd, cmd + n, sizeof cmd - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	while (n && cmd[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	sanitize(cmd, n);
	cmd[n] = '\0';
	hs_trace_printf_locked("a %s\n", cmd);
}

static void write_preamble_locked(void)
{
	struct timespec ts = { 0, 0 };
	clock_gettime(CLOCK_REALTIME, &ts);
	hs_trace_printf_locked("HEAPSCOPE-TRACE %d\n", HS_TRACE_VERSION);
	hs_trace_printf_locked("P %d %d %lu %s\n", (int)getpid(), (int)getppid(),
	                       (unsigned long)ts.tv_sec, hs_modules_exe_path());
	write_argv_locked();
}

/* Open fd as this process's trace and write everything a reader needs
 * before the first record: header, P, a, every module. Stacks follow as
 * they are used (stacks.c). Caller holds the stacks, modules and trace
 * locks. */
static void begin_locked(int fd, const char *path)
{
	hs_fmt(T.path, sizeof T.path, "%s", path);
	struct stat st;
	if (fstat(fd, &st) == 0) {
		T.dev = st.st_dev;
		T.ino = st.st_ino;
	}
	T.fd = fd;
	T.pid = (int)getpid();
	T.len = 0;
	T.written = 0;
	T.lost = 0;
	atomic_store(&T.open, true);
	write_preamble_locked();
	hs_modules_emit_all_locked();
	hs_stacks_new_trace_locked();
	flush_locked();
}

static void refuse(const char *path, int err)
{
	if (err == EEXIST || err == ELOOP)
		hs_log("trace file %s already exists: not overwriting it, "
		       "nothing will be recorded", path);
	else
		hs_log("cannot create trace file %s (errno %d): nothing will be "
		       "recorded", path, err);
}

bool hs_trace_start(const char *path)
{
	hs_modules_refresh();           /* loader lock first: outside ours    */
	int fd = hs_trace_create(path);
	if (fd < 0) {
		refuse(path, -fd);
		return false;
	}
	hs_stacks_lock();
	hs_modules_lock();
	hs_trace_lock();
	if (T.fd >= 0)
		close(T.fd);
	begin_locked(fd, path);
	hs_trace_unlock();
	hs_modules_unlock();
	hs_stacks_unlock();
	return true;
}

bool hs_trace_open(void)
{
	if (hs_trace_owner())
		return hs_trace_active();
	char name[HS_TRACE_NAME_MAX];
	return hs_trace_my_name(name, sizeof name, false) && hs_trace_start(name);
}

/* ---- fork and exec ------------------------------------------------------ */

void hs_trace_fork_prepare(void)
{
	hs_stacks_lock();
	hs_modules_lock();
	hs_trace_lock();
	flush_locked();       /* nothing buffered may be written twice        */
}

void hs_trace_fork_parent(void)
{
	hs_trace_unlock();
	hs_modules_unlock();
	hs_stacks_unlock();
}

void hs_trace_fork_child(void)
{
	bool traced = T.open && T.fd >= 0;
	if (T.fd >= 0)
		close(T.fd);  /* the parent's file: never ours to write           */
	T.fd = -1;
	T.pid = 0;
	T.len = 0;
	atomic_store(&T.open, false);
	char name[HS_TRACE_NAME_MAX];
	if (traced && hs_trace_my_name(name, sizeof name, true)) {
		int fd = hs_trace_create(name);
		if (fd >= 0)
			begin_locked(fd, name);  /* this thread holds all three locks */
		else
			refuse(name, -fd);
	}
	hs_spin_reset(&T.lock);
	hs_modules_reset_child();
	hs_stacks_reset_child();
}

bool hs_trace_exec_begin(void)
{
	if (!hs_trace_active() || T.pid != (int)getpid())
		return false;
	hs_trace_lock();
	if (!T.open) {
		hs_trace_unlock();
		return false;
	}
	flush_locked();
	T.exec_mark = T.written;
	hs_trace_printf_locked("X exec 0\n");
	flush_locked();
	return true;          /* lock held until the exec fails (or wins)     */
}

void hs_trace_exec_failed(void)
{
	int saved = errno;
	/* The exec did not happen: take the X line back and go on. */
	if (ftruncate(T.fd, (off_t)T.exec_mark) == 0 &&
	    lseek(T.fd, (off_t)T.exec_mark, SEEK_SET) >= 0)
		T.written = T.exec_mark;
	hs_trace_unlock();
	errno = saved;
}
