/*
 * fault_census.c — what `heapscope sweep` needs from the shim.
 *
 * The census (HEAPSCOPE_CENSUS=1). Sweep's clean run must learn, exactly
 * as the fault engine will count them in the runs that follow, how many
 * allocation calls the program makes and which call number is the first
 * from each distinct stack. So the census is the fault engine's own
 * count, not the heap's counters (those count blocks, not entry-point
 * calls: an in-place realloc or a failing request would differ): level 0
 * is armed with a policy that never fires, and for every call it counts
 * the stack is captured and, the first time a stack id is seen, an `N`
 * line names the call number. At exit an `n` line gives the total.
 *
 *   N nth function size stack     first call from a stack not seen before
 *   n calls                       level-0 calls counted in this image
 *
 * `n` is written by an on_exit handler registered after the recorder's,
 * so it runs after the program's exit handlers and ELF destructors and
 * before the trace is closed; after _exit() hs_finish writes it, and
 * after a fatal signal the handler (hooks/lifecycle.c) writes it with its
 * `X signal` line. Only SIGKILL, or a signal whose handler the program
 * replaced, leaves no `n` line (sweep then says the count is unknown).
 *
 * The scope (HEAPSCOPE_FAIL_ONLY=PID.GEN). A program is often started
 * through a wrapper (a shell script that execs the real program, as
 * pyenv's python3 is), or starts children. Each exec'd image loads the
 * shim afresh and would count from 1 and inject on its own, so "fail
 * call K" would fail call K of every image. With the scope set, HEAPSCOPE_FAIL
 * applies only in the image whose pid is PID and which is exec generation
 * GEN of that pid (0 = the image that was started, 1 = what it exec'd,
 * ...); every other image and every forked child runs without injection.
 * The generation comes from the recorder's lineage variable
 * (HEAPSCOPE_TRACED, trace.h), so it needs the trace to be on.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record/trace.h"
#include "faults.h"

__attribute__((weak)) uint32_t hs_stack_capture(void);

#define SEEN_BITS ((size_t)1 << 24)            /* stacks.c's id space     */

static bool census_on;
static _Atomic(_Atomic uint64_t *) seen;      /* one bit per stack id    */
static atomic_uint_fast64_t census_calls;

/* Parse "N" or "N.G" (decimal); false on anything else. */
static bool parse_pid_gen(const char *s, unsigned long *pid, unsigned long *gen)
{
	unsigned long p = 0, g = 0;
	const char *q = s;
	for (; *q >= '0' && *q <= '9'; q++)
		p = p * 10 + (unsigned long)(*q - '0');
	if (q == s || p == 0 || p > 0x7fffffffUL)
		return false;
	if (*q == '.') {
		const char *d = ++q;
		for (; *q >= '0' && *q <= '9'; q++)
			g = g * 10 + (unsigned long)(*q - '0');
		if (q == d || q - d > 9)
			return false;
	}
	if (*q)
		return false;
	*pid = p;
	*gen = g;
	return true;
}

/* This image's exec generation. Once the trace is open the recorder has
 * worked it out, and has also put its own "PID.GEN" into our environment
 * for our children, so the variable no longer says where we came from:
 * ask the recorder. Without a trace nothing was exported, and the
 * variable is still the one we were started with. */
static unsigned long my_generation(void)
{
	char own[48];
	const char *v = NULL;
	unsigned long pid, gen;
	if (hs_trace_active()) {
		hs_trace_lineage(own, sizeof own);
		if (parse_pid_gen(own, &pid, &gen))
			return gen;
	}
	v = hs_env("HEAPSCOPE_TRACED");
	if (v && parse_pid_gen(v, &pid, &gen) && pid == (unsigned long)getpid())
		return gen + 1;
	return 0;
}

int hs_fault_scope_here(void)
{
	const char *v = hs_env("HEAPSCOPE_FAIL_ONLY");
	unsigned long pid, gen;
	if (!v || !*v)
		return 1;
	if (!parse_pid_gen(v, &pid, &gen)) {
		hs_log("HEAPSCOPE_FAIL_ONLY=%s: expected PID or PID.GEN; fault "
		       "injection is OFF", v);
		return -1;
	}
	return pid == (unsigned long)getpid() && gen == my_generation();
}

static atomic_bool total_written;

/* The total, once: from our on_exit handler (registered early, so it runs
 * after the program's own atexit work and counts its allocations), or from
 * hs_finish when the program leaves through _exit, which runs no handler. */
void hs_fault_census_total(void)
{
	if (census_on && hs_trace_active() && !atomic_exchange(&total_written, true))
		hs_trace_printf("n %lu\n", (unsigned long)atomic_load(&census_calls));
}

/* The same line for the fatal-signal path, which writes its last lines
 * itself (hs_trace_emergency: no trace lock to wait for): formatted into
 * buf, once; returns its length, 0 when there is none to write. Only an
 * atomic load and hs_fmt: safe in a signal handler. */
size_t hs_fault_census_line(char *buf, size_t cap)
{
	if (!census_on || !hs_trace_active() || atomic_exchange(&total_written, true))
		return 0;
	return (size_t)hs_fmt(buf, cap, "n %lu\n", (unsigned long)atomic_load(&census_calls));
}

static void write_total(int status, void *arg)
{
	(void)status, (void)arg;
	hs_fault_census_total();
}

bool hs_fault_census_init(void)
{
	const char *v = hs_env("HEAPSCOPE_CENSUS");
	census_on = v && v[0] == '1' && v[1] == '\0';
	if (census_on && on_exit(write_total, NULL) != 0)
		hs_log("HEAPSCOPE_CENSUS: cannot register the exit handler; the "
		       "total call count will be missing");
	return census_on;
}

void hs_fault_census_stop(void)
{
	census_on = false;
}

/* Mark stack id as seen; true if it was new. The bitmap is mapped on
 * first use; racing mappers keep one and unmap the other. */
static bool first_sight(uint32_t id)
{
	_Atomic uint64_t *bits = atomic_load_explicit(&seen, memory_order_acquire);
	if (!bits) {
		void *m = mmap(NULL, SEEN_BITS / 8, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return false;
		_Atomic uint64_t *none = NULL;
		if (atomic_compare_exchange_strong(&seen, &none, m))
			bits = m;
		else {
			munmap(m, SEEN_BITS / 8);
			bits = none;
		}
	}
	if (id >= SEEN_BITS)
		return false;
	uint64_t bit = 1ull << (id & 63);
	return !(atomic_fetch_or_explicit(&bits[id >> 6], bit,
	                                  memory_order_relaxed) & bit);
}

void hs_fault_census_note(uint64_t nth, const struct hs_fault_call *c,
                          uint32_t *stack)
{
	if (!census_on)
		return;
	atomic_fetch_add_explicit(&census_calls, 1, memory_order_relaxed);
	if (*stack == 0 && hs_stack_capture)
		*stack = hs_stack_capture();
	if (*stack && first_sight(*stack) && hs_trace_active())
		hs_trace_printf("N %lu %s %zu %u\n", (unsigned long)nth,
		                hs_fault_fn_name(c->fn), c->size, *stack);
}
