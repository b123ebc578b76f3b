/*
 * quantize_core.c — int8 quantization of a llama or a mamba on the plain-C core, without
 * PostgreSQL: the measurements behind what bench/quantize_bench.sh prints at the core level, and
 * behind the choice of the matrices a quantized model keeps in int8 (docs/quantization.md).
 *
 *   quantize_core --tsv ROWS [--kind llama|mamba] [--epochs 10] [--seed 1] [--samples 100]
 *                 [--rounds 3] [--model FILE] [--param KEY=NUMBER]...
 *
 * ROWS: label<TAB>v1,v2,... (all rows train and score), or split<TAB>label<TAB>{v1,...} (rows of
 * split "train" train, rows of "test" score; bench/make_rows.py writes both).  --model FILE loads
 * a stored float model of the kind from FILE when it exists, else trains one and writes it there.
 *
 * For float, weight-only and dynamic, and for the variants that keep the token embedding, the
 * output head or (mamba) A_log in float: stored bytes, held-out loss (nats per scored token of the scoring rows),
 * mean KL(float || variant) of the next-token distributions at every position of the scoring rows,
 * and generation time per row (CPU time of this process; one row per call as one-row SQL calls
 * make them, and all --samples rows of a class in one call; the fastest of --rounds rounds over
 * all variants), one thread.  One table on stdout.
 *
 * Also the share of that time spent in the matrix products (every nn_matmul call, int8 kernels
 * and the activations' quantization included), from one more round with each call timed: built
 * with -Wl,--wrap=nn_matmul (bench/quantize_bench.sh does), the calls the models make go through
 * __wrap_nn_matmul below.  A second table: per mode, the products' and the rest's ms per row, and
 * the speed-up over float32 that the mode would reach if its products took no time at all (the
 * float32 time over the rest's): what int8 products can give a kind at most, one row at a time
 * and batched.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/seqset.h"
#include "models/llama.h"
#include "models/mamba.h"
#include "models/train_driver.h"

#include "core_bench.h"

#include <x86intrin.h>

/* ---- time spent in the matrix products ---------------------------------------------------- */

void		__real_nn_matmul(float *out, const float *inp, NnParams *p, int t, int N, int C, int OC);
void		__wrap_nn_matmul(float *out, const float *inp, NnParams *p, int t, int N, int C, int OC);

_Static_assert(__builtin_types_compatible_p(__typeof__(&nn_matmul), __typeof__(&__wrap_nn_matmul)),
			   "__wrap_nn_matmul must take nn_matmul's arguments");

static int	products_timed;		/* time the calls (one round after the plain ones) */
static uint64_t products_ticks;
static double products_macs;	/* multiply-adds of the timed calls */

void
__wrap_nn_matmul(float *out, const float *inp, NnParams *p, int t, int N, int C, int OC)
{
	uint64_t	t0;

	if (!products_timed)
	{
		__real_nn_matmul(out, inp, p, t, N, C, OC);
		return;
	}
	t0 = __rdtsc();
	__real_nn_matmul(out, inp, p, t, N, C, OC);
	products_ticks += __rdtsc() - t0;
	products_macs += (double) N * C * OC;
}

/* What this program needs of a model of either kind: the parameters, the embedding and head
 * tensors, the tokenizer and the next-token distribution after a history. */
typedef struct KindView
{
	NnParams   *params;
	int			t_emb;
	int			t_out;
	const NtgTokenizer *tok;
	int			max_len;
	int			vocab_size;
} KindView;

static KindView
view(NtgModel *m)
{
	KindView	v;

	if (m->kind == &ntg_mamba_kind)
	{
		MambaModel *mm = (MambaModel *) m;

		v = (KindView) {&mm->params, mm->t_emb, mm->t_out, &mm->tok, mm->cfg.max_len, mm->cfg.vocab_size};
	}
	else
	{
		LlamaModel *lm = (LlamaModel *) m;

		v = (KindView) {&lm->params, lm->t_emb, lm->t_out, &lm->tok, lm->cfg.max_len, lm->cfg.vocab_size};
	}
	return v;
}

static int
next_probs(NtgModel *m, const int32_t *tok, int len, float *p, NtgError *err)
{
	if (m->kind == &ntg_mamba_kind)
		return mamba_next_probs((MambaModel *) m, tok, len, p, err);
	return llama_next_probs((LlamaModel *) m, tok, len, p, err);
}

