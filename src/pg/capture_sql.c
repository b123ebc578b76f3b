/*
 * capture_sql.c — SQL functions of the capture import: ntg.read_pcap(path|bytea, ...) returns
 * biflows (no side effects); ntg.import_pcap(path|bytea, ...) inserts them into a biflow table
 * and returns what it did.  The reading itself is the plain-C core in src/core/capture/; the
 * shared glue is capture_read.c, many files at once capture_files.c.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "capture_bulk.h"
#include "capture_import.h"
#include "capture_pg.h"
#include "ntg_glue.h"

/* read_pcap's arguments: source, n (1), idle, active, filter, split_on_syn (5), ... */
#define READ_N_ARG		1
#define READ_SPLIT_ARG	5
#define READ_NARGS		8

/* The figures of the last read_pcap() in this backend, for import_pcap(), which runs it through
 * an INSERT ... SELECT on targets the batched insert cannot take. */
static NtgCaptureStats last_stats;
static uint64 last_generation = 0;

typedef struct TupstoreSink
{
	Tuplestorestate *tupstore;
	TupleDesc	tupdesc;
	bool		v010;			/* 0.1.0's read_pcap: its columns */
} TupstoreSink;

static void
tupstore_sink(int file, const NtgBiflow *f, void *arg)
{
	TupstoreSink *ts = (TupstoreSink *) arg;
	Datum		v[Max(CAPTURE_ROW_COLS, CAPTURE_ROW_COLS_V010)];
	bool		nulls[Max(CAPTURE_ROW_COLS, CAPTURE_ROW_COLS_V010)];

	if (ts->v010)
		capture_row_values_v010(f, v, nulls);
	else
		capture_row_values(f, v, nulls);
	tuplestore_putvalues(ts->tupstore, ts->tupdesc, v, nulls);
}

/* read_pcap: the whole capture into the function's tuplestore. */
static void
read_capture(FunctionCallInfo fcinfo, const char *path, const uint8_t *data, size_t len)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	NtgCaptureOptions opt;
	NtgCaptureStats st;
	TupstoreSink ts;
	char		what[MAXPGPATH + 32];

	capture_options_from_args(fcinfo, READ_N_ARG, READ_SPLIT_ARG, &opt);
	InitMaterializedSRF(fcinfo, 0);
	ts.tupstore = rsinfo->setResult;
	ts.tupdesc = rsinfo->setDesc;
	ts.v010 = PG_NARGS() < READ_NARGS;
	capture_read_one(path, data, len, &opt, tupstore_sink, &ts, &st);
	if (data)
		snprintf(what, sizeof(what), "capture data");
	else
		snprintf(what, sizeof(what), "capture file \"%s\"", path);
	capture_report_outcome(what, &st);
	if (ts.v010)
		capture_report_clipped_v010(what, &st);
	last_stats = st;
	last_generation++;
}

PG_FUNCTION_INFO_V1(ntg_read_pcap_path);
Datum
ntg_read_pcap_path(PG_FUNCTION_ARGS)
{
	char	   *path;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("capture path must not be null")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	capture_check_read_privilege(path);
	read_capture(fcinfo, path, NULL, 0);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ntg_read_pcap_bytea);
