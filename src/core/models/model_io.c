/*
 * model_io.c — stored models of every kind: the kind's own tensors (kind->save / kind->load)
 * plus what the framework keeps for every model:
 *
 *   sampling.names   u8      generators: the sampling options' names, each NUL-terminated
 *   sampling.values  f64[n]  and their values: the defaults this model samples with
 *   sampling.copies  i32[n, 3]  generators: hashes (low, high 32 bits) and counts of the training
 *   sampling.copies.offsets  i32[classes + 1]  sequences per class (copy_guard.c)
 *
 * A generator stored without them (before sampling defaults existed) samples with each option's
 * legacy value, which is how it sampled then.  Stored values are checked like a caller's
 * options: an unknown name or a value out of range is damage (NTG_ERR_CORRUPT).
 *
 * A quantized model's config JSON (the container's, for people reading a stored value) gets a
 * "quantization" key; its tensors are the kind's business (nn/nn_store.h).
 */
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

/* ---- class names ----------------------------------------------------------------------------- */

int
ntg_model_copy_classes(NtgModel *model, char *const *classes, int n, NtgError *err)
{
	model->classes = ntg_calloc(n > 0 ? n : 1, sizeof(char *));
	if (model->classes == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		if ((model->classes[i] = ntg_strdup(classes[i])) == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}

void
ntg_model_free_classes(NtgModel *model)
{
	if (model->classes != NULL)
		for (int i = 0; i < model->n_classes; i++)
			ntg_free(model->classes[i]);
	ntg_free(model->classes);
	model->classes = NULL;
}

/* ---- sampling defaults ----------------------------------------------------------------------- */

static int
add_sampling(NtgBlob *blob, const NtgModel *model, NtgError *err)
{
	const NtgModelKind *kind = model->kind;
	char	   *names[NTG_MAX_SAMPLE_OPTIONS];
	uint32_t	dims[1];
	int			rc;

	for (int i = 0; i < kind->n_sample_options; i++)
		names[i] = (char *) kind->sample_options[i].name;
	/* option names are in spec order, not sorted: stored as plain NUL-separated names */
	{
		size_t		len = 0,
					pos = 0;
		uint8_t    *buf;

		for (int i = 0; i < kind->n_sample_options; i++)
			len += strlen(names[i]) + 1;
		if ((buf = ntg_malloc(len)) == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		for (int i = 0; i < kind->n_sample_options; i++)
		{
			memcpy(buf + pos, names[i], strlen(names[i]) + 1);
			pos += strlen(names[i]) + 1;
		}
		dims[0] = (uint32_t) len;
		rc = ntg_blob_add_copy(blob, "sampling.names", NTG_DTYPE_U8, 1, dims, buf, err);
		ntg_free(buf);
	}
	dims[0] = (uint32_t) kind->n_sample_options;
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "sampling.values", NTG_DTYPE_F64, 1, dims,
							   model->sampling.value, err);
	return rc;
}

/* Read the stored sampling defaults over the legacy values (kinds without options: none). */
static int
read_sampling(const NtgBlob *blob, NtgModel *model, NtgError *err)
{
	const NtgModelKind *kind = model->kind;
	const NtgBlobTensor *tn = ntg_blob_find(blob, "sampling.names");
	const NtgBlobTensor *tv = ntg_blob_find(blob, "sampling.values");
	double		values[NTG_MAX_SAMPLE_OPTIONS];
	const char *names;
	size_t		len,
				pos = 0;
	int			n,
				seen = 0;

	ntg_sample_options_defaults(kind, 1, &model->sampling);
	if (tn == NULL && tv == NULL)
		return NTG_OK;
	if (tn == NULL || tv == NULL || tn->dtype != NTG_DTYPE_U8 || tv->dtype != NTG_DTYPE_F64 ||
		tv->ndim != 1 || tv->dims[0] > NTG_MAX_SAMPLE_OPTIONS)
		return corrupt(err, "the sampling defaults are damaged");
	n = (int) tv->dims[0];
	memcpy(values, tv->data, n * sizeof(double));
	names = (const char *) tn->data;
	len = (size_t) tn->nbytes;
	for (int i = 0; i < n; i++)
	{
		const char *end = pos < len ? memchr(names + pos, '\0', len - pos) : NULL;
		int			k;

		if (end == NULL || (k = ntg_sample_option_index(kind, names + pos)) < 0 ||
			(seen & (1 << k)))
			return corrupt(err, "the sampling defaults name an unknown option");
		seen |= 1 << k;
		model->sampling.value[k] = values[i];
		pos = (size_t) (end - names) + 1;
	}
	if (pos != len)
		return corrupt(err, "the sampling defaults are damaged");
	/* the same checks as a caller's options */
	for (int k = 0; k < kind->n_sample_options; k++)
	{
		const NtgOptionSpec *o = &kind->sample_options[k];
		double		v = model->sampling.value[k];

		if (!isfinite(v) || v < o->min || v > o->max || (o->min_open && v == o->min) ||
			(o->type != NTG_OPTION_NUMBER && v != floor(v)))
			return corrupt(err, "a stored sampling default is out of range");
	}
	return NTG_OK;
}

/* ---- save and load --------------------------------------------------------------------------- */

/* {..., "quantization": "dynamic"} for a quantized model's config. */
static int
add_quantization(NtgBlob *blob, const NtgModel *model, NtgError *err)
{
	const char *cfg = blob->config != NULL ? blob->config : "{}";
	size_t		len = strlen(cfg);
	char	   *json;

	while (len > 0 && cfg[len - 1] != '}')
		len--;
	if (len == 0 || (json = ntg_malloc(len + 64)) == NULL)
		return ntg_error(err, len == 0 ? NTG_ERR_INTERNAL : NTG_ERR_NOMEM,
						 len == 0 ? "model config is not a JSON object" : "out of memory");
	memcpy(json, cfg, len - 1);
	snprintf(json + len - 1, 64, "%s\"quantization\": \"%s\"}",
			 strspn(cfg + 1, " \t\n") == len - 2 ? "" : ", ",
			 nn_quant_mode_name(model->quantization));
	ntg_blob_take_config(blob, json);
	return NTG_OK;
}

int
ntg_model_save(NtgModel *model, uint8_t **out, size_t *out_len, NtgError *err)
{
	NtgBlob		blob;
	int			rc;

	*out = NULL;
	*out_len = 0;
	memset(&blob, 0, sizeof(blob));
	rc = model->kind->save(model, &blob, err);
	if (rc == NTG_OK && model->quantization != NN_QUANT_NONE)
		rc = add_quantization(&blob, model, err);
	if (rc == NTG_OK && (model->kind->caps & NTG_CAP_GENERATE) && model->kind->n_sample_options > 0)
		rc = add_sampling(&blob, model, err);
	if (rc == NTG_OK && (model->kind->caps & NTG_CAP_GENERATE) && model->copies != NULL)
		rc = ntg_copy_index_save(model->copies, &blob, err);
	if (rc == NTG_OK)
		rc = ntg_blob_serialize(&blob, out, out_len, err);
	ntg_blob_free(&blob);
	return rc;
}

/* Load a parsed blob with kind's loader and the generic parts. */
static int
load_blob(const NtgModelKind *kind, const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	int			rc;

	if ((rc = kind->load(blob, model, err)) != NTG_OK)
		return rc;
	if ((rc = read_sampling(blob, *model, err)) == NTG_OK && (kind->caps & NTG_CAP_GENERATE))
		rc = ntg_copy_index_load(blob, (*model)->n_classes, &(*model)->copies, err);
	if (rc != NTG_OK)
	{
		ntg_model_destroy(*model);
		*model = NULL;
	}
	return rc;
}

static int
from_bytes(const uint8_t *buf, size_t len, int borrow, NtgModel **model, NtgError *err)
{
	NtgBlob		blob;
	const NtgModelKind *kind;
	int			rc;

	*model = NULL;
	if ((rc = ntg_blob_parse(buf, len, &blob, err)) != NTG_OK)
		return rc;
	blob.borrow = borrow;
	kind = ntg_model_kind_find(blob.kind);
	if (kind == NULL)
	{
		rc = ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: unknown model kind \"%s\"",
					   blob.kind);
		ntg_error_detail(err, "Known kinds are: %s.", ntg_model_kind_names(0));
	}
	else
		rc = load_blob(kind, &blob, model, err);
	ntg_blob_free(&blob);
	return rc;
}

int
ntg_model_from_bytes(const uint8_t *buf, size_t len, NtgModel **model, NtgError *err)
{
	return from_bytes(buf, len, 0, model, err);
}

int
ntg_model_from_bytes_borrow(const uint8_t *buf, size_t len, NtgModel **model, NtgError *err)
{
	return from_bytes(buf, len, 1, model, err);
}

int
ntg_model_from_bytes_of(const NtgModelKind *kind, const uint8_t *buf, size_t len,
						NtgModel **model, NtgError *err)
{
	NtgBlob		blob;
	int			rc;

	*model = NULL;
	if ((rc = ntg_blob_parse(buf, len, &blob, err)) != NTG_OK)
		return rc;
	if (strcmp(blob.kind, kind->name) != 0)
		rc = ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: a \"%s\" model, not \"%s\"",
					   blob.kind, kind->name);
	else
		rc = load_blob(kind, &blob, model, err);
	ntg_blob_free(&blob);
	return rc;
}

int
ntg_model_quantize(NtgModel *model, int mode, NtgError *err)
{
	const NtgModelKind *kind = model->kind;

	if (!(kind->caps & NTG_CAP_QUANTIZE) || kind->quantize == NULL)
	{
		ntg_error(err, NTG_ERR_UNSUPPORTED, "a %s model cannot be quantized", kind->name);
		ntg_error_hint(err, "Kinds that can: %s.", ntg_model_kind_names(NTG_CAP_QUANTIZE));
		return NTG_ERR_UNSUPPORTED;
	}
	if (mode != NN_QUANT_WEIGHT_ONLY && mode != NN_QUANT_DYNAMIC)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "unknown quantization mode %d", mode);
	return kind->quantize(model, mode, err);
}

void
ntg_model_destroy(NtgModel *model)
{
	if (model == NULL)
		return;
	ntg_copy_index_free(model->copies);
	model->copies = NULL;
	model->kind->destroy(model);
}

int
ntg_model_classify(const NtgModel *model, const int32_t *values, int len, double *proba)
{
	int			best = 0;

	model->kind->predict_proba(model, values, len, proba);
	for (int k = 1; k < model->n_classes; k++)
		if (proba[k] > proba[best])
			best = k;
	return best;
}
