/*
 * cu_runtime.cu — the library's one exported symbol, ntg_cuda_api(): the table of nn_device.h,
 * with device setup, memory and error reporting around the ops of the other files.
 *
 * cuBLAS is not linked: start() loads it (dlopen), so that looking for a device on a machine
 * without one never loads cuBLAS, which takes over a second.
 *
 * Errors: CUDA reports a failed launch or kernel at a later call; cuBLAS returns a status that
 * cu_fail() records.  The first failure is kept and reported by the next to_host or sync (-1,
 * reason in last_error()), which is where the host checks.
 *
 * The emulated build (no __CUDACC__) keeps "device" memory in host memory and runs each kernel
 * as a loop (cu_emulate.c); everything else is the same code.
 */
#include "cu_common.h"
#include "cu_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __CUDACC__
#include <cublas_v2.h>
#include <dlfcn.h>
#endif

uint64_t	cu_launches;
static char last_err[256];
static int	pending;			/* a failure recorded and not yet reported */

void
cu_fail(const char *what, const char *why)
{
	if (pending)
		return;
	snprintf(last_err, sizeof(last_err), "%s: %s", what, why);
	pending = 1;
}

/* -1 (and the failure is reported) when one is pending */
static int
report(void)
{
	if (!pending)
		return 0;
	pending = 0;
	return -1;
}

static uint64_t
launches(void)
{
	return cu_launches;
}

static const char *
last_error(void)
{
	return last_err[0] ? last_err : "no error recorded";
}

#ifdef __CUDACC__

static cublasHandle_t blas;

/* the cuBLAS functions ntg uses, from the library start() loads */
static struct
{
	cublasStatus_t (*create) (cublasHandle_t *handle);
	cublasStatus_t (*set_math_mode) (cublasHandle_t handle, cublasMath_t mode);
	const char *(*status_string) (cublasStatus_t status);
}			blas_fn;
CuSgemm		cu_sgemm;

void *
cu_blas_handle(void)
{
	return (void *) blas;
}

const char *
cu_blas_status(int status)
{
	return blas_fn.status_string != NULL ? blas_fn.status_string((cublasStatus_t) status) :
		"cuBLAS error";
}

/* Load cuBLAS (the major version the kernels were built against) and find its functions. */
static int
load_cublas(void)
{
	char		name[64];
	void	   *lib;

	snprintf(name, sizeof(name), "libcublas.so.%d", CUBLAS_VER_MAJOR);
	if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) == NULL)
	{
		cu_fail("loading cuBLAS", dlerror());
		return -1;
	}
	blas_fn.create = (cublasStatus_t (*) (cublasHandle_t *)) dlsym(lib, "cublasCreate_v2");
	blas_fn.set_math_mode = (cublasStatus_t (*) (cublasHandle_t, cublasMath_t)) dlsym(lib, "cublasSetMathMode");
	blas_fn.status_string = (const char *(*) (cublasStatus_t)) dlsym(lib, "cublasGetStatusString");
	cu_sgemm = (CuSgemm) dlsym(lib, "cublasSgemm_v2");
	if (blas_fn.create == NULL || blas_fn.set_math_mode == NULL || cu_sgemm == NULL)
	{
		cu_fail("loading cuBLAS", "a function is missing from it");
		return -1;
	}
	return 0;
}

/* record a failed CUDA call; 0 when e is cudaSuccess */
static int
check(const char *what, cudaError_t e)
{
	if (e == cudaSuccess)
		return 0;
	cu_fail(what, cudaGetErrorString(e));
	return -1;
}

static int
probe(NnDeviceInfo *info)
{
	int			n = 0;
	cudaError_t e;
	cudaDeviceProp p;

	memset(info, 0, sizeof(*info));
	cudaRuntimeGetVersion(&info->runtime_version);
	cudaDriverGetVersion(&info->driver_version);
	e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess && info->driver_version == 0)
	{
		snprintf(info->error, sizeof(info->error),
				 "the NVIDIA driver is not installed (%s)", cudaGetErrorString(e));
		cudaGetLastError();
		return 0;
	}
	if (e != cudaSuccess)
	{
		snprintf(info->error, sizeof(info->error), "%s", cudaGetErrorString(e));
		cudaGetLastError();		/* not sticky: clear it */
		return 0;
	}
	if (n <= 0)
	{
		snprintf(info->error, sizeof(info->error), "the CUDA driver reports no device");
		return 0;
	}
	if ((e = cudaGetDeviceProperties(&p, 0)) != cudaSuccess)
	{
		snprintf(info->error, sizeof(info->error), "%s", cudaGetErrorString(e));
		cudaGetLastError();
		return 0;
	}
	info->count = n;
	snprintf(info->name, sizeof(info->name), "%s", p.name);
	info->total_bytes = p.totalGlobalMem;
	info->major = p.major;
	info->minor = p.minor;
	return n;
}

