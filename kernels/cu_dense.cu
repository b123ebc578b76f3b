/*
 * cu_dense.cu — row-wise layers on the device: embedding, RMSNorm, SwiGLU, residual add and the
 * dropout scale.  CPU twins: src/core/nn/nn_dense.c (shapes in nn.h); each op below names its twin.
 * Sums run in the twin's order (one thread walks what the twin's loop walks), so results differ
 * from the CPU only by the device's rounding of expf / sqrtf and fused multiply-adds.
 */
#include "cu_common.h"
#include "cu_ops.h"

#include <math.h>

/* ---- embedding ---------------------------------------------------------------------------- */

/* out[N, C] = wte[tok[n], :]; thread per output float */
static __global__ void
embedding_forward_kernel(float *out, const int32_t *tok, const float *wte, int N, int C)
{
	size_t		i = CU_INDEX();

	if (i >= (size_t) N * C)
		return;
	out[i] = wte[(size_t) tok[i / C] * C + i % C];
}

/* CPU twin: embedding_forward (nn_dense.c) */
void
embedding_forward(float *out, const int32_t *tok, const float *wte, int N, int C)
{
	CU_LAUNCH(embedding_forward_kernel, (size_t) N * C, out, tok, wte, N, C);
}

/* dwte[tok[n], c] += dout[n, c]; thread per channel c, rows in order (no two threads share an
 * output, whatever the tokens: rows with the same token add up in row order, as on the CPU) */
static __global__ void
embedding_backward_kernel(float *dwte, const float *dout, const int32_t *tok, int N, int C)
{
	size_t		c = CU_INDEX();

	if (c >= (size_t) C)
		return;
	for (int n = 0; n < N; n++)
		dwte[(size_t) tok[n] * C + c] += dout[(size_t) n * C + c];
}

/* CPU twin: embedding_backward (nn_dense.c) */
void
embedding_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C)
{
	CU_LAUNCH(embedding_backward_kernel, (size_t) C, dwte, dout, tok, N, C);
}

/* ---- RMSNorm ------------------------------------------------------------------------------ */

/* out[N, C] = inp * rstd * w, rstd[N]; thread per row */
static __global__ void
rmsnorm_forward_kernel(float *out, float *rstd, const float *inp, const float *w, int N, int C,
					   float eps)
{
	size_t		n = CU_INDEX();
	const float *x;
	float	   *o;
	float		ss = 0.0f;
	float		r;

	if (n >= (size_t) N)
		return;
	x = inp + n * C;
	o = out + n * C;
	for (int i = 0; i < C; i++)
		ss += x[i] * x[i];
	r = 1.0f / sqrtf(ss / C + eps);
	rstd[n] = r;
	for (int i = 0; i < C; i++)
		o[i] = x[i] * r * w[i];
}

/* CPU twin: rmsnorm_forward (nn_dense.c) */
void
rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
				float eps)
{
	CU_LAUNCH(rmsnorm_forward_kernel, (size_t) N, out, rstd, inp, w, N, C, eps);
}

/* dinp[N, C] += r w dy - (r^3 / C) x sum(dy w x); thread per row */
static __global__ void
rmsnorm_backward_dinp_kernel(float *dinp, const float *dout, const float *inp, const float *w,
							 const float *rstd, int N, int C)
{
	size_t		n = CU_INDEX();
	const float *x,
			   *dy;
	float	   *dx;
	float		r,
				k,
				dot = 0.0f;

	if (n >= (size_t) N)
		return;
	x = inp + n * C;
	dy = dout + n * C;
	dx = dinp + n * C;
	r = rstd[n];
	for (int i = 0; i < C; i++)
		dot += dy[i] * w[i] * x[i];
	k = r * r * r * dot / C;
	for (int i = 0; i < C; i++)
		dx[i] += r * w[i] * dy[i] - k * x[i];
}

/* dw[C] += sum over rows of dy x r; thread per channel, rows in order */
static __global__ void
rmsnorm_backward_dw_kernel(float *dw, const float *dout, const float *inp, const float *rstd,
						   int N, int C)
{
	size_t		i = CU_INDEX();

	if (i >= (size_t) C)
		return;
	for (int n = 0; n < N; n++)
		dw[i] += dout[(size_t) n * C + i] * inp[(size_t) n * C + i] * rstd[n];
}

/* CPU twin: rmsnorm_backward (nn_dense.c) */
void
rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
				 const float *rstd, int N, int C)
{
	CU_LAUNCH(rmsnorm_backward_dinp_kernel, (size_t) N, dinp, dout, inp, w, rstd, N, C);
	CU_LAUNCH(rmsnorm_backward_dw_kernel, (size_t) C, dw, dout, inp, rstd, N, C);
}

/* ---- SwiGLU ------------------------------------------------------------------------------- */

/* out[N, H] = silu(h13[:, :H]) * h13[:, H:]; thread per output float */
static __global__ void
swiglu_forward_kernel(float *out, const float *h13, int N, int H)
{
	size_t		i = CU_INDEX();
	size_t		n = i / H,
				j = i % H;
	float		a,
				b;

	if (i >= (size_t) N * H)
		return;
	a = h13[n * 2 * H + j];
	b = h13[n * 2 * H + H + j];
	out[i] = a / (1.0f + expf(-a)) * b;
}

/* CPU twin: swiglu_forward (nn_dense.c; the arithmetic of swiglu_fwd_plain, nn_simd.c) */
void
swiglu_forward(float *out, const float *h13, int N, int H)
{
	CU_LAUNCH(swiglu_forward_kernel, (size_t) N * H, out, h13, N, H);
}

/* da += d b silu'(a), db += d silu(a), silu'(a) = s(a) (1 + a (1 - s(a))) */
static __global__ void
swiglu_backward_kernel(float *dh13, const float *dout, const float *h13, int N, int H)
{
	size_t		i = CU_INDEX();
	size_t		n = i / H,
				j = i % H;
	float		a,
				b,
				d,
				sg;

	if (i >= (size_t) N * H)
		return;
	a = h13[n * 2 * H + j];
	b = h13[n * 2 * H + H + j];
	d = dout[i];
	sg = 1.0f / (1.0f + expf(-a));
	dh13[n * 2 * H + j] += d * b * sg * (1.0f + a * (1.0f - sg));
	dh13[n * 2 * H + H + j] += d * a * sg;
}

/* CPU twin: swiglu_backward (nn_dense.c; swiglu_bwd_plain, nn_simd.c) */
void
swiglu_backward(float *dh13, const float *dout, const float *h13, int N, int H)
{
	CU_LAUNCH(swiglu_backward_kernel, (size_t) N * H, dh13, dout, h13, N, H);
}

/* ---- elementwise -------------------------------------------------------------------------- */

static __global__ void
residual_add_kernel(float *out, const float *inp, size_t n)
{
	size_t		i = CU_INDEX();

	if (i < n)
		out[i] += inp[i];
}

/* CPU twin: residual_add (nn_dense.c) */
void
residual_add(float *out, const float *inp, size_t n)
{
	CU_LAUNCH(residual_add_kernel, n, out, inp, n);
}

static __global__ void
scale_mul_kernel(float *out, const float *a, const float *scale, size_t n)
{
	size_t		i = CU_INDEX();

	if (i < n)
		out[i] = a[i] * scale[i];
}

/* CPU twin: the dropout of models/llama_train.c (x[k] *= scale[k], and masked()) */
void
scale_mul(float *out, const float *a, const float *scale, size_t n)
{
	CU_LAUNCH(scale_mul_kernel, n, out, a, scale, n);
}
