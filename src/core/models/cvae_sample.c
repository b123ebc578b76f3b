/*
 * cvae_sample.c — generation: z ~ N(0, t^2 I) (t = latent_temperature), the decoder, then per row
 * its length from the length head and each of its values from its position's softmax over the
 * observed-value vocabulary (logits divided by temperature).  Only values of the vocabulary can
 * come out, and at most max_len of them.
 *
 * Rows are decoded in chunks (sample_batch rows, fewer when a row's buffers are large), one matrix
 * product per layer for the chunk, and the value logits in slices of packed positions.  Every row takes its random numbers in row
 * order from the caller's generator — latent_dim normals, one uniform for its length, max_len for
 * its values, used or not — so the rows do not depend on the chunking: n rows one at a time are
 * the same as n rows at once.
 */
#include "models/cvae.h"
#include "nn/nn_simd.h"

#include <float.h>
#include <math.h>
#include <string.h>

/*
 * Index drawn from softmax(z / temperature) at the uniform u, by the inverse of the cumulative
 * distribution; never an index of probability 0.  z (the model's logits buffer) is overwritten by
 * the weights.  The weights are float exponentials of the vector kernels, as the token models'
 * draws (token_draw.c), and only their sums are double: libm's double exp, one call per value of
 * the vocabulary, took 40 % of a batched call.  inv_t is 1 / temperature capped to FLT_MAX, so
 * that a tiny temperature cannot overflow.
 *
 * The total is four running sums, and the search skips whole groups of four weights below u
 * before it walks one weight at a time: one chain of dependent additions per value took a fifth
 * of a batched call.  A group's sum and the walk inside it round differently, so the walk goes on
 * past the group when it must.
 */
static int
draw(float *z, int K, float inv_t, double u)
{
	double		part[4] = {0.0, 0.0, 0.0, 0.0},
				total,
				acc = 0.0;
	int			i;

	nn_vshift_scale(z, K, nn_vmax(z, K), inv_t);
	nn_vexp(z, K);
	for (i = 0; i + 4 <= K; i += 4)
		for (int j = 0; j < 4; j++)
			part[j] += z[i + j];
	total = (part[0] + part[1]) + (part[2] + part[3]);
	for (; i < K; i++)
		total += z[i];
	u *= total;
	for (i = 0; i + 4 <= K; i += 4)
	{
		double		s = ((double) z[i] + z[i + 1]) + ((double) z[i + 2] + z[i + 3]);

		if (u < acc + s)
			break;
		acc += s;
	}
	for (; i < K; i++)
	{
		if (z[i] <= 0.0f)
			continue;
		acc += z[i];
		if (u < acc)
			return i;
	}
	/* u at the very top (rounding): the last index of positive weight */
	for (i = K - 1; i > 0 && !(z[i] > 0.0f); i--)
		;
	return i;
}

int
cvae_sample_batched(CvaeModel *m, int class_index, int n, int batch, double latent_temperature,
					double temperature, NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	int			Z = m->cfg.latent_dim,
				N = m->cfg.max_len,
				V = m->cfg.n_values;
	float		inv_t = (float) fmin(1.0 / temperature, FLT_MAX);
	int			S = cvae_rows_fit(&m->cfg, m->base.n_classes, batch < n ? batch : n, CVAE_MAX_BATCH);
	float	   *z;
	double	   *u;
	int32_t    *cls;
	int		   *len;
	int			rc = NTG_OK;

	if (class_index < 0 || class_index >= m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "class index %d out of range", class_index);
	if (n <= 0)
		return NTG_OK;
	nn_blas_init(m->cfg.blas_threads);
	z = ntg_malloc((size_t) S * Z * sizeof(float));
	u = ntg_malloc((size_t) S * (N + 1) * sizeof(double));
	cls = ntg_malloc(S * sizeof(int32_t));
	len = ntg_malloc(S * sizeof(int));
	if (z == NULL || u == NULL || cls == NULL || len == NULL)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int r0 = 0; rc == NTG_OK && r0 < n; r0 += S)
	{
		int			rows = n - r0 < S ? n - r0 : S;
		int			M,
					slice;
		float	   *len_logits;

		ntg_check_interrupts();
		for (int s = 0; s < rows; s++)
		{
			for (int j = 0; j < Z; j++)
				z[(size_t) s * Z + j] = (float) (ntg_rng_normal(rng) * latent_temperature);
			for (int j = 0; j <= N; j++)
				u[(size_t) s * (N + 1) + j] = ntg_rng_double(rng);
			cls[s] = class_index;
		}
		if (cvae_decode(m, z, cls, rows, &len_logits) != NTG_OK)
		{
			rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
			break;
		}
		for (int s = 0; s < rows; s++)
		{
			len[s] = draw(len_logits + (size_t) s * (N + 1), N + 1, inv_t, u[(size_t) s * (N + 1)]);
			out_len[r0 + s] = len[s];
		}
		/* the values, a slice of packed positions (row s, position t, in order) at a time */
		M = cvae_pack_values(m, len, rows, &slice);
		for (int k0 = 0, s = 0, t = 0; k0 < M; k0 += slice)
		{
			int			k1 = M - k0 < slice ? M : k0 + slice;
			float	   *logits = cvae_value_logits(m, k0, k1 - k0);

			for (int k = k0; k < k1; k++, t++, logits += V)
			{
				while (t >= len[s])
					s++, t = 0;
				out[(size_t) (r0 + s) * N + t] =
					m->tok.values[draw(logits, V, inv_t, u[(size_t) s * (N + 1) + 1 + t])];
			}
		}
	}
	ntg_free(z);
	ntg_free(u);
	ntg_free(cls);
	ntg_free(len);
	return rc;
}

int
cvae_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts, NtgRng *rng,
			int32_t *out, int *out_len, NtgError *err)
{
	CvaeModel  *m = (CvaeModel *) model;

	return cvae_sample_batched(m, class_index, n, m->cfg.sample_batch,
							   opts->value[CVAE_OPT_LATENT_TEMPERATURE],
							   opts->value[CVAE_OPT_TEMPERATURE], rng, out, out_len, err);
}
