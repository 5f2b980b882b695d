/*
 * world_proc.c — the process's threads as /proc/self/task shows them, for
 * the world stop (world.c) and the leak scan's stack bounds.
 *
 *   /proc/self/task            one directory per thread (getdents64 by
 *                              hand: opendir() allocates);
 *   .../TID/syscall            "running", or "nr a1..a6 sp pc" while the
 *                              thread is blocked in a system call, or
 *                              "-1 sp pc" while blocked outside one (a
 *                              page fault);
 *   .../TID/status             SigBlk (its blocked signals) and its
 *                              voluntary and involuntary context
 *                              switches. A thread that was off the CPU
 *                              and is off it again with the same counts
 *                              and the same syscall line did not run in
 *                              between: to run it must be switched in,
 *                              and to be blocked again switched out,
 *                              which counts.
 *
 * Only open/read/close and getdents64: no lock, no malloc, no stdio.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "world.h"

static bool parse_dec(const char *s, int32_t *out)
{
	int32_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

struct dirent64_hdr {           /* the kernel's struct linux_dirent64 */
	uint64_t ino;
	int64_t  off;
	uint16_t reclen;
	uint8_t  type;
	char     name[];
};

bool hs_task_foreach(bool (*fn)(int32_t tid, void *ctx), void *ctx)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096] __attribute__((aligned(8)));
	long n;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64_hdr *d = (struct dirent64_hdr *)(buf + off);
			off += d->reclen;
			int32_t tid;
			if (parse_dec(d->name, &tid) && !fn(tid, ctx))
				goto out;
		}
	}
out:
	close(fd);
	return true;
}

/* Read a small /proc file whole; its length, -1 if it is gone. */
static ssize_t slurp(int32_t tid, const char *what, char *buf, size_t cap)
{
	char path[64];
	hs_fmt(path, sizeof path, "/proc/self/task/%d/%s", tid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t r;
	while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static uint64_t hex_word(const char *s)
{
	uint64_t v = 0;
	if (s[0] == '0' && s[1] == 'x')
		s += 2;
	for (;; s++) {
		unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0')
		           : *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10) : 16;
		if (d == 16)
			return v;
		v = v << 4 | d;
	}
}

static uint64_t dec_word(const char *s)
{
	uint64_t v = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return v;
}

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* "nr a1 .. a6 sp pc" or "-1 sp pc" or "running". */
static void parse_syscall(const char *buf, size_t n, struct hs_task_info *t)
{
	t->syscall_sum = fnv(buf, n);
	if (n == 0 || buf[0] == 'r')
		return;
	const char *tok[10];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 10; i++)
		if (buf[i] != ' ' && buf[i] != '\n' && (i == 0 || buf[i - 1] == ' '))
			tok[k++] = &buf[i];
	if (k < 3)
		return;
	t->blocked = true;
	t->in_syscall = tok[0][0] != '-';
	t->sp = (uintptr_t)hex_word(tok[k - 2]);
	if (t->in_syscall && k == 9)
		for (int a = 0; a < 6; a++)
			t->args[a] = (uintptr_t)hex_word(tok[1 + a]);
}

static const char *field(const char *buf, const char *name)
{
	size_t len = 0;
	while (name[len])
		len++;
	for (const char *p = buf; *p; ) {
		bool hit = true;
		for (size_t i = 0; i < len; i++)
			if (p[i] != name[i]) {
				hit = false;
				break;
			}
		if (hit)
			return p + len;
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
	}
	return NULL;
}

/* status before syscall: a thread that ran between the two reads and
 * blocked again has more switches the next time status is read, so a
 * pair read later that matches proves it did not run after the first. */
bool hs_task_read(int32_t tid, struct hs_task_info *out)
{
	*out = (struct hs_task_info){ 0 };
	char buf[4096];
	if (slurp(tid, "status", buf, sizeof buf) < 0)
		return false;
	const char *state = field(buf, "State:\t");
	const char *blk = field(buf, "SigBlk:\t");
	const char *vol = field(buf, "voluntary_ctxt_switches:");
	const char *inv = field(buf, "nonvoluntary_ctxt_switches:");
	out->dead = state && (*state == 'Z' || *state == 'X');
	if (blk && vol && inv) {
		out->sigblk = hex_word(blk);
		out->switches = dec_word(vol) + dec_word(inv);
		out->status_ok = true;
	}
	ssize_t n = slurp(tid, "syscall", buf, sizeof buf);
	if (n < 0)
		return false;
	parse_syscall(buf, (size_t)n, out);
	return true;
}
