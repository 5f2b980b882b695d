/*
 * unwind_cfi.c — from a module's .eh_frame to one compact rule for one
 * address (unwind.h says what a rule holds).
 *
 *   1. .eh_frame_hdr: a sorted table of (function start, FDE) pairs,
 *      4-byte offsets from the header; binary search for the last start
 *      <= a.
 *   2. The FDE: its CIE (augmentation "z", "R" pointer encoding, "P"
 *      personality skipped, "L", "S" signal frame), its address range
 *      (a outside it: no unwind info), its instructions.
 *   3. Run the CIE's initial instructions, then the FDE's, while the
 *      location stays <= a. Only three things are tracked: the CFA rule,
 *      and the rules for rbp and the return address; the other callee
 *      saved registers do not matter to a walk that reads only return
 *      addresses (a CFA based on one of them is a rule we cannot do).
 *   4. Reduce: CFA = rsp+k or rbp+k, or GCC's stack realignment
 *      (DW_CFA_def_cfa_expression "breg6 k; deref" with rbp saved at rbp+0
 *      through DW_CFA_expression "breg6 0"); return address at CFA+8n or
 *      undefined (the outermost frame: _start, clone); rbp unchanged,
 *      saved at CFA+k, or at rbp+k. Anything else, and every signal frame
 *      (their CFA is the sigcontext), is "cannot": libunwind does that
 *      capture.
 *
 * Every byte is read through a bounded reader: the data comes from
 * another program's image and may be damaged, so a read outside the
 * PT_LOAD segment that holds .eh_frame_hdr fails the lookup instead of
 * faulting, and every loop is bounded by its record's length.
 */
#include <string.h>

#include "unwind.h"

#define RBP 6
#define RSP 7
#define RA  16                  /* x86-64 DWARF return address column    */
#define STATE_STACK 8           /* remember_state depth we follow         */

/* A cursor over [lo, end): a read past either edge sets bad and yields 0. */
struct rd {
	uintptr_t p, lo, end;
	int bad;
};

static bool have(struct rd *r, uintptr_t n)
{
	if (r->bad || r->p < r->lo || r->p > r->end || r->end - r->p < n) {
		r->bad = 1;
		return false;
	}
	return true;
}

static uint64_t rd_u(struct rd *r, unsigned n)
{
	uint64_t v = 0;
	if (!have(r, n))
		return 0;
	memcpy(&v, (const void *)r->p, n);      /* little endian, unaligned */
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned sh = 0; sh < 64; sh += 7) {
		uint8_t b = (uint8_t)rd_u(r, 1);
		v |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned sh = 0; sh < 64; sh += 7) {
		uint8_t b = (uint8_t)rd_u(r, 1);
		v |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			if (sh + 7 < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << (sh + 7);
			return (int64_t)v;
		}
	}
	r->bad = 1;
	return 0;
}

/* A DW_EH_PE-encoded pointer. base: what datarel is relative to (0 where
 * it has no meaning). Indirect, textrel, funcrel and aligned are not used
 * by the pointers we need (FDE ranges, the header's table). */
static uintptr_t rd_enc(struct rd *r, uint8_t enc, uintptr_t base)
{
	uintptr_t at = r->p;
	uint64_t v;
	switch (enc & 0x0f) {
	case 0x00: v = rd_u(r, 8); break;                       /* absptr  */
	case 0x01: v = rd_uleb(r); break;
	case 0x02: v = rd_u(r, 2); break;
	case 0x03: v = rd_u(r, 4); break;
	case 0x04: v = rd_u(r, 8); break;
	case 0x09: v = (uint64_t)rd_sleb(r); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_u(r, 2); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_u(r, 4); break;
	case 0x0c: v = rd_u(r, 8); break;
	default: r->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;                              /* pcrel   */
	case 0x30: if (!base) r->bad = 1; v += base; break;     /* datarel */
	default: r->bad = 1; return 0;
	}
	if (enc & 0x80)
		r->bad = 1;
	return (uintptr_t)v;
}

