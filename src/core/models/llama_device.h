/*
 * llama_device.h — the llama model's state on a CUDA device, shared by llama_device.c (moving the
 * model, training) and llama_device_sample.c (the sampler's device half).  Private to those files.
 */
#ifndef NTG_LLAMA_DEVICE_H
#define NTG_LLAMA_DEVICE_H

#include "models/llama.h"
#include "nn/nn_device.h"

/* Training activations on the device, laid out like LlamaActs (llama_train.c). */
typedef struct LlamaDevActs
{
	int			cap_tokens;
	float	  **resid;			/* [L+1][N, C] */
	float	  **ln1,
			  **rstd1,
			  **qkv,
			  **att,
			  **atty,
			  **mid,
			  **ln2,
			  **rstd2,
			  **h13,
			  **hg;				/* [L] each, shapes as LlamaActs */
	float	   *lnf,
			   *rstdf,
			   *logits,
			   *dresid,
			   *dtmp,
			   *tmp,
			   *dmask,
			   *dqkv,
			   *dh13,
			   *dhg,
			   *datt;			/* datt: attention backward's scratch, as att */
	float	   *drop;			/* [L][2][N, C] dropout scales of a pass (drop1, drop2) */
	int32_t    *ints;			/* tokens, targets [N]; pos [N]; start, lens [S] */
	size_t	   *att_off;		/* [S] */
	double	   *losses;			/* [N] */
	float	   *block;			/* the float buffers above, one allocation */
	/* host staging */
	int32_t    *host_ints;
	size_t	   *host_att_off;
	double	   *host_losses;
	float	   *host_drop;
} LlamaDevActs;

struct LlamaDevice
{
	const NnDeviceApi *api;
	NtgCleanup *guard;
	float	   *w;				/* [count] weights, the layout of params */
	float	   *g;				/* [count] gradients; g, m, v and decay: training only */
	float	   *m;
	float	   *v;
	uint8_t    *decay;			/* [count] 1 where weight decay applies */
	double	   *part;			/* [NN_DEVICE_NORM_SCRATCH] gradient norm partial sums */
	float	   *rope_cs;		/* as LlamaModel.rope_cs */
	int			grad_clean;
	LlamaDevActs acts;
	/* the sampler's device half (llama_device_sample.c) */
	int			scap;			/* nodes per position */
	float	   *sblock;			/* one allocation for: */
	float	   *kcache;			/* [L][T][scap][C] keys (T = max_len), as the host's cache */
	float	   *vcache;			/* values, likewise */
	float	   *sx;				/* [scap, C] residual stream */
	float	   *sxb;			/* [scap, C] */
	float	   *sqkv;			/* [scap, 3C] */
	float	   *satty;			/* [scap, C] */
	float	   *sh13;			/* [scap, 2H] */
	float	   *shg;			/* [scap, H] */
	float	   *slogits;		/* [scap, K] */
	float	   *srstd;			/* [scap] */
	float	   *satt;			/* [scap, NH, T] attention scratch */
	int32_t    *sints;			/* ntok [scap], pos [scap], chain [scap, T] */
	int32_t    *host_sints;		/* their host staging */
};

/* device weights / gradient of tensor i */
#define DW(m, i) ((m)->gpu->w + (m)->params.tensors[(i)].offset)
#define DG(m, i) ((m)->gpu->g + (m)->params.tensors[(i)].offset)

#endif							/* NTG_LLAMA_DEVICE_H */
