/*
 * secret.c — the per-process key hashed into every header's check
 * (header.h), so that a foreign pointer or a header copied elsewhere
 * fails it.
 *
 * Set by the first allocation, whenever that is: the loader and libc
 * allocate before any constructor runs, so this needs nothing from libc
 * that could allocate.
 */
#include <sys/auxv.h>
#include <string.h>

#include "alloc.h"

uint64_t hs_secret;

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

void hs_secret_init(void)
{
	if (hs_secret)
		return;
	/* AT_RANDOM's bytes feed glibc's guards; pass them through a mixer
	 * with the clock and our load address so the check reveals none. */
	uint64_t r = 0;
	const unsigned char *ar = (const unsigned char *)getauxval(AT_RANDOM);
	if (ar)
		memcpy(&r, ar + 8, sizeof r);
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t s = mix(r ^ mix(((uint64_t)hi << 32 | lo) ^ (uintptr_t)&hs_secret));
	hs_secret = s ? s : 0x5eed;
}