typedef struct Variant
{
	const char *name;
	int			mode;
	int			float_emb;		/* keep the token embedding in float */
	int			float_head;		/* keep the output head in float */
	int			float_stored;	/* keep float what is stored as int8 and read as floats (the
								 * mamba's A_log): such a model cannot be stored */
} Variant;

static const Variant variants[] = {
	{"float32", NN_QUANT_NONE, 0, 0},
	{"weight_only", NN_QUANT_WEIGHT_ONLY, 0, 0},
	{"dynamic", NN_QUANT_DYNAMIC, 0, 0},
	{"weight_only, embedding float", NN_QUANT_WEIGHT_ONLY, 1, 0},
	{"weight_only, head float", NN_QUANT_WEIGHT_ONLY, 0, 1},
	{"dynamic, embedding float", NN_QUANT_DYNAMIC, 1, 0},
	{"dynamic, head float", NN_QUANT_DYNAMIC, 0, 1},
	{"dynamic, both float", NN_QUANT_DYNAMIC, 1, 1},
	{"dynamic, A_log float", NN_QUANT_DYNAMIC, 0, 0, 1},	/* mamba only */
};
#define N_VARIANTS ((int) (sizeof(variants) / sizeof(variants[0])))

/* Stored bytes of a variant: the real value when the format allows it, else (printed with "~")
 * the float model's bytes less what the int8 tensors save: 3 bytes a weight, less their scales
 * and tensor entries. */
static size_t
variant_bytes(NtgModel *m, const Variant *v, size_t float_bytes)
{
	uint8_t    *buf;
	size_t		len = 0;
	NtgError	err;
	int64_t		saved = 0;

	if (!v->float_emb && !v->float_head && !v->float_stored)
	{
		if (v->mode == NN_QUANT_NONE)
			return float_bytes;
		if (ntg_model_save(m, &buf, &len, &err) != NTG_OK)
			return 0;
		ntg_free(buf);
		return len;
	}
	NnParams   *p = view(m).params;

	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];

		if (p->quant != NN_QUANT_NONE && t->quantizable)
			saved += (int64_t) t->count * 3 - (int64_t) t->dims[0] * 4 - 24;
	}
	return float_bytes - (size_t) saved;
}

/* Token history of a scoring row: <CLASS_c> then its known values; returns its length. */
static int
encode(NtgModel *m, const NtgSeqSet *set, int r, int32_t *tok)
{
	int			len,
				n = 0;
	const int32_t *row = ntg_seqset_row(set, r, &len);
	int			cls = -1;
	KindView	v = view(m);

	for (int c = 0; c < m->n_classes; c++)
		if (strcmp(m->classes[c], set->classes[set->row_class[r]]) == 0)
			cls = c;
	if (cls < 0)
		return 0;
	tok[n++] = ntg_tok_class(v.tok, cls);
	for (int i = 0; i < len && n < v.max_len; i++)
	{
		int			t = ntg_tok_value_token(v.tok, row[i]);

		if (t < 0)
			break;
		tok[n++] = t;
	}
	return n;
}

/* Mean KL(p || q) over the next-token distributions at every position of the scoring rows. */
static double
mean_kl(NtgModel *pm, NtgModel *qm, const NtgSeqSet *set)
{
	int			K = view(pm).tok->n_values + 1;
	float	   *p = malloc(sizeof(float) * K),
			   *q = malloc(sizeof(float) * K);
	int32_t		tok[(LLAMA_MAX_LEN > MAMBA_MAX_LEN ? LLAMA_MAX_LEN : MAMBA_MAX_LEN) + 1];
	double		sum = 0;
	long		n = 0;
	NtgError	err;

	for (int r = 0; r < set->n_rows; r++)
	{
		int			len = encode(pm, set, r, tok);

		for (int l = 1; l <= len; l++)
		{
			double		kl = 0;

			if (next_probs(pm, tok, l, p, &err) != NTG_OK ||
				next_probs(qm, tok, l, q, &err) != NTG_OK)
				continue;
			for (int i = 0; i < K; i++)
				if (p[i] > 0)
					kl += p[i] * log(p[i] / fmax(q[i], 1e-30));
			sum += kl;
			n++;
		}
	}
	free(p);
	free(q);
	return n > 0 ? sum / n : 0;
}

