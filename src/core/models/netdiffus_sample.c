/*
 * netdiffus_sample.c — the noise schedule and generation: DDPM ancestral steps (Ho et al., 2020)
 * or DDIM steps (Song et al., 2021) over `steps` time steps spaced in 0..T-1 (evenly, or denser
 * near 0: option "spacing"; all T: the full DDPM chain), optional classifier-free guidance (Ho & Salimans, 2022), then the GASF image's
 * diagonal refined to observed values (gasf.c).
 *
 * Every step predicts eps, turns it into the clean image x0 = (x_t - sqrt(1 - abar_t) eps) /
 * sqrt(abar_t), clips x0 (option "clip") to the image of [-1, 1] (where GASF images lie) under the
 * model's standardization (netdiffus.h), and takes eps again from the clipped x0, as
 * guided-diffusion does.  On standardized traffic images that interval is lopsided (the typical
 * rows lie near one end of it, a few segmentation-offload rows far off at the other), so clipping
 * the early, noisy estimates pulls every row one way; "clip" false leaves them alone.  Then, with abar' the next (earlier) step's abar (1 after the
 * last):
 *   DDIM   x' = sqrt(abar') x0 + sqrt(1 - abar' - sigma^2) eps + sigma z,
 *          sigma = eta sqrt((1 - abar') / (1 - abar_t)) sqrt(1 - abar_t / abar')
 *   DDPM   x' = the posterior mean of x' given x_t and x0 + sqrt(beta~) z, with the step's beta =
 *          1 - abar_t / abar' (respaced when steps < T) and beta~ = beta (1 - abar') / (1 - abar_t).
 * Only the N x N pixels of the image are noised and denoised; the padding stays 0, as in training.
 *
 * Rows are denoised together (sample_batch rows, in passes of ND_MICRO images); each row draws
 * its noise from its own generator split off the caller's in row order, so a row does not depend
 * on how the rows were batched.
 */
#include "models/netdiffus.h"

#include <math.h>
#include <string.h>

void
netdiffus_schedule(int T, int cosine, double *betas, double *alphas_cumprod)
{
	double		prod = 1.0;

	for (int t = 0; t < T; t++)
	{
		double		b;

		if (cosine)
		{
			/* Nichol & Dhariwal (2021): abar(t) = f(t) / f(0), f(t) = cos^2((t/T + s)/(1 + s) pi/2) */
			double		s = 0.008;
			double		f0 = cos((t / (double) T + s) / (1.0 + s) * M_PI / 2),
						f1 = cos(((t + 1) / (double) T + s) / (1.0 + s) * M_PI / 2);

			b = 1.0 - (f1 * f1) / (f0 * f0);
			if (b > 0.999)
				b = 0.999;
		}
		else
		{
			/* DDPM's 1e-4 .. 0.02 over 1000 steps, scaled to keep the same path for other T */
			double		scale = 1000.0 / T;

			b = scale * 1e-4 + (scale * 0.02 - scale * 1e-4) * (T > 1 ? t / (double) (T - 1) : 0.0);
			if (b > 0.999)
				b = 0.999;
		}
		betas[t] = b;
		prod *= 1.0 - b;
		alphas_cumprod[t] = prod;
	}
}

/*
 * The steps taken, ascending, both ends included: step k of n at (T - 1) (k / (n - 1))^power
 * rounded (power 1: evenly spaced; 2: quadratic, as DDIM's paper offers, denser where the image is
 * nearly clean and its fine values are decided), then made strictly increasing from both ends.
 */
int
netdiffus_spaced_steps(int T, int steps, double power, int *tau)
{
	if (steps >= T)
		steps = T;
	if (steps <= 1)
	{
		tau[0] = T - 1;
		return 1;
	}
	for (int k = 0; k < steps; k++)
		tau[k] = (int) floor((T - 1) * pow((double) k / (steps - 1), power) + 0.5);
	for (int k = 1; k < steps; k++)
		if (tau[k] <= tau[k - 1])
			tau[k] = tau[k - 1] + 1;
	tau[steps - 1] = T - 1;
	for (int k = steps - 2; k >= 0; k--)
		if (tau[k] >= tau[k + 1])
			tau[k] = tau[k + 1] - 1;
	return steps;
}

typedef struct NdSampler
{
	int			ddim;
	int			clip;
	double		eta;
	double		guidance;
	int			n_steps;
	int		   *tau;
} NdSampler;

