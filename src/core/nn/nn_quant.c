/*
 * nn_quant.c — int8 quantization of matrices and activations, the packed weight layout, the
 * portable (scalar) kernels, and the choice of the SIMD level (nn_quant.h).  The vector kernels
 * are in nn_qgemm_x86.c.
 */
#include "nn/nn_quant.h"

#include <math.h>
#include <string.h>

const char *
nn_quant_mode_name(int mode)
{
	switch (mode)
	{
		case NN_QUANT_NONE:
			return "none";
		case NN_QUANT_WEIGHT_ONLY:
			return "weight_only";
		case NN_QUANT_DYNAMIC:
			return "dynamic";
	}
	return NULL;
}

int
nn_quant_mode_parse(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "weight_only") == 0)
		return NN_QUANT_WEIGHT_ONLY;
	if (strcmp(name, "dynamic") == 0)
		return NN_QUANT_DYNAMIC;
	return -1;
}

/* ---- SIMD level ---------------------------------------------------------------------------- */

static int	cpu_level = -1;		/* what the CPU runs */
static int	use_level = -1;		/* what runs now (tests may lower it) */

int
nn_qsimd_level(void)
{
	if (cpu_level < 0)
	{
		cpu_level = NN_QSIMD_SCALAR;
#if defined(__x86_64__) && defined(__GNUC__)
		__builtin_cpu_init();
		if (nn_qkernels_built() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		{
			cpu_level = NN_QSIMD_AVX2;
			if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
				__builtin_cpu_supports("avx512vnni"))
				cpu_level = NN_QSIMD_VNNI;
		}
#endif
	}
	return use_level >= 0 ? use_level : cpu_level;
}

int
nn_qsimd_force(int level)
{
	use_level = -1;
	if (level >= 0)
		use_level = level < nn_qsimd_level() ? level : nn_qsimd_level();
	return nn_qsimd_level();
}

const char *
nn_qsimd_name(int level)
{
	return level == NN_QSIMD_VNNI ? "avx512-vnni" : level == NN_QSIMD_AVX2 ? "avx2" : "scalar";
}

static const NnQKernels *
kernels(int level)
{
	if (level > nn_qsimd_level())
		level = nn_qsimd_level();
	return level == NN_QSIMD_VNNI ? &nn_qkernels_vnni :
		level == NN_QSIMD_AVX2 ? &nn_qkernels_avx2 : NULL;
}

/* ---- quantizing ---------------------------------------------------------------------------- */

static inline int8_t
to_int8(float v)
{
	/* v is x * (127 / amax): within [-127, 127] up to rounding; NaN (from a non-finite row) -> 0 */
	if (!(v == v))
		return 0;
	if (v > (float) NN_QUANT_MAX)
		v = (float) NN_QUANT_MAX;
	if (v < -(float) NN_QUANT_MAX)
		v = -(float) NN_QUANT_MAX;
	return (int8_t) lrintf(v);	/* round half to even, as the vector conversions do */
}

static float
abs_max(const float *x, int n)
{
	float		m = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		a = fabsf(x[i]);

		if (a > m || a != a)
			m = a;
	}
	return m;
}

void
nn_quantize_rows(int8_t *q, float *scale, const float *w, int OC, int C)
{
	for (int o = 0; o < OC; o++)
	{
		const float *r = w + (size_t) o * C;
		float		amax = abs_max(r, C);
		float		inv = 0.0f;

		/* a zero row: any positive scale will do; 1 keeps stored scales positive */
		scale[o] = amax > 0.0f ? nn_qrow_scale(amax, &inv) : 1.0f;
		for (int i = 0; i < C; i++)
			q[(size_t) o * C + i] = to_int8(r[i] * inv);
	}
}

/* The portable activation quantizer: the reference the vector ones match bit for bit. */
static void
quantize_acts_scalar(int8_t *q, float *scale, const float *x, int N, int C, int C4)
{
	for (int n = 0; n < N; n++)
	{
		const float *r = x + (size_t) n * C;
		int8_t	   *qr = q + (size_t) n * C4;
		float		amax = 0.0f,
					inv;

		for (int i = 0; i < C; i++)
			amax = fmaxf(amax, fabsf(r[i]));
		scale[n] = nn_qrow_scale(amax, &inv);
		for (int i = 0; i < C; i++)
			qr[i] = to_int8(r[i] * inv);
		for (int i = C; i < C4; i++)
			qr[i] = 0;
	}
}

static size_t
align64(size_t n)
{
	return (n + 63) & ~(size_t) 63;
}

size_t
nn_qacts_bytes(int N, int C)
{
	size_t		C4 = ((size_t) C + NN_QGROUP - 1) / NN_QGROUP * NN_QGROUP;

	return 2 * align64((size_t) N * C4) + align64((size_t) N * sizeof(float));
}

void
nn_qacts_rebias(NnQActs *a)
{
	size_t		n = (size_t) a->N * a->C4;

	for (size_t i = 0; i < n; i++)
		a->qb[i] = (uint8_t) a->q[i] ^ 0x80;
	a->biased = 1;
}

