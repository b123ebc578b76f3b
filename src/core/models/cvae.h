/*
 * cvae.h — the conditional variational autoencoder generator (kind "cvae"), the paper's
 * non-sequence baseline (Table I: hidden sizes 500/250, latent 20, 6 layers).  A whole row is
 * one point: the first N values, each a token of the observed-value vocabulary (tokenizer.h;
 * <PAD> beyond the row's length), and its length.
 *
 *   encoder  x = [emb_in[x_0] .. emb_in[x_{N-1}], onehot(c)]            [N E + C]
 *            -> enc1 -> ReLU -> enc2 -> ReLU -> enc3 -> (mu, logvar)     500, 250, 2 x 20
 *   latent   z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)
 *   decoder  [z, onehot(c)] -> dec1 -> ReLU -> dec2 -> ReLU -> h        250, 500
 *            length:  len_head(h)                       N + 1 logits: the length 0..N
 *            values:  pos_head(h) = one E-vector per position, val_out(.) = n_values logits
 *
 * Every layer is fully connected with a bias.  The output is categorical (docs/cvae.md says why:
 * measured against a continuous output mapped to the nearest observed value): a generated row
 * draws its length, then each of its values, from these softmaxes, so every value it holds occurs
 * in the training rows.  The loss of a row is the negative ELBO: the cross-entropy of its length
 * and of each of its values, plus the KL divergence of q(z | x, c) from N(0, I) (weighted by
 * beta, annealed, while training).  The generic interface is ntg_cvae_kind; the rest is here
 * for tests and benchmarks.
 */
#ifndef NTG_CVAE_H
#define NTG_CVAE_H

#include "models/model.h"
#include "models/tokenizer.h"
#include "nn/nn.h"

extern const NtgModelKind ntg_cvae_kind;

/* Limits that load() enforces on a stored config (and create() on hyperparameters). */
#define CVAE_MAX_HIDDEN		8192
#define CVAE_MAX_LATENT		1024
#define CVAE_MAX_EMBED		1024
#define CVAE_MAX_LEN		256
#define CVAE_MAX_CLASSES	100000
#define CVAE_MAX_BATCH		65536
#define CVAE_MAX_PARAMS		(INT64_C(1) << 28)	/* 1 GB of weights */

/* Sampling options (ntg_cvae_kind.sample_options, in this order). */
enum
{
	CVAE_OPT_LATENT_TEMPERATURE = 0,
	CVAE_OPT_TEMPERATURE,
	CVAE_N_OPTIONS
};

typedef struct CvaeConfig
{
	int			hidden1;		/* 500: enc1's and dec2's width */
	int			hidden2;		/* 250: enc2's and dec1's width */
	int			latent_dim;		/* 20 */
	int			embed_dim;		/* E: value embedding (encoder input, decoder output) */
	int			max_len;		/* N: values per row at most */
	int			n_values;		/* observed-value vocabulary */
	/* training */
	int			epochs;
	int			batch_size;
	double		lr;
	double		min_lr_ratio;
	int64_t		warmup;
	int			cosine;
	double		weight_decay;
	double		grad_clip;
	double		beta1;
	double		beta2;
	double		beta;			/* weight of the KL term in the training objective */
	double		kl_anneal;		/* epochs over which that weight rises from 0 to beta */
	uint64_t	seed;
	int			sample_batch;	/* rows decoded together */
	int			blas_threads;
} CvaeConfig;

/* Tensor indices into the parameter buffer. */
typedef struct CvaeTensors
{
	int			emb_in;
	int			enc1_w,
				enc1_b,
				enc2_w,
				enc2_b,
				enc3_w,
				enc3_b;
	int			dec1_w,
				dec1_b,
				dec2_w,
				dec2_b;
	int			len_w,
				len_b,
				pos_w,
				pos_b,
				val_w,
				val_b;
} CvaeTensors;

typedef struct CvaeActs CvaeActs;
typedef struct CvaeLoop CvaeLoop;

typedef struct CvaeModel
{
	NtgModel	base;
	CvaeConfig	cfg;
	NtgTokenizer tok;			/* values only: <PAD> is token n_values; no <EOS> or classes */
	NnParams	params;
	CvaeTensors t;
	NnAdamW		opt;
	int64_t		steps_per_epoch;	/* for KL annealing */
	CvaeActs   *acts;			/* forward/backward buffers (cvae_pass.c), allocated on first use */
	CvaeLoop   *loop;			/* the epoch loop's buffers (cvae_train.c), likewise */
} CvaeModel;

/* One batch as the model sees it: B rows of class cls[b], tokens tok[b * N + t] (<PAD> =
 * n_values from position len[b] on), len[b] values scored; at_least[b] = 1 when the row goes on
 * beyond len[b] with a value the vocabulary lacks (held-out rows: the length term is then
 * -log P(length > len[b])); eps[b * Z + j] the standard normal draws of the latent. */
