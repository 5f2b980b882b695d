/*
 * leakexit.c — where the exiting thread's live frames begin.
 *
 * The scan runs inside exit(): between the frame that called exit (or,
 * after main returned, __libc_start_call_main's) and the scan lie exit's
 * own frames, libc's and ld.so's exit machinery (__run_exit_handlers,
 * _dl_fini) and heapscope's. They reuse the stack that the program's
 * earlier calls left their dead frames in, and what they never write
 * keeps those frames' words: a pointer to a block the program dropped
 * would still be seen there and make a lost block look reachable.
 * memcheck does not see such words (they are undefined for it), nor does
 * LeakSanitizer (it scans from the stack pointer of the frame it stops).
 *
 * So the current thread's stack is scanned from the stack pointer of the
 * first frame, walking out from here, whose code is in none of
 * libheapscope, libc and ld.so: the program's frame that called exit (or
 * _start, when main returned: main's frame is dead then, as memcheck
 * says). The registers that frame had are roots: its callee-saved ones,
 * which libunwind restores from where the exit path saved them, and all
 * of them when the walk crossed a signal frame (exit from a handler: the
 * interrupted code's registers are all live).
 *
 * libunwind finds unwind tables through dl_iterate_phdr, which takes the
 * loader's lock: call this before other threads are stopped, and never
 * with an allocator lock held.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <sys/auxv.h>

#include "leaks.h"
#include "leakroots.h"
#include "record/trace.h"

#define MAX_FRAMES 64           /* the exit path is a dozen deep          */
#define MAX_MODS   3

struct mods {
	uintptr_t lo[MAX_MODS], hi[MAX_MODS];
	unsigned n;
	uintptr_t libc_fn, loader_base;
};

/* The span of a loaded object's PT_LOAD segments. */
static void span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < *lo)
			*lo = a;
		if (a + ph->p_memsz > *hi)
			*hi = a + ph->p_memsz;
	}
}

static int find_mods(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct mods *m = arg;
	uintptr_t lo, hi;
	span(info, &lo, &hi);
	bool libc = m->libc_fn >= lo && m->libc_fn < hi;
	bool loader = m->loader_base && info->dlpi_addr == m->loader_base;
	if ((libc || loader) && m->n < MAX_MODS) {
		m->lo[m->n] = lo;
		m->hi[m->n] = hi;
		m->n++;
	}
	return 0;
}

static bool in_exit_path(const struct mods *m, uintptr_t ip)
{
	for (unsigned i = 0; i < m->n; i++)
		if (ip >= m->lo[i] && ip < m->hi[i])
			return true;
	return false;
}

bool hs_lk_exit_frame(struct hs_lk_exit_frame *f)
{
#if defined(__x86_64__)
	static const int callee_saved[] = {
		UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12,
		UNW_X86_64_R13, UNW_X86_64_R14, UNW_X86_64_R15,
	};
	static const int caller_saved[] = {
		UNW_X86_64_RAX, UNW_X86_64_RCX, UNW_X86_64_RDX, UNW_X86_64_RSI,
		UNW_X86_64_RDI, UNW_X86_64_R8, UNW_X86_64_R9, UNW_X86_64_R10,
		UNW_X86_64_R11,
	};
	/* gnu_get_libc_version: a function of libc's that no program or tool
	 * defines again (exit itself may be interposed) */
	struct mods m = { .libc_fn = (uintptr_t)&gnu_get_libc_version,
	                  .loader_base = getauxval(AT_BASE) };
	hs_modules_self_text(&m.lo[0], &m.hi[0]);
	m.n = 1;
	dl_iterate_phdr(find_mods, &m);

	unw_context_t ctx;
	unw_cursor_t cur;
	if (unw_getcontext(&ctx) || unw_init_local(&cur, &ctx))
		return false;
	bool crossed_signal = false;
	for (int depth = 0; depth < MAX_FRAMES; depth++) {
		unw_word_t ip, sp, v;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) || unw_get_reg(&cur, UNW_REG_SP, &sp))
			return false;
		/* a return address: the call is the byte before it */
		if (depth > 0 && ip && !in_exit_path(&m, ip - 1)) {
			f->sp = sp;
			f->nregs = 0;
			for (unsigned i = 0; i < sizeof callee_saved / sizeof *callee_saved; i++)
				if (!unw_get_reg(&cur, callee_saved[i], &v))
					f->regs[f->nregs++] = v;
			for (unsigned i = 0; crossed_signal &&
			                     i < sizeof caller_saved / sizeof *caller_saved; i++)
				if (!unw_get_reg(&cur, caller_saved[i], &v))
					f->regs[f->nregs++] = v;
			return true;
		}
		if (unw_is_signal_frame(&cur) > 0)
			crossed_signal = true;
		if (unw_step(&cur) <= 0)
			return false;
	}
#else
	(void)f;
#endif
	return false;
}