/*
 * eps for the n images x (S x S each) at step t: one forward over them with the class, and with
 * guidance one more without it, in passes of at most ND_MICRO images (both halves of a guided
 * pass together).
 */
static void
predict_eps(NetdiffusModel *m, const NdSampler *s, const float *x, int n, int t, int cls,
			float *eps, float *work, int *tv, int *cv)
{
	size_t		SS = (size_t) m->shape.S * m->shape.S;
	int			guided = s->guidance > 0.0;
	int			chunk = guided ? ND_MICRO / 2 : ND_MICRO;

	for (int r0 = 0; r0 < n; r0 += chunk)
	{
		int			k = n - r0 < chunk ? n - r0 : chunk;
		int			B = guided ? 2 * k : k;

		for (int b = 0; b < B; b++)
		{
			tv[b] = t;
			cv[b] = b < k ? cls : m->base.n_classes;
		}
		memcpy(work, x + r0 * SS, k * SS * sizeof(float));
		if (guided)
			memcpy(work + k * SS, x + r0 * SS, k * SS * sizeof(float));
		netdiffus_forward(m, work, tv, cv, B, work + (size_t) B * SS);
		if (!guided)
			memcpy(eps + r0 * SS, work + (size_t) B * SS, k * SS * sizeof(float));
		else
		{
			const float *ec = work + (size_t) B * SS,
					   *eu = ec + k * SS;
			float		w = (float) s->guidance;

			for (size_t i = 0; i < k * SS; i++)
				eps[r0 * SS + i] = (1.0f + w) * ec[i] - w * eu[i];
		}
		ntg_check_interrupts();
	}
}

/* One step from tau[k] for the n images x, given their eps. */
static void
denoise_step(NetdiffusModel *m, const NdSampler *s, int k, float *x, const float *eps, int n,
			 NtgRng *rows)
{
	int			N = m->cfg.max_len,
				S = m->shape.S;
	int			t = s->tau[k];
	double		ab = m->alphas_cumprod[t],
				abp = k > 0 ? m->alphas_cumprod[s->tau[k - 1]] : 1.0;
	double		sa = sqrt(ab),
				sn = sqrt(1.0 - ab);
	double		c0,
				ce,
				cx,
				sigma;

	if (s->ddim)
	{
		sigma = k > 0 ? s->eta * sqrt((1.0 - abp) / (1.0 - ab)) * sqrt(1.0 - ab / abp) : 0.0;
		c0 = sqrt(abp);
		ce = sqrt(fmax(1.0 - abp - sigma * sigma, 0.0));
		cx = 0.0;
	}
	else
	{
		double		beta = 1.0 - ab / abp;

		sigma = k > 0 ? sqrt(beta * (1.0 - abp) / (1.0 - ab)) : 0.0;
		c0 = sqrt(abp) * beta / (1.0 - ab);
		cx = sqrt(1.0 - beta) * (1.0 - abp) / (1.0 - ab);
		ce = 0.0;
	}
	for (int r = 0; r < n; r++)
		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++)
			{
				size_t		p = (size_t) r * S * S + i * S + j;
				double		x0 = (x[p] - sn * eps[p]) / sa;
				double		lo = (-1.0 - m->img_mean[i * N + j]) / m->img_std[i * N + j],
							hi = (1.0 - m->img_mean[i * N + j]) / m->img_std[i * N + j];
				double		e;

				/* the image of -1 <= G <= 1 */
				if (s->clip)
					x0 = x0 < lo ? lo : x0 > hi ? hi : x0;
				e = (x[p] - sa * x0) / sn;
				x[p] = (float) (c0 * x0 + ce * e + cx * x[p] +
								(sigma > 0.0 ? sigma * ntg_rng_normal(&rows[r]) : 0.0));
			}
}

