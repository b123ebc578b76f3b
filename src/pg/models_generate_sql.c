/*
 * models_generate_sql.c — ntg.generate(model, label, n, seed, options): synthetic (label, pl)
 * rows from a stored generator of any kind.
 *
 * A value-per-call SRF: rows are sampled in chunks of CHUNK_ROWS, so the function's memory stays
 * bounded for any n (in FROM the executor still collects the rows in a tuplestore, which spills to
 * disk; in a select list rows are made on demand and a LIMIT stops the sampling).  Each class has its own random
 * stream derived from (seed, class index), so the rows of a class do not depend on whether the
 * other classes were asked for: generate(m, 'x', 10, 7) equals the 'x' rows of generate(m, NULL,
 * 10, 7).
 *
 * options is a JSON object of the sampling options the model's kind declares (model.h), applied
 * over the defaults stored with the model; other keys are refused, naming the accepted ones.
 * With a token model's "stratified" each chunk of CHUNK_ROWS rows is one stratified sample of
 * the model's distribution (token_draw.c), so the rows depend on the chunk size, fixed here.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/params.h"
#include "models_sql.h"
#include "ntg_glue.h"

#define CHUNK_ROWS 256

typedef struct GenState
{
	NtgModelRef ref;
	NtgModel   *model;
	NtgSampleOptions opts;
	uint64		seed;
	int			class_first;
	int			class_last;
	int			cur_class;
	int64		n;				/* rows per class */
	int64		done_in_class;	/* rows of cur_class already returned */
	NtgRng		rng;			/* stream of cur_class */
	int32	   *buf;			/* CHUNK_ROWS x max_len */
	int		   *lens;
	int			chunk_rows;
	int			chunk_pos;
	Datum	   *elems;
} GenState;

static void
check_args(FunctionCallInfo fcinfo)
{
	static const char *names[] = {"model", NULL, "n", "seed", "options"};

	for (int i = 0; i < lengthof(names); i++)
		if (names[i] != NULL)
			ntg_pg_require_arg(fcinfo, i, names[i]);
	if (PG_GETARG_INT32(2) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be positive"),
				 errdetail("n is the number of rows per class; %d was given.", PG_GETARG_INT32(2))));
}

/* The model's stored sampling defaults with the call's options over them. */
void
ntg_pg_sample_options(const NtgModel *m, Jsonb *options, NtgSampleOptions *out)
{
	NtgParams	params;
	NtgError	err;

	*out = m->sampling;
	ntg_pg_options_from_jsonb(options, "options", &params);
	NTG_PG_CHECK(ntg_sample_options_apply(m->kind, &params, out, &err), &err);
	NTG_PG_CHECK(ntg_sample_options_check(m, out, &err), &err);
	ntg_params_free(&params);
}

static char *
known_labels(const NtgModel *m)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < m->n_classes; i++)
		appendStringInfo(&s, "%s\"%s\"", i ? ", " : "", m->classes[i]);
	return s.data;
}

static int
class_index(const NtgModel *m, const char *label, const char *model_name)
{
	for (int i = 0; i < m->n_classes; i++)
		if (strcmp(m->classes[i], label) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("model \"%s\" has no class \"%s\"", model_name, label),
			 errdetail("Its classes are: %s.", known_labels(m))));
	return -1;
}

static void
start_class(GenState *st, int c)
{
	NtgRng		base;

	st->cur_class = c;
	st->done_in_class = 0;
	st->chunk_rows = st->chunk_pos = 0;
	ntg_rng_seed(&base, st->seed);
	ntg_rng_split(&base, (uint64) c, &st->rng);
}

static GenState *
gen_init(FunctionCallInfo fcinfo, FuncCallContext *funcctx)
{
	char	   *model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	GenState   *st = palloc0(sizeof(GenState));
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	funcctx->tuple_desc = BlessTupleDesc(desc);
	ntg_pg_model_acquire(model_name, NTG_CAP_GENERATE, funcctx->multi_call_memory_ctx,
						 fcinfo->flinfo->fn_mcxt, &st->ref);
	st->model = st->ref.model;
	st->n = PG_GETARG_INT32(2);
	st->seed = (uint64) PG_GETARG_INT64(3);
	ntg_pg_sample_options(st->model, PG_GETARG_JSONB_P(4), &st->opts);
	if (PG_ARGISNULL(1))
	{
		st->class_first = 0;
		st->class_last = st->model->n_classes - 1;
	}
	else
		st->class_first = st->class_last =
			class_index(st->model, text_to_cstring(PG_GETARG_TEXT_PP(1)), model_name);
	st->buf = palloc(sizeof(int32) * CHUNK_ROWS * Max(st->model->max_len, 1));
	st->lens = palloc(sizeof(int) * CHUNK_ROWS);
	st->elems = palloc(sizeof(Datum) * Max(st->model->max_len, 1));
	start_class(st, st->class_first);
	return st;
}

static void
sample_chunk(GenState *st)
{
	int			rows = (int) Min((int64) CHUNK_ROWS, st->n - st->done_in_class);

	ntg_pg_model_sample(&st->ref, st->cur_class, rows, &st->opts, &st->rng, st->buf, st->lens);
	st->chunk_rows = rows;
	st->chunk_pos = 0;
}

static Datum
row_datum(GenState *st, TupleDesc desc, int r)
{
	const int32 *v = st->buf + (size_t) r * st->model->max_len;
	int			len = st->lens[r];
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (len < 0 || len > st->model->max_len)
		elog(ERROR, "generator returned a row of length %d", len);
	for (int i = 0; i < len; i++)
		st->elems[i] = Int32GetDatum(v[i]);
	values[0] = CStringGetTextDatum(st->model->classes[st->cur_class]);
	values[1] = PointerGetDatum(construct_array(st->elems, len, INT4OID, 4, true, TYPALIGN_INT));
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

PG_FUNCTION_INFO_V1(ntg_generate_v2);
Datum
ntg_generate_v2(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	GenState   *st;
	Datum		row;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;

		check_args(fcinfo);
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		funcctx->user_fctx = gen_init(fcinfo, funcctx);
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (GenState *) funcctx->user_fctx;

	if (st->done_in_class >= st->n)
	{
		if (st->cur_class >= st->class_last)
			SRF_RETURN_DONE(funcctx);
		start_class(st, st->cur_class + 1);
	}
	if (st->chunk_pos >= st->chunk_rows)
		sample_chunk(st);
	row = row_datum(st, funcctx->tuple_desc, st->chunk_pos++);
	st->done_in_class++;
	SRF_RETURN_NEXT(funcctx, row);
}
