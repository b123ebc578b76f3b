/*
 * test_copy_guard.c — copy control at sampling time (models/copy_guard.c): the index of training
 * sequences, Good-Turing's keep probabilities, storage, and ntg_model_sample with a generator that
 * copies (a stand-in kind whose draws are known) and with a real llama that learnt its rows by heart.
 */
#include <math.h>
#include <string.h>

#include "common/seqset.h"
#include "models/llama.h"
#include "models/model.h"
#include "models/token_sampling.h"
#include "models/train_driver.h"
#include "unit.h"

/*
 * Class "a": {1} x4, {2} x2, {3} x2, {4}, {5}, {6}, {7} (N1 = 4, N2 = 2, N4 = 1 (4 copies of 1)):
 * r*(1) = 2 N2 / N1 = 1, keep 1; sequences seen more often are always kept;
 * class "b": {9, 9} once (N2 = 0: never kept).
 */
static void
make_rows(NtgSeqSet *set)
{
	static const int32_t a[] = {1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7};
	NtgSeqSetBuilder *bld = ntg_seqset_builder_new();
	int32_t		nine[2] = {9, 9};
	NtgError	err = {0};

	for (int i = 0; i < 12; i++)
		ntg_seqset_builder_add(bld, "a", &a[i], 1, &err);
	ntg_seqset_builder_add(bld, "b", nine, 2, &err);
	ntg_seqset_builder_finish(bld, set, &err);
}

static void
test_index(void)
{
	NtgSeqSet	set;
	NtgCopyIndex *ix,
			   *back;
	NtgBlob		blob;
	uint8_t    *buf;
	size_t		len;
	NtgBlob		parsed;
	NtgError	err = {0};
	int32_t		v[2] = {9, 9};

	make_rows(&set);
	ix = ntg_copy_index_build(&set);
	ok(ix != NULL && ix->n == 8 && ix->n_classes == 2, "index: 7 distinct sequences in a, 1 in b");
	is_int(ntg_copy_index_count(ix, 0, (int32_t[]) {1}, 1), 4, "{1} seen 4 times in a");
	is_int(ntg_copy_index_count(ix, 0, (int32_t[]) {7}, 1), 1, "{7} seen once");
	is_int(ntg_copy_index_count(ix, 0, (int32_t[]) {8}, 1), 0, "{8} never");
	is_int(ntg_copy_index_count(ix, 1, (int32_t[]) {1}, 1), 0, "{1} is not a row of b");
	is_int(ntg_copy_index_count(ix, 1, v, 2), 1, "{9, 9} seen once in b");
	is_int(ntg_copy_index_count(ix, 1, v, 1), 0, "{9} is another sequence than {9, 9}");
	is_double(ntg_copy_keep_probability(ix, 0, 1, 1.0), 1.0, 1e-12, "a, r = 1: r* = 2 N2 / N1 = 1");
	is_double(ntg_copy_keep_probability(ix, 0, 1, 0.5), 0.5, 1e-12, "copy_budget scales it");
	is_double(ntg_copy_keep_probability(ix, 0, 2, 0.0), 1.0, 1e-12, "a, r = 2: always kept, even at budget 0");
	is_double(ntg_copy_keep_probability(ix, 0, 4, 0.0), 1.0, 1e-12, "a, r = 4: always kept");
	is_double(ntg_copy_keep_probability(ix, 1, 1, 3.0), 0.0, 1e-12, "b: one singleton, N2 = 0");

	/* storage round trip, and damage refused */
	memset(&blob, 0, sizeof(blob));
	ntg_blob_init(&blob, "llama", "{}");	/* the config is borrowed */
	ok(ntg_copy_index_save(ix, &blob, &err) == NTG_OK &&
	   ntg_blob_serialize(&blob, &buf, &len, &err) == NTG_OK, "saved");
	ok(ntg_blob_parse(buf, len, &parsed, &err) == NTG_OK &&
	   ntg_copy_index_load(&parsed, 2, &back, &err) == NTG_OK && back != NULL &&
	   back->n == ix->n && memcmp(back->hashes, ix->hashes, 8 * ix->n) == 0 &&
	   memcmp(back->counts, ix->counts, 4 * ix->n) == 0 &&
	   memcmp(back->count_of_counts, ix->count_of_counts, 4 * 2 * 3) == 0,
	   "loaded back the same");
	ntg_copy_index_free(back);
	ok(ntg_copy_index_load(&parsed, 3, &back, &err) == NTG_ERR_CORRUPT, "a class count that does not fit is damage");
	{
		NtgBlobTensor *t = NULL;

		for (int i = 0; i < parsed.n_tensors; i++)
			if (strcmp(parsed.tensors[i].name, "sampling.copies") == 0)
				t = &parsed.tensors[i];
		/* swap two hashes of class a: no longer ascending */
		if (t != NULL)
		{
			int32_t    *rows = (int32_t *) t->data,
						tmp[3];

			memcpy(tmp, rows, sizeof(tmp));
			memcpy(rows, rows + 3, sizeof(tmp));
			memcpy(rows + 3, tmp, sizeof(tmp));
		}
		ok(t != NULL && ntg_copy_index_load(&parsed, 2, &back, &err) == NTG_ERR_CORRUPT,
		   "hashes out of order are damage");
	}
	ntg_blob_free(&parsed);
	ntg_free(buf);
	ntg_blob_free(&blob);
	ntg_copy_index_free(ix);
	ntg_seqset_free(&set);
}

