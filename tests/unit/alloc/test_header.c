/*
 * test_header.c — the 16 bytes in front of every block (header.h).
 *
 * The check word is what lets free() tell our block from a foreign or
 * smashed pointer, so the tests attack it the ways a program would: a
 * header copied elsewhere, any single bit flipped, random bytes, a header
 * from a process with another secret, a state changed without resealing.
 * Each forgery passes by chance with probability 2^-32 (random bytes:
 * 2^-35); over the ~13000 tries below a spurious failure has odds of
 * about 1 in 300000.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/record.h"
#include "leaks/leaks.h"
#include "hooks/hooks.h"

/* Headers live in 16-byte aligned memory in front of user data. */
static _Alignas(16) unsigned char arena_buf[1 << 16];

static struct hs_header *at(size_t off)
{
	return (struct hs_header *)(arena_buf + off * 16);
}

static void setup(void)
{
	hs_secret_init();        /* the secret, as the first allocation sets it */
}

START_TEST(layout)
{
	ck_assert_uint_eq(sizeof(struct hs_header), 16);
	ck_assert_uint_eq(HS_HEADER_SIZE, 16);
	ck_assert_uint_eq(offsetof(struct hs_header, stack), 8);
	ck_assert_uint_eq(offsetof(struct hs_header, check), 12);
	ck_assert_msg(hs_secret != 0, "hs_secret_init left the secret 0");
	struct hs_header *h = at(3);
	ck_assert_ptr_eq(hs_user_of(h), (char *)h + 16);
	ck_assert_ptr_eq(hs_header_of(hs_user_of(h)), h);
}
END_TEST

START_TEST(set_and_read_back)
{
	struct hs_header *h = at(1);
	const size_t sizes[] = { 0, 1, 4095, HS_BIN_MAX_USER, (size_t)1 << 40, HS_MAX_REQUEST };
	const unsigned bins[] = { 0, 7, HS_NR_BINS - 1, HS_BIN_LARGE, HS_BIN_HUGE };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (size_t b = 0; b < sizeof bins / sizeof bins[0]; b++)
			for (unsigned kind = HS_KIND_MALLOC; kind <= HS_KIND_NEW_ARRAY; kind++) {
				uint32_t stack = (uint32_t)(i * 1000 + b * 10 + kind) | 0x80000000u;
				hs_header_set(h, sizes[i], bins[b], kind, stack);
				if (!hs_header_valid(h) || h->size != sizes[i] || h->bin != bins[b] ||
				    h->kind != kind || h->state != HS_LIVE || h->stack != stack)
					ck_abort_msg("header (%zu, %u, %u, %u) does not read back valid",
					             sizes[i], bins[b], kind, stack);
			}
}
END_TEST

/* The state is outside the check (header.h): LIVE -> FREED is one
 * atomic step on word 0, and of two claims of one block exactly one
 * wins. Every other field still needs a reseal, and only LIVE and FREED
 * are headers. */
START_TEST(state_change_is_one_step)
{
	struct hs_header *h = at(2);
	hs_header_set(h, 100, 3, HS_KIND_MALLOC, 5);
	uint64_t w0 = hs_header_word0(h), stale = w0;
	ck_assert(hs_header_claim(h, &w0));
	ck_assert(hs_header_valid(h));
	ck_assert_uint_eq(h->state, HS_FREED);
	ck_assert_msg(!hs_header_claim(h, &stale), "a second claim of one block won");
	ck_assert_uint_eq(stale >> HS_W0_STATE_SHIFT, HS_FREED);
	hs_header_set_state(h, HS_LIVE);
	ck_assert(hs_header_valid(h));
	h->size = 101;
	ck_assert_msg(!hs_header_valid(h), "size changed without resealing still valid");
	h->size = 100;
	h->stack = 6;
	ck_assert_msg(!hs_header_valid(h), "stack changed without resealing still valid");
	h->stack = 5;
	ck_assert(hs_header_valid(h));
	for (unsigned st = 0; st < 16; st++) {
		h->state = st;
		hs_header_seal(h);
		int want = st == HS_LIVE || st == HS_FREED;
		ck_assert_msg(hs_header_valid(h) == want, "state 0x%x sealed: valid=%d", st,
		              hs_header_valid(h));
	}
}
END_TEST

/* A valid header copied to any other address is not valid there: the
 * address is part of the hash (what stops a stale copy in user data from
 * passing as a block). */
START_TEST(copy_elsewhere_invalid)
{
	struct hs_header *h = at(0);
	hs_header_set(h, 48, 2, HS_KIND_MALLOC, 9);
	ck_assert(hs_header_valid(h));
	unsigned passed = 0;
	for (size_t off = 1; off < sizeof arena_buf / 16; off++) {
		memcpy(at(off), h, sizeof *h);
		passed += hs_header_valid(at(off)) != 0;
	}
	ck_assert_msg(passed == 0, "%u copies of a header validated at other addresses", passed);
	ck_assert(hs_header_valid(h));
}
END_TEST

START_TEST(any_bit_flip_invalid)
{
	struct hs_header *h = at(5);
	for (unsigned trial = 0; trial < 64; trial++) {
		hs_header_set(h, 16u * trial + 3, trial % HS_NR_BINS, 1 + trial % 4, trial * 7919u);
		unsigned char good[16];
		memcpy(good, h, 16);
		for (unsigned bit = 0; bit < 128; bit++) {
			((unsigned char *)h)[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			if (hs_header_valid(h))
				ck_abort_msg("trial %u: header with bit %u flipped still valid", trial, bit);
			memcpy(h, good, 16);
		}
		ck_assert(hs_header_valid(h));
	}
}
END_TEST

START_TEST(random_bytes_invalid)
{
	uint64_t s = 0x9E3779B97F4A7C15ull;
	unsigned passed = 0;
	for (unsigned i = 0; i < 100000; i++) {
		struct hs_header *h = at(i % (sizeof arena_buf / 16));
		uint64_t w[2];
		for (int k = 0; k < 2; k++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			w[k] = s;
		}
		memcpy(h, w, 16);
		passed += hs_header_valid(h) != 0;
	}
	ck_assert_msg(passed == 0, "%u of 100000 random headers validated", passed);
}
END_TEST

/* Another process's secret (a header from before an exec, a forged one
 * computed without the secret) does not validate. */
START_TEST(secret_matters)
{
	struct hs_header *h = at(7);
	hs_header_set(h, 64, 3, HS_KIND_MALLOC, 1);
	uint64_t mine = hs_secret;
	unsigned passed = 0;
	for (uint64_t k = 1; k <= 1000; k++) {
		hs_secret = mine ^ (k * 0x9E3779B97F4A7C15ull);
		passed += hs_header_valid(h) != 0;
	}
	hs_secret = mine;
	ck_assert_msg(passed == 0, "%u other secrets validate the header", passed);
	ck_assert(hs_header_valid(h));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("header");
	TCase *t = tcase_create("header");
	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, layout);
	tcase_add_test(t, set_and_read_back);
	tcase_add_test(t, state_change_is_one_step);
	tcase_add_test(t, copy_elsewhere_invalid);
	tcase_add_test(t, any_bit_flip_invalid);
	tcase_add_test(t, random_bytes_invalid);
	tcase_add_test(t, secret_matters);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
