/*
 * registry.c — the table of model kinds.  A new kind is one line here (and its own files); the
 * SQL functions, the training driver, the cache and the conformance tests find it through this
 * table and need no change.
 */
#include "models/model.h"

#include <string.h>

#include "models/cvae.h"
#include "models/forest_kind.h"
#include "models/llama.h"
#include "models/mamba.h"

static const NtgModelKind *const kinds[] = {
	&ntg_llama_kind,
	&ntg_mamba_kind,
	&ntg_forest_kind,
	&ntg_cvae_kind,
};

#define N_KINDS ((int) (sizeof(kinds) / sizeof(kinds[0])))

int
ntg_model_kind_count(void)
{
	return N_KINDS;
}

const NtgModelKind *
ntg_model_kind_at(int i)
{
	return i >= 0 && i < N_KINDS ? kinds[i] : NULL;
}

const NtgModelKind *
ntg_model_kind_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (int i = 0; i < N_KINDS; i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

const char *
ntg_model_kind_names(unsigned caps)
{
	static char buf[512];
	size_t		pos = 0;

	buf[0] = '\0';
	for (int i = 0; i < N_KINDS; i++)
	{
		size_t		len = strlen(kinds[i]->name);

		if ((kinds[i]->caps & caps) != caps || pos + len + 3 >= sizeof(buf))
			continue;
		if (pos > 0)
		{
			memcpy(buf + pos, ", ", 2);
			pos += 2;
		}
		memcpy(buf + pos, kinds[i]->name, len + 1);
		pos += len;
	}
	return buf;
}

const char *
ntg_model_family_name(NtgModelFamily family)
{
	switch (family)
	{
		case NTG_FAMILY_TOKEN:
			return "token generator";
		case NTG_FAMILY_DIFFUSION:
			return "diffusion generator";
		case NTG_FAMILY_LATENT:
			return "latent generator";
		case NTG_FAMILY_CLASSIFIER:
			return "classifier";
	}
	return "unknown";
}