/* ---- a stand-in generator: each row is a copy of {7} (seen once) with probability copy_p, or {8} */

static double copy_p = 0.9;
static int	copier_calls = 0;

static int
copier_sample(NtgModel *m, int c, int n, const NtgSampleOptions *o, NtgRng *rng, int32_t *out,
			  int *out_len, NtgError *err)
{
	copier_calls++;
	for (int i = 0; i < n; i++)
	{
		out[(size_t) i * m->max_len] = ntg_rng_double(rng) < copy_p ? 7 : 8;
		out_len[i] = 1;
	}
	return NTG_OK;
}

static void
copier_destroy(NtgModel *m)
{
	ntg_free(m);
}

static const NtgModelKind copier_kind = {
	.name = "copier", .caps = NTG_CAP_GENERATE, .sample_options = ntg_token_sample_options,
	.n_sample_options = NTG_TOKEN_N_OPTIONS, .sample = copier_sample, .destroy = copier_destroy
};

static int
count_sevens(NtgModel *m, NtgSampleOptions *o, uint64_t seed, int n, int32_t *out, int *len)
{
	NtgRng		rng;
	NtgError	err = {0};
	int			sevens = 0;

	ntg_rng_seed(&rng, seed);
	if (ntg_model_sample(m, 0, n, o, &rng, out, len, &err) != NTG_OK)
		return -1;
	for (int i = 0; i < n; i++)
		sevens += len[i] == 1 && out[(size_t) i * m->max_len] == 7;
	return sevens;
}

static void
test_sample(void)
{
	NtgSeqSet	set;
	NtgModel   *m = ntg_calloc(1, sizeof(NtgModel));
	NtgSampleOptions o;
	int32_t		out[4000];
	int			len[4000];
	NtgRng		rng;
	NtgError	err = {0};
	int			off,
				strict,
				half;

	make_rows(&set);
	m->kind = &copier_kind;
	m->n_classes = 2;
	m->max_len = 1;
	ntg_sample_options_defaults(&copier_kind, 0, &o);
	ntg_rng_seed(&rng, 1);
	o.value[NTG_TOKEN_OPT_COPY_GUARD] = 1;
	ok(ntg_model_sample(m, 0, 10, &o, &rng, out, len, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "keeps no hashes") != NULL, "copy_guard on a model without the index: refused");
	m->copies = ntg_copy_index_build(&set);
	o.value[NTG_TOKEN_OPT_COPY_GUARD] = 0;
	off = count_sevens(m, &o, 2, 4000, out, len);
	ok(off > 3500, "copy_guard off: about 90 %% copies of the training row {7} (%d of 4000)", off);
	o.value[NTG_TOKEN_OPT_COPY_GUARD] = 1;
	o.value[NTG_TOKEN_OPT_COPY_BUDGET] = 0;
	strict = count_sevens(m, &o, 2, 4000, out, len);
	is_int(strict, 0, "copy_guard with copy_budget 0: no copy of a sequence seen once");
	/* {7} is seen once in a: kept with probability min(1, b * r*(1)) = b (r*(1) = 1) */
	o.value[NTG_TOKEN_OPT_COPY_BUDGET] = 0.5;
	half = count_sevens(m, &o, 3, 4000, out, len);
	/* a row is kept as a copy with p = 0.9 * 0.5 per draw, novel with 0.1: 0.45 / 0.55 of rows */
	ok(half > 4000 * 0.45 / 0.55 - 120 && half < 4000 * 0.45 / 0.55 + 120,
	   "copy_budget 0.5: copies kept at half the rate, refused ones drawn again (%d of 4000, expected %.0f)",
	   half, 4000 * 0.45 / 0.55);
	is_int(count_sevens(m, &o, 3, 4000, out, len), half, "the same seed gives the same rows");
	o.value[NTG_TOKEN_OPT_COPY_BUDGET] = 1.0;
	ok(count_sevens(m, &o, 4, 4000, out, len) > 3500, "copy_budget 1 keeps {7} (Good-Turing says it repeats)");
	/* a generator of nothing but copies: the sampler gives up after NTG_COPY_STALL idle rounds */
	copy_p = 1.0;
	copier_calls = 0;
	o.value[NTG_TOKEN_OPT_COPY_BUDGET] = 0;
	is_int(count_sevens(m, &o, 5, 100, out, len), 100, "a generator that only copies: the copies are kept");
	is_int(copier_calls, 1 + NTG_COPY_STALL, "after the first draw and NTG_COPY_STALL * n draws that kept none");
	copy_p = 0.9;
	ntg_model_destroy(m);
	ntg_seqset_free(&set);
}

