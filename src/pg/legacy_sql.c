/*
 * legacy_sql.c — C entry points that ntg 0.1.0's SQL definitions name and that changed their
 * arguments or results in 0.2.0.  A database where the extension was created at 0.1.0 and not
 * yet updated still calls them with the old arguments after the library is upgraded; they must
 * never read those arguments as the new ones, so they only say what to do.
 */
#include "postgres.h"

#include "fmgr.h"

#include "ntg_glue.h"

static void
needs_update(const char *function)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s of ntg 0.1.0 is not supported by the installed ntg library", function),
			 errhint("Run ALTER EXTENSION ntg UPDATE in this database.")));
}

PG_FUNCTION_INFO_V1(ntg_generate);
Datum
ntg_generate(PG_FUNCTION_ARGS)
{
	needs_update("ntg.generate()");
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(ntg_rf_train);
Datum
ntg_rf_train(PG_FUNCTION_ARGS)
{
	needs_update("ntg.rf_train()");
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(ntg_describe_model);
Datum
ntg_describe_model(PG_FUNCTION_ARGS)
{
	needs_update("ntg.describe_model()");
	PG_RETURN_NULL();
}
