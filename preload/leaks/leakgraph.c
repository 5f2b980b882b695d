/*
 * leakgraph.c — reachability classification of live blocks (see
 * leakgraph.h for the algorithm). Pure: reads the memory it is told to
 * read, writes only the blocks' mark bytes and the scratch it is given.
 */
#include "leakgraph.h"

/* Root and block memory is read as words of any type. */
typedef uintptr_t __attribute__((may_alias)) word_t;

#define WORD   sizeof(uintptr_t)
#define PAGE0  4096u            /* no vtable lives in page 0              */
#define PREFETCH_LINES 5        /* of a block whose address waits in the ring:
                                   a 256-byte block and its header        */

static unsigned state_of(const struct hs_lk_node *b)
{
	return *b->mark & HS_LK_STATE;
}

static void set_state(const struct hs_lk_node *b, unsigned s)
{
	*b->mark = (uint8_t)((*b->mark & ~HS_LK_STATE) | s);
}

void hs_lk_init(struct hs_lk_graph *g, const struct hs_lk_nodes *s, uintptr_t *scratch)
{
	*g = (struct hs_lk_graph){ .nodes = s, .scratch = scratch, .lo = s->lo, .hi = s->hi };
}

bool hs_lk_find(const struct hs_lk_graph *g, uintptr_t p, struct hs_lk_node *out)
{
	if (p - g->lo >= g->hi - g->lo)
		return false;
	return g->nodes->find(g->nodes, p, out);
}

/* ---- reading blocks ----------------------------------------------------- */

static uintptr_t word_at(uintptr_t addr)
{
	return *(const word_t *)addr;
}

static bool copied(const struct hs_lk_graph *g, const struct hs_lk_node *b)
{
	return b->copy && g->copy;
}

/* Bytes of [lo, lo + want) of a copied block in the copy buffer: the
 * buffer is refilled only when lo is not already in it (a resumed search
 * reads a huge block a piece at a time). NULL when the memory is gone. */
static const word_t *copy_window(struct hs_lk_graph *g, uintptr_t lo, size_t want,
                                 size_t *got)
{
	if (!(lo >= g->copy_at && lo < g->copy_at + g->copy_have)) {
		g->copy_have = g->copy(g->copy_buf, lo, want < g->copy_len ? want : g->copy_len,
		                       g->copy_ctx) & ~(WORD - 1);
		g->copy_at = lo;
		if (!g->copy_have)
			return NULL;
	}
	size_t off = lo - g->copy_at;
	*got = g->copy_have - off < want ? g->copy_have - off : want;
	return (const word_t *)((const char *)g->copy_buf + off);
}

/* One word of block b; false if its memory is gone (copied blocks). */
static bool block_word(const struct hs_lk_graph *g, const struct hs_lk_node *b,
                       uintptr_t addr, uintptr_t *out)
{
	if (!copied(g, b)) {
		*out = word_at(addr);
		return true;
	}
	/* not through the window: a scan may be reading that right now */
	return g->copy(out, addr, WORD, g->copy_ctx) == WORD;
}

/* What a word found in memory does. In phase 1 it may raise its target,
 * as a pointer from definite memory (a root, a REACHABLE block) or not;
 * in 2a it flags a lost target LOSTREF; in 2b and 2d it pulls a lost
 * target into a group; in 2c it names the next block to search. All but
 * SEARCH wait in the ring first (visit). A visitor returns true to stop
 * the block's scan there (2c: a block to descend into). */
enum mode { FROM_DEFINITE, FROM_POSSIBLE, LOSTREF, GATHER, SEARCH };

static bool visit(struct hs_lk_graph *g, uintptr_t w, uintptr_t from, enum mode mode);

/* Words of block b from byte offset *off on, until a visitor stops; *off
 * is then just past the word that stopped it. Returns whether one did. A
 * copied block is read a window at a time and its scan ends where its
 * memory is gone. */
static bool scan_block(struct hs_lk_graph *g, const struct hs_lk_node *b, size_t *off,
                       enum mode mode)
{
	uintptr_t end = (b->start + b->size) & ~(uintptr_t)(WORD - 1);
	uintptr_t a = b->start + *off;
	uintptr_t blo = g->lo, span = g->hi - g->lo;
	while (a < end) {
		const word_t *w;
		size_t n;
		if (copied(g, b)) {
			size_t got;
			w = copy_window(g, a, end - a, &got);
			if (!w)
				break;
			n = got / WORD;
		} else {
			w = (const word_t *)a;
			n = (end - a) / WORD;
		}
		size_t i = 0;
		for (; i < n; i++) {
			/* cheap filter first, four words at a time without a
			 * branch each: most words of a heap point nowhere near it */
			while (i + 4 <= n && (w[i] - blo >= span) & (w[i + 1] - blo >= span)
			                     & (w[i + 2] - blo >= span) & (w[i + 3] - blo >= span))
				i += 4;
			if (i >= n)
				break;
			uintptr_t v = w[i];
			if (v - blo >= span)
				continue;
			if (visit(g, v, b->start, mode)) {
				g->scanned_bytes += (i + 1) * WORD;
				*off = a + (i + 1) * WORD - b->start;
				return true;
			}
		}
		g->scanned_bytes += n * WORD;
		a += n * WORD;
	}
	*off = end > b->start ? end - b->start : 0;
	return false;
}