/*
 * A real generator that copies: a small llama trained until it reproduces its training rows,
 * which are all distinct (N2 = 0: Good-Turing says fresh traffic repeats none of them).
 */
static void
test_llama(void)
{
	NtgSeqSetBuilder *bld = ntg_seqset_builder_new();
	NtgSeqSet	rows;
	NtgParams	p = {0};
	NtgTraining t;
	NtgSampleOptions o;
	NtgRng		rng;
	NtgError	err = {0};
	int32_t    *out;
	int		   *len;
	int			n = 300,
				copies[2] = {0, 0};

	for (int i = 0; i < 90; i++)
	{
		int32_t		v[3] = {(i % 3) * 10 + i % 7, -(i % 11), i % 5};

		ntg_seqset_builder_add(bld, i % 3 ? "x" : "y", v, 3, &err);
	}
	ntg_seqset_builder_finish(bld, &rows, &err);
	ntg_params_add_number(&p, "epochs", 200, &err);
	ntg_params_add_number(&p, "lr", 0.003, &err);
	ntg_params_add_number(&p, "dim", 32, &err);
	ntg_params_add_number(&p, "hidden_dim", 64, &err);
	ntg_params_add_number(&p, "n_layers", 1, &err);
	ntg_params_add_number(&p, "n_heads", 2, &err);
	ntg_params_add_number(&p, "batch_size", 8, &err);
	/* no regularisation (llama's defaults have both): this model must learn its rows by heart */
	ntg_params_add_number(&p, "dropout", 0.0, &err);
	ntg_params_add_number(&p, "token_noise", 0.0, &err);
	ok(ntg_training_prepare(&t, &ntg_llama_kind, &p, &rows, NULL, &err) == NTG_OK &&
	   ntg_training_run(&t, &(NtgTrainHooks) {.quiet = 1}, &err) == NTG_OK, "llama trains");
	ok(t.model->copies != NULL && t.model->copies->n == 90, "the driver keeps the 90 training sequences");
	out = ntg_malloc(sizeof(int32_t) * n * t.model->max_len);
	len = ntg_malloc(sizeof(int) * n);
	o = t.model->sampling;
	for (int guard = 0; guard < 2; guard++)
	{
		o.value[NTG_TOKEN_OPT_COPY_GUARD] = guard;
		ntg_rng_seed(&rng, 5);
		for (int c = 0; c < 2; c++)
		{
			ntg_model_sample(t.model, c, n, &o, &rng, out, len, &err);
			for (int i = 0; i < n; i++)
				copies[guard] += ntg_copy_index_count(t.model->copies, c, out + (size_t) i * t.model->max_len,
													  len[i]) > 0;
		}
	}
	ok(copies[0] > 300, "without copy_guard the model copies its training rows (%d of 600 rows)", copies[0]);
	is_int(copies[1], 0, "with copy_guard it copies none of them");
	ntg_free(out);
	ntg_free(len);
	ntg_params_free(&p);
	ntg_training_free(&t);

	/* held-out validation rows are not training rows: the index has the 72 rows trained on */
	{
		NtgSeqSetBuilder *b2 = ntg_seqset_builder_new();
		NtgParams	q = {0};

		for (int i = 0; i < 90; i++)
		{
			int32_t		v[3] = {(i % 3) * 10 + i % 7, -(i % 11), i % 5};

			ntg_seqset_builder_add(b2, i % 3 ? "x" : "y", v, 3, &err);
		}
		ntg_seqset_builder_finish(b2, &rows, &err);
		ntg_params_add_number(&q, "epochs", 1, &err);
		ntg_params_add_number(&q, "dim", 8, &err);
		ntg_params_add_number(&q, "hidden_dim", 8, &err);
		ntg_params_add_number(&q, "n_layers", 1, &err);
		ntg_params_add_number(&q, "n_heads", 2, &err);
		ntg_params_add_number(&q, "validation", 0.2, &err);
		ok(ntg_training_prepare(&t, &ntg_llama_kind, &q, &rows, NULL, &err) == NTG_OK &&
		   t.model->copies != NULL && t.model->copies->n == t.train.n_rows && t.train.n_rows == 72,
		   "with validation 0.2 the index holds the 72 rows trained on, not the held-out ones");
		ntg_params_free(&q);
		ntg_training_free(&t);
	}
}

int
main(void)
{
	test_index();
	test_sample();
	test_llama();
	return done_testing();
}