/* What the timed round finds of the products, one row per call [0] and batched [1]. */
typedef struct ProductShare
{
	double		share[2];		/* of the time: ticks inside nn_matmul over the loop's */
	double		gmacs[2];		/* multiply-adds per ns of product time */
} ProductShare;

/*
 * CPU ms per row: one row per call, and `samples` rows of each class in one call.  With ps set,
 * the products' share of each and their rate instead (one round with the calls timed).
 */
static void
time_generation(NtgModel *m, int samples, double *one, double *batched, ProductShare *ps)
{
	int			rows = samples * m->n_classes;
	int32_t    *out = malloc(sizeof(int32_t) * (size_t) samples * m->max_len);
	int		   *lens = malloc(sizeof(int) * samples);
	NtgRng		rng;
	NtgError	err;
	double		t0;
	uint64_t	tick0;
	double		ms[2];

	ntg_rng_seed(&rng, 7);
	m->kind->sample(m, 0, 1, &m->sampling, &rng, out, lens, &err);	/* buffers made */
	products_timed = ps != NULL;
	for (int batch = 0; batch < 2; batch++)
	{
		products_ticks = 0;
		products_macs = 0;
		tick0 = __rdtsc();
		t0 = cpu_now();
		for (int r = 0; r < (batch ? m->n_classes : rows); r++)
			m->kind->sample(m, r % m->n_classes, batch ? samples : 1, &m->sampling, &rng, out,
							lens, &err);
		ms[batch] = (cpu_now() - t0) * 1e3;
		if (ps != NULL)
		{
			ps->share[batch] = (double) products_ticks / (__rdtsc() - tick0);
			ps->gmacs[batch] = products_macs / (ps->share[batch] * ms[batch] * 1e6);
		}
	}
	*one = ms[0] / rows;
	*batched = ms[1] / rows;
	products_timed = 0;
	free(out);
	free(lens);
}

/* The second table: products and the rest of the float32, weight-only and dynamic rows. */
static void
print_products(const double *one, const double *batched, const ProductShare *ps)
{
	printf("\n| mode | products one at a time (ms/row, share) | rest | products batched (ms/row, "
		   "share) | rest | products' multiply-adds per ns: one at a time / batched | speed-up "
		   "over float32 if the products took no time: one at a time / batched |\n"
		   "|---|---|---|---|---|---|---|\n");
	for (int v = 0; v < 3; v++)
	{
		double		po = one[v] * ps[v].share[0],
					pb = batched[v] * ps[v].share[1];

		printf("| %s | %.4f (%.0f %%) | %.4f | %.4f (%.0f %%) | %.4f | %.1f / %.1f | %.2fx / %.2fx |\n",
			   variants[v].name, po, 100 * ps[v].share[0], one[v] - po, pb, 100 * ps[v].share[1],
			   batched[v] - pb, ps[v].gmacs[0], ps[v].gmacs[1], one[0] / (one[v] - po),
			   batched[0] / (batched[v] - pb));
	}
}

