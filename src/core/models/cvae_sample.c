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

#include <math.h>
#include <string.h>

/* Index drawn from softmax(logits / temperature) at the uniform u, by the inverse of the
 * cumulative distribution (in double); never an index of probability 0.  w: K doubles of scratch,
 * so that each weight's exp is computed once (computed again for the running sum, exp took a
 * fifth of a batched call). */
static int
draw(const float *logits, int K, double temperature, double u, double *w)
{
	double		mx = -INFINITY,
				total = 0.0,
				acc = 0.0;
	int			last = 0;

	for (int i = 0; i < K; i++)
		mx = logits[i] > mx ? logits[i] : mx;
	for (int i = 0; i < K; i++)
		total += w[i] = exp(((double) logits[i] - mx) / temperature);
	u *= total;
	for (int i = 0; i < K; i++)
	{
		if (w[i] <= 0.0)
			continue;
		last = i;
		acc += w[i];
		if (u < acc)
			return i;
	}
	return last;
}

int
cvae_sample_batched(CvaeModel *m, int class_index, int n, int batch, double latent_temperature,
					double temperature, NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	int			Z = m->cfg.latent_dim,
				N = m->cfg.max_len,
				V = m->cfg.n_values;
	int			S = cvae_rows_fit(&m->cfg, m->base.n_classes, batch < n ? batch : n, CVAE_MAX_BATCH);
	float	   *z;
	double	   *u,
			   *w;
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
	w = ntg_malloc((size_t) (V > N + 1 ? V : N + 1) * sizeof(double));
	if (z == NULL || u == NULL || cls == NULL || len == NULL || w == NULL)
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
			len[s] = draw(len_logits + (size_t) s * (N + 1), N + 1, temperature,
						  u[(size_t) s * (N + 1)], w);
			out_len[r0 + s] = len[s];
		}
		/* the values, a slice of packed positions (row s, position t, in order) at a time */
		M = cvae_pack_values(m, len, rows, &slice);
		for (int k0 = 0, s = 0, t = 0; k0 < M; k0 += slice)
		{
			int			k1 = M - k0 < slice ? M : k0 + slice;
			const float *logits = cvae_value_logits(m, k0, k1 - k0);

			for (int k = k0; k < k1; k++, t++, logits += V)
			{
				while (t >= len[s])
					s++, t = 0;
				out[(size_t) (r0 + s) * N + t] =
					m->tok.values[draw(logits, V, temperature, u[(size_t) s * (N + 1) + 1 + t], w)];
			}
		}
	}
	ntg_free(z);
	ntg_free(u);
	ntg_free(cls);
	ntg_free(len);
	ntg_free(w);
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