/* Skip an encoded pointer whose value we do not need (the personality). */
static void skip_enc(struct rd *r, uint8_t enc)
{
	struct rd t = *r;
	enc &= 0x0f;                    /* size only: no base, no indirection */
	rd_enc(&t, enc, 0);
	r->p = t.p;
	r->bad = t.bad;
}

/* ---- the rule table being built ---------------------------------------- */
enum { R_SAME, R_UNDEF, R_CFA, R_RBP, R_OTHER };   /* register rule kinds */
enum { C_REG, C_DEREF_RBP, C_OTHER };              /* CFA rule kinds      */

struct rule { uint8_t how; int64_t off; };
struct state {
	uint8_t cfa_how, cfa_reg;
	int64_t cfa_off;
	struct rule bp, ra;
};

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	bool aug_z, signal;
	uintptr_t insns, insns_end;
};

/* "breg6 k" alone (rbp_only) or "breg6 k; deref": the two expressions
 * GCC's realigned frames use. */
static bool match_expr(struct rd *r, bool deref, int64_t *k)
{
	uint64_t len = rd_uleb(r);
	if (r->bad || !have(r, len))
		return false;
	struct rd e = { r->p, r->p, r->p + len, 0 };
	r->p += len;
	if (rd_u(&e, 1) != 0x76)                /* DW_OP_breg6 (rbp) */
		return false;
	*k = rd_sleb(&e);
	if (deref && rd_u(&e, 1) != 0x06)       /* DW_OP_deref */
		return false;
	return !e.bad && e.p == e.end;
}

static void set_reg(struct state *s, uint64_t reg, uint8_t how, int64_t off)
{
	struct rule *t = reg == RBP ? &s->bp : reg == RA ? &s->ra : NULL;
	if (t) {
		t->how = how;
		t->off = off;
	}
}

/* DW_CFA_restore(_extended): the register's rule as the CIE left it.
 * False in the CIE's own instructions, which have nothing to restore. */
static bool restore(struct state *s, const struct state *init, uint64_t reg)
{
	if (!init)
		return false;
	if (reg == RBP)
		s->bp = init->bp;
	else if (reg == RA)
		s->ra = init->ra;
	return true;
}

/* Run instructions [r->p, r->end) from location loc while loc <= a.
 * init: the state after the CIE's instructions (for restore), or NULL
 * while running them. Returns 0, or -HS_UNW_* on what we cannot do. */
