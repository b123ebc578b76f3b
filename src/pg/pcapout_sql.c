/*
 * pcapout_sql.c — ntg.write_pcap(query, ...) returns biflows as a pcapng capture (bytea);
 * ntg.write_pcap_file(path, query, ...) writes it to a file on the server, as COPY TO does.
 *
 * The query's rows stream through a cursor into the core writer (src/core/pcapout/), which keeps
 * only the biflows in progress: memory is the capture itself for the bytea form (at most 1 GB, the
 * limit of a bytea) and a megabyte buffer for the file form, plus the biflows that overlap in time
 * (at most work_mem).  Columns are recognised by name: label and pl are required; protocol,
 * client_ip, client_port, server_ip, server_port and start_time are optional, and a NULL in one of
 * them means "not given".  docs/pcap-export.md is the reference.
 */
#include "postgres.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include "catalog/pg_authid_d.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "ntg_glue.h"
#include "pcapout/pcapout.h"

#define FETCH_BATCH 1000

/* The columns a query may return, by name. */
typedef enum
{
	COL_LABEL = 0,
	COL_PL,
	COL_PROTOCOL,
	COL_CLIENT_IP,
	COL_CLIENT_PORT,
	COL_SERVER_IP,
	COL_SERVER_PORT,
	COL_START_TIME,
	NCOLS
} ColId;

static const char *const col_names[NCOLS] = {
	"label", "pl", "protocol", "client_ip", "client_port", "server_ip", "server_port", "start_time"
};

typedef struct Columns
{
	int			attno[NCOLS];	/* 1-based, 0: absent */
	Oid			type[NCOLS];
} Columns;

/* What the error context says: which row of the query was being written. */
typedef struct RowContext
{
	uint64		row;
} RowContext;

typedef struct FileSink
{
	FILE	   *f;
	const char *path;
} FileSink;

static void
row_context(void *arg)
{
	errcontext("biflow %llu of the query", (unsigned long long) ((RowContext *) arg)->row);
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int
protocol_from_name(const char *s, const char *what)
{
	if (pg_strcasecmp(s, "tcp") == 0)
		return 6;
	if (pg_strcasecmp(s, "udp") == 0)
		return 17;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", what, s),
			 errhint("Use \"tcp\" or \"udp\".")));
	return 0;
}

static int64
interval_us(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Interval   *iv;
	double		us;

	ntg_pg_require_arg(fcinfo, argno, name);
	iv = PG_GETARG_INTERVAL_P(argno);
	us = iv->time + (iv->day * 86400.0 + iv->month * (double) DAYS_PER_MONTH * 86400.0) * 1e6;
	if (us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name)));
	if (us > 1e15)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be longer than 10 years", name)));
	return (int64) us;
}

/* PostgreSQL timestamp -> Unix microseconds; refuses infinity and times before 1970. */
static int64
unix_us(TimestampTz ts, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", name)));
	ts += (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
	if (ts < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be before 1970-01-01", name),
				 errdetail("pcapng timestamps count from the Unix epoch.")));
	return ts;
}

/* (seed, protocol, classes, start_time, flow_gap, packet_gap, mss, payload) from argument a;
 * classes (a + 2) is read later, once the writer exists. */
static void
options_from_args(FunctionCallInfo fcinfo, int a, NtgPcapOutOptions *o)
{
	char	   *payload;

	ntg_pcapout_default_options(o);
	ntg_pg_require_arg(fcinfo, a, "seed");
	o->seed = (uint64) PG_GETARG_INT64(a);
	o->protocol = protocol_from_name(ntg_pg_text_arg(fcinfo, a + 1, "protocol"), "protocol");
	ntg_pg_require_arg(fcinfo, a + 3, "start_time");
	o->start_us = unix_us(PG_GETARG_TIMESTAMPTZ(a + 3), "start_time");
	o->flow_gap_us = interval_us(fcinfo, a + 4, "flow_gap");
	o->packet_gap_us = interval_us(fcinfo, a + 5, "packet_gap");
	ntg_pg_require_arg(fcinfo, a + 6, "mss");
	o->mss = PG_GETARG_INT32(a + 6);
	if (o->mss < 1 || o->mss > NTG_PCAPOUT_MAX_MSS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mss must be between 1 and %d", NTG_PCAPOUT_MAX_MSS)));
	payload = ntg_pg_text_arg(fcinfo, a + 7, "payload");
	if (strcmp(payload, "zero") == 0)
		o->payload = NTG_FILL_ZERO;
	else if (strcmp(payload, "random") == 0)
		o->payload = NTG_FILL_RANDOM;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown payload fill \"%s\"", payload),
				 errhint("Use \"zero\" or \"random\".")));
	o->max_state_bytes = (uint64) work_mem * 1024;
	o->userappl = "ntg";
	o->progress_seconds = 5;
}

