/*
 * capture_read.c — the capture glue's shared part (capture_pg.h): GUCs, options from SQL
 * arguments, biflow rows as datums, reading one capture in this backend with its reader closed
 * by a memory-context callback (error, cancel), and the warnings that follow a read.
 */
#include "postgres.h"

#include <limits.h>
#include <sys/socket.h>

#include "catalog/pg_authid_d.h"
#include "catalog/pg_type_d.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "capture/filter.h"
#include "capture_pg.h"
#include "ntg_glue.h"

int			ntg_import_memory = -1;
int			ntg_import_workers = 2;

static bool
check_import_memory(int *newval, void **extra, GucSource source)
{
	/* as autovacuum_work_mem: -1 follows maintenance_work_mem, less than 1 MB means 1 MB */
	if (*newval != -1 && *newval < 1024)
		*newval = 1024;
	return true;
}

void
capture_define_gucs(void)
{
	DefineCustomIntVariable("ntg.import_memory",
							"Memory the biflow table of one capture import may use.",
							"-1 uses maintenance_work_mem.  At the limit, the biflows idle the "
							"longest are ended early (a WARNING counts them).",
							&ntg_import_memory, -1, -1, MAX_KILOBYTES, PGC_USERSET,
							GUC_UNIT_KB, check_import_memory, NULL, NULL);
	DefineCustomIntVariable("ntg.import_workers",
							"Background workers that read capture files in parallel for ntg.import_pcaps.",
							"0 reads them one after another in the backend.  The workers "
							"count against max_worker_processes.",
							&ntg_import_workers, 2, 0, 64, PGC_USERSET, 0, NULL, NULL, NULL);
}

size_t
capture_memory_limit(void)
{
	int			kb = ntg_import_memory == -1 ? maintenance_work_mem : ntg_import_memory;

	return (size_t) kb * 1024;
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

static bool
bool_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	ntg_pg_require_arg(fcinfo, argno, name);
	return PG_GETARG_BOOL(argno);
}

void
capture_options_from_args(FunctionCallInfo fcinfo, int a, int b, NtgCaptureOptions *opt)
{
	char	   *rule;
	NtgError	err;

	ntg_capture_default_options(opt);
	ntg_pg_require_arg(fcinfo, a, "n");
	opt->n = PG_GETARG_INT32(a);
	if (opt->n < 0 || opt->n > NTG_CAP_MAX_N)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 0 and %d", NTG_CAP_MAX_N)));
	opt->idle_timeout = timeout_arg(fcinfo, a + 1, "idle_timeout");
	opt->active_timeout = timeout_arg(fcinfo, a + 2, "active_timeout");
	opt->filter = PG_ARGISNULL(a + 3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(a + 3));
	opt->progress_seconds = 5;
	if (b + 2 >= PG_NARGS())
	{
		/* 0.1.0's functions, served by this library until the extension is updated */
		opt->memory_limit = capture_memory_limit();
		goto check_filter;
	}
	opt->split_on_syn = bool_arg(fcinfo, b, "split_on_syn");
	rule = ntg_pg_text_arg(fcinfo, b + 1, "client_rule");
	if (strcmp(rule, "port") == 0)
		opt->client_rule = NTG_CLIENT_PORT;
	else if (strcmp(rule, "first") == 0)
		opt->client_rule = NTG_CLIENT_FIRST;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("client_rule must be \"port\" or \"first\""),
				 errdetail("\"port\": a TCP SYN names the client, else the port rule; \"first\": the sender of the first packet.")));
	opt->decapsulate = bool_arg(fcinfo, b + 2, "decapsulate");
	opt->memory_limit = capture_memory_limit();
check_filter:
	/* the filter's own checks (names, size) before any file is opened */
	ntg_error_clear(&err);
	if (opt->filter && ntg_filter_check(opt->filter, &err) != NTG_OK)
		ntg_pg_raise(&err);
}

void
capture_check_read_privilege(const char *path)
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

/* pl of a biflow as integer[] (exact) or, for 0.1.0's read_pcap, smallint[] (clipped), built in
 * one allocation (this is per row: construct_array would copy every value through a Datum array
 * first). */
static Datum
pl_datum(const NtgBiflow *f, bool wide)
{
	int			elemsize = wide ? sizeof(int32) : sizeof(int16);
	Size		nbytes = ARR_OVERHEAD_NONULLS(1) + (Size) elemsize * f->npl;
	ArrayType  *a;

	if (f->npl == 0)
		return PointerGetDatum(construct_empty_array(wide ? INT4OID : INT2OID));
	a = (ArrayType *) palloc(nbytes);
	SET_VARSIZE(a, nbytes);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = wide ? INT4OID : INT2OID;
	ARR_DIMS(a)[0] = f->npl;
	ARR_LBOUND(a)[0] = 1;
	if (wide)
		memcpy(ARR_DATA_PTR(a), f->pl, sizeof(int32) * f->npl);
	else
	{
		int16	   *d = (int16 *) ARR_DATA_PTR(a);

		for (int i = 0; i < f->npl; i++)
		{
			int32		v = f->pl[i];

			d[i] = (int16) (v > PG_INT16_MAX ? PG_INT16_MAX : v < -PG_INT16_MAX ? -PG_INT16_MAX : v);
		}
	}
	return PointerGetDatum(a);
}

