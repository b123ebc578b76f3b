/*
 * jobs_import.c — ntg.import_new_captures(pattern, dataset, label, target, min_age, options):
 * import every capture file on the server that a glob pattern matches and that was not imported
 * into the same target before; what a nightly import job runs (docs/jobs.md).
 *
 * Each file goes through ntg.import_pcap, called as the caller, so its privileges and checks
 * apply as they are; the files imported are recorded in ntg.imported_captures (target, path), in
 * the same transaction, which makes the whole call one unit: a cancel, an error or a crash leaves
 * neither biflows nor records behind, and the next call imports the same files again.  A file is
 * claimed by inserting its record first, so that a second import of the same files at the same
 * time waits for the first and then skips what it imported.  Files modified within min_age are
 * left for a later call: they may still be being written.
 */
#include "postgres.h"

#include <glob.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "jobs_progress.h"
#include "ntg_glue.h"

typedef struct CaptureFile
{
	char	   *path;
	int64		size;
	time_t		mtime;
} CaptureFile;

/* The ntg.import_pcap arguments the call fixes; options may name any other. */
static const char *const fixed_args[] = {"path", "data", "dataset", "label", "target"};

static void
check_read_privilege(const char *pattern)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read capture files matching \"%s\"", pattern),
				 errdetail("Only roles with privileges of the \"%s\" role may read files on the server.",
						   "pg_read_server_files")));
}

/* ", name => 'value'" for each key of the options object, checked to be plain argument names. */
static char *
options_sql(Jsonb *options)
{
	StringInfoData s;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	initStringInfo(&s);
	if (options == NULL)
		return s.data;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object of ntg.import_pcap arguments")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key) || key[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options key \"%s\" is not an argument name of ntg.import_pcap", key)));
			for (int i = 0; i < lengthof(fixed_args); i++)
				if (strcmp(key, fixed_args[i]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("options must not set \"%s\"", key),
							 errhint("Pass it as an argument of ntg.import_new_captures.")));
		}
		else if (tok == WJB_VALUE)
		{
			char	   *val;

			if (v.type == jbvString)
				val = pnstrdup(v.val.string.val, v.val.string.len);
			else if (v.type == jbvNumeric)
				val = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
			else if (v.type == jbvBool)
				val = v.val.boolean ? "true" : "false";
			else if (v.type == jbvNull)
				val = NULL;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options value of \"%s\" must be a string, number, boolean or null", key)));
			appendStringInfo(&s, ", %s => %s", key, val ? quote_literal_cstr(val) : "NULL");
		}
	}
	return s.data;
}

/* The regular files pattern matches, in glob's (sorted) order. */
static CaptureFile *
list_files(const char *pattern, int *n_out)
{
	glob_t		g;
	int			rc = glob(pattern, GLOB_ERR | GLOB_BRACE, NULL, &g);
	CaptureFile *files;
	int			n = 0;

	if (rc == GLOB_NOMATCH)
	{
		*n_out = 0;
		return NULL;
	}
	if (rc != 0)
	{
		int			save = errno;

		globfree(&g);
		errno = save;
		if (rc == GLOB_NOSPACE)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not list the files matching \"%s\": %m", pattern)));
	}
	files = palloc(sizeof(CaptureFile) * (g.gl_pathc + 1));
	for (size_t i = 0; i < g.gl_pathc; i++)
	{
		struct stat st;

		if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;			/* directories and vanished names are not captures */
		files[n].path = pstrdup(g.gl_pathv[i]);
		files[n].size = (int64) st.st_size;
		files[n].mtime = st.st_mtime;
		n++;
	}
	globfree(&g);
	*n_out = n;
	return files;
}

static TimestampTz
mtime_timestamp(time_t t)
{
	return time_t_to_timestamptz((pg_time_t) t);
}

