/*
 * model_fixture.h — tiny trained models saved to bytes, for the loader tests
 * (test/unit/test_model_loader.c) and the fuzz corpus (test/fuzz/make_corpus.c).
 * Header-only: both are single-file programs linked against the plain-C core.
 */
#ifndef NTG_MODEL_FIXTURE_H
#define NTG_MODEL_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "common/params.h"
#include "common/seqset.h"
#include "json_params.h"
#include "models/model.h"
#include "models/train_driver.h"

/* A few classes with distinct shapes, including an empty row and a value beyond smallint. */
static inline int
fixture_seqset(NtgSeqSet *set, NtgError *err)
{
	static const int32_t rows[][5] = {
		{100, -200, 300, 0, 0}, {100, -200, 0, 0, 0}, {-1448, 1448, -1448, 1448, 0},
		{52, -52, 0, 0, 0}, {40000, -20, 0, 0, 0}, {0}};
	static const int lens[] = {3, 2, 4, 2, 2, 0};
	static const char *labels[] = {"web", "web", "video", "dns", "video", "dns"};
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();

	if (b == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int rep = 0; rep < 3; rep++)
		for (int i = 0; i < 6; i++)
			if (ntg_seqset_builder_add(b, labels[i], rows[i], lens[i], err) != NTG_OK)
			{
				ntg_seqset_builder_free(b);
				return err->code;
			}
	return ntg_seqset_builder_finish(b, set, err);
}

/*
 * Train a tiny model of `kind` for one epoch and save it: *out is ntg_malloc'd.  The sizes are the
 * smallest the kind accepts that still have every tensor: llama's are written here, every other
 * kind's are its tiny_hyperparams (model.h).
 */
static inline int
fixture_model_bytes(const char *kind_name, uint8_t **out, size_t *out_len, NtgError *err)
{
	const NtgModelKind *kind = ntg_model_kind_find(kind_name);
	NtgSeqSet	set;
	NtgParams	params = {0};
	NtgModel *model = NULL;
	NtgTrainPlan topts;
	NtgRng		rng;
	double		loss;
	int			rc;

	if (kind == NULL)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "no kind \"%s\"", kind_name);
	if ((rc = fixture_seqset(&set, err)) != NTG_OK)
		return rc;
	if (strcmp(kind_name, "llama") == 0)
	{
		ntg_params_add_number(&params, "dim", 8, err);
		ntg_params_add_number(&params, "hidden_dim", 16, err);
		ntg_params_add_number(&params, "n_layers", 1, err);
		ntg_params_add_number(&params, "n_heads", 2, err);
		ntg_params_add_number(&params, "epochs", 1, err);
		ntg_params_add_number(&params, "batch_size", 4, err);
	}
	else if ((rc = json_params(kind->tiny_hyperparams, &params, err)) != NTG_OK)
		return rc;
	ntg_params_add_number(&params, "seed", 1, err);
	rc = kind->create(&params, &set, &model, &topts, err);
	if (rc == NTG_OK)
		rc = ntg_params_check_used(&params, kind_name, err);
	ntg_rng_seed(&rng, 1);
	if (rc == NTG_OK)
		rc = kind->train_epoch(model, &set, 0, &rng, &loss, err);
	if (rc == NTG_OK)
		rc = ntg_model_save(model, out, out_len, err);
	if (model != NULL)
		ntg_model_destroy(model);
	ntg_params_free(&params);
	ntg_seqset_free(&set);
	return rc;
}

/*
 * A model of any kind of the registry, trained through the driver with the kind's own
 * tiny_hyperparams on fixture_seqset() and saved: *out is ntg_malloc'd.  Every kind that is
 * registered gets a fuzz seed this way, without a line here.
 */
static inline int
fixture_tiny_model_bytes(const NtgModelKind *kind, uint8_t **out, size_t *out_len, NtgError *err)
{
	NtgSeqSet	set;
	NtgParams	params = {0};
	NtgTraining t;
	int			rc;

	if ((rc = fixture_seqset(&set, err)) != NTG_OK)
		return rc;
	rc = json_params(kind->tiny_hyperparams, &params, err);
	if (rc == NTG_OK)
		rc = ntg_training_prepare(&t, kind, &params, &set, NULL, err);
	else
		ntg_seqset_free(&set);
	ntg_params_free(&params);
	if (rc != NTG_OK)
		return rc;
	rc = ntg_training_run(&t, NULL, err);
	if (rc == NTG_OK)
		rc = ntg_training_save(&t, out, out_len, err);
	ntg_training_free(&t);
	return rc;
}

/*
 * Rewrite saved llama bytes with llama.config's format version set to `version` and the first
 * n_hparams values of llama.hparams (format 1, before token_noise: version 1 and 9): what an
 * older build saved.  *out is ntg_malloc'd.
 */
static inline int
fixture_llama_as_format(const uint8_t *buf, size_t len, int version, int n_hparams,
						uint8_t **out, size_t *out_len, NtgError *err)
{
	NtgBlob		in,
				blob;
	int32_t		conf[17];
	double		hp[11] = {0};	/* format 3's hyperparameters; n_hparams of them are kept */
	uint32_t	n = (uint32_t) n_hparams;
	int			rc;

	if ((rc = ntg_blob_parse(buf, len, &in, err)) != NTG_OK)
		return rc;
	rc = ntg_blob_read_tensor(&in, "llama.config", NTG_DTYPE_I32, 17, conf, err);
	if (rc == NTG_OK)
		rc = ntg_blob_read_tensor(&in, "llama.hparams", NTG_DTYPE_F64, 11, hp, err);
	conf[0] = version;
	ntg_blob_init(&blob, in.kind, in.config);
	for (int i = 0; rc == NTG_OK && i < in.n_tensors; i++)
	{
		const NtgBlobTensor *x = &in.tensors[i];

		if (strcmp(x->name, "llama.config") == 0)
			rc = ntg_blob_add(&blob, x->name, x->dtype, x->ndim, x->dims, conf, err);
		else if (strcmp(x->name, "llama.hparams") == 0)
			rc = ntg_blob_add(&blob, x->name, x->dtype, 1, &n, hp, err);
		else
			rc = ntg_blob_add(&blob, x->name, x->dtype, x->ndim, x->dims, x->data, err);
	}
	if (rc == NTG_OK)
		rc = ntg_blob_serialize(&blob, out, out_len, err);
	ntg_blob_free(&blob);
	ntg_blob_free(&in);
	return rc;
}

#endif							/* NTG_MODEL_FIXTURE_H */