static int run(struct rd *r, const struct cie *c, uintptr_t loc, uintptr_t a,
               struct state *s, const struct state *init)
{
	struct state stack[STATE_STACK];
	unsigned depth = 0;
	while (r->p < r->end) {
		uint8_t op = (uint8_t)rd_u(r, 1);
		uint64_t reg = op & 0x3f, delta = 0;
		int64_t k;
		switch (op >> 6) {
		case 1:                                 /* advance_loc */
			delta = reg;
			goto advance;
		case 2:                                 /* offset */
			set_reg(s, reg, R_CFA, (int64_t)rd_uleb(r) * c->data_align);
			continue;
		case 3:                                 /* restore */
			if (!restore(s, init, reg))
				return -HS_UNW_BADCFI;
			continue;
		}
		switch (op) {
		case 0x00:                              /* nop */
			break;
		case 0x01: {                            /* set_loc */
			uintptr_t nl = rd_enc(r, c->fde_enc, 0);
			if (r->bad)
				return -HS_UNW_BADCFI;
			if (nl > a)
				return 0;
			loc = nl;
			break;
		}
		case 0x02: delta = rd_u(r, 1); goto advance;
		case 0x03: delta = rd_u(r, 2); goto advance;
		case 0x04: delta = rd_u(r, 4); goto advance;
		case 0x05:                              /* offset_extended */
			reg = rd_uleb(r);
			set_reg(s, reg, R_CFA, (int64_t)rd_uleb(r) * c->data_align);
			break;
		case 0x06:                              /* restore_extended */
			if (!restore(s, init, rd_uleb(r)))
				return -HS_UNW_BADCFI;
			break;
		case 0x07: set_reg(s, rd_uleb(r), R_UNDEF, 0); break;
		case 0x08: set_reg(s, rd_uleb(r), R_SAME, 0); break;
		case 0x09:                              /* register */
			reg = rd_uleb(r);
			rd_uleb(r);
			set_reg(s, reg, R_OTHER, 0);
			break;
		case 0x0a:                              /* remember_state */
			if (depth == STATE_STACK)
				return -HS_UNW_RULE;
			stack[depth++] = *s;
			break;
		case 0x0b:                              /* restore_state */
			if (depth == 0)
				return -HS_UNW_BADCFI;
			*s = stack[--depth];
			break;
		case 0x0c:                              /* def_cfa */
			s->cfa_how = C_REG;
			s->cfa_reg = (uint8_t)rd_uleb(r);
			s->cfa_off = (int64_t)rd_uleb(r);
			break;
		case 0x0d:                              /* def_cfa_register */
			s->cfa_reg = (uint8_t)rd_uleb(r);
			if (s->cfa_how != C_REG)
				s->cfa_how = C_OTHER;
			break;
		case 0x0e:                              /* def_cfa_offset */
			s->cfa_off = (int64_t)rd_uleb(r);
			if (s->cfa_how != C_REG)
				s->cfa_how = C_OTHER;
			break;
		case 0x0f:                              /* def_cfa_expression */
			if (match_expr(r, true, &k)) {
				s->cfa_how = C_DEREF_RBP;
				s->cfa_off = k;
			} else {
				s->cfa_how = C_OTHER;
			}
			break;
		case 0x10:                              /* expression */
			reg = rd_uleb(r);
			if (match_expr(r, false, &k) && reg == RBP)
				set_reg(s, reg, R_RBP, k);
			else
				set_reg(s, reg, R_OTHER, 0);
			break;
		case 0x11:                              /* offset_extended_sf */
			reg = rd_uleb(r);
			set_reg(s, reg, R_CFA, rd_sleb(r) * c->data_align);
			break;
		case 0x12:                              /* def_cfa_sf */
			s->cfa_how = C_REG;
			s->cfa_reg = (uint8_t)rd_uleb(r);
			s->cfa_off = rd_sleb(r) * c->data_align;
			break;
		case 0x13:                              /* def_cfa_offset_sf */
			s->cfa_off = rd_sleb(r) * c->data_align;
			if (s->cfa_how != C_REG)
				s->cfa_how = C_OTHER;
			break;
		case 0x14:                              /* val_offset */
		case 0x15:                              /* val_offset_sf */
			reg = rd_uleb(r);
			if (op == 0x14)
				rd_uleb(r);
			else
				rd_sleb(r);
			set_reg(s, reg, R_OTHER, 0);
			break;
		case 0x16:                              /* val_expression */
			reg = rd_uleb(r);
			set_reg(s, reg, R_OTHER, 0);
			k = (int64_t)rd_uleb(r);
			if (have(r, (uint64_t)k))
				r->p += (uint64_t)k;
			break;
		case 0x2e:                              /* GNU_args_size */
			rd_uleb(r);
			break;
		case 0x2f:                              /* GNU_negative_offset_ext */
			reg = rd_uleb(r);
			set_reg(s, reg, R_CFA, -(int64_t)rd_uleb(r) * c->data_align);
			break;
		default:
			return -HS_UNW_BADCFI;
		}
		if (r->bad)
			return -HS_UNW_BADCFI;
		continue;
advance:
		if (r->bad)
			return -HS_UNW_BADCFI;
		if (delta * c->code_align > a - loc)    /* next row starts past a */
			return 0;
		loc += delta * c->code_align;
	}
	return r->bad ? -HS_UNW_BADCFI : 0;
}