/* ---- classes (jsonb) ---------------------------------------------------------------------- */

static int
json_int(const JsonbValue *v, const char *label, const char *key)
{
	bool		bad = false;
	int32		x;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of class \"%s\" in classes must be a number", key, label)));
	x = numeric_int4_opt_error(v->val.numeric, &bad);
	if (bad || DatumGetBool(DirectFunctionCall2(numeric_ne, NumericGetDatum(v->val.numeric),
												NumericGetDatum(int64_to_numeric(x)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of class \"%s\" in classes must be an integer", key, label)));
	return x;
}

static int
class_port(const JsonbValue *v, const char *label)
{
	int			port = json_int(v, label, "server_port");

	if (port < 1 || port > 65535)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("server_port of class \"%s\" in classes must be between 1 and 65535", label)));
	return port;
}

static int
class_protocol(const JsonbValue *v, const char *label)
{
	int			p;

	if (v->type == jbvString)
		return protocol_from_name(pnstrdup(v->val.string.val, v->val.string.len), "protocol");
	p = json_int(v, label, "protocol");
	if (p != 6 && p != 17)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("protocol of class \"%s\" in classes must be 6, 17, \"tcp\" or \"udp\"", label)));
	return p;
}

/* One class: a number (its server port) or {"protocol": ..., "server_port": ...}. */
static void
parse_class(const JsonbValue *v, const char *label, int *protocol, int *port)
{
	JsonbIterator *it;
	JsonbValue	k,
				x;
	JsonbIteratorToken tok;

	*protocol = 0;
	*port = 0;
	if (v->type == jbvNumeric)
	{
		*port = class_port(v, label);
		return;
	}
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("class \"%s\" in classes must be a server port or an object", label),
				 errhint("Write {\"%s\": 443} or {\"%s\": {\"protocol\": \"udp\", \"server_port\": 53}}.",
						 label, label)));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		JsonbIteratorNext(&it, &x, true);
		if (strcmp(key, "protocol") == 0)
			*protocol = class_protocol(&x, label);
		else if (strcmp(key, "server_port") == 0)
			*port = class_port(&x, label);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" for class \"%s\" in classes", key, label),
					 errhint("A class may give \"protocol\" and \"server_port\".")));
	}
}

static void
classes_from_jsonb(NtgPcapWriter *w, Jsonb *j)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	NtgError	err;

	if (!JB_ROOT_IS_OBJECT(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("classes must be a JSON object"),
				 errhint("Map each class to its server port or to {\"protocol\": ..., \"server_port\": ...}; ntg.pcap_classes() derives one from imported biflows.")));
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *label,
				   *utf8;
		int			protocol,
					port;

		if (tok != WJB_KEY)
			continue;
		label = pnstrdup(k.val.string.val, k.val.string.len);
		JsonbIteratorNext(&it, &v, true);
		parse_class(&v, label, &protocol, &port);
		utf8 = pg_server_to_any(label, strlen(label), PG_UTF8);
		NTG_PG_CHECK(ntg_pcapout_class(w, utf8, strlen(utf8), protocol, port, &err), &err);
	}
}

/* ---- the query's columns ------------------------------------------------------------------ */

static bool
is_text_type(Oid t)
{
	return t == TEXTOID || t == VARCHAROID || t == BPCHAROID || t == NAMEOID;
}

static bool
is_int_type(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID;
}

static void
column_type_error(ColId c, Oid got, const char *want)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("%s column must be of type %s, not %s", col_names[c], want, format_type_be(got))));
}

