/*
 * cu_ops.h — the kernels library's ops, named like their CPU twins (src/core/nn/nn.h), which is
 * why they stay hidden inside the library: only the table of cu_runtime.cu leads to them.
 * Arguments and shapes: nn_device.h.
 */
#ifndef NTG_CU_OPS_H
#define NTG_CU_OPS_H

#include "cu_common.h"

#ifdef __CUDACC__
#include <cublas_v2.h>
#endif

#ifdef __cplusplus
extern "C"
{
#endif

#pragma GCC visibility push(hidden)

/* cu_dense.cu */
void		embedding_forward(float *out, const int32_t *tok, const float *wte, int N, int C);
void		embedding_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C);
void		rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
							float eps);
void		rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
							 const float *w, const float *rstd, int N, int C);
void		swiglu_forward(float *out, const float *h13, int N, int H);
void		swiglu_backward(float *dh13, const float *dout, const float *h13, int N, int H);
void		residual_add(float *out, const float *inp, size_t n);
void		scale_mul(float *out, const float *a, const float *scale, size_t n);

/* cu_linear.cu */
void		linear_forward(float *out, const float *inp, const float *w, int N, int C, int OC);
void		linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
							const float *w, int N, int C, int OC);
void		linear_backward_set(float *dinp, float *dw, const float *dout, const float *inp,
								const float *w, int N, int C, int OC);

/* cu_attention.cu */
void		rope_forward(float *x, const int *pos, const float *cs, int N, int nh, int HS,
						 int stride);
void		rope_backward(float *dx, const int *pos, const float *cs, int N, int nh, int HS,
						  int stride);
void		attention_forward(float *out, float *att, const float *qkv, const int *start,
							  const int *len, const size_t *att_off, int S, int C, int NH,
							  int maxlen);
void		attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
							   const int *start, const int *len, const size_t *att_off, int S,
							   int C, int NH, int maxlen, float *scratch);
void		kv_store(float *kc, float *vc, const float *qkv, int U, int C);
void		attention_decode(float *out, const float *qkv, const float *kcache,
							 const float *vcache, const int *chain, size_t pos_stride, int U,
							 int p, int C, int NH, float *scratch);

/* cu_loss.cu */
void		crossentropy_forward(float *logits, double *losses, const int32_t *targets, int N,
								 int V);
void		crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
								  int N, int V, float scale);

/* cu_optim.cu */
void		sumsq(double *part, const float *g, size_t n);
void		adamw_update(float *w, float *g, float *m, float *v, const uint8_t *decay_mask,
						 size_t n, NnAdamWArgs a);

/* cu_runtime.cu: the cuBLAS handle (created by start), cublasSgemm and status messages (from the
 * library start() loads) */
void	   *cu_blas_handle(void);
const char *cu_blas_status(int status);
#ifdef __CUDACC__
typedef cublasStatus_t (*CuSgemm) (cublasHandle_t handle, cublasOperation_t transa,
								   cublasOperation_t transb, int m, int n, int k,
								   const float *alpha, const float *A, int lda, const float *B,
								   int ldb, const float *beta, float *C, int ldc);
extern CuSgemm cu_sgemm;
#endif

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif							/* NTG_CU_OPS_H */
