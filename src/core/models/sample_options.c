/*
 * sample_options.c — the sampling options a generator kind declares (NtgOptionSpec), checked the
 * same way wherever they come from: a call's options, the defaults given at training time, the
 * values stored in a model.
 */
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ntg_sample_options_defaults(const NtgModelKind *kind, int legacy, NtgSampleOptions *out)
{
	memset(out, 0, sizeof(*out));
	out->n = kind->n_sample_options;
	for (int i = 0; i < kind->n_sample_options; i++)
		out->value[i] = legacy ? kind->sample_options[i].legacy : kind->sample_options[i].dflt;
}

int
ntg_sample_options_check(const NtgModel *model, const NtgSampleOptions *opts, NtgError *err)
{
	if (model->kind->check_sampling == NULL)
		return NTG_OK;
	return model->kind->check_sampling(model, opts, err);
}

int
ntg_sample_option_index(const NtgModelKind *kind, const char *name)
{
	for (int i = 0; i < kind->n_sample_options; i++)
		if (strcmp(kind->sample_options[i].name, name) == 0)
			return i;
	return -1;
}

const char *
ntg_sample_option_names(const NtgModelKind *kind)
{
	static char buf[512];
	size_t		pos = 0;

	buf[0] = '\0';
	for (int i = 0; i < kind->n_sample_options; i++)
		pos += snprintf(buf + pos, sizeof(buf) - pos, "%s%s", i ? ", " : "",
						kind->sample_options[i].name);
	return buf;
}

static int
out_of_range(const NtgOptionSpec *o, NtgError *err)
{
	if (o->type == NTG_OPTION_INTEGER)
		return ntg_error(err, NTG_ERR_INVALID_ARG,
						 "sampling option \"%s\" must be an integer between %.0f and %.0f",
						 o->name, o->min, o->max);
	return ntg_error(err, NTG_ERR_INVALID_ARG, "sampling option \"%s\" must be %s %g and %s %g",
					 o->name, o->min_open ? "above" : "at least", o->min, "at most", o->max);
}

/* The value of one parameter for option o, checked. */
static int
option_value(const NtgOptionSpec *o, const NtgParam *p, double *out, NtgError *err)
{
	if (o->type == NTG_OPTION_BOOL)
	{
		if (p->type != NTG_PARAM_BOOL)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "sampling option \"%s\" must be true or false", o->name);
		*out = p->number != 0;
		return NTG_OK;
	}
	if (p->type != NTG_PARAM_NUMBER || !isfinite(p->number))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "sampling option \"%s\" must be a number",
						 o->name);
	if (p->number < o->min || p->number > o->max || (o->min_open && p->number == o->min) ||
		(o->type == NTG_OPTION_INTEGER && p->number != floor(p->number)))
		return out_of_range(o, err);
	*out = p->number;
	return NTG_OK;
}

int
ntg_sample_options_apply(const NtgModelKind *kind, NtgParams *params, NtgSampleOptions *opts,
						 NtgError *err)
{
	for (int i = 0; i < params->n; i++)
	{
		NtgParam   *p = &params->items[i];
		int			k = ntg_sample_option_index(kind, p->key);
		int			rc;

		if (k < 0)
		{
			if (kind->n_sample_options == 0)
				return ntg_error(err, NTG_ERR_INVALID_ARG,
								 "model kind \"%s\" takes no sampling options", kind->name);
			ntg_error(err, NTG_ERR_INVALID_ARG, "unknown sampling option \"%s\" for model kind \"%s\"",
					  p->key, kind->name);
			ntg_error_detail(err, "Its sampling options are: %s.", ntg_sample_option_names(kind));
			return NTG_ERR_INVALID_ARG;
		}
		if ((rc = option_value(&kind->sample_options[k], p, &opts->value[k], err)) != NTG_OK)
			return rc;
		p->used = 1;
	}
	return NTG_OK;
}

/* The shortest text that reads back as the same double (0.9, not 0.90000000000000002). */
static void
shortest(char *buf, size_t size, double v)
{
	for (int prec = 1; prec <= 17; prec++)
	{
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

char *
ntg_sample_options_json(const NtgModelKind *kind, const NtgSampleOptions *opts)
{
	char		buf[1024];
	size_t		pos = 0;

	pos += snprintf(buf + pos, sizeof(buf) - pos, "{");
	for (int i = 0; i < kind->n_sample_options && pos < sizeof(buf); i++)
	{
		const NtgOptionSpec *o = &kind->sample_options[i];
		const char *sep = i ? ", " : "";

		if (o->type == NTG_OPTION_BOOL)
			pos += snprintf(buf + pos, sizeof(buf) - pos, "%s\"%s\": %s", sep, o->name,
							opts->value[i] != 0 ? "true" : "false");
		else if (o->type == NTG_OPTION_INTEGER)
			pos += snprintf(buf + pos, sizeof(buf) - pos, "%s\"%s\": %.0f", sep, o->name,
							opts->value[i]);
		else
		{
			char		num[32];

			shortest(num, sizeof(num), opts->value[i]);
			pos += snprintf(buf + pos, sizeof(buf) - pos, "%s\"%s\": %s", sep, o->name, num);
		}
	}
	if (pos < sizeof(buf))
		snprintf(buf + pos, sizeof(buf) - pos, "}");
	return ntg_strdup(buf);
}