typedef struct CvaeBatch
{
	int			B;
	const int32_t *cls;
	const int32_t *tok;
	const int  *len;
	const uint8_t *at_least;
	const float *eps;
} CvaeBatch;

/* Losses of a batch, summed over its rows. */
typedef struct CvaeLoss
{
	double		rec;			/* reconstruction: -log p(length) - sum log p(value) */
	double		kl;				/* KL(q(z | x, c) || N(0, I)) */
	int64_t		targets;		/* scored values + one length per row */
} CvaeLoss;

/* Build the model object and its parameter buffer (weights zero; with_grad 1 also allocates the
 * gradient and Adam buffers; -1 declares the tensor layout only, no buffers: load() checks a
 * stored model's shapes with it before allocating).  Used by create and load. */
int			cvae_alloc(const CvaeConfig *cfg, int n_classes, CvaeModel **out, int with_grad,
					   NtgError *err);
/* Seeded initialisation: PyTorch's defaults (nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 * weights and biases; the input embedding N(0, 1)). */
void		cvae_init_weights(CvaeModel *m, uint64_t seed);
int64_t		cvae_param_count(const CvaeConfig *c, int n_classes);

/*
 * Forward (and backward) over a batch.  update 0: losses only; 1: backward and an AdamW step
 * with the KL weighted by kl_weight, the objective being the mean over the rows of
 * rec + kl_weight * kl; 2: backward only, the gradients left in params.grad (tests).
 */
int			cvae_step(CvaeModel *m, const CvaeBatch *b, int update, double kl_weight,
					  CvaeLoss *loss, NtgError *err);
/* The KL weight of training step `step` (0-based): beta * min(1, (step + 1) / anneal steps). */
double		cvae_kl_weight(const CvaeModel *m, int64_t step);

/*
 * Decode n rows of class class_index from latents drawn here: per row, in row order, latent_dim
 * normal draws (times latent_temperature), one uniform for the length and max_len for the values,
 * so that a row does not depend on how the rows are batched (batch = rows decoded together).
 */
int			cvae_sample_batched(CvaeModel *m, int class_index, int n, int batch,
								double latent_temperature, double temperature, NtgRng *rng,
								int32_t *out, int *out_len, NtgError *err);

/* The NtgModelKind entry points (cvae_train.c, cvae_sample.c, cvae_io.c). */
int			cvae_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
							 double *mean_loss, NtgError *err);
int			cvae_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss,
						   int64_t *scored, NtgError *err);
int			cvae_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
						NtgRng *rng, int32_t *out, int *out_len, NtgError *err);
int			cvae_save(NtgModel *model, NtgBlob *blob, NtgError *err);
int			cvae_load(const NtgBlob *blob, NtgModel **model, NtgError *err);

/* Helpers shared by the cvae_*.c files. */
char	   *cvae_config_json(const NtgModel *model);
void		cvae_configure_optimizer(CvaeModel *m, int64_t n_rows);
/* cvae_pass.c: bytes of the pass buffers for batches of batch_size rows; rows whose buffers fit
 * at once (want, at most `most`, fewer when a row's are large); rows per pass of a batch of S;
 * the buffers for passes of S rows. */
size_t		cvae_acts_bytes(const CvaeConfig *c, int n_classes);
int			cvae_rows_fit(const CvaeConfig *c, int n_classes, int want, int most);
int			cvae_micro_rows(const CvaeModel *m, int S);
int			cvae_ensure_acts(CvaeModel *m, int S);
void		cvae_free_acts(CvaeModel *m);
/* cvae_train.c: bytes of the epoch loop's buffers for n_rows training rows; free them. */
size_t		cvae_loop_bytes(const CvaeConfig *c, int64_t n_rows);
void		cvae_free_loop(CvaeModel *m);
/* The decoder over S rows of latents z [S, latent_dim] and classes: NTG_ERR_NOMEM or NTG_OK with
 * *len_logits = the length logits [S, max_len + 1] (in the model's buffers). */
int			cvae_decode(CvaeModel *m, const float *z, const int32_t *cls, int S,
						float **len_logits);
/* Then pack positions 0 .. len[s] - 1 of each row s in row order (returns their number M, and
 * in *slice how many cvae_value_logits can take at once), and the value logits of packed
 * positions first .. first + n - 1 ([n, n_values], in the model's buffers). */
int			cvae_pack_values(CvaeModel *m, const int *len, int S, int *slice);
float	   *cvae_value_logits(CvaeModel *m, int first, int n);

#endif							/* NTG_CVAE_H */