static void
find_columns(TupleDesc desc, Columns *cols)
{
	memset(cols, 0, sizeof(*cols));
	for (int i = 0; i < desc->natts; i++)
	{
		const char *name = NameStr(TupleDescAttr(desc, i)->attname);
		int			c;

		for (c = 0; c < NCOLS; c++)
			if (strcmp(name, col_names[c]) == 0)
				break;
		if (c == NCOLS)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("query returns a column \"%s\", which is not a biflow column", name),
					 errdetail("The columns are label and pl, and optionally protocol, client_ip, client_port, server_ip, server_port and start_time."),
					 errhint("Leave the column out, or rename it with AS.")));
		if (cols->attno[c])
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("query returns the column \"%s\" twice", name)));
		cols->attno[c] = i + 1;
		cols->type[c] = SPI_gettypeid(desc, i + 1);
	}
	for (int c = COL_LABEL; c <= COL_PL; c++)
		if (!cols->attno[c])
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("query must return a column named \"%s\"", col_names[c]),
					 errdetail("Each row is a biflow: its label (text) and pl, its signed payload lengths (smallint[] or integer[])."),
					 errhint("Name the columns with AS if they have other names.")));
	if (!is_text_type(cols->type[COL_LABEL]))
		column_type_error(COL_LABEL, cols->type[COL_LABEL], "text");
	if (cols->type[COL_PL] != INT2ARRAYOID && cols->type[COL_PL] != INT4ARRAYOID)
		column_type_error(COL_PL, cols->type[COL_PL], "smallint[] or integer[]");
	if (cols->attno[COL_PROTOCOL] && !is_int_type(cols->type[COL_PROTOCOL]) &&
		!is_text_type(cols->type[COL_PROTOCOL]))
		column_type_error(COL_PROTOCOL, cols->type[COL_PROTOCOL], "smallint, integer or text");
	for (int c = COL_CLIENT_IP; c <= COL_SERVER_PORT; c++)
	{
		bool		ip = c == COL_CLIENT_IP || c == COL_SERVER_IP;

		if (cols->attno[c] && ip && cols->type[c] != INETOID)
			column_type_error((ColId) c, cols->type[c], "inet");
		if (cols->attno[c] && !ip && !is_int_type(cols->type[c]))
			column_type_error((ColId) c, cols->type[c], "integer");
	}
	if (cols->attno[COL_START_TIME] && cols->type[COL_START_TIME] != TIMESTAMPTZOID)
		column_type_error(COL_START_TIME, cols->type[COL_START_TIME], "timestamp with time zone");
}

/* ---- one row ------------------------------------------------------------------------------ */

/* Column c of the row, or false when the query has no such column or the value is NULL. */
static bool
get_col(HeapTuple tup, TupleDesc desc, const Columns *cols, ColId c, Datum *d)
{
	bool		isnull;

	if (!cols->attno[c])
		return false;
	*d = SPI_getbinval(tup, desc, cols->attno[c], &isnull);
	return !isnull;
}

static int64
int_value(Datum d, Oid type)
{
	return type == INT2OID ? DatumGetInt16(d) : type == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);
}

static char *
label_value(Datum d, Oid type)
{
	char	   *s;

	if (type == NAMEOID)
		return pstrdup(NameStr(*DatumGetName(d)));
	s = TextDatumGetCString(d);
	/* character(n) pads with spaces that are not part of the value (as its cast to text) */
	if (type == BPCHAROID)
	{
		int			len = strlen(s);

		while (len > 0 && s[len - 1] == ' ')
			s[--len] = '\0';
	}
	return s;
}

static void
pl_value(Datum d, Oid type, NtgPcapOutFlow *fl)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("pl arrays must have one dimension")));
	if (array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pl arrays must not contain null values")));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	fl->npl = n;
	if (type == INT4ARRAYOID)
		fl->pl = (const int32_t *) ARR_DATA_PTR(arr);
	else
	{
		int32	   *v = palloc(sizeof(int32) * (n ? n : 1));
		int16	   *src = (int16 *) ARR_DATA_PTR(arr);

		for (int i = 0; i < n; i++)
			v[i] = src[i];
		fl->pl = v;
	}
}

static int
port_value(Datum d, Oid type, ColId c)
{
	int64		p = int_value(d, type);

	if (p < 1 || p > 65535)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %lld is out of range", col_names[c], (long long) p),
				 errdetail("Ports are 1 to 65535; NULL draws one.")));
	return (int) p;
}

static int
protocol_value(Datum d, Oid type)
{
	int64		p;

	if (is_text_type(type))
		return protocol_from_name(label_value(d, type), "protocol");
	p = int_value(d, type);
	if (p != 6 && p != 17)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("protocol %lld is not supported", (long long) p),
				 errdetail("Use 6 (TCP) or 17 (UDP); NULL takes the class's or the protocol argument.")));
	return (int) p;
}

