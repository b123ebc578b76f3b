/*
 * nn_vae.h — the ops of the MLP generators (the cvae kind) that nn.h does not have: a ReLU
 * for fully connected layers (nn_mlp.c), and the two pieces of a Gaussian latent variable,
 * the reparameterised draw and its KL divergence from N(0, I) (nn_vae.c).  Same conventions as
 * nn.h: row-major [N, C] activations, every *_backward ACCUMULATES (+=) into its gradients.
 */
#ifndef NTG_NN_VAE_H
#define NTG_NN_VAE_H

#include <stddef.h>

/* out[i] = max(inp[i], 0) over n floats (out may be inp: in place) */
void		relu_forward(float *out, const float *inp, size_t n);
/* dinp[i] += dout[i] where out[i] > 0 (out: the forward's output, which is > 0 exactly where the
 * input was) */
void		relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/*
 * Reparameterised Gaussian draw, per row n of N and latent unit j of Z:
 *   z[n, j] = mu[n, j] + exp(logvar[n, j] / 2) * eps[n, j]
 * with mu and logvar the two halves of ml[N, 2Z] (mu first), eps[N, Z] the standard normal draws.
 * backward: dmu += dz, dlogvar += dz * eps * exp(logvar / 2) / 2, into dml[N, 2Z].
 */
void		reparam_forward(float *z, const float *ml, const float *eps, int N, int Z);
void		reparam_backward(float *dml, const float *dz, const float *ml, const float *eps,
							 int N, int Z);

/*
 * KL(N(mu, exp(logvar)) || N(0, I)) of each row of ml[N, 2Z]:
 *   kl[n] = 1/2 sum_j (mu^2 + exp(logvar) - 1 - logvar)
 * returns the sum over the rows (in double).  backward adds the gradient of scale * sum_n kl[n]:
 *   dmu += scale * mu,  dlogvar += scale * (exp(logvar) - 1) / 2.
 */
double		gauss_kl_forward(float *kl, const float *ml, int N, int Z);
void		gauss_kl_backward(float *dml, const float *ml, int N, int Z, float scale);

#endif							/* NTG_NN_VAE_H */
