/*
 * params.c — typed, range-checked access to hyperparameters (see params.h).
 */
#include "common/params.h"

#include <math.h>
#include <string.h>

static NtgParam *
append(NtgParams *p, const char *key, NtgParamType type, NtgError *err)
{
	NtgParam   *items = ntg_realloc(p->items, sizeof(NtgParam) * (p->n + 1));

	if (items == NULL)
	{
		ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	p->items = items;
	memset(&items[p->n], 0, sizeof(NtgParam));
	items[p->n].type = type;
	if ((items[p->n].key = ntg_strdup(key)) == NULL)
	{
		ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return &items[p->n++];
}

int
ntg_params_add_number(NtgParams *p, const char *key, double v, NtgError *err)
{
	NtgParam   *it = append(p, key, NTG_PARAM_NUMBER, err);

	if (it == NULL)
		return err ? err->code : NTG_ERR_NOMEM;
	it->number = v;
	return NTG_OK;
}

int
ntg_params_add_integer(NtgParams *p, const char *key, int64_t v, NtgError *err)
{
	NtgParam   *it = append(p, key, NTG_PARAM_NUMBER, err);

	if (it == NULL)
		return err ? err->code : NTG_ERR_NOMEM;
	it->number = (double) v;
	it->is_integer = 1;
	it->integer = v;
	return NTG_OK;
}

int
ntg_params_add_bool(NtgParams *p, const char *key, int v, NtgError *err)
{
	NtgParam   *it = append(p, key, NTG_PARAM_BOOL, err);

	if (it == NULL)
		return err ? err->code : NTG_ERR_NOMEM;
	it->number = v ? 1 : 0;
	return NTG_OK;
}

int
ntg_params_add_string(NtgParams *p, const char *key, const char *v, NtgError *err)
{
	NtgParam   *it = append(p, key, NTG_PARAM_STRING, err);

	if (it == NULL)
		return err ? err->code : NTG_ERR_NOMEM;
	if ((it->string = ntg_strdup(v)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}

static NtgParam *
lookup(NtgParams *p, const char *key)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->items[i].key, key) == 0)
		{
			p->items[i].used = 1;
			return &p->items[i];
		}
	return NULL;
}

int
ntg_params_int(NtgParams *p, const char *key, int64_t dflt, int64_t min, int64_t max,
			   int64_t *out, NtgError *err)
{
	NtgParam   *it = lookup(p, key);
	int64_t		v;

	*out = dflt;
	if (it == NULL)
		return NTG_OK;
	if (it->type != NTG_PARAM_NUMBER || it->number != floor(it->number))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "hyperparameter \"%s\" must be an integer", key);
	/* 2^63 as a double would compare equal to INT64_MAX converted to double: test the range
	 * on the exact integer, and refuse doubles at or beyond 2^63 outright */
	if (!it->is_integer && fabs(it->number) >= 9223372036854775808.0)
		goto range;
	v = it->is_integer ? it->integer : (int64_t) it->number;
	if (v < min || v > max)
		goto range;
	*out = v;
	return NTG_OK;

range:
	return ntg_error(err, NTG_ERR_INVALID_ARG,
					 "hyperparameter \"%s\" must be between %lld and %lld", key,
					 (long long) min, (long long) max);
}

int
ntg_params_double(NtgParams *p, const char *key, double dflt, double min, double max,
				  double *out, NtgError *err)
{
	NtgParam   *it = lookup(p, key);

	*out = dflt;
	if (it == NULL)
		return NTG_OK;
	if (it->type != NTG_PARAM_NUMBER || !isfinite(it->number))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "hyperparameter \"%s\" must be a number", key);
	if (it->number < min || it->number > max)
		return ntg_error(err, NTG_ERR_INVALID_ARG,
						 "hyperparameter \"%s\" must be between %g and %g", key, min, max);
	*out = it->number;
	return NTG_OK;
}

int
ntg_params_bool(NtgParams *p, const char *key, int dflt, int *out, NtgError *err)
{
	NtgParam   *it = lookup(p, key);

	*out = dflt;
	if (it == NULL)
		return NTG_OK;
	if (it->type != NTG_PARAM_BOOL)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "hyperparameter \"%s\" must be true or false", key);
	*out = it->number != 0;
	return NTG_OK;
}

int
ntg_params_string(NtgParams *p, const char *key, const char *dflt, const char *const *allowed,
				  const char **out, NtgError *err)
{
	NtgParam   *it = lookup(p, key);

	*out = dflt;
	if (it == NULL)
		return NTG_OK;
	if (it->type != NTG_PARAM_STRING)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "hyperparameter \"%s\" must be a string", key);
	if (allowed != NULL)
	{
		int			found = 0;

		for (int i = 0; allowed[i] != NULL; i++)
			found |= strcmp(allowed[i], it->string) == 0;
		if (!found)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "hyperparameter \"%s\" has an unknown value \"%s\"", key, it->string);
	}
	*out = it->string;
	return NTG_OK;
}

int
ntg_params_take_prefix(NtgParams *p, const char *prefix, NtgParams *out, NtgError *err)
{
	size_t		plen = strlen(prefix);

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < p->n; i++)
	{
		NtgParam   *it = &p->items[i];
		NtgParam   *copy;

		if (strncmp(it->key, prefix, plen) != 0)
			continue;
		it->used = 1;
		if ((copy = append(out, it->key + plen, it->type, err)) == NULL)
			return err ? err->code : NTG_ERR_NOMEM;
		copy->number = it->number;
		copy->is_integer = it->is_integer;
		copy->integer = it->integer;
		if (it->string != NULL && (copy->string = ntg_strdup(it->string)) == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	return NTG_OK;
}

int
ntg_params_check_used(const NtgParams *p, const char *what, NtgError *err)
{
	for (int i = 0; i < p->n; i++)
		if (!p->items[i].used)
			return ntg_error(err, NTG_ERR_INVALID_ARG, "unknown hyperparameter \"%s\" for %s",
							 p->items[i].key, what);
	return NTG_OK;
}

void
ntg_params_free(NtgParams *p)
{
	for (int i = 0; i < p->n; i++)
	{
		ntg_free(p->items[i].key);
		ntg_free(p->items[i].string);
	}
	ntg_free(p->items);
	p->items = NULL;
	p->n = 0;
}
