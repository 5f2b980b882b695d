/*
 * unwind_mods.c — for an address, the module's unwind tables: its
 * executable range, its .eh_frame_hdr (PT_GNU_EH_FRAME) and the PT_LOAD
 * segment holding that header, which is all unwind_cfi.c may read.
 *
 * The table is rebuilt whole from dl_iterate_phdr, inside the loader's
 * lock (so two rebuilds never interleave), and read without any lock
 * under a sequence count: odd while a rebuild writes, and a reader that
 * sees it odd or moved gives up (the capture then takes libunwind) or
 * rebuilds itself. Nothing spins, so a signal handler can never wait on
 * its own interrupted thread. Rebuilds happen when an address is in no
 * module known and the loader's dlpi_adds/dlpi_subs moved since the last
 * one, or when modules.c saw them move (hs_unwind_modules_changed). A
 * move of dlpi_subs means something was unloaded: the rule cache epoch
 * moves, and rules cached for its addresses are no longer used.
 *
 * Never called with a heapscope lock held: the loader lock comes first
 * (trace.h), as for hs_modules_refresh().
 */
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>

#include "unwind.h"

#define MAX_MODS 1024
#define LD(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static struct {
	_Atomic unsigned seq;           /* odd while m[] is rewritten          */
	_Atomic unsigned n;
	_Atomic uint32_t epoch;         /* 1..0xffff: rule cache generation    */
	_Atomic int changed;            /* modules.c saw the loader move       */
	/* loader counters at the last rebuild */
	_Atomic unsigned long long adds, subs;
	struct hs_ehmod m[MAX_MODS];
} UM = { .epoch = 1 };

uint32_t hs_unwind_epoch(void)
{
	return atomic_load_explicit(&UM.epoch, memory_order_relaxed);
}

void hs_unwind_modules_changed(void)
{
	atomic_store_explicit(&UM.changed, 1, memory_order_relaxed);
}

struct scan {
	bool begun;
	unsigned seq;
};

/* Under the loader lock: the first object starts a rebuild. */
static void begin(struct scan *sc, const struct dl_phdr_info *info)
{
	unsigned s = atomic_load(&UM.seq), ns;
	do                       /* odd; past a rebuild that never finished */
		ns = (s & 1) ? s + 2 : s + 1;
	while (!atomic_compare_exchange_weak(&UM.seq, &s, ns));
	atomic_thread_fence(memory_order_release);
	sc->begun = true;
	sc->seq = ns;
	ST(UM.n, 0);
	if (info->dlpi_subs != atomic_load(&UM.subs)) {
		uint32_t e = atomic_load(&UM.epoch);
		atomic_store(&UM.epoch, e >= 0xffff ? 1 : e + 1);
	}
	atomic_store(&UM.adds, info->dlpi_adds);
	atomic_store(&UM.subs, info->dlpi_subs);
}

static int add(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *sc = arg;
	if (!sc->begun)
		begin(sc, info);
	const ElfW(Phdr) *eh = NULL;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_EH_FRAME)
			eh = ph;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			uintptr_t s = info->dlpi_addr + ph->p_vaddr;
			if (s < lo)
				lo = s;
			if (s + ph->p_memsz > hi)
				hi = s + ph->p_memsz;
		}
	}
	if (!eh || hi <= lo)
		return 0;               /* no unwind tables: libunwind decides */
	/* The readable segment the header lies in: .eh_frame goes with it. */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R) ||
		    eh->p_vaddr < ph->p_vaddr ||
		    eh->p_vaddr - ph->p_vaddr >= ph->p_filesz)
			continue;
		unsigned n = LD(UM.n);
		if (n == MAX_MODS)
			return 0;
		struct hs_ehmod *m = &UM.m[n];
		ST(m->text_lo, lo);
		ST(m->text_hi, hi);
		ST(m->hdr, info->dlpi_addr + eh->p_vaddr);
		ST(m->seg_lo, info->dlpi_addr + ph->p_vaddr);
		ST(m->seg_hi, info->dlpi_addr + ph->p_vaddr + ph->p_filesz);
		ST(UM.n, n + 1);
		break;
	}
	return 0;
}

static void rebuild(void)
{
	struct scan sc = { false, 0 };
	dl_iterate_phdr(add, &sc);
	if (sc.begun) {              /* a later rebuild may have begun: fine */
		unsigned s = sc.seq;
		atomic_compare_exchange_strong_explicit(&UM.seq, &s, s + 1,
		                                        memory_order_release,
		                                        memory_order_relaxed);
	}
}

static int peek(struct dl_phdr_info *info, size_t size, void *out)
{
	unsigned long long *c = out;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;
}

/* Did the loader add or remove anything since the last rebuild? */
static bool loader_moved(void)
{
	unsigned long long c[2] = { 0, 0 };
	dl_iterate_phdr(peek, c);
	return c[0] != atomic_load(&UM.adds) || c[1] != atomic_load(&UM.subs);
}

void hs_unwind_modules_check(void)
{
	if (atomic_load_explicit(&UM.changed, memory_order_relaxed) &&
	    atomic_exchange(&UM.changed, 0))
		rebuild();
}

static int lookup(uintptr_t addr, struct hs_ehmod *out)
{
	unsigned s = atomic_load_explicit(&UM.seq, memory_order_acquire);
	if (s & 1)
		return -HS_UNW_BUSY;
	unsigned n = LD(UM.n);
	int r = -HS_UNW_NOMOD;
	for (unsigned i = 0; i < n && i < MAX_MODS; i++) {
		struct hs_ehmod *m = &UM.m[i];
		if (addr >= LD(m->text_lo) && addr < LD(m->text_hi)) {
			out->text_lo = LD(m->text_lo);
			out->text_hi = LD(m->text_hi);
			out->hdr = LD(m->hdr);
			out->seg_lo = LD(m->seg_lo);
			out->seg_hi = LD(m->seg_hi);
			r = 0;
			break;
		}
	}
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&UM.seq, memory_order_relaxed) != s)
		return -HS_UNW_BUSY;
	return r;
}

int hs_unwind_find_module(uintptr_t addr, struct hs_ehmod *m)
{
	int r = lookup(addr, m);
	if (r == 0)
		return 0;
	/* Busy: another thread is rebuilding (we then wait for its loader
	 * lock) or one died mid-rebuild in a fork; rebuilding again settles
	 * either. Not found: a new object, or no object at all (JIT code),
	 * which costs one look at the loader's counters. */
	if (r == -HS_UNW_BUSY || loader_moved()) {
		rebuild();
		r = lookup(addr, m);
	}
	return r;
}
