/*
 * nn_blas.c — the core's one BLAS routine, sgemm, from the CBLAS the build names.
 *
 * Loading OpenBLAS costs a process ~5 ms (about 16,000 symbol relocations, mostly its kernel
 * tables), and much of what ntg does never multiplies two matrices: one-row sampling runs its own
 * matrix-vector kernels, import and metrics no products at all.  So when the build gives the
 * library's soname (NTG_BLAS_SONAME, found by the Makefile), ntg.so does not name it as a
 * dependency; nn_sgemm opens it at the first product of the process, privately (RTLD_LOCAL), and
 * keeps it.  Without the soname the library is linked as usual and called directly.
 *
 * Should the library be gone at run time (it is a package dependency, so only a broken install),
 * products fall back to a portable loop: the same results up to rounding, slower, and
 * nn_blas_backend() says so.
 */
#include "nn/nn.h"

#include <cblas.h>
#include <stddef.h>

#ifdef NTG_BLAS_SONAME
#include <dlfcn.h>
#endif

typedef __typeof__(cblas_sgemm) SgemmFn;
typedef void (SetThreadsFn) (int);

static SgemmFn *sgemm_fn;
static SetThreadsFn *set_threads_fn;
static int	blas_state;			/* 0 not yet opened, 1 the library, -1 the portable loop */
static int	want_threads;		/* last nn_blas_init request, applied once the library is open */
static int	applied_threads;

/* OpenBLAS's own thread control (not part of the CBLAS standard header on every system). */
#ifndef NTG_BLAS_SONAME
extern void openblas_set_num_threads(int num_threads);
#endif

static void
apply_threads(void)
{
	if (set_threads_fn != NULL && want_threads > 0 && applied_threads != want_threads)
	{
		set_threads_fn(want_threads);
		applied_threads = want_threads;
	}
}

void
nn_blas_open(void)
{
	if (blas_state != 0)
		return;
#ifdef NTG_BLAS_SONAME
	{
		void	   *lib = dlopen(NTG_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL);

		if (lib != NULL)
		{
			sgemm_fn = (SgemmFn *) dlsym(lib, "cblas_sgemm");
			set_threads_fn = (SetThreadsFn *) dlsym(lib, "openblas_set_num_threads");
		}
	}
#else
	sgemm_fn = cblas_sgemm;
	set_threads_fn = openblas_set_num_threads;
#endif
	blas_state = sgemm_fn != NULL ? 1 : -1;
	apply_threads();
}

void
nn_blas_init(int threads)
{
	if (threads > 0)
		want_threads = threads;
	if (blas_state == 1)
		apply_threads();
}

const char *
nn_blas_backend(void)
{
	if (blas_state == 0)
		return "not loaded yet";
	return blas_state == 1 ? "cblas" : "portable loop (the CBLAS library could not be loaded)";
}

/* C = alpha op(A) op(B) + beta C, row-major, in plain loops (double sums per element). */
static void
sgemm_portable(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
			   const float *B, int ldb, float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		s = 0.0;

			for (int k = 0; k < K; k++)
				s += (double) (ta ? A[(size_t) k * lda + i] : A[(size_t) i * lda + k]) *
					(tb ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j]);
			C[(size_t) i * ldc + j] = (float) (alpha * s +
											   (beta == 0.0f ? 0.0 : (double) beta * C[(size_t) i * ldc + j]));
		}
}

void
nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
		 const float *B, int ldb, float beta, float *C, int ldc)
{
	if (blas_state == 0)
		nn_blas_open();
	if (blas_state == 1)
		sgemm_fn(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
				 trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
	else
		sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Tests only: run the portable loop from now on (0) or the library again (1). */
void
nn_blas_force_portable(int portable)
{
	if (portable)
		blas_state = -1;
	else
	{
		blas_state = 0;
		sgemm_fn = NULL;
		set_threads_fn = NULL;
		applied_threads = 0;
	}
}