/* ---- heuristics --------------------------------------------------------- */

static bool plausible_vtable(const struct hs_lk_graph *g, uintptr_t v)
{
	return v % WORD == 0 && v >= PAGE0 && g->is_vtable(v, g->vtable_ctx);
}

/* Which heuristic (if any) lets interior pointer p count as a start
 * pointer to b. The conditions are memcheck's, so that both tools put the
 * same blocks in "still reachable". */
static enum hs_lk_heuristic heuristic_for(const struct hs_lk_graph *g,
                                          const struct hs_lk_node *b, uintptr_t p)
{
	unsigned on = g->heuristics;
	uintptr_t s = b->start, w0, w1, wp;
	size_t size = b->size;

	if (!on)
		return HS_LK_HEUR_NONE;
	/* an interior p means size > 0; words past the block are not read */
	bool have0 = size >= WORD && block_word(g, b, s, &w0);
	if ((on & (1u << HS_LK_HEUR_STDSTRING)) && p == s + 3 * WORD && have0
	    && block_word(g, b, s + WORD, &w1)) {
		/* length, capacity, refcount, then the characters */
		if (3 * WORD + w1 + 1 == size && w0 <= w1)
			return HS_LK_HEUR_STDSTRING;
	}
	if ((on & (1u << HS_LK_HEUR_LENGTH64)) && p == s + WORD && have0) {
		if (w0 > 0 && size - WORD == w0)
			return HS_LK_HEUR_LENGTH64;
	}
	if ((on & (1u << HS_LK_HEUR_NEWARRAY)) && p == s + WORD && have0) {
		if (w0 > 0 && (size - WORD) % w0 == 0)
			return HS_LK_HEUR_NEWARRAY;
	}
	if ((on & (1u << HS_LK_HEUR_MULTI)) && g->is_vtable && p % WORD == 0
	    && have0 && p + WORD <= s + size && block_word(g, b, p, &wp)) {
		if (plausible_vtable(g, wp) && plausible_vtable(g, w0))
			return HS_LK_HEUR_MULTI;
	}
	return HS_LK_HEUR_NONE;
}

/* ---- phase 1 ------------------------------------------------------------ */

/* The mark stack holds what a block's scan needs, so that a popped block
 * is not looked up again: its start (bit 0: read through copy), size
 * (the top byte: the node set's where) and mark byte, three words. Each block is on it at most once while PENDING
 * (phase 1) or once in all (phase 2: a block leaves the lost state when
 * pushed), so 3 * n words are enough. A block freed under the scan by a
 * running thread keeps its slot or mapping mapped (the scan holds the
 * locks that would give them back): its stale words are scanned, never
 * memory outside it. */
static void stack_put(struct hs_lk_graph *g, const struct hs_lk_node *b)
{
	uintptr_t *e = &g->scratch[g->top];
	e[0] = b->start | (b->copy ? 1 : 0);
	e[1] = b->size | (uintptr_t)b->where << 56;    /* sizes < 2^47 */
	e[2] = (uintptr_t)b->mark;
	g->top += 3;
}

static bool pop(struct hs_lk_graph *g, struct hs_lk_node *b)
{
	if (!g->top)
		return false;
	g->top -= 3;
	const uintptr_t *e = &g->scratch[g->top];
	*b = (struct hs_lk_node){ .start = e[0] & ~(uintptr_t)1,
	                          .size = e[1] & (((uintptr_t)1 << 56) - 1),
	                          .mark = (uint8_t *)e[2], .copy = e[0] & 1,
	                          .where = (uint8_t)(e[1] >> 56) };
	return true;
}

static void push(struct hs_lk_graph *g, const struct hs_lk_node *b)
{
	if (*b->mark & HS_LK_PENDING)
		return;
	*b->mark |= HS_LK_PENDING;
	stack_put(g, b);
}

/* Word w was found in memory whose own state is 'from_definite' (a root or
 * a REACHABLE block). Possibly raise the state of the block it hits. */
