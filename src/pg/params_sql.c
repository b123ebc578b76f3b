/*
 * params_sql.c — a jsonb object of hyperparameters or sampling options into core NtgParams.
 *
 * Members are numbers, booleans or strings; null means "the default" and is dropped.  One level
 * of nesting is allowed for hyperparameters ({"sampling": {"temperature": 0.9}} arrives as the key
 * "sampling.temperature"), none for options.  Integers are kept exactly (a seed of 2^53 + 1 must
 * stay itself), other numbers as doubles.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "common/params.h"
#include "ntg_glue.h"

/* An integral numeric that fits int64 goes in exactly; anything else as a double. */
static int
add_numeric(NtgParams *out, const char *key, Numeric num, NtgError *err)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	char	   *end;
	long long	v;

	if (strchr(text, '.') == NULL && strchr(text, 'e') == NULL && strchr(text, 'E') == NULL)
	{
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno == 0 && *end == '\0')
			return ntg_params_add_integer(out, key, (int64_t) v, err);
	}
	return ntg_params_add_number(out, key,
								 DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																	NumericGetDatum(num))), err);
}

static void
bad_member(const char *what, const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s \"%s\" must be a number, string or boolean", what, key ? key : "?")));
}

/* Walk an object; nested: how many levels of objects may nest inside it. */
static void
params_from_jsonb(Jsonb *j, const char *what, const char *argname, int nested, NtgParams *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	char	   *prefix = NULL;
	NtgError	err;
	int			depth = 0;

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", argname)));
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		int			rc = NTG_OK;
		char	   *full;

		if (tok == WJB_BEGIN_ARRAY)
			bad_member(what, key);
		if (tok == WJB_BEGIN_OBJECT)
		{
			if (++depth > 1 + nested)
				bad_member(what, key);
			if (depth == 2)
				prefix = key;
			continue;
		}
		if (tok == WJB_END_OBJECT)
		{
			if (--depth == 1)
				prefix = NULL;
			continue;
		}
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		Assert(tok == WJB_VALUE);
		full = prefix ? psprintf("%s.%s", prefix, key) : key;
		switch (v.type)
		{
			case jbvNull:
				break;			/* null means "use the default" */
			case jbvNumeric:
				rc = add_numeric(out, full, v.val.numeric, &err);
				break;
			case jbvBool:
				rc = ntg_params_add_bool(out, full, v.val.boolean, &err);
				break;
			case jbvString:
				rc = ntg_params_add_string(out, full,
										   pnstrdup(v.val.string.val, v.val.string.len), &err);
				break;
			default:
				bad_member(what, full);
		}
		NTG_PG_CHECK(rc, &err);
	}
}

void
ntg_pg_params_from_jsonb(Jsonb *j, NtgParams *out)
{
	params_from_jsonb(j, "hyperparameter", "hyperparameters", 1, out);
}

void
ntg_pg_options_from_jsonb(Jsonb *j, const char *argname, NtgParams *out)
{
	params_from_jsonb(j, "sampling option", argname, 0, out);
}
