/*
 * capture_sql.c — SQL functions of the capture import: ntg.read_pcap(path|bytea, ...) returns
 * biflows (no side effects); ntg.import_pcap(path|bytea, ...) inserts them into a biflow table
 * and returns what it did.  The reading itself is the plain-C core in src/core/capture/.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "catalog/pg_authid_d.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "mb/pg_wchar.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "capture/capture.h"
#include "capture_bulk.h"
#include "ntg_glue.h"

/* read_pcap's columns; 0.1.0's definition has the first 17 (no label), which the tuplestore's
 * descriptor then takes from the 18 values built here. */
#define READ_PCAP_COLS 18

/* The figures of the last read_pcap() in this backend, for import_pcap(), which runs it through
 * an INSERT ... SELECT so that rows go into the table at executor speed. */
static NtgCaptureStats last_stats;
static uint64 last_generation = 0;

/* Where the rows of a capture go: read_pcap's tuplestore, or import_pcap's batched insert. */
typedef void (*RowSink) (const Datum *values, const bool *nulls, void *arg);

typedef struct CaptureRun
{
	NtgCaptureReader *reader;	/* closed by the reset callback, also on error or cancel */
	MemoryContextCallback cb;
	RowSink		sink;
	void	   *sinkarg;
	MemoryContext rowctx;
} CaptureRun;

typedef struct TupstoreSink
{
	Tuplestorestate *tupstore;
	TupleDesc	tupdesc;
} TupstoreSink;

static void
capture_cleanup(void *arg)
{
	CaptureRun *run = (CaptureRun *) arg;

	ntg_capture_close(run->reader);
	run->reader = NULL;
}

/* A timeout argument in seconds: NULL or zero turns it off. */
static double
timeout_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Interval   *iv;
	double		secs;

	if (PG_ARGISNULL(argno))
		return 0;
	iv = PG_GETARG_INTERVAL_P(argno);
	secs = iv->time / 1e6 + iv->day * 86400.0 + iv->month * (double) DAYS_PER_MONTH * 86400.0;
	if (secs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name),
				 errhint("Use NULL or 0 to turn the timeout off.")));
	return secs;
}

/* Options shared by every form: (n, idle_timeout, active_timeout, filter) from argument a
 * (1 in read_pcap, 3 in import_pcap). */
static void
options_from_args(FunctionCallInfo fcinfo, int a, NtgCaptureOptions *opt)
{
	ntg_capture_default_options(opt);
	if (PG_ARGISNULL(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("n must not be null")));
	opt->n = PG_GETARG_INT32(a);
	if (opt->n < 0 || opt->n > NTG_CAP_MAX_N)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 0 and %d", NTG_CAP_MAX_N)));
	opt->idle_timeout = timeout_arg(fcinfo, a + 1, "idle_timeout");
	opt->active_timeout = timeout_arg(fcinfo, a + 2, "active_timeout");
	opt->filter = PG_ARGISNULL(a + 3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(a + 3));
	opt->progress_seconds = 5;
}

static void
check_read_privilege(const char *path)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read capture file \"%s\"", path),
				 errdetail("Only roles with privileges of the \"%s\" role may read files on the server.",
						   "pg_read_server_files"),
				 errhint("Send the capture's bytes as a bytea parameter instead: ntg.read_pcap(data bytea) and ntg.import_pcap(data bytea, ...) are open to every role.")));
}

static Datum
inet_datum(int family, const uint8_t *addr)
{
	inet	   *res = (inet *) palloc0(sizeof(inet));
	int			len = family == 4 ? 4 : 16;

	ip_family(res) = family == 4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
	ip_bits(res) = len * 8;
	memcpy(ip_addr(res), addr, len);
	SET_INET_VARSIZE(res);
	return InetPGetDatum(res);
}

static Datum
timestamp_datum(int64_t ns)
{
	int64		us = ns >= 0 ? ns / 1000 : -((-(ns + 1) + 1000) / 1000);
	TimestampTz ts = us - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	/* damaged captures can carry timestamps beyond PostgreSQL's range: clamp them */
	if (ts < MIN_TIMESTAMP)
		ts = MIN_TIMESTAMP;
	else if (ts >= END_TIMESTAMP)
		ts = END_TIMESTAMP - 1;
	return TimestampTzGetDatum(ts);
}

