/*
 * cu_linear.cu — matrix products through cuBLAS.  CPU twins: linear_forward / linear_backward
 * (src/core/nn/nn_dense.c, CBLAS).
 *
 * cuBLAS is column-major; ntg's matrices are row-major, and a row-major X[r, c] (leading
 * dimension ld) is the column-major X^T with the same ld.  So each row-major product below is
 * written as the column-major product of the transposes:
 *   out[N, OC] = inp[N, C] w[OC, C]^T      <=>  out^T = w inp^T       (OC x N)
 *   dinp[N, C] += dout[N, OC] w[OC, C]     <=>  dinp^T += w^T dout^T  (C x N)
 *   dw[OC, C] += dout^T[OC, N] inp[N, C]   <=>  dw^T += inp^T dout    (C x OC)
 * The emulated build multiplies with a plain loop in cuBLAS's own argument convention, so the
 * unit tests check these argument lists against the CPU where no GPU is.
 */
#include "cu_common.h"
#include "cu_ops.h"

/* C[m, n] = alpha op(A)[m, k] op(B)[k, n] + beta C, column-major; ta, tb: transpose A, B */
static void
gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
	 int ldb, float beta, float *C, int ldc)
{
	cu_launches++;
#ifdef __CUDACC__
	cublasStatus_t st = cu_sgemm((cublasHandle_t) cu_blas_handle(),
								 ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
								 m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc);

	if (st != CUBLAS_STATUS_SUCCESS)
		cu_fail("cublasSgemm", cu_blas_status(st));
#else
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++)
		{
			float		s = 0.0f;

			for (int p = 0; p < k; p++)
				s += (ta ? A[p + (size_t) i * lda] : A[i + (size_t) p * lda]) *
					(tb ? B[j + (size_t) p * ldb] : B[p + (size_t) j * ldb]);
			C[i + (size_t) j * ldc] = alpha * s + (beta != 0.0f ? beta * C[i + (size_t) j * ldc] : 0.0f);
		}
#endif
}

/* CPU twin: linear_forward (nn_dense.c).  out[N, OC] = inp[N, C] @ w[OC, C]^T */
void
linear_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
	if (N <= 0)
		return;
	gemm(1, 0, OC, N, C, 1.0f, w, C, inp, C, 0.0f, out, OC);
}

/* dinp (beta 1: added to, 0: written) and dw (added to) of linear_backward */
static void
linear_backward_beta(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
					 int N, int C, int OC, float beta)
{
	if (N <= 0)
		return;
	if (dinp != NULL)
		gemm(0, 0, C, N, OC, 1.0f, w, C, dout, OC, beta, dinp, C);
	if (dw != NULL)
		gemm(0, 1, C, OC, N, 1.0f, inp, C, dout, OC, 1.0f, dw, C);
}

/* CPU twin: linear_backward (nn_dense.c).  dinp[N, C] += dout @ w; dw[OC, C] += dout^T @ inp;
 * either may be NULL */
void
linear_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
				int N, int C, int OC)
{
	linear_backward_beta(dinp, dw, dout, inp, w, N, C, OC, 1.0f);
}

/* CPU twin: linear_backward on a cleared dinp.  dinp[N, C] = dout @ w; dw[OC, C] += dout^T @ inp */
void
linear_backward_set(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
					int N, int C, int OC)
{
	linear_backward_beta(dinp, dw, dout, inp, w, N, C, OC, 0.0f);
}
