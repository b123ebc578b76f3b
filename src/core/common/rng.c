/*
 * rng.c — xoshiro256** (Blackman & Vigna), seeded with splitmix64 as its authors recommend.
 */
#include "common/rng.h"

#include <math.h>

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
ntg_rng_seed(NtgRng *rng, uint64_t seed)
{
	uint64_t	x = seed;

	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

void
ntg_rng_split(NtgRng *rng, uint64_t stream, NtgRng *out)
{
	uint64_t	x = ntg_rng_u64(rng) ^ (stream * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		out->s[i] = splitmix64(&x);
}

uint64_t
ntg_rng_u64(NtgRng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
ntg_rng_double(NtgRng *rng)
{
	return (double) (ntg_rng_u64(rng) >> 11) * 0x1.0p-53;
}

float
ntg_rng_float(NtgRng *rng)
{
	return (float) (ntg_rng_u64(rng) >> 40) * 0x1.0p-24f;
}

uint64_t
ntg_rng_below(NtgRng *rng, uint64_t n)
{
	/* Lemire's nearly-divisionless method, with rejection for exact uniformity. */
	__uint128_t m = (__uint128_t) ntg_rng_u64(rng) * n;
	uint64_t	low = (uint64_t) m;

	if (low < n)
	{
		uint64_t	threshold = -n % n;

		while (low < threshold)
		{
			m = (__uint128_t) ntg_rng_u64(rng) * n;
			low = (uint64_t) m;
		}
	}
	return (uint64_t) (m >> 64);
}

double
ntg_rng_normal(NtgRng *rng)
{
	double		u1 = 1.0 - ntg_rng_double(rng);	/* (0, 1] so log is finite */
	double		u2 = ntg_rng_double(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