/* Sampler settings from the options; tau is n_steps ints (allocated). */
static int
make_sampler(NetdiffusModel *m, const NtgSampleOptions *opts, NdSampler *s, NtgError *err)
{
	int			steps = (int) opts->value[ND_OPT_STEPS];

	if (steps > m->cfg.timesteps)
		steps = m->cfg.timesteps;
	s->ddim = opts->value[ND_OPT_DDIM] != 0.0;
	s->clip = opts->value[ND_OPT_CLIP] != 0.0;
	s->eta = opts->value[ND_OPT_ETA];
	s->guidance = opts->value[ND_OPT_GUIDANCE];
	s->tau = ntg_malloc((size_t) (steps > 0 ? steps : 1) * sizeof(int));
	if (s->tau == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	s->n_steps = netdiffus_spaced_steps(m->cfg.timesteps, steps < 1 ? 1 : steps,
										opts->value[ND_OPT_SPACING], s->tau);
	return NTG_OK;
}

int
netdiffus_sample_images(NetdiffusModel *m, int class_index, int n, const NtgSampleOptions *opts,
						NtgRng *rng, float *img, NtgError *err)
{
	int			N = m->cfg.max_len,
				S = m->shape.S;
	size_t		SS = (size_t) S * S;
	int			nb = n < m->cfg.sample_batch ? n : m->cfg.sample_batch;
	NdSampler	s = {0};
	float	   *x,
			   *eps,
			   *work;
	int		   *tv,
			   *cv;
	NtgRng	   *rows;
	int			rc = NTG_OK;

	if (class_index < 0 || class_index >= m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "class index %d out of range", class_index);
	if (n <= 0)
		return NTG_OK;
	if ((rc = make_sampler(m, opts, &s, err)) != NTG_OK)
		return rc;
	x = ntg_calloc((size_t) nb * SS, sizeof(float));
	eps = ntg_calloc((size_t) nb * SS, sizeof(float));
	work = ntg_malloc((size_t) 2 * ND_MICRO * SS * sizeof(float));
	tv = ntg_malloc(ND_MICRO * sizeof(int));
	cv = ntg_malloc(ND_MICRO * sizeof(int));
	rows = ntg_malloc((size_t) nb * sizeof(NtgRng));
	if (x == NULL || eps == NULL || work == NULL || tv == NULL || cv == NULL || rows == NULL ||
		netdiffus_ensure_acts(m, ND_MICRO < 2 * nb ? ND_MICRO : 2 * nb) != NTG_OK)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	nn_blas_init(m->cfg.blas_threads);
	netdiffus_pack_convs(m);
	for (int r0 = 0; rc == NTG_OK && r0 < n; r0 += nb)
	{
		int			k = n - r0 < nb ? n - r0 : nb;

		memset(x, 0, (size_t) k * SS * sizeof(float));
		for (int r = 0; r < k; r++)
		{
			ntg_rng_split(rng, (uint64_t) (r0 + r), &rows[r]);
			for (int i = 0; i < N; i++)
				for (int j = 0; j < N; j++)
					x[r * SS + i * S + j] = (float) ntg_rng_normal(&rows[r]);
		}
		for (int step = s.n_steps - 1; step >= 0; step--)
		{
			predict_eps(m, &s, x, k, s.tau[step], class_index, eps, work, tv, cv);
			denoise_step(m, &s, step, x, eps, k, rows);
		}
		/* back from the network's standardized form to the GASF image */
		for (int r = 0; r < k; r++)
			for (int i = 0; i < N; i++)
				for (int j = 0; j < N; j++)
					img[((size_t) (r0 + r) * N + i) * N + j] =
						x[r * SS + i * S + j] * m->img_std[i * N + j] + m->img_mean[i * N + j];
	}
	/* the packed weights stay for the next call (why: conv3 in netdiffus_unet.c) */
	ntg_free(x), ntg_free(eps), ntg_free(work), ntg_free(tv), ntg_free(cv), ntg_free(rows);
	ntg_free(s.tau);
	return rc;
}

int
netdiffus_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
				 NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	NetdiffusModel *m = (NetdiffusModel *) model;
	int			N = m->cfg.max_len;
	int			refine = (int) opts->value[ND_OPT_REFINE];
	GasfDecode	decode = opts->value[ND_OPT_FIT] != 0.0 ? GASF_DECODE_FIT : GASF_DECODE_DIAGONAL;
	float	   *img;
	int			rc;

	if (n <= 0)
		return NTG_OK;
	img = ntg_malloc((size_t) n * N * N * sizeof(float));
	if (img == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	rc = netdiffus_sample_images(m, class_index, n, opts, rng, img, err);
	for (int r = 0; rc == NTG_OK && r < n; r++)
	{
		memset(out + (size_t) r * N, 0, N * sizeof(int32_t));
		out_len[r] = gasf_decode(&m->gv, img + (size_t) r * N * N, N, class_index,
								 (GasfRefine) refine, decode, m->img_std, out + (size_t) r * N);
	}
	ntg_free(img);
	return rc;
}
