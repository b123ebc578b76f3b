/*
 * nn_vae.c — the Gaussian latent variable of a variational autoencoder (nn_vae.h): the
 * reparameterised draw z = mu + sigma * eps (Kingma & Welling, Auto-Encoding Variational Bayes,
 * 2014), which makes z a differentiable function of the encoder's outputs, and the closed-form
 * KL divergence of N(mu, sigma^2) from N(0, 1), with sigma^2 = exp(logvar).
 */
#include "nn/nn_vae.h"

#include <math.h>

void
reparam_forward(float *z, const float *ml, const float *eps, int N, int Z)
{
	for (int n = 0; n < N; n++)
	{
		const float *mu = ml + (size_t) n * 2 * Z;
		const float *lv = mu + Z;

		for (int j = 0; j < Z; j++)
			z[(size_t) n * Z + j] = mu[j] + expf(0.5f * lv[j]) * eps[(size_t) n * Z + j];
	}
}

void
reparam_backward(float *dml, const float *dz, const float *ml, const float *eps, int N, int Z)
{
	for (int n = 0; n < N; n++)
	{
		const float *lv = ml + (size_t) n * 2 * Z + Z;
		float	   *dmu = dml + (size_t) n * 2 * Z;
		float	   *dlv = dmu + Z;

		for (int j = 0; j < Z; j++)
		{
			float		d = dz[(size_t) n * Z + j];

			dmu[j] += d;
			dlv[j] += d * eps[(size_t) n * Z + j] * 0.5f * expf(0.5f * lv[j]);
		}
	}
}

double
gauss_kl_forward(float *kl, const float *ml, int N, int Z)
{
	double		total = 0.0;

	for (int n = 0; n < N; n++)
	{
		const float *mu = ml + (size_t) n * 2 * Z;
		const float *lv = mu + Z;
		double		s = 0.0;

		for (int j = 0; j < Z; j++)
			s += (double) mu[j] * mu[j] + exp((double) lv[j]) - 1.0 - lv[j];
		kl[n] = (float) (0.5 * s);
		total += 0.5 * s;
	}
	return total;
}

void
gauss_kl_backward(float *dml, const float *ml, int N, int Z, float scale)
{
	for (int n = 0; n < N; n++)
	{
		const float *mu = ml + (size_t) n * 2 * Z;
		const float *lv = mu + Z;
		float	   *dmu = dml + (size_t) n * 2 * Z;
		float	   *dlv = dmu + Z;

		for (int j = 0; j < Z; j++)
		{
			dmu[j] += scale * mu[j];
			dlv[j] += scale * 0.5f * (expf(lv[j]) - 1.0f);
		}
	}
}