static int
inet_value(Datum d, uint8_t *addr)
{
	inet	   *ip = DatumGetInetPP(d);
	int			v4 = ip_family(ip) == PGSQL_AF_INET;

	memcpy(addr, ip_addr(ip), v4 ? 4 : 16);
	return v4 ? 4 : 6;
}

/* A row -> the writer's biflow (in the current, per-row memory context). */
static void
row_to_flow(HeapTuple tup, TupleDesc desc, const Columns *cols, NtgPcapOutFlow *fl)
{
	Datum		d;
	char	   *label;

	memset(fl, 0, sizeof(*fl));
	if (!get_col(tup, desc, cols, COL_LABEL, &d))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query returned a null label"),
				 errhint("Every biflow needs a label; use coalesce(label, '') for none.")));
	label = label_value(d, cols->type[COL_LABEL]);
	fl->label = pg_server_to_any(label, strlen(label), PG_UTF8);
	fl->label_len = strlen(fl->label);
	if (!get_col(tup, desc, cols, COL_PL, &d))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query returned a null pl array")));
	pl_value(d, cols->type[COL_PL], fl);
	if (get_col(tup, desc, cols, COL_PROTOCOL, &d))
		fl->protocol = protocol_value(d, cols->type[COL_PROTOCOL]);
	if (get_col(tup, desc, cols, COL_CLIENT_IP, &d))
		fl->cli_family = inet_value(d, fl->cli_addr);
	if (get_col(tup, desc, cols, COL_SERVER_IP, &d))
		fl->srv_family = inet_value(d, fl->srv_addr);
	if (get_col(tup, desc, cols, COL_CLIENT_PORT, &d))
		fl->cli_port = port_value(d, cols->type[COL_CLIENT_PORT], COL_CLIENT_PORT);
	if (get_col(tup, desc, cols, COL_SERVER_PORT, &d))
		fl->srv_port = port_value(d, cols->type[COL_SERVER_PORT], COL_SERVER_PORT);
	if (get_col(tup, desc, cols, COL_START_TIME, &d))
	{
		fl->start_given = true;
		fl->start_us = unix_us(DatumGetTimestampTz(d), "start_time");
	}
}

/* ---- the run ------------------------------------------------------------------------------ */

static void
raise_writer_error(NtgPcapWriter *w, const NtgError *err)
{
	NtgPcapOutLimit lim = ntg_pcapout_limit_hit(w);

	if (lim == NTG_PCAPOUT_LIMIT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("capture is too large for a bytea value"),
				 errdetail("A bytea value holds at most 1 GB."),
				 errhint("Write fewer biflows, or write the capture to a file on the server with ntg.write_pcap_file().")));
	if (lim == NTG_PCAPOUT_LIMIT_STATE)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("too many biflows overlap in time"),
				 errdetail("The biflows in progress at one time need more memory than work_mem allows."),
				 errhint("Raise work_mem (now %d kB), or start the biflows further apart (start_time, flow_gap).",
						 work_mem)));
	if (err->code == NTG_ERR_INVALID_ARG && strstr(err->msg, "start_time is earlier"))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", err->msg),
				 errdetail_internal("%s", err->detail),
				 errhint("Add ORDER BY start_time to the query.")));
	ntg_pg_raise(err);
}

/* Run the query and hand each row to the writer. */
static void
write_rows(const char *query, NtgPcapWriter *w)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext rowcxt = AllocSetContextCreate(callercxt, "ntg write_pcap row", ALLOCSET_DEFAULT_SIZES);
	SPIPlanPtr	plan;
	Portal		portal;
	Columns		cols;
	bool		have_cols = false;
	RowContext	rc = {0};
	ErrorContextCallback ecb;
	NtgError	err;

	SPI_connect();
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("could not prepare query: %s", SPI_result_code_string(SPI_result))));
	if (!SPI_is_cursor_plan(plan))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be a single SELECT that returns rows")));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (!have_cols)
		{
			find_columns(SPI_tuptable->tupdesc, &cols);
			have_cols = true;
		}
		if (SPI_processed == 0)
			break;
		ecb.callback = row_context;
		ecb.arg = &rc;
		ecb.previous = error_context_stack;
		error_context_stack = &ecb;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			NtgPcapOutFlow fl;
			MemoryContext old;
			int			st;

			rc.row++;
			old = MemoryContextSwitchTo(rowcxt);
			row_to_flow(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &cols, &fl);
			/* the writer allocates in the caller's context: what it keeps outlives the row */
			MemoryContextSwitchTo(callercxt);
			st = ntg_pcapout_add(w, &fl, &err);
			MemoryContextSwitchTo(old);
			if (st != NTG_OK)
				raise_writer_error(w, &err);
			MemoryContextReset(rowcxt);
			CHECK_FOR_INTERRUPTS();
		}
		error_context_stack = ecb.previous;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(rowcxt);
	if (ntg_pcapout_finish(w, &err) != NTG_OK)
		raise_writer_error(w, &err);
}