void
nn_quantize_acts(NnQActs *a, void *scratch, const float *x, int N, int C)
{
	int			level = nn_qsimd_level();
	const NnQKernels *k = kernels(level);

	a->N = N;
	a->C4 = (C + NN_QGROUP - 1) / NN_QGROUP * NN_QGROUP;
	a->q = (int8_t *) scratch;
	a->qb = (uint8_t *) scratch + align64((size_t) N * a->C4);
	a->scale = (float *) ((uint8_t *) scratch + 2 * align64((size_t) N * a->C4));
	(k != NULL ? k->quantize_acts : quantize_acts_scalar) (a->q, a->scale, x, N, C, a->C4);
	/* a pass over the bytes that only the VNNI kernel needs (3 % of a one-row int8 mamba call) */
	a->biased = 0;
	if (level == NN_QSIMD_VNNI)
		nn_qacts_rebias(a);
}

/* ---- packing ------------------------------------------------------------------------------- */

size_t
nn_qpack_bytes(int OC, int C)
{
	size_t		blocks = ((size_t) OC + NN_QBLOCK - 1) / NN_QBLOCK;
	size_t		C4 = ((size_t) C + NN_QGROUP - 1) / NN_QGROUP * NN_QGROUP;

	return blocks * NN_QBLOCK * (C4 + sizeof(int32_t) + sizeof(float));
}

int
nn_qpack_build(NnQPack *pk, const int8_t *q, const float *scale, int OC, int C)
{
	int			G;
	size_t		rows;

	memset(pk, 0, sizeof(*pk));
	pk->OC = OC;
	pk->C = C;
	pk->C4 = (C + NN_QGROUP - 1) / NN_QGROUP * NN_QGROUP;
	pk->blocks = (OC + NN_QBLOCK - 1) / NN_QBLOCK;
	G = pk->C4 / NN_QGROUP;
	rows = (size_t) pk->blocks * NN_QBLOCK;
	pk->w = ntg_calloc(rows, pk->C4);
	pk->rowsum = ntg_calloc(rows, sizeof(int32_t));
	pk->scale = ntg_calloc(rows, sizeof(float));
	if (pk->w == NULL || pk->rowsum == NULL || pk->scale == NULL)
	{
		nn_qpack_free(pk);
		return NTG_ERR_NOMEM;
	}
	for (int o = 0; o < OC; o++)
	{
		int			b = o / NN_QBLOCK,
					j = o % NN_QBLOCK;
		int32_t		sum = 0;

		for (int i = 0; i < C; i++)
		{
			int			g = i / NN_QGROUP,
						k = i % NN_QGROUP;

			pk->w[(((size_t) b * G + g) * NN_QBLOCK + j) * NN_QGROUP + k] = q[(size_t) o * C + i];
			sum += q[(size_t) o * C + i];
		}
		pk->rowsum[o] = sum;
		pk->scale[o] = scale[o];
	}
	return NTG_OK;
}

void
nn_qpack_free(NnQPack *pk)
{
	ntg_free(pk->w);
	ntg_free(pk->rowsum);
	ntg_free(pk->scale);
	memset(pk, 0, sizeof(*pk));
}

/* ---- portable kernels ---------------------------------------------------------------------- */

/* Weight (o, i) of a pack. */
static inline int8_t
pack_at(const NnQPack *pk, int o, int i)
{
	int			G = pk->C4 / NN_QGROUP;

	return pk->w[(((size_t) (o / NN_QBLOCK) * G + i / NN_QGROUP) * NN_QBLOCK + o % NN_QBLOCK) *
				 NN_QGROUP + i % NN_QGROUP];
}

static void
gemm_scalar(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk)
{
	for (int n = 0; n < x->N; n++)
	{
		const int8_t *xr = x->q + (size_t) n * x->C4;

		for (int o = 0; o < pk->OC; o++)
		{
			int32_t		acc = 0;

			for (int i = 0; i < pk->C; i++)
				acc += (int32_t) xr[i] * pack_at(pk, o, i);
			if (as_float)
				((float *) out)[(size_t) n * ldo + o] = (float) acc * (x->scale[n] * pk->scale[o]);
			else
				((int32_t *) out)[(size_t) n * ldo + o] = acc;
		}
	}
}

static void
gemm_wo_scalar(float *out, int ldo, const float *x, int N, const NnQPack *pk)
{
	for (int n = 0; n < N; n++)
	{
		const float *xr = x + (size_t) n * pk->C;

		for (int o = 0; o < pk->OC; o++)
		{
			float		s = 0.0f;

			for (int i = 0; i < pk->C; i++)
				s += xr[i] * (float) pack_at(pk, o, i);
			out[(size_t) n * ldo + o] = pk->scale[o] * s;
		}
	}
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* The kernels for products of x at `level`: the VNNI kernel needs x's biased copy. */
static const NnQKernels *
kernels_for(const NnQActs *x, int level)
{
	if (level == NN_QSIMD_VNNI && !x->biased)
		level = NN_QSIMD_AVX2;
	return kernels(level);
}

void
nn_qgemm_i32(int32_t *out, int ldo, const NnQActs *x, const NnQPack *pk, int level)
{
	const NnQKernels *k = kernels_for(x, level);

	(k != NULL ? k->gemm : gemm_scalar) (out, ldo, 0, x, pk);
}

void
nn_qgemm_dynamic(float *out, int ldo, const NnQActs *x, const NnQPack *pk, int level)
{
	const NnQKernels *k = kernels_for(x, level);

	(k != NULL ? k->gemm : gemm_scalar) (out, ldo, 1, x, pk);
}

void
nn_qgemm_weight_only(float *out, int ldo, const float *x, int N, const NnQPack *pk, int level)
{
	const NnQKernels *k = kernels(level);

	(k != NULL ? k->gemm_wo : gemm_wo_scalar) (out, ldo, x, N, pk);
}