int
main(int argc, char **argv)
{
	const char *tsv = NULL,
			   *model_path = NULL;
	int			samples = 100;
	NtgParams	p = {0};
	NtgSeqSet	train = {0},
				test = {0};
	NtgError	err;
	uint8_t    *fbuf;
	size_t		flen;
	NtgModel   *fm,
			   *qm[N_VARIANTS];
	double		one[N_VARIANTS],
				batched[N_VARIANTS];
	ProductShare shares[3];
	int			rounds = 3;
	const NtgModelKind *kind = &ntg_llama_kind;

	ntg_params_add_integer(&p, "seed", 1, &err);
	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (strcmp(argv[i], "--tsv") == 0)
			tsv = argv[i + 1];
		else if (strcmp(argv[i], "--kind") == 0)
		{
			kind = ntg_model_kind_find(argv[i + 1]);
			if (kind != &ntg_llama_kind && kind != &ntg_mamba_kind)
			{
				fprintf(stderr, "--kind: llama or mamba\n");
				return 2;
			}
		}
		else if (strcmp(argv[i], "--model") == 0)
			model_path = argv[i + 1];
		else if (strcmp(argv[i], "--samples") == 0)
			samples = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--epochs") == 0 || strcmp(argv[i], "--seed") == 0)
			ntg_params_add_integer(&p, argv[i] + 2, atoi(argv[i + 1]), &err);
		else if (strcmp(argv[i], "--param") == 0 && strchr(argv[i + 1], '=') != NULL)
		{
			char		key[64];
			const char *eq = strchr(argv[i + 1], '=');

			snprintf(key, sizeof(key), "%.*s", (int) (eq - argv[i + 1]), argv[i + 1]);
			ntg_params_add_number(&p, key, atof(eq + 1), &err);
		}
		else
		{
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (tsv == NULL || read_rows(tsv, &train, &test) != 0)
	{
		fprintf(stderr, "usage: %s --tsv ROWS [--epochs E] [--seed S] [--samples N] [--model FILE]\n",
				argv[0]);
		return 2;
	}
	if (load_or_train(model_path, kind, &train, &p, &fbuf, &flen) != 0)
		return 1;
	if (ntg_model_from_bytes(fbuf, flen, &fm, &err) != NTG_OK)
	{
		fprintf(stderr, "load: %s\n", err.msg);
		return 1;
	}
	if (fm->kind != kind)
	{
		fprintf(stderr, "the stored model is a %s, not a %s\n", fm->kind->name, kind->name);
		return 1;
	}
	printf("%s: %d training rows, %d scoring rows, %d classes, vocabulary %d, %lld parameters; "
		   "int8 kernels: %s; %d rows per class\n", kind->name, train.n_rows, test.n_rows,
		   fm->n_classes, view(fm).vocab_size, (long long) fm->n_params,
		   nn_qsimd_name(nn_qsimd_level()), samples);
	printf("| variant | stored bytes | of float | held-out loss | mean KL(float, variant) | "
		   "ms/row one at a time | speed-up | ms/row batched | speed-up |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (int v = 0; v < N_VARIANTS; v++)
	{
		const Variant *var = &variants[v];
		KindView	kv;

		ntg_model_from_bytes(fbuf, flen, &qm[v], &err);
		kv = view(qm[v]);
		if (var->float_emb)
			nn_params_mark_quantizable(kv.params, kv.t_emb, 0);
		if (var->float_head)
			nn_params_mark_quantizable(kv.params, kv.t_out, 0);
		for (int i = 0; var->float_stored && i < kv.params->n_tensors; i++)
			if (kv.params->tensors[i].quantizable == NN_QUANTIZE_STORED)
				nn_params_mark_quantizable(kv.params, i, 0);
		if (var->mode != NN_QUANT_NONE && ntg_model_quantize(qm[v], var->mode, &err) != NTG_OK)
		{
			fprintf(stderr, "quantize: %s\n", err.msg);
			return 1;
		}
		one[v] = batched[v] = INFINITY;
	}
	/* rounds over all variants, the fastest of each: other load on the machine hits some
	 * rounds, not the computation */
	for (int round = 0; round < rounds; round++)
		for (int v = 0; v < N_VARIANTS; v++)
		{
			double		o,
						b;

			time_generation(qm[v], samples, &o, &b, NULL);
			one[v] = fmin(one[v], o);
			batched[v] = fmin(batched[v], b);
		}
	for (int v = 0; v < 3; v++)
	{
		double		o,
					b;

		time_generation(qm[v], samples, &o, &b, &shares[v]);
	}
	for (int v = 0; v < N_VARIANTS; v++)
	{
		const Variant *var = &variants[v];
		double		loss = 0,
					kl;
		size_t		bytes = variant_bytes(qm[v], var, flen);

		if (var->float_stored && kind != &ntg_mamba_kind)
		{
			ntg_model_destroy(qm[v]);	/* nothing is stored-only: the dynamic row again */
			continue;
		}
		kind->eval_loss(qm[v], &test, &loss, NULL, &err);
		kl = var->mode == NN_QUANT_NONE ? 0 : mean_kl(fm, qm[v], &test);
		printf("| %s | %s%zu | %.1f %% | %.4f | %.2e | %.4f | %.2fx | %.4f | %.2fx |\n", var->name,
			   var->float_emb || var->float_head || var->float_stored ? "~" : "", bytes,
			   100.0 * bytes / flen, loss, kl, one[v], one[0] / one[v], batched[v],
			   batched[0] / batched[v]);
		fflush(stdout);
		ntg_model_destroy(qm[v]);
	}
	print_products(one, batched, shares);
	return 0;
}
