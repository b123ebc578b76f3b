/*
 * models_info_sql.c — ntg.model_kinds(): the registry as a table; ntg.profile_model(): a model's
 * row of the paper's efficiency table (size, training time per epoch and memory as recorded when
 * it was trained, and generation or classification time measured now, one row at a time and in
 * one batch).
 */
#include "postgres.h"

#include <time.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "models_sql.h"
#include "ntg_glue.h"

/* {"temperature": {"type": "number", "default": 1, "min": 0, "max": 100, "help": "..."}, ...} */
static Datum
options_jsonb(const NtgModelKind *kind)
{
	static const char *const types[] = {"number", "integer", "boolean"};
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int i = 0; i < kind->n_sample_options; i++)
	{
		const NtgOptionSpec *o = &kind->sample_options[i];

		if (i > 0)
			appendStringInfoString(&s, ", ");
		escape_json(&s, o->name);
		appendStringInfo(&s, ": {\"type\": \"%s\", ", types[o->type]);
		if (o->type == NTG_OPTION_BOOL)
			appendStringInfo(&s, "\"default\": %s, ", o->dflt != 0 ? "true" : "false");
		else
			appendStringInfo(&s, "\"default\": %.17g, \"min\": %.17g, \"max\": %.17g, "
							 "\"min_excluded\": %s, ", o->dflt, o->min, o->max,
							 o->min_open ? "true" : "false");
		appendStringInfoString(&s, "\"help\": ");
		escape_json(&s, o->help);
		appendStringInfoChar(&s, '}');
	}
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

PG_FUNCTION_INFO_V1(ntg_model_kinds);
Datum
ntg_model_kinds(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < ntg_model_kind_count(); i++)
	{
		const NtgModelKind *k = ntg_model_kind_at(i);
		Datum		v[9];
		bool		nulls[9] = {0};

		v[0] = CStringGetTextDatum(k->name);
		v[1] = CStringGetTextDatum(ntg_model_family_name(k->family));
		v[2] = CStringGetTextDatum(k->summary);
		v[3] = BoolGetDatum((k->caps & NTG_CAP_GENERATE) != 0);
		v[4] = BoolGetDatum((k->caps & NTG_CAP_CLASSIFY) != 0);
		v[5] = BoolGetDatum((k->caps & NTG_CAP_VALIDATION) != 0);
		v[6] = BoolGetDatum((k->caps & NTG_CAP_QUANTIZE) != 0);
		v[7] = options_jsonb(k);
		v[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(k->tiny_hyperparams));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Milliseconds per row of n rows of class 0: one call per row, and one call for all of them. */
static void
time_generation(NtgModelRef *ref, int n, uint64 seed, double *one, double *batched)
{
	NtgModel   *m = ref->model;
	int32	   *out = palloc(sizeof(int32) * (size_t) n * Max(m->max_len, 1));
	int		   *lens = palloc(sizeof(int) * n);
	NtgRng		rng;
	double		t0;

	ntg_rng_seed(&rng, seed);
	t0 = now_ms();
	for (int r = 0; r < n; r++)
		ntg_pg_model_sample(ref, r % m->n_classes, 1, &m->sampling, &rng, out, lens);
	*one = (now_ms() - t0) / n;
	ntg_rng_seed(&rng, seed);
	t0 = now_ms();
	ntg_pg_model_sample(ref, 0, n, &m->sampling, &rng, out, lens);
	*batched = (now_ms() - t0) / n;
}

/* Milliseconds per prediction over n sequences the model's own classes do not decide. */
static void
time_classification(const NtgModel *m, int n, uint64 seed, double *one)
{
	double	   *proba = palloc(sizeof(double) * m->n_classes);
	int32	   *x = palloc(sizeof(int32) * Max(m->max_len, 1));
	NtgRng		rng;
	double		t0;

	ntg_rng_seed(&rng, seed);
	t0 = now_ms();
	for (int r = 0; r < n; r++)
	{
		for (int i = 0; i < m->max_len; i++)
			x[i] = (int32) ntg_rng_below(&rng, 3001) - 1500;
		(void) ntg_model_classify(m, x, m->max_len, proba);
		if ((r & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	*one = (now_ms() - t0) / n;
}

/* epoch_seconds, train_peak_bytes and bytes of the row, as recorded. */
static void
recorded(const char *name, Datum *v, bool *nulls)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	MemoryContext callercxt = CurrentMemoryContext;

	SPI_connect();
	if (SPI_execute_with_args("SELECT parameters, bytes, epoch_seconds, train_peak_bytes"
							  " FROM ntg.models WHERE name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ntg_pg_model_missing(name);
	for (int i = 0; i < 4; i++)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1,
									  &nulls[2 + i]);

		v[2 + i] = nulls[2 + i] ? (Datum) 0 : d;	/* int8/float8 are by value */
	}
	SPI_finish();
	MemoryContextSwitchTo(callercxt);
}

PG_FUNCTION_INFO_V1(ntg_profile_model);
Datum
ntg_profile_model(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	int			n;
	uint64		seed;
	NtgModelRef ref;
	Datum		v[8];
	bool		nulls[8] = {0};
	double		one = 0,
				batched = 0;

	ntg_pg_require_arg(fcinfo, 1, "n");
	ntg_pg_require_arg(fcinfo, 2, "seed");
	n = PG_GETARG_INT32(1);
	seed = (uint64) PG_GETARG_INT64(2);
	if (n < 1 || n > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 1 and 100000")));
	ntg_pg_model_acquire(name, 0, CurrentMemoryContext, NULL, &ref);
	if (ref.model->kind->caps & NTG_CAP_GENERATE)
		time_generation(&ref, n, seed, &one, &batched);
	else
	{
		time_classification(ref.model, n, seed, &one);
		nulls[7] = true;
	}
	InitMaterializedSRF(fcinfo, 0);
	v[0] = CStringGetTextDatum(name);
	v[1] = CStringGetTextDatum(ref.model->kind->name);
	recorded(name, v, nulls);
	v[6] = Float8GetDatum(one);
	v[7] = Float8GetDatum(batched);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	return (Datum) 0;
}