Datum
ntg_read_pcap_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *b;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("capture data must not be null")));
	b = PG_GETARG_BYTEA_PP(0);
	read_capture(fcinfo, NULL, (const uint8_t *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	return (Datum) 0;
}

const char *
capture_target_name(Oid target)
{
	char	   *rel = get_rel_name(target);

	if (!rel)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", target)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)), rel);
}

typedef struct BulkRead
{
	CaptureBulk *bulk;
	NtgCaptureStats st;
	NtgError	err;
} BulkRead;

static void
bulk_sink(int file, const NtgBiflow *f, void *arg)
{
	Datum		v[CAPTURE_ROW_COLS];
	bool		nulls[CAPTURE_ROW_COLS];

	capture_row_values(f, v, nulls);
	capture_bulk_add(((BulkRead *) arg)->bulk, v, nulls);
}

static void
bulk_done(int file, const NtgCaptureStats *st, const NtgError *err, void *arg)
{
	BulkRead   *b = (BulkRead *) arg;

	b->st = *st;
	b->err = *err;
}

/*
 * Read a capture file of CAPTURE_WORKER_MIN_BYTES or more in a background worker while this
 * backend inserts its rows: the two halves of the import run on two cores.  False when the file
 * is smaller, ntg.import_workers is 0 or no worker could be started (the caller reads it here).
 */
static bool
read_in_worker(const char *path, const NtgCaptureOptions *opt, BulkRead *b)
{
	struct stat sb;
	char	   *paths[1];

	if (ntg_import_workers <= 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
		sb.st_size < CAPTURE_WORKER_MIN_BYTES)
		return false;
	paths[0] = (char *) path;
	if (capture_read_parallel(paths, 1, opt, 1, bulk_sink, bulk_done, b) == 0)
		return false;
	if (b->err.code != NTG_OK)
		ntg_pg_raise(&b->err);
	return true;
}

/*
 * The installed ntg.read_pcap: 0.2.0's (8 arguments, a label column) or, in a database whose
 * extension is still at 0.1.0 (this library serves both), 0.1.0's (5 arguments, no label).
 */
static Oid
read_pcap_oid(bool is_bytea, int *nargs)
{
	Oid			argtypes[READ_NARGS] = {is_bytea ? BYTEAOID : TEXTOID, INT4OID, INTERVALOID,
	INTERVALOID, TEXTOID, BOOLOID, TEXTOID, BOOLOID};
	List	   *name = list_make2(makeString("ntg"), makeString("read_pcap"));
	Oid			fn = LookupFuncName(name, READ_NARGS, argtypes, true);

	*nargs = READ_NARGS;
	if (OidIsValid(fn))
		return fn;
	*nargs = 5;
	return LookupFuncName(name, 5, argtypes, false);
}

/* The generic path calls ntg.read_pcap, so it needs EXECUTE on it: the batched path asks the same. */
void
capture_check_read_pcap_execute(bool is_bytea)
{
	int			nargs;
	Oid			fn = read_pcap_oid(is_bytea, &nargs);
	AclResult	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
}

/*
 * The generic path, for any target an INSERT accepts (triggers, rules, partitions, views, type
 * conversions, ...): INSERT INTO target (...) SELECT ... FROM ntg.read_pcap(source, ...).
 * fixed: dataset, label, source; opts: read_pcap's arguments after the source (n ... decapsulate).
 * A NULL label takes each biflow's own, from its packet comment.
 */
uint64
capture_import_generic(const char *name, bool is_bytea, Datum source, const Datum *fixed,
					   const bool *fixednull, const Datum *opts, const bool *optsnull,
					   NtgCaptureStats *st)
{
	Oid			argtypes[3 + READ_NARGS] = {TEXTOID, TEXTOID, TEXTOID, is_bytea ? BYTEAOID : TEXTOID,
		INT4OID, INTERVALOID, INTERVALOID, TEXTOID, BOOLOID, TEXTOID, BOOLOID};
	Datum		values[3 + READ_NARGS];
	char		nulls[3 + READ_NARGS];
	StringInfoData sql;
	uint64		generation = last_generation;
	uint64		written;
	int			nargs;
	bool		v020;

	(void) read_pcap_oid(is_bytea, &nargs);
	v020 = nargs == READ_NARGS;
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "INSERT INTO %s (dataset, label, source, protocol, client_ip, client_port, "
					 "server_ip, server_port, first_seen, last_seen, packets_up, packets_down, "
					 "bytes_up, bytes_down, payload_bytes_up, payload_bytes_down, payload_packets, "
					 "%s, sni) SELECT $1, %s, $3, r.protocol, r.client_ip, r.client_port, "
					 "r.server_ip, r.server_port, r.first_seen, r.last_seen, r.packets_up, "
					 "r.packets_down, r.bytes_up, r.bytes_down, r.payload_bytes_up, "
					 "r.payload_bytes_down, r.payload_packets, %s, r.sni "
					 "FROM ntg.read_pcap($4, n => $5, idle_timeout => $6, active_timeout => $7, "
					 "filter => $8%s) r",
					 name, v020 ? "pl" : "pl, pl_full",
					 v020 ? "coalesce($2, r.label)" : "$2",
					 v020 ? "r.pl" : "r.pl, r.pl_full",
					 v020 ? ", split_on_syn => $9, client_rule => $10, decapsulate => $11" : "");
	for (int i = 0; i < CAPTURE_BULK_FIXED; i++)
	{
		values[i] = fixed[i];
		nulls[i] = fixednull[i] ? 'n' : ' ';
	}
	values[3] = source;
	nulls[3] = ' ';
	for (int i = 0; i < READ_NARGS - 1; i++)
	{
		values[4 + i] = opts[i];
		nulls[4 + i] = optsnull[i] ? 'n' : ' ';
	}

	SPI_connect();
	if (SPI_execute_with_args(sql.data, 3 + nargs, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args failed: %s", sql.data);
	written = SPI_processed;
	SPI_finish();
	if (last_generation != generation + 1)
		elog(ERROR, "read_pcap ran %llu times during one import",
			 (unsigned long long) (last_generation - generation));
	*st = last_stats;
	return written;
}

/* import_pcap's options in read_pcap's order (n, idle, active, filter, split, rule, decap);
 * 0.1.0's import_pcap has only the first four. */
void
capture_read_options(FunctionCallInfo fcinfo, Datum *opts, bool *optsnull)
{
	static const int argno[READ_NARGS - 1] = {3, 4, 5, 6, 8, 9, 10};

	for (int i = 0; i < READ_NARGS - 1; i++)
	{
		optsnull[i] = argno[i] >= PG_NARGS() || PG_ARGISNULL(argno[i]);
		opts[i] = optsnull[i] ? (Datum) 0 : PG_GETARG_DATUM(argno[i]);
	}
}

/*
 * import_pcap(source, dataset, label, n, idle_timeout, active_timeout, filter, target,
 * split_on_syn, client_rule, decapsulate): the biflows into target, batched like COPY where the
 * target allows it, else through an INSERT; then the figures.
 */
/*
 * The ntg.import_result row, filled by attribute name: 0.1.0's type (a database not yet
 * updated) also has pl_clipped, the PL values its smallint pl column clipped.
 */
static HeapTuple
import_result_tuple(TupleDesc tupdesc, const char *dataset, uint64 written,
					const NtgCaptureStats *st)
{
	Datum	   *v = palloc0(sizeof(Datum) * tupdesc->natts);
	bool	   *n = palloc0(sizeof(bool) * tupdesc->natts);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		const char *a = NameStr(att->attname);

		if (att->attisdropped)
			n[i] = true;
		else if (strcmp(a, "dataset") == 0)
			v[i] = CStringGetTextDatum(dataset);
		else if (strcmp(a, "format") == 0)
			v[i] = CStringGetTextDatum(st->format);
		else if (strcmp(a, "packets") == 0)
			v[i] = Int64GetDatum(st->packets);
		else if (strcmp(a, "bytes") == 0)
			v[i] = Int64GetDatum(st->bytes_read);
		else if (strcmp(a, "packets_in_biflows") == 0)
			v[i] = Int64GetDatum(st->packets_attributed);
		else if (strcmp(a, "biflows") == 0)
			v[i] = Int64GetDatum(written);
		else if (strcmp(a, "skipped") == 0)
			v[i] = capture_skipped_jsonb(st);
		else if (strcmp(a, "pl_clipped") == 0)
			v[i] = Int64GetDatum(st->pl_over_smallint);
		else if (strcmp(a, "damaged") == 0)
			v[i] = BoolGetDatum(st->damaged);
		else if (strcmp(a, "damage") == 0 && st->damaged)
			v[i] = CStringGetTextDatum(st->damage);
		else
			n[i] = true;
	}
	return heap_form_tuple(tupdesc, v, n);
}

static Datum
import_capture(FunctionCallInfo fcinfo, bool is_bytea)
{
	Oid			target;
	char	   *dataset,
			   *source = NULL;
	const char *name,
			   *why;
	Datum		fixed[CAPTURE_BULK_FIXED];
	bool		fixednull[CAPTURE_BULK_FIXED];
	CaptureBulk *bulk;
	TupleDesc	tupdesc;
	uint64		written;
	NtgCaptureStats st;
	NtgCaptureOptions opt;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("capture %s must not be null", is_bytea ? "data" : "path")));
	if (PG_ARGISNULL(CAPTURE_IMPORT_TARGET_ARG))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target table must not be null")));
	target = PG_GETARG_OID(CAPTURE_IMPORT_TARGET_ARG);
	if (!is_bytea)
	{
		source = text_to_cstring(PG_GETARG_TEXT_PP(0));
		capture_check_read_privilege(source);	/* before the INSERT, for a message without context */
	}
	/* check every option before any work (the generic path would check them inside the INSERT) */
	capture_options_from_args(fcinfo, CAPTURE_IMPORT_N_ARG, CAPTURE_IMPORT_SPLIT_ARG, &opt);
	if (!PG_ARGISNULL(1))
		dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	else if (!is_bytea)
		dataset = pstrdup(strrchr(source, '/') ? strrchr(source, '/') + 1 : source);
	else
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("dataset must not be null when importing capture data"),
				 errhint("Name the dataset: ntg.import_pcap(data, dataset => '...').")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	name = capture_target_name(target);
	fixed[0] = CStringGetTextDatum(dataset);
	fixednull[0] = false;
	fixed[1] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	fixednull[1] = PG_ARGISNULL(2);
	fixed[2] = source ? CStringGetTextDatum(source) : (Datum) 0;
	fixednull[2] = source == NULL;
	bulk = capture_bulk_begin(target, fixed, fixednull, &why);
	if (bulk)
	{
		bytea	   *b = is_bytea ? PG_GETARG_BYTEA_PP(0) : NULL;
		BulkRead	br;

		capture_check_read_pcap_execute(is_bytea);
		memset(&br, 0, sizeof(br));
		br.bulk = bulk;
		if (!is_bytea && read_in_worker(source, &opt, &br))
			ereport(DEBUG1, (errmsg_internal("ntg.import_pcap: batched insert into %s, read by a worker", name)));
		else
		{
			ereport(DEBUG1, (errmsg_internal("ntg.import_pcap: batched insert into %s", name)));
			capture_read_one(source, b ? (const uint8_t *) VARDATA_ANY(b) : NULL,
							 b ? VARSIZE_ANY_EXHDR(b) : 0, &opt, bulk_sink, &br, &br.st);
		}
		st = br.st;
		written = capture_bulk_end(bulk);
		capture_report_outcome(is_bytea ? "capture data" :
							   psprintf("capture file \"%s\"", source), &st);
	}
	else
	{
		Datum		opts[READ_NARGS - 1];
		bool		optsnull[READ_NARGS - 1];

		ereport(DEBUG1, (errmsg_internal("ntg.import_pcap: INSERT into %s because %s", name, why)));
		capture_read_options(fcinfo, opts, optsnull);
		written = capture_import_generic(name, is_bytea, PG_GETARG_DATUM(0), fixed, fixednull,
										 opts, optsnull, &st);
	}

	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(import_result_tuple(tupdesc, dataset, written, &st)));
}

PG_FUNCTION_INFO_V1(ntg_import_pcap_path);
Datum
ntg_import_pcap_path(PG_FUNCTION_ARGS)
{
	return import_capture(fcinfo, false);
}

PG_FUNCTION_INFO_V1(ntg_import_pcap_bytea);
Datum
ntg_import_pcap_bytea(PG_FUNCTION_ARGS)
{
	return import_capture(fcinfo, true);
}
