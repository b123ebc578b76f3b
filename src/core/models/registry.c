/*
 * registry.c — the table of generator kinds and the one entry point for stored models.
 */
#include "models/generator.h"

#include <string.h>

#include "models/llama.h"

static const NtgGenKind *const kinds[] = {
	&ntg_llama_kind,
};

#define N_KINDS ((int) (sizeof(kinds) / sizeof(kinds[0])))

const NtgGenKind *
ntg_gen_kind_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (int i = 0; i < N_KINDS; i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

const char *
ntg_gen_kind_names(void)
{
	/* one kind for now; kept as a literal so the caller never frees it */
	return "llama";
}

int
ntg_gen_model_from_bytes(const uint8_t *buf, size_t len, NtgGenModel **model, NtgError *err)
{
	NtgBlob		blob;
	const NtgGenKind *kind;
	int			rc;

	*model = NULL;
	if ((rc = ntg_blob_parse(buf, len, &blob, err)) != NTG_OK)
		return rc;
	kind = ntg_gen_kind_find(blob.kind);
	if (kind == NULL)
	{
		rc = ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: unknown generator kind \"%s\"",
					   blob.kind);
		ntg_error_detail(err, "Known kinds are: %s.", ntg_gen_kind_names());
	}
	else
		rc = kind->load(&blob, model, err);
	ntg_blob_free(&blob);
	return rc;
}
