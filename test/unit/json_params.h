/*
 * json_params.h — a flat JSON object ({"key": number | true | false | "string", ...}, one level of
 * nested objects becoming "outer.inner" keys, as the SQL glue does) into core NtgParams, for the
 * unit tests: a kind's tiny_hyperparams, and hyperparameters written as in SQL.
 */
#ifndef NTG_JSON_PARAMS_H
#define NTG_JSON_PARAMS_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/params.h"

static inline const char *
json_skip(const char *p)
{
	while (*p && isspace((unsigned char) *p))
		p++;
	return p;
}

/* A "string" at p into buf; the position after it, or NULL. */
static inline const char *
json_string(const char *p, char *buf, size_t size)
{
	size_t		n = 0;

	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"' && n + 1 < size)
		buf[n++] = *p++;
	buf[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

/* Parse an object at p with key prefix `prefix`; the position after it, or NULL. */
static inline const char *
json_object(const char *p, const char *prefix, NtgParams *out, NtgError *err)
{
	p = json_skip(p);
	if (*p++ != '{')
		return NULL;
	for (p = json_skip(p); *p && *p != '}';)
	{
		char		key[128],
					full[300],
					str[256];

		if ((p = json_string(p, key, sizeof(key))) == NULL)
			return NULL;
		snprintf(full, sizeof(full), "%s%s", prefix, key);
		p = json_skip(p);
		if (*p++ != ':')
			return NULL;
		p = json_skip(p);
		if (*p == '{')
		{
			char		nested[320];

			snprintf(nested, sizeof(nested), "%s.", full);
			if ((p = json_object(p, nested, out, err)) == NULL)
				return NULL;
		}
		else if (*p == '"')
		{
			if ((p = json_string(p, str, sizeof(str))) == NULL)
				return NULL;
			ntg_params_add_string(out, full, str, err);
		}
		else if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0)
		{
			ntg_params_add_bool(out, full, *p == 't', err);
			p += *p == 't' ? 4 : 5;
		}
		else
		{
			char	   *end;
			double		v = strtod(p, &end);

			if (end == p)
				return NULL;
			if (v == (double) (long long) v && strcspn(p, ".eE") >= (size_t) (end - p))
				ntg_params_add_integer(out, full, (int64_t) v, err);
			else
				ntg_params_add_number(out, full, v, err);
			p = end;
		}
		p = json_skip(p);
		if (*p == ',')
			p = json_skip(p + 1);
	}
	return *p == '}' ? p + 1 : NULL;
}

/* Append the members of a JSON object to *out (which may hold parameters already). */
static inline int
json_params(const char *json, NtgParams *out, NtgError *err)
{
	if (json_object(json, "", out, err) == NULL)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "bad JSON in a test: %s", json);
	return NTG_OK;
}

#endif							/* NTG_JSON_PARAMS_H */
