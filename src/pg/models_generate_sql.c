/*
 * models_generate_sql.c — ntg.generate() / ntg.generate_int(): synthetic (label, pl) rows from a
 * stored model.
 *
 * A value-per-call SRF: rows are sampled in chunks of CHUNK_ROWS, so the function's memory stays
 * bounded for any n (in FROM the executor still collects the rows in a tuplestore, which spills to
 * disk; in a select list rows are made on demand and a LIMIT stops the sampling).  Each class has its own random
 * stream derived from (seed, class index), so the rows of a class do not depend on whether the
 * other classes were asked for: generate(m, 'x', 10, 7) equals the 'x' rows of generate(m, NULL,
 * 10, 7).
 *
 * With stratified => true each chunk of CHUNK_ROWS rows is one stratified sample of the model's
 * distribution (generator.h, llama_sample.c), so the rows depend on the chunk size, fixed here.
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

#include "models/generator.h"
#include "models_sql.h"
#include "ntg_glue.h"

#define CHUNK_ROWS 256

typedef struct GenState
{
	NtgModelRef ref;
	NtgGenModel *model;
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
	bool		as_int2;
	Datum	   *elems;
} GenState;

static void
check_args(FunctionCallInfo fcinfo)
{
	static const char *names[] = {"model", NULL, "n", "seed", "temperature", "top_k", "top_p",
	"stratified"};

	for (int i = 0; i < lengthof(names); i++)
		if (names[i] != NULL)
			ntg_pg_require_arg(fcinfo, i, names[i]);
	if (PG_GETARG_INT32(2) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be positive"),
				 errdetail("n is the number of rows per class; %d was given.", PG_GETARG_INT32(2))));
	if (!(PG_GETARG_FLOAT8(4) > 0) || isinf(PG_GETARG_FLOAT8(4)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("temperature must be a positive finite number")));
	if (PG_GETARG_INT32(5) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_k must not be negative"),
				 errhint("top_k = 0 turns top-k filtering off.")));
	if (!(PG_GETARG_FLOAT8(6) > 0 && PG_GETARG_FLOAT8(6) <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_p must be in (0, 1]"),
				 errhint("top_p = 1 turns nucleus filtering off.")));
}

static char *
known_labels(const NtgGenModel *m)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < m->n_classes; i++)
		appendStringInfo(&s, "%s\"%s\"", i ? ", " : "", m->classes[i]);
	return s.data;
}

static int
class_index(const NtgGenModel *m, const char *label, const char *model_name)
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
	st->as_int2 = TupleDescAttr(desc, 1)->atttypid == INT2ARRAYOID;
	ntg_pg_model_acquire(model_name, funcctx->multi_call_memory_ctx, &st->ref);
	st->model = st->ref.model;
	st->n = PG_GETARG_INT32(2);
	st->seed = (uint64) PG_GETARG_INT64(3);
	st->opts.temperature = PG_GETARG_FLOAT8(4);
	st->opts.top_k = PG_GETARG_INT32(5);
	st->opts.top_p = PG_GETARG_FLOAT8(6);
	st->opts.stratified = PG_GETARG_BOOL(7);
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
	{
		if (st->as_int2 && (v[i] < PG_INT16_MIN || v[i] > PG_INT16_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("generated value %d is out of range for type smallint", v[i]),
					 errhint("Use ntg.generate_int(), which returns integer arrays.")));
		st->elems[i] = st->as_int2 ? Int16GetDatum((int16) v[i]) : Int32GetDatum(v[i]);
	}
	values[0] = CStringGetTextDatum(st->model->classes[st->cur_class]);
	values[1] = st->as_int2
		? PointerGetDatum(construct_array(st->elems, len, INT2OID, 2, true, TYPALIGN_SHORT))
		: PointerGetDatum(construct_array(st->elems, len, INT4OID, 4, true, TYPALIGN_INT));
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

PG_FUNCTION_INFO_V1(ntg_generate);
Datum
ntg_generate(PG_FUNCTION_ARGS)
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
