/*
 * nn_device.h — the operations of nn.h on a CUDA device: one table of C function pointers that
 * the kernels library fills in (kernels/, built by nvcc into ntg_cuda.so), and the loader that
 * finds that library at run time.
 *
 * ntg.so never links CUDA.  The first call that asks for a device dlopen()s ntg_cuda.so (which
 * carries the CUDA runtime, statically, and links cuBLAS); a missing library, driver or device is
 * an error the caller falls back from, never a crash, and a server without CUDA loads ntg as
 * before.  Nothing here runs at load time: CUDA is initialised in the process that uses it (a
 * backend), never in the postmaster, whose children could not inherit a CUDA context.
 *
 * Every op has its CPU twin of the same name in nn.h, with the same arguments and shapes (the
 * comments there), except where noted below.  Pointers passed to the ops are device pointers
 * (from alloc; pointer arithmetic on them is fine), sizes are in elements unless named bytes.
 * Ops are queued in order on one stream and return at once; a failure shows at the next call
 * that waits (to_host, sync), which returns -1 with the reason in last_error().  The kernels
 * never use atomics: the same inputs give the same bits on the same device.
 *
 * The library exports one symbol, NN_DEVICE_ENTRY: const NnDeviceApi *ntg_cuda_api(int abi),
 * which returns NULL when abi is not the ABI it was built for.  The same kernel sources also
 * build, with a C compiler, into an emulated library whose kernels run one thread after the
 * other on the host (flavor "emulated"): the unit tests run every op of it against its CPU twin
 * where no GPU is (docs/gpu.md).
 */
#ifndef NTG_NN_DEVICE_H
#define NTG_NN_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn_simd.h"			/* NnAdamWArgs */

/* Bump when the table or the meaning of an op changes: an older ntg_cuda.so is then refused.
 * 2: sumsq takes a scratch of NN_DEVICE_NORM_SCRATCH doubles; linear_backward_set. */
#define NN_DEVICE_ABI 2
#define NN_DEVICE_ENTRY "ntg_cuda_api"

/*
 * Partial sums of sumsq: NN_DEVICE_NORM_PARTS of them, added up on the host (nn_device_norm).
 * sumsq first sums NN_DEVICE_NORM_SPLIT times as many strided slices (enough threads to keep the
 * GPU's memory busy: 1024 threads alone left most of it idle), then folds them into the parts,
 * each in a fixed order; its buffer holds both (NN_DEVICE_NORM_SCRATCH doubles).
 */
#define NN_DEVICE_NORM_PARTS 1024
#define NN_DEVICE_NORM_SPLIT 128
#define NN_DEVICE_NORM_SCRATCH (NN_DEVICE_NORM_PARTS * (NN_DEVICE_NORM_SPLIT + 1))

typedef struct NnDeviceInfo
{
	int			count;			/* CUDA devices visible (0: none) */
	char		name[96];		/* device 0: "NVIDIA H200" */
	size_t		total_bytes;	/* its memory */
	int			major;			/* compute capability */
	int			minor;
	int			runtime_version;	/* CUDA runtime the library carries (13000 = 13.0) */
	int			driver_version; /* newest CUDA the installed driver supports; 0: none */
	char		error[160];		/* why count is 0 */
} NnDeviceInfo;

