/*
 * rng.h — the core's one random generator: xoshiro256** seeded through splitmix64.
 * A seed reproduces a stream bit for bit on every build and platform (integer arithmetic only;
 * the float helpers are exact functions of the integers).
 */
#ifndef NTG_RNG_H
#define NTG_RNG_H

#include <stdint.h>

typedef struct NtgRng
{
	uint64_t	s[4];
} NtgRng;

void		ntg_rng_seed(NtgRng *rng, uint64_t seed);
/* An independent generator derived from this one (for per-tree / per-worker streams). */
void		ntg_rng_split(NtgRng *rng, uint64_t stream, NtgRng *out);
uint64_t	ntg_rng_u64(NtgRng *rng);
/* Uniform in [0, 1) with 53 (double) or 24 (float) random bits. */
double		ntg_rng_double(NtgRng *rng);
float		ntg_rng_float(NtgRng *rng);
/* Uniform integer in [0, n); n > 0; unbiased (Lemire's method). */
uint64_t	ntg_rng_below(NtgRng *rng, uint64_t n);
/* Standard normal (Box-Muller, one value per call). */
double		ntg_rng_normal(NtgRng *rng);

#endif							/* NTG_RNG_H */