/* Insert the file's record unless one exists; true when this call now owns the file. */
static bool
claim_file(Oid target, const CaptureFile *f, bool *changed)
{
	Oid			types[5] = {REGCLASSOID, TEXTOID, INT8OID, TIMESTAMPTZOID, REGROLEOID};
	Datum		values[5];
	NtgJobPriv	priv;
	bool		claimed;

	values[0] = ObjectIdGetDatum(target);
	values[1] = CStringGetTextDatum(f->path);
	values[2] = Int64GetDatum(f->size);
	values[3] = TimestampTzGetDatum(mtime_timestamp(f->mtime));
	values[4] = ObjectIdGetDatum(GetUserId());
	*changed = false;
	ntg_jobs_priv_enter(&priv);
	if (SPI_execute_with_args("INSERT INTO ntg.imported_captures (target, path, size, modified_at, owner)"
							  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target, path) DO NOTHING",
							  5, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record capture file \"%s\"", f->path);
	claimed = SPI_processed == 1;
	if (!claimed)
	{
		if (SPI_execute_with_args("SELECT 1 FROM ntg.imported_captures WHERE target = $1 AND path = $2"
								  " AND size = $3 AND modified_at = $4",
								  4, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read ntg.imported_captures");
		*changed = SPI_processed == 0;
	}
	ntg_jobs_priv_exit(&priv);
	return claimed;
}

static void
record_file(Oid target, const char *path, const char *dataset, int64 packets, int64 biflows)
{
	Oid			types[5] = {REGCLASSOID, TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		values[5];
	NtgJobPriv	priv;

	values[0] = ObjectIdGetDatum(target);
	values[1] = CStringGetTextDatum(path);
	values[2] = CStringGetTextDatum(dataset);
	values[3] = Int64GetDatum(packets);
	values[4] = Int64GetDatum(biflows);
	ntg_jobs_priv_enter(&priv);
	if (SPI_execute_with_args("UPDATE ntg.imported_captures SET dataset = $3, packets = $4,"
							  " biflows = $5, imported_at = clock_timestamp()"
							  " WHERE target = $1 AND path = $2",
							  5, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record capture file \"%s\"", path);
	ntg_jobs_priv_exit(&priv);
}

static void
import_context(void *arg)
{
	errcontext("importing capture file \"%s\"", (const char *) arg);
}

/* ntg.import_pcap(path => file, ...) as the caller; its dataset, packets and biflows. */
static void
import_file(const char *call, const char *path, Datum dataset, Datum label, Oid target,
			char **dataset_out, int64 *packets, int64 *biflows)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, REGCLASSOID};
	Datum		values[4] = {CStringGetTextDatum(path), dataset, label, ObjectIdGetDatum(target)};
	char		nulls[5] = "    ";
	ErrorContextCallback cb;
	bool		isnull;

	nulls[1] = dataset == (Datum) 0 ? 'n' : ' ';
	nulls[2] = label == (Datum) 0 ? 'n' : ' ';
	cb.callback = import_context;
	cb.arg = (void *) path;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	if (SPI_execute_with_args(call, 4, types, values, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "ntg.import_pcap returned no row");
	*dataset_out = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*packets = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	*biflows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	error_context_stack = cb.previous;
}

static int64
interval_usecs(Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY + (int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

PG_FUNCTION_INFO_V1(ntg_import_new_captures);
Datum
ntg_import_new_captures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *pattern = ntg_pg_text_arg(fcinfo, 0, "pattern");
	Datum		dataset = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	Datum		label = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	Oid			target;
	int64		min_age;
	char	   *call;
	CaptureFile *files;
	int			n_files;
	int			done = 0;
	int64		packets_total = 0,
				biflows_total = 0;
	int64		now_secs = (int64) time(NULL);

	ntg_pg_require_arg(fcinfo, 3, "target");
	ntg_pg_require_arg(fcinfo, 4, "min_age");
	target = PG_GETARG_OID(3);
	min_age = interval_usecs(PG_GETARG_INTERVAL_P(4));
	if (min_age < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_age must not be negative")));
	if (pattern[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern must be an absolute path"),
				 errdetail("Pattern \"%s\" is relative.", pattern)));
	call = psprintf("SELECT dataset, packets, biflows FROM ntg.import_pcap(path => $1, "
					"dataset => $2, label => $3, target => $4%s)",
					options_sql(PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5)));
	check_read_privilege(pattern);

	InitMaterializedSRF(fcinfo, 0);
	files = list_files(pattern, &n_files);
	ntg_job_progress_import(0, n_files, 0, 0);
	SPI_connect();
	for (int i = 0; i < n_files; i++)
	{
		CaptureFile *f = &files[i];
		Datum		v[6];
		bool		n[6] = {0};
		bool		changed;

		CHECK_FOR_INTERRUPTS();
		v[0] = CStringGetTextDatum(f->path);
		v[2] = Int64GetDatum(f->size);
		v[3] = TimestampTzGetDatum(mtime_timestamp(f->mtime));
		n[4] = n[5] = true;
		if ((now_secs - (int64) f->mtime) * USECS_PER_SEC < min_age)
			v[1] = CStringGetTextDatum("too recent");
		else if (!claim_file(target, f, &changed))
			v[1] = CStringGetTextDatum(changed ? "changed since imported" : "already imported");
		else
		{
			char	   *ds;
			int64		packets,
						biflows;

			import_file(call, f->path, dataset, label, target, &ds, &packets, &biflows);
			record_file(target, f->path, ds, packets, biflows);
			packets_total += packets;
			biflows_total += biflows;
			v[1] = CStringGetTextDatum("imported");
			v[4] = Int64GetDatum(biflows);
			v[5] = Int64GetDatum(packets);
			n[4] = n[5] = false;
			if (ntg_progress)
				ereport(NOTICE,
						(errmsg("imported %s: " INT64_FORMAT " biflows (file %d of %d)", f->path,
								biflows, i + 1, n_files)));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		ntg_job_progress_import(++done, n_files, packets_total, biflows_total);
	}
	SPI_finish();
	return (Datum) 0;
}