static Datum
pl_datum(const NtgBiflow *f, bool wide)
{
	Datum	   *d = palloc(sizeof(Datum) * (f->npl ? f->npl : 1));

	for (int i = 0; i < f->npl; i++)
	{
		int32		v = f->pl[i];

		if (wide)
			d[i] = Int32GetDatum(v);
		else
			d[i] = Int16GetDatum((int16) (v > PG_INT16_MAX ? PG_INT16_MAX : v < -PG_INT16_MAX ? -PG_INT16_MAX : v));
	}
	if (wide)
		return PointerGetDatum(construct_array(d, f->npl, INT4OID, 4, true, TYPALIGN_INT));
	return PointerGetDatum(construct_array(d, f->npl, INT2OID, 2, true, TYPALIGN_SHORT));
}

/* A label from a packet comment (UTF-8 by the pcapng format) in the server encoding; NULL when
 * the bytes are not valid UTF-8. */
static bool
label_datum(const char *label, Datum *out)
{
	int			len = strlen(label);

	if (!pg_verify_mbstr(PG_UTF8, label, len, true))
		return false;
	*out = PointerGetDatum(cstring_to_text(pg_any_to_server(label, len, PG_UTF8)));
	return true;
}

/* One biflow -> one row of read_pcap (column order as in sql/ext/10_capture.sql). */
static int
emit_row(const NtgBiflow *f, void *arg)
{
	CaptureRun *run = (CaptureRun *) arg;
	Datum		v[READ_PCAP_COLS];
	bool		nulls[READ_PCAP_COLS] = {0};
	MemoryContext old = MemoryContextSwitchTo(run->rowctx);

	v[0] = Int16GetDatum(f->protocol);
	v[1] = inet_datum(f->family, f->cli_addr);
	v[2] = Int32GetDatum(f->cli_port);
	v[3] = inet_datum(f->family, f->srv_addr);
	v[4] = Int32GetDatum(f->srv_port);
	v[5] = timestamp_datum(f->first_ns);
	v[6] = timestamp_datum(f->last_ns);
	v[7] = Int64GetDatum(f->packets[0]);
	v[8] = Int64GetDatum(f->packets[1]);
	v[9] = Int64GetDatum(f->bytes[0]);
	v[10] = Int64GetDatum(f->bytes[1]);
	v[11] = Int64GetDatum(f->payload_bytes[0]);
	v[12] = Int64GetDatum(f->payload_bytes[1]);
	v[13] = Int64GetDatum(f->payload_packets);
	v[14] = pl_datum(f, false);
	v[15] = pl_datum(f, true);
	if (f->sni)
		v[16] = CStringGetTextDatum(f->sni);
	else
		nulls[16] = true;
	nulls[17] = !f->label || !label_datum(f->label, &v[17]);
	run->sink(v, nulls, run->sinkarg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(run->rowctx);
	return 0;
}

static void
report_outcome(const char *what, const NtgCaptureStats *st)
{
	if (st->damaged)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s is damaged or cut short: read %llu packets before the damage",
						what, (unsigned long long) st->packets),
				 errdetail("Reading stopped because %s.", st->damage),
				 errhint("The biflows of the packets before the damage are returned.")));
	if (st->pl_over_smallint > 0)
		ereport(WARNING,
				(errmsg("%llu payload lengths of %s exceed the range of smallint",
						(unsigned long long) st->pl_over_smallint, what),
				 errdetail("Column pl holds them clipped to 32767 or -32767; column pl_full holds the exact values.")));
}

static void
tupstore_sink(const Datum *values, const bool *nulls, void *arg)
{
	TupstoreSink *ts = (TupstoreSink *) arg;

	tuplestore_putvalues(ts->tupstore, ts->tupdesc, (Datum *) values, (bool *) nulls);
}