/* The CIE at p (bounds [lo, hi)). 0 or -HS_UNW_*. */
static int read_cie(uintptr_t p, uintptr_t lo, uintptr_t hi, struct cie *c)
{
	struct rd r = { p, lo, hi, 0 };
	uint64_t len = rd_u(&r, 4);
	if (r.bad || len == 0 || len == 0xffffffff || !have(&r, len))
		return -HS_UNW_BADCFI;
	r.end = r.p + len;
	if (rd_u(&r, 4) != 0)                   /* CIE id */
		return -HS_UNW_BADCFI;
	uint8_t version = (uint8_t)rd_u(&r, 1);
	if (version != 1 && version != 3)
		return -HS_UNW_BADCFI;
	char aug[8];
	unsigned n = 0;
	for (;;) {
		char ch = (char)rd_u(&r, 1);
		if (r.bad || n == sizeof aug)
			return -HS_UNW_BADCFI;
		aug[n++] = ch;
		if (!ch)
			break;
	}
	c->code_align = rd_uleb(&r);
	c->data_align = rd_sleb(&r);
	uint64_t ra = version == 1 ? rd_u(&r, 1) : rd_uleb(&r);
	if (ra != RA || c->code_align == 0)
		return -HS_UNW_RULE;
	c->fde_enc = 0;                         /* absptr */
	c->signal = false;
	c->aug_z = aug[0] == 'z';
	if (aug[0] && !c->aug_z)
		return -HS_UNW_BADCFI;          /* "eh" and other old forms */
	if (c->aug_z) {
		uint64_t alen = rd_uleb(&r);
		if (r.bad || !have(&r, alen))
			return -HS_UNW_BADCFI;
		uintptr_t aend = r.p + alen;
		for (unsigned i = 1; aug[i]; i++) {
			if (aug[i] == 'R')
				c->fde_enc = (uint8_t)rd_u(&r, 1);
			else if (aug[i] == 'P')
				skip_enc(&r, (uint8_t)rd_u(&r, 1));
			else if (aug[i] == 'L')
				rd_u(&r, 1);
			else if (aug[i] == 'S')
				c->signal = true;
			else
				break;          /* unknown: its data ends at aend */
		}
		if (r.bad || r.p > aend)
			return -HS_UNW_BADCFI;
		r.p = aend;
	}
	c->insns = r.p;
	c->insns_end = r.end;
	return r.bad ? -HS_UNW_BADCFI : 0;
}

/* The FDE for a from the header's search table: its address or 0. */
static uintptr_t find_fde(const struct hs_ehmod *m, uintptr_t a, int *err)
{
	struct rd r = { m->hdr, m->seg_lo, m->seg_hi, 0 };
	uint8_t version = (uint8_t)rd_u(&r, 1);
	uint8_t ptr_enc = (uint8_t)rd_u(&r, 1);
	uint8_t cnt_enc = (uint8_t)rd_u(&r, 1);
	uint8_t tab_enc = (uint8_t)rd_u(&r, 1);
	if (r.bad || version != 1 || ptr_enc == 0xff || cnt_enc == 0xff) {
		*err = -HS_UNW_BADCFI;
		return 0;
	}
	rd_enc(&r, ptr_enc, m->hdr);            /* .eh_frame itself: unused */
	uint64_t count = rd_enc(&r, cnt_enc, m->hdr);
	/* Every linker writes datarel sdata4; anything else we leave to
	 * libunwind rather than scan .eh_frame. */
	if (r.bad || tab_enc != 0x3b || count == 0 || !have(&r, count * 8)) {
		*err = r.bad ? -HS_UNW_BADCFI : -HS_UNW_NOFDE;
		return 0;
	}
	const uint8_t *t = (const uint8_t *)r.p;
	uint64_t lo = 0, hi = count;            /* answer in [lo, hi) */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		int32_t start;
		memcpy(&start, t + mid * 8, 4);
		if (m->hdr + (intptr_t)start <= a)
			lo = mid;
		else
			hi = mid;
	}
	int32_t start, fde;
	memcpy(&start, t + lo * 8, 4);
	memcpy(&fde, t + lo * 8 + 4, 4);
	if (m->hdr + (intptr_t)start > a) {
		*err = -HS_UNW_NOFDE;
		return 0;
	}
	return m->hdr + (intptr_t)fde;
}