typedef struct NnDeviceApi
{
	int			abi;			/* NN_DEVICE_ABI */
	const char *flavor;			/* "cuda", or "emulated" (test build, kernels on the host) */

	/* ---- setup and memory ---- */

	/* Count the devices and describe device 0, creating no context; the count (0: none). */
	int			(*probe) (NnDeviceInfo *info);
	/* Create the context on device 0 and the cuBLAS handle (once; later calls return at once). */
	int			(*start) (void);
	const char *(*last_error) (void);
	void	   *(*alloc) (size_t bytes);	/* NULL when out of device memory */
	void		(*free) (void *p);
	int			(*to_device) (void *dst, const void *host_src, size_t bytes);
	int			(*to_host) (void *host_dst, const void *src, size_t bytes);	/* waits */
	void		(*zero) (void *p, size_t bytes);
	int			(*sync) (void);
	/* kernels and matrix products this process has queued (a diagnostic: did work run here?) */
	uint64_t	(*launches) (void);

	/* ---- layers (nn_dense.c, nn_attention.c, nn_loss.c) ---- */

	void		(*embedding_forward) (float *out, const int32_t *tok, const float *wte, int N, int C);
	void		(*embedding_backward) (float *dwte, const float *dout, const int32_t *tok, int N,
									   int C);
	void		(*rmsnorm_forward) (float *out, float *rstd, const float *inp, const float *w,
									int N, int C, float eps);
	void		(*rmsnorm_backward) (float *dinp, float *dw, const float *dout, const float *inp,
									 const float *w, const float *rstd, int N, int C);
	/* through cuBLAS (FP32, no TF32) */
	void		(*linear_forward) (float *out, const float *inp, const float *w, int N, int C,
								   int OC);
	void		(*linear_backward) (float *dinp, float *dw, const float *dout, const float *inp,
									const float *w, int N, int C, int OC);
	/* the same with dinp written, not added to (the twin on a cleared dinp): saves the clear */
	void		(*linear_backward_set) (float *dinp, float *dw, const float *dout,
										const float *inp, const float *w, int N, int C, int OC);
	void		(*rope_forward) (float *x, const int *pos, const float *cs, int N, int nh, int HS,
								 int stride);
	void		(*rope_backward) (float *dx, const int *pos, const float *cs, int N, int nh,
								  int HS, int stride);
	/* maxlen: the longest len[s] (the grid covers S x NH x maxlen queries) */
	void		(*attention_forward) (float *out, float *att, const float *qkv, const int *start,
									  const int *len, const size_t *att_off, int S, int C, int NH,
									  int maxlen);
	/* scratch: as many floats as att (the CPU twin needs max(len) floats) */
	void		(*attention_backward) (float *dqkv, const float *dout, const float *qkv,
									   const float *att, const int *start, const int *len,
									   const size_t *att_off, int S, int C, int NH, int maxlen,
									   float *scratch);
	void		(*swiglu_forward) (float *out, const float *h13, int N, int H);
	void		(*swiglu_backward) (float *dh13, const float *dout, const float *h13, int N, int H);
	void		(*residual_add) (float *out, const float *inp, size_t n);
	/* out[i] = a[i] * scale[i] (out may be a): residual dropout with the host's masks */
	void		(*scale_mul) (float *out, const float *a, const float *scale, size_t n);
	/* probabilities in place as the twin; losses[n] = -log p(target) in double for counted rows,
	 * 0 for ignored ones (the host adds them up in row order, as the twin does) */
	void		(*crossentropy_forward) (float *logits, double *losses, const int32_t *targets,
										 int N, int V);
	void		(*crossentropy_backward) (float *dlogits, const float *probs,
										  const int32_t *targets, int N, int V, float scale);

	/* ---- optimizer (nn_optim.c) ---- */

	/* part[k] = sum of g[i]^2 over i = k, k + NN_DEVICE_NORM_PARTS, ... (double); part holds
	 * NN_DEVICE_NORM_SCRATCH doubles, the first NN_DEVICE_NORM_PARTS of which are the result */
	void		(*sumsq) (double *part, const float *g, size_t n);
	/* nn_adamw_update with a.decay applied where decay_mask[i] is 1; zeroes g */
	void		(*adamw_update) (float *w, float *g, float *m, float *v,
								 const uint8_t *decay_mask, size_t n, NnAdamWArgs a);

	/* ---- sampling with a KV cache (models/llama_sample.c) ---- */

	/* kc[j, :] = k part of qkv[j, :], vc[j, :] = its v part, for U rows of [3C] */
	void		(*kv_store) (float *kc, float *vc, const float *qkv, int U, int C);
	/*
	 * out[U, C]: row j's query (q part of qkv[j]) over the keys and values of its history: at
	 * position u <= p the node chain[j * (p + 1) + u] of the cache, whose rows are at
	 * kcache + u * pos_stride + node * C (vcache likewise).  scratch: U * NH * (p + 1) floats.
	 * CPU twin: attend_chain in models/llama_sample.c.
	 */
	void		(*attention_decode) (float *out, const float *qkv, const float *kcache,
									 const float *vcache, const int *chain, size_t pos_stride,
									 int U, int p, int C, int NH, float *scratch);

	/*
	 * Mamba's selective scan (forward, backward, one decode step) takes its place here, after
	 * the ops above, when that kind gains a device path (and NN_DEVICE_ABI goes up).
	 */
} NnDeviceApi;

typedef const NnDeviceApi *(*NnDeviceEntry) (int abi);

/* ---- the loader (nn_device.c) ------------------------------------------------------------- */

/* Where the library is (a full path); set before the first nn_device_open, e.g. by the host from
 * its library directory.  NULL or "": no library (every open fails, "not installed"). */
void		nn_device_set_library(const char *path);

/* The driver library the kernels need (for CUDA, "libcuda.so.1"), looked for before the kernels
 * library is loaded: without it there can be no device, and loading the kernels library (its CUDA
 * runtime, ~2.5 ms) is skipped.  NULL: no such check (a library that needs no driver, such as the
 * emulated kernels tests load). */
void		nn_device_set_driver(const char *soname);

/*
 * Load the library and probe for a device, once per process (the outcome is kept: later calls
 * return it at once).  NTG_OK with *api and *info set when a device is there; otherwise
 * NTG_ERR_NO_DEVICE with err saying why (library not installed or not loadable, another ABI, no
 * driver, no device) and *api NULL.  *info is filled as far as the probe got.
 */
struct NtgError;
int			nn_device_open(const NnDeviceApi **api, NnDeviceInfo *info, struct NtgError *err);

/* Forget the outcome (tests that open another library). */
void		nn_device_reset(void);

/* The global L2 norm of n floats of device gradient g: sumsq into part (NN_DEVICE_NORM_SCRATCH
 * doubles of device memory), added up here in double. */
int			nn_device_norm(const NnDeviceApi *api, double *part, const float *g, size_t n,
						   double *norm, struct NtgError *err);

/* err for a failed device call: NTG_ERR_DEVICE, "CUDA device error during <what>", the reason. */
int			nn_device_error(const NnDeviceApi *api, const char *what, struct NtgError *err);

#endif							/* NTG_NN_DEVICE_H */