/* Read a whole capture, handing each biflow to sink.  data != NULL: bytes; else path. */
static void
run_capture(const char *path, const uint8_t *data, size_t len, const NtgCaptureOptions *opt,
			RowSink sink, void *sinkarg, NtgCaptureStats *st)
{
	NtgError	err;
	MemoryContext capctx,
				old;
	CaptureRun *run;
	char		what[MAXPGPATH + 32];
	int			rc;

	capctx = AllocSetContextCreate(CurrentMemoryContext, "ntg capture", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(capctx);
	run = palloc0(sizeof(CaptureRun));
	run->sink = sink;
	run->sinkarg = sinkarg;
	run->rowctx = AllocSetContextCreate(capctx, "ntg capture row", ALLOCSET_SMALL_SIZES);
	run->cb.func = capture_cleanup;
	run->cb.arg = run;
	MemoryContextRegisterResetCallback(capctx, &run->cb);

	ntg_error_clear(&err);
	if (data)
	{
		snprintf(what, sizeof(what), "capture data");
		rc = ntg_capture_open_memory(data, len, &run->reader, &err);
	}
	else
	{
		snprintf(what, sizeof(what), "capture file \"%s\"", path);
		rc = ntg_capture_open_file(path, &run->reader, &err);
	}
	if (rc == NTG_OK)
		rc = ntg_capture_run(run->reader, opt, emit_row, run, st, &err);
	MemoryContextSwitchTo(old);
	if (rc != NTG_OK)
		ntg_pg_raise(&err);		/* the callback closes the reader */
	MemoryContextDelete(capctx);
	report_outcome(what, st);
}

/* read_pcap: the whole capture into the function's tuplestore. */
static void
read_capture(FunctionCallInfo fcinfo, const char *path, const uint8_t *data, size_t len)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	NtgCaptureOptions opt;
	NtgCaptureStats st;
	TupstoreSink ts;

	options_from_args(fcinfo, 1, &opt);
	InitMaterializedSRF(fcinfo, 0);
	ts.tupstore = rsinfo->setResult;
	ts.tupdesc = rsinfo->setDesc;
	run_capture(path, data, len, &opt, tupstore_sink, &ts, &st);
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
	check_read_privilege(path);
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

/* {"non_ip": 3, ...} for the import result. */
static Datum
skipped_jsonb(const NtgCaptureStats *st)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int i = 0; i < NTG_SKIP_NREASONS; i++)
		appendStringInfo(&s, "%s\"%s\": %llu", i ? ", " : "", ntg_skip_reason_names[i],
						 (unsigned long long) st->skipped[i]);
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

static const char *
target_name(Oid target)
{
	char	   *rel = get_rel_name(target);

	if (!rel)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", target)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)), rel);
}

static Oid
read_pcap_oid(bool is_bytea)
{
	Oid			argtypes[5] = {is_bytea ? BYTEAOID : TEXTOID, INT4OID, INTERVALOID, INTERVALOID, TEXTOID};

	return LookupFuncName(list_make2(makeString("ntg"), makeString("read_pcap")), 5, argtypes, false);
}

/* The generic path calls ntg.read_pcap, so it needs EXECUTE on it: the batched path asks the same. */
static void
check_read_pcap_execute(bool is_bytea)
{
	Oid			fn = read_pcap_oid(is_bytea);
	AclResult	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
}

/* Whether the installed ntg.read_pcap returns the label column (0.1.0's does not). */
static bool
read_pcap_has_label(bool is_bytea)
{
	TupleDesc	desc;

	if (get_func_result_type(read_pcap_oid(is_bytea), NULL, &desc) != TYPEFUNC_COMPOSITE)
		return false;
	return desc->natts >= READ_PCAP_COLS &&
		strcmp(NameStr(TupleDescAttr(desc, READ_PCAP_COLS - 1)->attname), "label") == 0;
}

static void
bulk_sink(const Datum *values, const bool *nulls, void *arg)
{
	capture_bulk_add((CaptureBulk *) arg, values, nulls);
}

