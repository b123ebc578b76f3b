/*
 * nn_optim.c — AdamW (decoupled weight decay, Loshchilov & Hutter) over the flat buffers, with a
 * linear warm-up + cosine learning-rate schedule and clipping by the global gradient norm.
 * Accumulations are in double where they sum many terms, so the result does not depend on the
 * buffer's size in a way that loses precision.
 */
#include "nn/nn.h"

#include <math.h>

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

double
nn_grad_norm(const NnParams *p)
{
	double		ss = 0.0;

	for (size_t i = 0; i < p->count; i++)
		ss += (double) p->grad[i] * p->grad[i];
	return sqrt(ss);
}

double
nn_adamw_step(NnAdamW *opt, NnParams *p)
{
	double		norm = nn_grad_norm(p);
	float		clip = 1.0f;
	double		lr = nn_lr_at(opt, opt->step);
	double		t = (double) (opt->step + 1);
	float		b1 = (float) opt->beta1,
				b2 = (float) opt->beta2;
	float		c1 = (float) (1.0 / (1.0 - pow(opt->beta1, t)));
	float		c2 = (float) (1.0 / (1.0 - pow(opt->beta2, t)));
	float		eps = (float) opt->eps;

	if (opt->grad_clip > 0.0 && norm > opt->grad_clip)
		clip = (float) (opt->grad_clip / (norm + 1e-6));
	for (int k = 0; k < p->n_tensors; k++)
	{
		const NnTensor *tn = &p->tensors[k];
		float		decay = tn->decay ? (float) (lr * opt->weight_decay) : 0.0f;
		float		flr = (float) lr;
		float	   *w = p->data + tn->offset;
		const float *g = p->grad + tn->offset;
		float	   *m = p->m + tn->offset;
		float	   *v = p->v + tn->offset;

		for (size_t i = 0; i < tn->count; i++)
		{
			float		gi = g[i] * clip;

			m[i] = b1 * m[i] + (1.0f - b1) * gi;
			v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
			w[i] -= flr * (m[i] * c1 / (sqrtf(v[i] * c2) + eps)) + decay * w[i];
		}
	}
	opt->step++;
	return norm;
}