static void reach(struct hs_lk_graph *g, uintptr_t w, bool from_definite)
{
	struct hs_lk_node b;
	if (!hs_lk_find(g, w, &b))
		return;
	unsigned st = state_of(&b);
	if (st == HS_LK_REACHABLE)
		return;
	bool start = w == b.start || heuristic_for(g, &b, w) != HS_LK_HEUR_NONE;
	if (start && from_definite) {
		set_state(&b, HS_LK_REACHABLE);
		push(g, &b);                        /* rescan with the new state */
	} else if (st == HS_LK_UNREACHED) {
		set_state(&b, HS_LK_POSSIBLE);
		push(g, &b);
	}
}

void hs_lk_scan_root(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi)
{
	lo = (lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
	hi &= ~(uintptr_t)(WORD - 1);
	if (lo >= hi)
		return;
	struct hs_lk_node root = { .start = lo, .size = hi - lo };
	size_t off = 0;
	scan_block(g, &root, &off, FROM_DEFINITE);
}

void hs_lk_root_word(struct hs_lk_graph *g, uintptr_t w)
{
	reach(g, w, true);
}

void hs_lk_scan_root_slack(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi,
                           size_t slack)
{
	lo = (lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
	hi &= ~(uintptr_t)(WORD - 1);
	g->scanned_bytes += hi > lo ? hi - lo : 0;
	for (uintptr_t a = lo; a < hi; a += WORD) {
		uintptr_t v = word_at(a);
		struct hs_lk_node b;
		if (!hs_lk_find(g, v, &b))
			continue;
		reach(g, v - b.start < slack ? b.start : v, true);
	}
}

/* ---- phase 2 ------------------------------------------------------------ */

static bool lost(const struct hs_lk_node *b)
{
	return state_of(b) == HS_LK_UNREACHED;
}

/* 2a: a lost block that another lost block points to. */
static void lostref(struct hs_lk_graph *g, uintptr_t w, uintptr_t from)
{
	struct hs_lk_node t;
	if (hs_lk_find(g, w, &t) && lost(&t) && t.start != from)
		*t.mark |= HS_LK_LOSTREF;
}

/* 2b and 2d: what hangs off the definitely lost blocks joins their group.
 * Those without LOSTREF lead (2b); in 2d the leader, and the starts above
 * it that already led their own group (none can be reached from here
 * unless memory changed under the scan), are left alone. */
static void gather(struct hs_lk_graph *g, uintptr_t w)
{
	struct hs_lk_node t;
	if (!hs_lk_find(g, w, &t) || !lost(&t) || !(*t.mark & HS_LK_LOSTREF)
	    || t.start == g->leader || ((*t.mark & HS_LK_SEARCH) && t.start > g->leader))
		return;
	set_state(&t, HS_LK_INDIRECT);
	stack_put(g, &t);                   /* once: it is no longer lost   */
}

/* 2c: a depth-first search over lost blocks. A frame is two words on the
 * scratch, the block's start and the offset its scan resumes at; each
 * block is visited once, so the frames fit in 2 * n words. (Resumed
 * blocks are looked up again: this search runs on what lies in or below
 * lost cycles only, usually nothing.) */
static bool visit_search(struct hs_lk_graph *g, uintptr_t w)
{
	struct hs_lk_node t;
	if (!hs_lk_find(g, w, &t) || !lost(&t) || (*t.mark & (HS_LK_VISITED | HS_LK_LOSTREF))
	    != HS_LK_LOSTREF)
		return false;
	*t.mark |= HS_LK_VISITED;
	g->scratch[g->top++] = t.start;
	g->scratch[g->top++] = 0;
	return true;                        /* descend into it first       */
}

/* ---- the ring ------------------------------------------------------------ */

static void act(struct hs_lk_graph *g, const struct hs_lk_cand *c)
{
	switch (c->mode) {
	case FROM_DEFINITE: reach(g, c->w, true); break;
	case FROM_POSSIBLE: reach(g, c->w, false); break;
	case LOSTREF:       lostref(g, c->w, c->from); break;
	case GATHER:        gather(g, c->w); break;
	}
}

/* Act on the oldest waiting word; false if none waits. */
static bool ring_take(struct hs_lk_graph *g)
{
	if (!g->ring_n)
		return false;
	struct hs_lk_cand c = g->ring[g->ring_head];
	g->ring_head = (g->ring_head + 1) % HS_LK_RING;
	g->ring_n--;
	act(g, &c);
	return true;
}

static bool visit(struct hs_lk_graph *g, uintptr_t w, uintptr_t from, enum mode mode)
{
	if (mode == SEARCH)
		return visit_search(g, w);
	if (g->ring_n == HS_LK_RING)
		ring_take(g);
	/* Most pointers are start pointers: the header sits just before
	 * and the block's first words after it. */
	for (unsigned k = 0; k < PREFETCH_LINES; k++)
		__builtin_prefetch((const void *)(w - 16 + 64 * k));
	if (g->nodes->prefetch)
		g->nodes->prefetch(g->nodes, w);
	g->ring[(g->ring_head + g->ring_n) % HS_LK_RING] = (struct hs_lk_cand){ w, from, mode };
	g->ring_n++;
	return false;
}

/* Scan what is on the mark stack, and what that pushes, until the stack
 * and the ring are empty. mode: GATHER, or phase 1's (by the block's own
 * state). */
static void drain(struct hs_lk_graph *g, enum mode mode)
{
	for (;;) {
		struct hs_lk_node b;
		if (pop(g, &b)) {
			size_t off = 0;
			if (mode == GATHER) {
				if (g->tell)        /* lost: pushed once, final */
					g->tell(g->tell_ctx, &b);
				scan_block(g, &b, &off, GATHER);
				continue;
			}
			*b.mark &= (uint8_t)~HS_LK_PENDING;
			/* pushed once as REACHABLE, which is final */
			if (g->tell && state_of(&b) == HS_LK_REACHABLE)
				g->tell(g->tell_ctx, &b);
			/* A POSSIBLE block passes on only "possible"; its state
			 * may have risen since it was pushed, so it is read here. */
			scan_block(g, &b, &off, state_of(&b) == HS_LK_POSSIBLE ? FROM_POSSIBLE
			                                                       : FROM_DEFINITE);
		} else if (!ring_take(g)) {
			return;
		}
	}
}

/* ---- phase 2, block by block --------------------------------------------- */

static void flag_targets(void *arg, const struct hs_lk_node *b)
{
	size_t off = 0;
	scan_block(arg, b, &off, LOSTREF);
}

static void lead(void *arg, const struct hs_lk_node *b)
{
	stack_put(arg, b);
}

static void search_from(void *arg, const struct hs_lk_node *root)
{
	struct hs_lk_graph *g = arg;
	*root->mark |= HS_LK_VISITED | HS_LK_SEARCH;
	g->scratch[g->top++] = root->start;
	g->scratch[g->top++] = 0;
	while (g->top) {
		uintptr_t *f = &g->scratch[g->top - 2];
		struct hs_lk_node b;
		if (!hs_lk_find(g, f[0], &b) || b.start != f[0]) {
			g->top -= 2;                /* gone under the scan          */
			continue;
		}
		size_t off = f[1];
		bool deeper = scan_block(g, &b, &off, SEARCH);
		/* the visitor may have pushed a frame: f is still ours */
		f[1] = off;
		if (!deeper)
			g->top -= 2;                /* finished                      */
	}
}

static void gather_from(void *arg, const struct hs_lk_node *leader)
{
	struct hs_lk_graph *g = arg;
	g->leader = leader->start;
	stack_put(g, leader);
	drain(g, GATHER);
}

void hs_lk_classify(struct hs_lk_graph *g)
{
	const struct hs_lk_nodes *s = g->nodes;
	const uint8_t lost_mask = HS_LK_ABSENT | HS_LK_STATE;
	g->copy_have = 0;           /* the root scan reused the copy buffer  */
	drain(g, FROM_DEFINITE);
	/* 2a: pointers between lost blocks */
	s->walk(s, false, lost_mask, HS_LK_UNREACHED, HS_LK_WALK_WORDS, flag_targets, g);
	while (ring_take(g))
		;
	/* 2b: the lost blocks nothing lost points to lead, all at once */
	s->walk(s, false, lost_mask | HS_LK_LOSTREF, HS_LK_UNREACHED, 0, lead, g);
	drain(g, GATHER);
	/* 2c: searches from unvisited lost blocks left, ascending */
	s->walk(s, false, lost_mask | HS_LK_LOSTREF | HS_LK_VISITED,
	        HS_LK_UNREACHED | HS_LK_LOSTREF, HS_LK_WALK_WORDS, search_from, g);
	/* 2d: search starts still lost, descending, lead their groups */
	s->walk(s, true, lost_mask | HS_LK_SEARCH, HS_LK_UNREACHED | HS_LK_SEARCH,
	        HS_LK_WALK_WORDS, gather_from, g);
}

static void add_total(void *arg, const struct hs_lk_node *n)
{
	struct hs_lk_totals *t = arg;
	t->blocks[state_of(n)]++;
	t->bytes[state_of(n)] += n->size;
}

void hs_lk_totals(const struct hs_lk_graph *g, struct hs_lk_totals *t)
{
	*t = (struct hs_lk_totals){ { 0 }, { 0 } };
	g->nodes->walk(g->nodes, false, HS_LK_ABSENT, 0, 0, add_total, t);
}
