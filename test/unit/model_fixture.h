/*
 * model_fixture.h — a tiny trained generator saved to bytes, for the loader tests
 * (test/unit/test_model_loader.c) and the fuzz corpus (test/fuzz/make_corpus.c).
 * Header-only: both are single-file programs linked against the plain-C core.
 */
#ifndef NTG_MODEL_FIXTURE_H
#define NTG_MODEL_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "common/params.h"
#include "common/seqset.h"
#include "models/generator.h"

/* A few classes with distinct shapes, including an empty row and a value beyond smallint. */
static int
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
 * smallest the kind accepts that still have every tensor.
 */
static int
fixture_model_bytes(const char *kind_name, uint8_t **out, size_t *out_len, NtgError *err)
{
	const NtgGenKind *kind = ntg_gen_kind_find(kind_name);
	NtgSeqSet	set;
	NtgParams	params = {0};
	NtgGenModel *model = NULL;
	NtgTrainOptions topts;
	char	   *config = NULL;
	NtgRng		rng;
	double		loss;
	int			rc;

	if (kind == NULL)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "no kind \"%s\"", kind_name);
	if ((rc = fixture_seqset(&set, err)) != NTG_OK)
		return rc;
	ntg_params_add_number(&params, "dim", 8, err);
	ntg_params_add_number(&params, "hidden_dim", 16, err);
	ntg_params_add_number(&params, "n_layers", 1, err);
	ntg_params_add_number(&params, "n_heads", 2, err);
	ntg_params_add_number(&params, "epochs", 1, err);
	ntg_params_add_number(&params, "batch_size", 4, err);
	ntg_params_add_number(&params, "seed", 1, err);
	rc = kind->create(&params, &set, &model, &topts, &config, err);
	if (rc == NTG_OK)
		rc = ntg_params_check_used(&params, kind_name, err);
	ntg_rng_seed(&rng, 1);
	if (rc == NTG_OK)
		rc = kind->train_epoch(model, &set, 0, &rng, &loss, err);
	if (rc == NTG_OK)
		rc = kind->save(model, out, out_len, err);
	if (model != NULL)
		kind->destroy(model);
	ntg_free(config);
	ntg_params_free(&params);
	ntg_seqset_free(&set);
	return rc;
}

#endif							/* NTG_MODEL_FIXTURE_H */