static uint64_t reduce(const struct state *s)
{
	uint64_t r = HS_R_VALID;
	if (s->ra.how == R_UNDEF)
		return r | HS_R_END;
	if (s->ra.how != R_CFA || (s->ra.off & 7) || s->ra.off < -1024 || s->ra.off > 1016)
		return hs_r_cannot(HS_UNW_RULE);
	r |= (uint64_t)(uint8_t)(int8_t)(s->ra.off / 8) << 8;
	if (s->cfa_how == C_REG && s->cfa_reg == RSP)
		r |= HS_R_CFA_RSP;
	else if (s->cfa_how == C_REG && s->cfa_reg == RBP)
		r |= HS_R_CFA_RBP;
	else if (s->cfa_how == C_DEREF_RBP)
		r |= HS_R_CFA_DEREF;
	else
		return hs_r_cannot(HS_UNW_RULE);
	if (s->cfa_off != (int32_t)s->cfa_off)
		return hs_r_cannot(HS_UNW_RULE);
	r |= (uint64_t)(uint32_t)(int32_t)s->cfa_off << 32;
	switch (s->bp.how) {
	case R_SAME: break;
	case R_CFA: r |= HS_R_BP_CFA << 2; break;
	case R_RBP: r |= HS_R_BP_RBP << 2; break;
	default: return hs_r_cannot(HS_UNW_RULE);
	}
	if (s->bp.how != R_SAME) {
		if (s->bp.off != (int16_t)s->bp.off)
			return hs_r_cannot(HS_UNW_RULE);
		r |= (uint64_t)(uint16_t)(int16_t)s->bp.off << 16;
	}
	return r;
}

uint64_t hs_cfi_rule(const struct hs_ehmod *m, uintptr_t a)
{
	int err = -HS_UNW_NOFDE;
	uintptr_t fde = find_fde(m, a, &err);
	if (!fde)
		return hs_r_cannot(-err);
	struct rd r = { fde, m->seg_lo, m->seg_hi, 0 };
	uint64_t len = rd_u(&r, 4);
	if (r.bad || len == 0 || len == 0xffffffff || !have(&r, len))
		return hs_r_cannot(HS_UNW_BADCFI);
	r.end = r.p + len;
	uintptr_t at = r.p;
	uint64_t cie_off = rd_u(&r, 4);
	if (r.bad || cie_off == 0 || cie_off > at)
		return hs_r_cannot(HS_UNW_BADCFI);
	struct cie c;
	int e = read_cie(at - cie_off, m->seg_lo, m->seg_hi, &c);
	if (e)
		return hs_r_cannot(-e);
	if (c.signal)                           /* the CFA is a sigcontext */
		return hs_r_cannot(HS_UNW_RULE);
	uintptr_t start = rd_enc(&r, c.fde_enc, 0);
	uintptr_t range = rd_enc(&r, c.fde_enc & 0x0f, 0);
	if (c.aug_z) {
		uint64_t alen = rd_uleb(&r);
		if (!have(&r, alen))
			return hs_r_cannot(HS_UNW_BADCFI);
		r.p += alen;
	}
	if (r.bad)
		return hs_r_cannot(HS_UNW_BADCFI);
	if (a < start || a - start >= range)
		return hs_r_cannot(HS_UNW_NOFDE);
	/* The default: rsp-based CFA as the CIE sets it, rbp unchanged,
	 * return address undefined until the CIE says where. */
	struct state s = { .cfa_how = C_OTHER, .bp = { R_SAME, 0 },
	                   .ra = { R_UNDEF, 0 } };
	struct rd ci = { c.insns, m->seg_lo, c.insns_end, 0 };
	if ((e = run(&ci, &c, start, a, &s, NULL)) != 0)
		return hs_r_cannot(-e);
	struct state init = s;
	if ((e = run(&r, &c, start, a, &s, &init)) != 0)
		return hs_r_cannot(-e);
	return reduce(&s);
}
