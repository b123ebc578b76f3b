/*
 * params_sql.c — hyperparameters from a jsonb object into core NtgParams.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "common/params.h"
#include "ntg_glue.h"

void
ntg_pg_params_from_jsonb(Jsonb *j, NtgParams *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	NtgError	err;
	int			depth = 0;

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameters must be a JSON object")));
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		int			rc = NTG_OK;

		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			if (++depth > 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("hyperparameter \"%s\" must be a number, string or boolean",
								key ? key : "?")));
			continue;
		}
		if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
		{
			depth--;
			continue;
		}
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		Assert(tok == WJB_VALUE);
		switch (v.type)
		{
			case jbvNull:
				break;			/* null means "use the default" */
			case jbvNumeric:
				rc = ntg_params_add_number(out, key,
										   DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																			  NumericGetDatum(v.val.numeric))),
										   &err);
				break;
			case jbvBool:
				rc = ntg_params_add_bool(out, key, v.val.boolean, &err);
				break;
			case jbvString:
				{
					char	   *s = pnstrdup(v.val.string.val, v.val.string.len);

					rc = ntg_params_add_string(out, key, s, &err);
					break;
				}
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("hyperparameter \"%s\" must be a number, string or boolean", key)));
		}
		NTG_PG_CHECK(rc, &err);
	}
}
