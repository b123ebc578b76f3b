/*
 * simd_peak.c — the most multiply-adds a core of this CPU does per nanosecond with the
 * instructions ntg's products use: float32 fused multiply-adds (AVX2 + FMA, what sgemm and the
 * float kernels run) against the AVX2 int8 dot product of the dynamic int8 kernel (vpsignb,
 * vpmaddubsw, vpmaddwd, vpaddd per 32 byte products), and AVX-512 VNNI's vpdpbusd where the CPU
 * has it.  Independent accumulators, no memory traffic: the instruction throughput alone.  Its
 * table says how much faster int8 products can be than float32 ones on this CPU at best
 * (docs/quantization.md); bench/quantize_bench.sh prints it beside the core table.
 *
 *   gcc -O2 -o simd_peak bench/simd_peak.c && ./simd_peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 5
#define ITERS 50000000L

static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 10 chains of FMAs (4-cycle latency, two a cycle: 8 are needed to fill both pipes) */
__attribute__((target("avx2,fma"), noinline))
static double
float_fma(float *sink)
{
	__m256		a[10],
				x = _mm256_set1_ps(1.0000001f),
				y = _mm256_set1_ps(0.9999999f);
	double		t0 = cpu_seconds();
	float		s[8];

	for (int i = 0; i < 10; i++)
		a[i] = _mm256_set1_ps((float) i);
	for (long k = 0; k < ITERS; k++)
	{
		_Pragma("GCC unroll 10")
		for (int i = 0; i < 10; i++)
			a[i] = _mm256_fmadd_ps(a[i], x, y);
	}
	for (int i = 1; i < 10; i++)
		a[0] = _mm256_add_ps(a[0], a[i]);
	_mm256_storeu_ps(s, a[0]);
	*sink += s[0];
	return ITERS * 10.0 * 8 / (cpu_seconds() - t0) / 1e9;
}

/* 8 chains of the dynamic AVX2 kernel's step: |x| times w carrying x's sign, pairs to int32 */
__attribute__((target("avx2,fma"), noinline))
static double
int8_avx2(float *sink)
{
	__m256i		acc[8],
				w[8],
				x = _mm256_set1_epi8(-5),
				ax = _mm256_abs_epi8(x),
				ones = _mm256_set1_epi16(1);
	double		t0 = cpu_seconds();
	int			r[8];

	for (int i = 0; i < 8; i++)
	{
		acc[i] = _mm256_setzero_si256();
		w[i] = _mm256_set1_epi8((char) (i + 1));
	}
	for (long k = 0; k < ITERS; k++)
	{
		_Pragma("GCC unroll 8")
		for (int i = 0; i < 8; i++)
			acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(
				_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w[i], x)), ones));
		/* new operands every time as far as the compiler knows: no product is hoisted */
		__asm__ volatile("" : "+x"(w[0]), "+x"(w[1]), "+x"(w[2]), "+x"(w[3]), "+x"(w[4]),
						 "+x"(w[5]), "+x"(w[6]), "+x"(w[7]), "+x"(x), "+x"(ax));
	}
	for (int i = 1; i < 8; i++)
		acc[0] = _mm256_add_epi32(acc[0], acc[i]);
	_mm256_storeu_si256((__m256i *) r, acc[0]);
	*sink += (float) r[0];
	return ITERS * 8.0 * 32 / (cpu_seconds() - t0) / 1e9;
}

/* 8 chains of vpdpbusd: 64 byte products into 16 int32 lanes per instruction */
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline))
static double
int8_vnni(float *sink)
{
	__m512i		acc[8],
				w[8],
				x = _mm512_set1_epi8(5);
	double		t0 = cpu_seconds();
	int			r[16];

	for (int i = 0; i < 8; i++)
	{
		acc[i] = _mm512_setzero_si512();
		w[i] = _mm512_set1_epi8((char) (i + 1));
	}
	for (long k = 0; k < ITERS; k++)
	{
		_Pragma("GCC unroll 8")
		for (int i = 0; i < 8; i++)
			acc[i] = _mm512_dpbusd_epi32(acc[i], x, w[i]);
		__asm__ volatile("" : "+v"(w[0]), "+v"(w[1]), "+v"(w[2]), "+v"(w[3]), "+v"(w[4]),
						 "+v"(w[5]), "+v"(w[6]), "+v"(w[7]), "+v"(x));
	}
	for (int i = 1; i < 8; i++)
		acc[0] = _mm512_add_epi32(acc[0], acc[i]);
	_mm512_storeu_si512(r, acc[0]);
	*sink += (float) r[0];
	return ITERS * 8.0 * 64 / (cpu_seconds() - t0) / 1e9;
}

static double
best_of(double (*fn) (float *), float *sink)
{
	double		best = 0;

	for (int r = 0; r < ROUNDS; r++)
	{
		double		v = fn(sink);

		best = v > best ? v : best;
	}
	return best;
}

int
main(void)
{
	float		sink = 0;
	double		f,
				q;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
	{
		printf("skipped: no AVX2 + FMA on this CPU\n");
		return 0;
	}
	f = best_of(float_fma, &sink);
	q = best_of(int8_avx2, &sink);
	printf("| instructions (one core, no memory traffic, best of %d) | multiply-adds per ns | against float32 FMA |\n",
		   ROUNDS);
	printf("|---|---|---|\n");
	printf("| float32 FMA (vfmadd, 8 per instruction) | %.1f | 1.00x |\n", f);
	printf("| int8 AVX2 (vpsignb, vpmaddubsw, vpmaddwd, vpaddd: 32 per 4) | %.1f | %.2fx |\n", q, q / f);
	if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
	{
		double		v = best_of(int8_vnni, &sink);

		printf("| int8 AVX-512 VNNI (vpdpbusd, 64 per instruction) | %.1f | %.2fx |\n", v, v / f);
	}
	else
		printf("| int8 AVX-512 VNNI | - (not on this CPU) | - |\n");
	return sink == 12345.0f;	/* keeps the results alive */
}