static NtgPcapWriter *
make_writer(FunctionCallInfo fcinfo, NtgPcapOutOptions *opt, int classes_arg)
{
	NtgError	err;
	NtgPcapWriter *w = ntg_pcapout_create(opt, &err);

	if (!w)
		ntg_pg_raise(&err);
	if (!PG_ARGISNULL(classes_arg))
		classes_from_jsonb(w, PG_GETARG_JSONB_P(classes_arg));
	return w;
}

PG_FUNCTION_INFO_V1(ntg_write_pcap);
Datum
ntg_write_pcap(PG_FUNCTION_ARGS)
{
	char	   *query = ntg_pg_text_arg(fcinfo, 0, "query");
	NtgPcapOutOptions opt;
	NtgPcapWriter *w;
	uint8_t    *buf;
	size_t		len;

	options_from_args(fcinfo, 1, &opt);
	opt.head_room = VARHDRSZ;
	opt.max_bytes = MaxAllocSize - VARHDRSZ;
	w = make_writer(fcinfo, &opt, 3);
	write_rows(query, w);
	/* the buffer was allocated in this context with room for the varlena header: no copy */
	buf = ntg_pcapout_take_buffer(w, &len);
	ntg_pcapout_destroy(w);
	SET_VARSIZE(buf, len);
	PG_RETURN_BYTEA_P((bytea *) buf);
}

static int
file_flush(const uint8_t *data, size_t len, void *arg, NtgError *err)
{
	FileSink   *fs = (FileSink *) arg;

	if (fwrite(data, 1, len, fs->f) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write to file \"%s\": %m", fs->path)));
	return NTG_OK;
}

/* Open the file as COPY TO does: absolute path, pg_write_server_files, umask 022. */
static FILE *
open_output(const char *path)
{
	mode_t		oumask;
	FILE	   *f = NULL;

	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write capture file \"%s\"", path),
				 errdetail("Only roles with privileges of the \"%s\" role may write files on the server.",
						   "pg_write_server_files"),
				 errhint("ntg.write_pcap() returns the capture as bytea and is open to every role.")));
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("relative path not allowed for a capture file on the server")));
	oumask = umask(S_IWGRP | S_IWOTH);
	PG_TRY();
	{
		f = AllocateFile(path, PG_BINARY_W);
	}
	PG_FINALLY();
	{
		umask(oumask);
	}
	PG_END_TRY();
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for writing: %m", path)));
	return f;
}

PG_FUNCTION_INFO_V1(ntg_write_pcap_file);
Datum
ntg_write_pcap_file(PG_FUNCTION_ARGS)
{
	char	   *path = ntg_pg_text_arg(fcinfo, 0, "path");
	char	   *query = ntg_pg_text_arg(fcinfo, 1, "query");
	NtgPcapOutOptions opt;
	NtgPcapWriter *w;
	NtgPcapOutStats st;
	FileSink	fs;
	TupleDesc	desc;
	Datum		v[3];
	bool		nulls[3] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	options_from_args(fcinfo, 2, &opt);
	fs.path = path;
	fs.f = open_output(path);
	opt.flush = file_flush;
	opt.flush_arg = &fs;
	w = make_writer(fcinfo, &opt, 4);
	write_rows(query, w);
	ntg_pcapout_stats(w, &st);
	ntg_pcapout_destroy(w);
	if (FreeFile(fs.f) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", path)));
	v[0] = Int64GetDatum(st.biflows);
	v[1] = Int64GetDatum(st.packets);
	v[2] = Int64GetDatum(st.bytes);
	desc = BlessTupleDesc(desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, nulls)));
}