/* A label from a packet comment (UTF-8 by the pcapng format) in the server encoding; false when
 * the bytes are not valid UTF-8 (the label is then NULL). */
static bool
label_datum(const char *label, Datum *out)
{
	int			len = strlen(label);

	if (!pg_verify_mbstr(PG_UTF8, label, len, true))
		return false;
	*out = PointerGetDatum(cstring_to_text(pg_any_to_server(label, len, PG_UTF8)));
	return true;
}

/* The 14 columns before pl, the same in every version. */
static void
flow_values(const NtgBiflow *f, Datum *v)
{
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
}

void
capture_row_values(const NtgBiflow *f, Datum *v, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * CAPTURE_ROW_COLS);
	flow_values(f, v);
	v[14] = pl_datum(f, true);
	if (f->sni)
		v[15] = CStringGetTextDatum(f->sni);
	else
		nulls[15] = true;
	nulls[16] = !f->label || !label_datum(f->label, &v[16]);
}

void
capture_row_values_v010(const NtgBiflow *f, Datum *v, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * CAPTURE_ROW_COLS_V010);
	flow_values(f, v);
	v[14] = pl_datum(f, false);
	v[15] = pl_datum(f, true);
	if (f->sni)
		v[16] = CStringGetTextDatum(f->sni);
	else
		nulls[16] = true;
}

Datum
capture_skipped_jsonb(const NtgCaptureStats *st)
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

void
capture_report_outcome(const char *what, const NtgCaptureStats *st)
{
	if (st->damaged)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s is damaged or cut short: read %llu packets before the damage",
						what, (unsigned long long) st->packets),
				 errdetail("Reading stopped because %s.", st->damage),
				 errhint("The biflows of the packets before the damage are returned.")));
	if (st->ended_early > 0)
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%llu biflows of %s were ended early to keep the biflow table within ntg.import_memory (%zu kB)",
						(unsigned long long) st->ended_early, what, capture_memory_limit() / 1024),
				 errdetail("At the limit, the biflow idle the longest is emitted to make room; a later packet of its endpoints starts a new biflow."),
				 errhint("Raise ntg.import_memory (or maintenance_work_mem, which it follows by default) for exact biflows.")));
}

void
capture_report_clipped_v010(const char *what, const NtgCaptureStats *st)
{
	if (st->pl_over_smallint > 0)
		ereport(WARNING,
				(errmsg("%llu payload lengths of %s exceed the range of smallint",
						(unsigned long long) st->pl_over_smallint, what),
				 errdetail("Column pl holds them clipped to 32767 or -32767; column pl_full holds the exact values."),
				 errhint("Run ALTER EXTENSION ntg UPDATE: from 0.2.0 on, pl holds the exact values.")));
}

/* A capture being read in this backend: its reader is closed when the context goes. */
typedef struct OneRead
{
	NtgCaptureReader *reader;
	MemoryContextCallback cb;
	CaptureRowSink sink;
	void	   *arg;
	int			file;
	MemoryContext rowctx;
} OneRead;

static void
one_read_cleanup(void *arg)
{
	OneRead    *run = (OneRead *) arg;

	ntg_capture_close(run->reader);
	run->reader = NULL;
}

static int
one_read_emit(const NtgBiflow *f, void *arg)
{
	OneRead    *run = (OneRead *) arg;
	MemoryContext old = MemoryContextSwitchTo(run->rowctx);

	run->sink(run->file, f, run->arg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(run->rowctx);
	return 0;
}

/* Open and read; the core's memory and the reader belong to a context deleted here or, on an
 * error that unwinds, with the caller's. */
static int
read_in_backend(const char *path, const uint8_t *data, size_t len, const NtgCaptureOptions *opt,
				CaptureRowSink sink, int file, void *arg, NtgCaptureStats *st, NtgError *err)
{
	MemoryContext capctx,
				old;
	OneRead    *run;
	int			rc;

	capctx = AllocSetContextCreate(CurrentMemoryContext, "ntg capture", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(capctx);
	run = palloc0(sizeof(OneRead));
	run->sink = sink;
	run->arg = arg;
	run->file = file;
	run->rowctx = AllocSetContextCreate(capctx, "ntg capture row", ALLOCSET_SMALL_SIZES);
	run->cb.func = one_read_cleanup;
	run->cb.arg = run;
	MemoryContextRegisterResetCallback(capctx, &run->cb);

	ntg_error_clear(err);
	memset(st, 0, sizeof(*st));
	if (data)
		rc = ntg_capture_open_memory(data, len, &run->reader, err);
	else
		rc = ntg_capture_open_file(path, &run->reader, err);
	if (rc == NTG_OK)
		rc = ntg_capture_run(run->reader, opt, one_read_emit, run, st, err);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(capctx);	/* the callback closes the reader */
	return rc;
}

void
capture_read_one(const char *path, const uint8_t *data, size_t len, const NtgCaptureOptions *opt,
				 CaptureRowSink sink, void *arg, NtgCaptureStats *st)
{
	NtgError	err;

	if (read_in_backend(path, data, len, opt, sink, 0, arg, st, &err) != NTG_OK)
		ntg_pg_raise(&err);
}

int
capture_try_read_one(const char *path, const NtgCaptureOptions *opt, CaptureRowSink sink,
					 int file, void *arg, NtgCaptureStats *st, NtgError *err)
{
	return read_in_backend(path, NULL, 0, opt, sink, file, arg, st, err);
}
