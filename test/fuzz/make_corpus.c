/*
 * make_corpus.c — write the seed corpus of the loader fuzz target: a real saved tiny model of every
 * kind of the registry, its int8 copies (weight_only and dynamic) for every quantizable kind, and
 * the llama in formats 1 and 2 (which the loader still reads).
 * Usage: make_corpus DIR
 */
#include <stdio.h>

#include "../unit/model_fixture.h"
#include "nn/nn_quant.h"

static int
write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		return -1;
	}
	printf("%s: %zu bytes\n", path, len);
	return 0;
}

/* The tiny model buf quantized in both modes, one seed each (int8 tensors and their scales). */
static int
write_quantized_seeds(const char *dir, const NtgModelKind *kind, const uint8_t *buf, size_t len)
{
	static const int modes[] = {NN_QUANT_WEIGHT_ONLY, NN_QUANT_DYNAMIC};

	for (int m = 0; m < 2; m++)
	{
		NtgModel   *model = NULL;
		NtgError	err;
		uint8_t    *q;
		size_t		q_len;
		char		name[128];
		int			rc;

		if (ntg_model_from_bytes(buf, len, &model, &err) != NTG_OK ||
			ntg_model_quantize(model, modes[m], &err) != NTG_OK ||
			ntg_model_save(model, &q, &q_len, &err) != NTG_OK)
		{
			fprintf(stderr, "could not quantize a tiny %s model: %s\n", kind->name, err.msg);
			if (model)
				ntg_model_destroy(model);
			return -1;
		}
		ntg_model_destroy(model);
		snprintf(name, sizeof(name), "%s_tiny_%s.ntgmodel", kind->name, nn_quant_mode_name(modes[m]));
		rc = write_seed(dir, name, q, q_len);
		ntg_free(q);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The llama's older formats the loader still reads: version and its count of hyperparameters. */
static const struct
{
	int			version;
	int			n_hparams;
}			old_formats[] = {{1, 9}, {2, 10}};

int
main(int argc, char **argv)
{
	uint8_t    *buf,
			   *old;
	size_t		len,
				old_len;
	char		name[128];
	NtgError	err;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < ntg_model_kind_count(); i++)
	{
		const NtgModelKind *kind = ntg_model_kind_at(i);

		if (fixture_tiny_model_bytes(kind, &buf, &len, &err) != NTG_OK)
		{
			fprintf(stderr, "could not build a tiny %s model: %s\n", kind->name, err.msg);
			return 1;
		}
		snprintf(name, sizeof(name), "%s_tiny.ntgmodel", kind->name);
		if (write_seed(argv[1], name, buf, len) != 0)
			return 1;
		if ((kind->caps & NTG_CAP_QUANTIZE) && write_quantized_seeds(argv[1], kind, buf, len) != 0)
			return 1;
		ntg_free(buf);
	}
	if (fixture_model_bytes("llama", &buf, &len, &err) != NTG_OK)
	{
		fprintf(stderr, "could not build the fixture model: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < (int) (sizeof(old_formats) / sizeof(old_formats[0])); i++)
	{
		if (fixture_llama_as_format(buf, len, old_formats[i].version, old_formats[i].n_hparams,
									&old, &old_len, &err) != NTG_OK)
		{
			fprintf(stderr, "could not rewrite the fixture as format %d: %s\n",
					old_formats[i].version, err.msg);
			return 1;
		}
		snprintf(name, sizeof(name), "llama_tiny_format%d.ntgmodel", old_formats[i].version);
		if (write_seed(argv[1], name, old, old_len) != 0)
			return 1;
		ntg_free(old);
	}
	ntg_free(buf);
	return 0;
}
