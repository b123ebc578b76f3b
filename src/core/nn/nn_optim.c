/*
 * nn_optim.c — AdamW (decoupled weight decay, Loshchilov & Hutter) over the flat buffers, with a
 * linear warm-up + cosine learning-rate schedule and clipping by the global gradient norm.
 *
 * The update loop is the hottest non-BLAS code at small batch sizes (it touches every parameter
 * every step), so it runs as an AVX2 kernel where the CPU has one (nn_simd.c); the same machine
 * always runs the same kernel, so results stay bit-reproducible there.  It also zeroes the gradient as it consumes it, which
 * saves the separate memset pass of the next step (NnParams.grad_clean).
 */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

double
nn_lr_at(const NnAdamW *opt, int64_t step)
{
	double		floor_lr = opt->lr * opt->min_lr_ratio;
	double		progress;

	if (opt->warmup > 0 && step < opt->warmup)
		return opt->lr * (double) (step + 1) / (double) opt->warmup;
	if (!opt->cosine || opt->total_steps <= opt->warmup)
		return opt->lr;
	progress = (double) (step - opt->warmup) / (double) (opt->total_steps - opt->warmup);
	if (progress > 1.0)
		progress = 1.0;
	return floor_lr + 0.5 * (opt->lr - floor_lr) * (1.0 + cos(M_PI * progress));
}

/* Sum of squares: float dot products over chunks of 4096, added up in double (fixed order). */
static double
sum_squares(const float *g, size_t n)
{
	double		s = 0.0;

	for (size_t i = 0; i < n; i += 4096)
	{
		int			k = n - i < 4096 ? (int) (n - i) : 4096;

		s += nn_dot(g + i, g + i, k);
	}
	return s;
}

double
nn_grad_norm(const NnParams *p)
{
	double		ss = 0.0;

	/* per tensor, so that partial sums stay small relative to each other */
	for (int k = 0; k < p->n_tensors; k++)
		ss += sum_squares(p->grad + p->tensors[k].offset, p->tensors[k].count);
	return sqrt(ss);
}

void
nn_adamw_next(NnAdamW *opt, double norm, NnAdamWArgs *out)
{
	float		clip = 1.0f;
	double		lr = nn_lr_at(opt, opt->step);
	double		t = (double) (opt->step + 1);
	NnAdamWArgs a;

	if (opt->grad_clip > 0.0 && norm > opt->grad_clip)
		clip = (float) (opt->grad_clip / (norm + 1e-6));
	a.lr = (float) lr;
	a.b1 = (float) opt->beta1;
	a.b2 = (float) opt->beta2;
	a.c1 = (float) (1.0 / (1.0 - pow(opt->beta1, t)));
	a.c2 = (float) (1.0 / (1.0 - pow(opt->beta2, t)));
	a.eps = (float) opt->eps;
	a.clip = clip;
	a.decay = (float) (lr * opt->weight_decay);
	*out = a;
	opt->step++;
}

double
nn_adamw_step(NnAdamW *opt, NnParams *p)
{
	double		norm = nn_grad_norm(p);
	NnAdamWArgs a;
	float		decay;

	nn_adamw_next(opt, norm, &a);
	decay = a.decay;
	for (int k = 0; k < p->n_tensors; k++)
	{
		const NnTensor *tn = &p->tensors[k];

		a.decay = tn->decay ? decay : 0.0f;
		nn_adamw_update(p->data + tn->offset, p->grad + tn->offset, p->m + tn->offset,
						p->v + tn->offset, tn->count, &a);
	}
	p->grad_clean = 1;
	return norm;
}