/* The batched path: rows go from the reader's callback straight into table_multi_insert. */
static uint64
import_batched(FunctionCallInfo fcinfo, const char *path, CaptureBulk *bulk, NtgCaptureStats *st)
{
	NtgCaptureOptions opt;

	options_from_args(fcinfo, 3, &opt);
	if (path)
		run_capture(path, NULL, 0, &opt, bulk_sink, bulk, st);
	else
	{
		bytea	   *b = PG_GETARG_BYTEA_PP(0);

		run_capture(NULL, (const uint8_t *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &opt,
					bulk_sink, bulk, st);
	}
	return capture_bulk_end(bulk);
}

/*
 * The generic path, for any target an INSERT accepts (triggers, rules, partitions, views, type
 * conversions, ...): INSERT INTO target (...) SELECT ... FROM ntg.read_pcap(source, ...).
 */
static uint64
import_generic(FunctionCallInfo fcinfo, bool is_bytea, const char *name, const Datum *fixed,
			   const bool *fixednull, NtgCaptureStats *st)
{
	Oid			argtypes[8] = {TEXTOID, TEXTOID, TEXTOID, is_bytea ? BYTEAOID : TEXTOID,
	INT4OID, INTERVALOID, INTERVALOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = "        ";
	StringInfoData sql;
	uint64		generation = last_generation;
	uint64		written;

	/* label NULL: each biflow's label from its packet comment, where the capture has one */
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "INSERT INTO %s (dataset, label, source, protocol, client_ip, client_port, "
					 "server_ip, server_port, first_seen, last_seen, packets_up, packets_down, "
					 "bytes_up, bytes_down, payload_bytes_up, payload_bytes_down, payload_packets, "
					 "pl, pl_full, sni) SELECT $1, %s, $3, r.protocol, r.client_ip, r.client_port, "
					 "r.server_ip, r.server_port, r.first_seen, r.last_seen, r.packets_up, "
					 "r.packets_down, r.bytes_up, r.bytes_down, r.payload_bytes_up, "
					 "r.payload_bytes_down, r.payload_packets, r.pl, r.pl_full, r.sni "
					 "FROM ntg.read_pcap($4, n => $5, idle_timeout => $6, active_timeout => $7, "
					 "filter => $8) r",
					 name, read_pcap_has_label(is_bytea) ? "coalesce($2, r.label)" : "$2");
	for (int i = 0; i < CAPTURE_BULK_FIXED; i++)
	{
		values[i] = fixed[i];
		nulls[i] = fixednull[i] ? 'n' : ' ';
	}
	values[3] = PG_GETARG_DATUM(0);
	for (int i = 4; i < 8; i++)
	{
		nulls[i] = PG_ARGISNULL(i - 1) ? 'n' : ' ';
		values[i] = PG_ARGISNULL(i - 1) ? (Datum) 0 : PG_GETARG_DATUM(i - 1);
	}

	SPI_connect();
	if (SPI_execute_with_args(sql.data, 8, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args failed: %s", sql.data);
	written = SPI_processed;
	SPI_finish();
	if (last_generation != generation + 1)
		elog(ERROR, "read_pcap ran %llu times during one import",
			 (unsigned long long) (last_generation - generation));
	*st = last_stats;
	return written;
}

/*
 * import_pcap(source, dataset, label, n, idle_timeout, active_timeout, filter, target): the
 * biflows into target, batched like COPY where the target allows it, else through an INSERT;
 * then the figures.
 */
static Datum
import_capture(FunctionCallInfo fcinfo, bool is_bytea)
{
	Oid			target = PG_GETARG_OID(7);
	char	   *dataset,
			   *source = NULL;
	const char *name,
			   *why;
	Datum		fixed[CAPTURE_BULK_FIXED];
	bool		fixednull[CAPTURE_BULK_FIXED];
	CaptureBulk *bulk;
	TupleDesc	tupdesc;
	Datum		out[10];
	bool		outnulls[10] = {0};
	uint64		written;
	NtgCaptureStats st;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("capture %s must not be null", is_bytea ? "data" : "path")));
	if (PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target table must not be null")));
	if (!is_bytea)
	{
		source = text_to_cstring(PG_GETARG_TEXT_PP(0));
		check_read_privilege(source);	/* before the INSERT, for a message without context */
	}
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

	name = target_name(target);
	fixed[0] = CStringGetTextDatum(dataset);
	fixednull[0] = false;
	fixed[1] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	fixednull[1] = PG_ARGISNULL(2);
	fixed[2] = source ? CStringGetTextDatum(source) : (Datum) 0;
	fixednull[2] = source == NULL;
	bulk = capture_bulk_begin(target, fixed, fixednull, &why);
	if (bulk)
	{
		check_read_pcap_execute(is_bytea);
		ereport(DEBUG1, (errmsg_internal("ntg.import_pcap: batched insert into %s", name)));
		written = import_batched(fcinfo, source, bulk, &st);
	}
	else
	{
		ereport(DEBUG1, (errmsg_internal("ntg.import_pcap: INSERT into %s because %s", name, why)));
		written = import_generic(fcinfo, is_bytea, name, fixed, fixednull, &st);
	}

	out[0] = CStringGetTextDatum(dataset);
	out[1] = CStringGetTextDatum(st.format);
	out[2] = Int64GetDatum(st.packets);
	out[3] = Int64GetDatum(st.bytes_read);
	out[4] = Int64GetDatum(st.packets_attributed);
	out[5] = Int64GetDatum(written);
	out[6] = skipped_jsonb(&st);
	out[7] = Int64GetDatum(st.pl_over_smallint);
	out[8] = BoolGetDatum(st.damaged);
	if (st.damaged)
		out[9] = CStringGetTextDatum(st.damage);
	else
		outnulls[9] = true;
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, out, outnulls)));
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