static int
start(void)
{
	static int	started;
	cublasStatus_t st;

	if (started)
		return 0;
	if (check("cudaSetDevice", cudaSetDevice(0)) != 0 ||
		check("creating the CUDA context", cudaFree(0)) != 0 || load_cublas() != 0)
		return report();
	if ((st = blas_fn.create(&blas)) != CUBLAS_STATUS_SUCCESS)
	{
		cu_fail("cublasCreate", cu_blas_status(st));
		return report();
	}
	/* FP32 products, no TF32: the CPU twins are the reference */
	blas_fn.set_math_mode(blas, CUBLAS_DEFAULT_MATH);
	started = 1;
	return 0;
}

static void *
dev_alloc(size_t bytes)
{
	void	   *p = NULL;

	if (check("cudaMalloc", cudaMalloc(&p, bytes > 0 ? bytes : 1)) != 0)
		return NULL;
	return p;
}

static void
dev_free(void *p)
{
	if (p != NULL)
		cudaFree(p);
}

static int
to_device(void *dst, const void *src, size_t bytes)
{
	check("copying to the device", cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
	return report();
}

static int
to_host(void *dst, const void *src, size_t bytes)
{
	check("a kernel launch", cudaGetLastError());
	check("copying from the device", cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
	return report();
}

static void
dev_zero(void *p, size_t bytes)
{
	check("cudaMemsetAsync", cudaMemsetAsync(p, 0, bytes, 0));
}

static int
dev_sync(void)
{
	check("a kernel launch", cudaGetLastError());
	check("cudaDeviceSynchronize", cudaDeviceSynchronize());
	return report();
}

#else							/* emulated */

void *
cu_blas_handle(void)
{
	return NULL;
}

static int
probe(NnDeviceInfo *info)
{
	memset(info, 0, sizeof(*info));
	info->count = 1;
	snprintf(info->name, sizeof(info->name), "emulated device (kernels run on the host)");
	return 1;
}

static int
start(void)
{
	return 0;
}

/* "device" memory is host memory, filled with a pattern, so that a kernel that reads what was
 * never written gives NaNs (as uninitialised device memory may) rather than zeros */
static void *
dev_alloc(size_t bytes)
{
	void	   *p = malloc(bytes > 0 ? bytes : 1);

	if (p == NULL)
	{
		cu_fail("cudaMalloc", "out of memory");
		return NULL;
	}
	memset(p, 0xff, bytes);
	return p;
}

static void
dev_free(void *p)
{
	free(p);
}

static int
to_device(void *dst, const void *src, size_t bytes)
{
	memcpy(dst, src, bytes);
	return report();
}

static int
to_host(void *dst, const void *src, size_t bytes)
{
	memcpy(dst, src, bytes);
	return report();
}

static void
dev_zero(void *p, size_t bytes)
{
	memset(p, 0, bytes);
}

static int
dev_sync(void)
{
	return report();
}

#endif

static void
fill(NnDeviceApi *t)
{
	memset(t, 0, sizeof(*t));
	t->abi = NN_DEVICE_ABI;
#ifdef __CUDACC__
	t->flavor = "cuda";
#else
	t->flavor = "emulated";
#endif
	t->probe = probe;
	t->start = start;
	t->last_error = last_error;
	t->alloc = dev_alloc;
	t->free = dev_free;
	t->to_device = to_device;
	t->to_host = to_host;
	t->zero = dev_zero;
	t->sync = dev_sync;
	t->launches = launches;
	t->embedding_forward = embedding_forward;
	t->embedding_backward = embedding_backward;
	t->rmsnorm_forward = rmsnorm_forward;
	t->rmsnorm_backward = rmsnorm_backward;
	t->linear_forward = linear_forward;
	t->linear_backward = linear_backward;
	t->linear_backward_set = linear_backward_set;
	t->rope_forward = rope_forward;
	t->rope_backward = rope_backward;
	t->attention_forward = attention_forward;
	t->attention_backward = attention_backward;
	t->swiglu_forward = swiglu_forward;
	t->swiglu_backward = swiglu_backward;
	t->residual_add = residual_add;
	t->scale_mul = scale_mul;
	t->crossentropy_forward = crossentropy_forward;
	t->crossentropy_backward = crossentropy_backward;
	t->sumsq = sumsq;
	t->adamw_update = adamw_update;
	t->kv_store = kv_store;
	t->attention_decode = attention_decode;
}

CU_EXTERN __attribute__((visibility("default"))) const NnDeviceApi *ntg_cuda_api(int abi);

const NnDeviceApi *
ntg_cuda_api(int abi)
{
	static NnDeviceApi table;

	if (abi != NN_DEVICE_ABI)
		return NULL;
	if (table.abi == 0)
		fill(&table);
	return &table;
}
