/*
 * capture_files.c — ntg.import_pcaps(pattern text | paths text[], ...): many capture files in
 * one call, one result row per file.
 *
 * Files are read in background workers (capture_workers.c, up to ntg.import_workers of them) and
 * their biflows inserted by this backend through the batched insert, each row with its own file's
 * dataset and source; with no worker available, or ntg.import_workers = 0, the files are read
 * here one after the other.  A target that needs the generic INSERT path gets one INSERT ...
 * SELECT per file.  A file that cannot be read as a capture (missing, not a capture, a link type
 * ntg does not decode, a filter its link type refuses) gives a WARNING and a row with its error;
 * the other files are imported.  Any other error ends the whole import, as for one file.
 */
#include "postgres.h"

#include <glob.h>

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "capture_bulk.h"
#include "capture_import.h"
#include "capture_pg.h"
#include "ntg_glue.h"

#define RESULT_COLS 11
#define FILES_PER_ROUND 1024	/* files handed to the workers at a time (one DSM segment each) */

typedef struct FileJob
{
	char	   *path;
	char	   *dataset;
	Datum		fixed[CAPTURE_BULK_FIXED];	/* dataset, label, source */
	bool		fixednull[CAPTURE_BULK_FIXED];
	NtgCaptureStats st;
	NtgError	err;
	uint64		rows;
	bool		done;
} FileJob;

typedef struct Multi
{
	FileJob    *files;
	int			nfiles;
	CaptureBulk *bulk;
	bool		batched;		/* rows went through bulk (else one INSERT per file) */
	bool		parallel;		/* files read by background workers */
	int			current;		/* file whose dataset and source the bulk insert has */
	int			base;			/* first file of the workers' current round */
	int			ndone;
	uint64		rows;
	TimestampTz last_progress;
} Multi;

/* The files of a glob pattern, in glob's (sorted) order; directories are left out. */
static char **
expand_pattern(const char *pattern, int *nfiles)
{
	glob_t		g;
	int			rc = glob(pattern, GLOB_MARK, NULL, &g);
	char	  **paths;
	int			n = 0;

	if (rc == GLOB_NOMATCH)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("no capture file matches \"%s\"", pattern)));
	if (rc != 0)
	{
		globfree(&g);
		ereport(ERROR,
				(errcode(rc == GLOB_NOSPACE ? ERRCODE_OUT_OF_MEMORY : ERRCODE_IO_ERROR),
				 errmsg("could not expand the pattern \"%s\"", pattern)));
	}
	paths = palloc(sizeof(char *) * (g.gl_pathc + 1));
	for (size_t i = 0; i < g.gl_pathc; i++)
	{
		size_t		len = strlen(g.gl_pathv[i]);

		if (len > 0 && g.gl_pathv[i][len - 1] == '/')
			continue;
		paths[n++] = pstrdup(g.gl_pathv[i]);
	}
	globfree(&g);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("no capture file matches \"%s\"", pattern),
				 errdetail("Only directories match.")));
	*nfiles = n;
	return paths;
}

static char **
array_paths(ArrayType *a, int *nfiles)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **paths;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("paths must be a one-dimensional array")));
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	paths = palloc(sizeof(char *) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("paths must not contain nulls")));
		paths[i] = TextDatumGetCString(elems[i]);
	}
	*nfiles = n;
	return paths;
}

/* A core error that belongs to one file (the file is reported and skipped), or not. */
static bool
file_error(const NtgError *err)
{
	return err->code == NTG_ERR_IO || err->code == NTG_ERR_BAD_FORMAT ||
		err->code == NTG_ERR_UNSUPPORTED || err->code == NTG_ERR_INVALID_ARG ||
		err->code == NTG_ERR_CORRUPT;
}

static void
progress(Multi *m)
{
	TimestampTz now = GetCurrentTimestamp();

	if (ntg_progress && TimestampDifferenceExceeds(m->last_progress, now, 5000))
	{
		m->last_progress = now;
		ereport(NOTICE,
				(errmsg("imported %d of %d capture files, %llu biflows so far",
						m->ndone, m->nfiles, (unsigned long long) m->rows)));
	}
}

static void
multi_sink(int file, const NtgBiflow *f, void *arg)
{
	Multi	   *m = (Multi *) arg;
	Datum		v[CAPTURE_ROW_COLS];
	bool		nulls[CAPTURE_ROW_COLS];

	file += m->base;
	if (file != m->current)
	{
		capture_bulk_set_fixed(m->bulk, m->files[file].fixed, m->files[file].fixednull);
		m->current = file;
	}
	capture_row_values(f, v, nulls);
	capture_bulk_add(m->bulk, v, nulls);
	m->files[file].rows++;
	m->rows++;
}

static void
multi_done(int file, const NtgCaptureStats *st, const NtgError *err, void *arg)
{
	Multi	   *m = (Multi *) arg;
	FileJob    *j = &m->files[file + m->base];

	/* a file that fails after some of its rows went in fails the import: no half files */
	if (err->code != NTG_OK && (!file_error(err) || j->rows > 0))
		ntg_pg_raise(err);
	j->st = *st;
	j->err = *err;
	j->done = true;
	m->ndone++;
	if (!m->parallel)			/* workers report their own progress */
		progress(m);
}

/* Every file in this backend, one after the other. */
static void
read_serially(Multi *m, const NtgCaptureOptions *opt)
{
	for (int i = 0; i < m->nfiles; i++)
	{
		NtgCaptureStats st;
		NtgError	err;

		if (m->files[i].done)
			continue;
		capture_try_read_one(m->files[i].path, opt, multi_sink, i, m, &st, &err);
		multi_done(i, &st, &err, m);
	}
}

/* The generic path: one INSERT ... SELECT per file that opens as a capture. */
static void
import_generic_each(FunctionCallInfo fcinfo, Multi *m, const char *name)
{
	Datum		opts[7];
	bool		optsnull[7];

	capture_read_options(fcinfo, opts, optsnull);
	for (int i = 0; i < m->nfiles; i++)
	{
		FileJob    *j = &m->files[i];
		NtgCaptureReader *r = NULL;

		/* open it first, so that a file that is no capture is reported, not raised */
		ntg_error_clear(&j->err);
		if (ntg_capture_open_file(j->path, &r, &j->err) != NTG_OK)
		{
			ntg_capture_close(r);
			if (!file_error(&j->err))
				ntg_pg_raise(&j->err);
		}
		else
		{
			ntg_capture_close(r);
			j->rows = capture_import_generic(name, false, CStringGetTextDatum(j->path), j->fixed,
											 j->fixednull, opts, optsnull, &j->st);
		}
		j->done = true;
		m->ndone++;
		m->rows += j->rows;
		progress(m);
	}
}

static void
emit_results(FunctionCallInfo fcinfo, Multi *m)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	for (int i = 0; i < m->nfiles; i++)
	{
		FileJob    *j = &m->files[i];
		Datum		v[RESULT_COLS];
		bool		n[RESULT_COLS] = {0};

		v[0] = CStringGetTextDatum(j->path);
		v[1] = CStringGetTextDatum(j->dataset);
		if (j->err.code != NTG_OK)
		{
			ereport(WARNING,
					(errcode(ntg_pg_errcode(j->err.code)),
					 errmsg("capture file \"%s\" was not imported: %s", j->path, j->err.msg),
					 j->err.detail[0] ? errdetail_internal("%s", j->err.detail) : 0));
			for (int k = 2; k < RESULT_COLS - 1; k++)
				n[k] = true;
			v[RESULT_COLS - 1] = CStringGetTextDatum(j->err.msg);
		}
		else
		{
			/* (on the generic path read_pcap warned inside the INSERT) */
			if (m->batched)
				capture_report_outcome(psprintf("capture file \"%s\"", j->path), &j->st);
			v[2] = CStringGetTextDatum(j->st.format);
			v[3] = Int64GetDatum(j->st.packets);
			v[4] = Int64GetDatum(j->st.bytes_read);
			v[5] = Int64GetDatum(j->st.packets_attributed);
			v[6] = Int64GetDatum(j->rows);
			v[7] = capture_skipped_jsonb(&j->st);
			v[8] = BoolGetDatum(j->st.damaged);
			if (j->st.damaged)
				v[9] = CStringGetTextDatum(j->st.damage);
			else
				n[9] = true;
			n[10] = true;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
}

static Datum
import_files(FunctionCallInfo fcinfo, bool is_pattern)
{
	NtgCaptureOptions opt;
	Multi		m;
	Oid			target;
	const char *name,
			   *why;
	char	  **paths;
	int			nfiles;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", is_pattern ? "pattern" : "paths")));
	if (PG_ARGISNULL(CAPTURE_IMPORT_TARGET_ARG))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target table must not be null")));
	/* the right to read server files before the file system is looked at */
	if (is_pattern)
	{
		char	   *pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));

		capture_check_read_privilege(pattern);
		capture_options_from_args(fcinfo, CAPTURE_IMPORT_N_ARG, CAPTURE_IMPORT_SPLIT_ARG, &opt);
		paths = expand_pattern(pattern, &nfiles);
	}
	else
	{
		paths = array_paths(PG_GETARG_ARRAYTYPE_P(0), &nfiles);
		capture_check_read_privilege(nfiles > 0 ? paths[0] : "");
		capture_options_from_args(fcinfo, CAPTURE_IMPORT_N_ARG, CAPTURE_IMPORT_SPLIT_ARG, &opt);
	}
	target = PG_GETARG_OID(CAPTURE_IMPORT_TARGET_ARG);
	name = capture_target_name(target);
	InitMaterializedSRF(fcinfo, 0);
	if (nfiles == 0)
		return (Datum) 0;

	memset(&m, 0, sizeof(m));
	m.nfiles = nfiles;
	m.current = -1;
	m.last_progress = GetCurrentTimestamp();
	m.files = palloc0(sizeof(FileJob) * nfiles);
	for (int i = 0; i < nfiles; i++)
	{
		FileJob    *j = &m.files[i];

		j->path = paths[i];
		j->dataset = !PG_ARGISNULL(1) ? text_to_cstring(PG_GETARG_TEXT_PP(1)) :
			pstrdup(strrchr(j->path, '/') ? strrchr(j->path, '/') + 1 : j->path);
		j->fixed[0] = CStringGetTextDatum(j->dataset);
		j->fixed[1] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
		j->fixednull[1] = PG_ARGISNULL(2);
		j->fixed[2] = CStringGetTextDatum(j->path);
	}

	m.bulk = capture_bulk_begin(target, m.files[0].fixed, m.files[0].fixednull, &why);
	m.batched = m.bulk != NULL;
	if (m.batched)
	{
		int			workers = Min(ntg_import_workers, nfiles);

		capture_check_read_pcap_execute(false);
		m.current = 0;
		/* the workers take the files in rounds, so that the shared memory stays small */
		for (m.base = 0; m.base < nfiles && workers > 0; m.base += FILES_PER_ROUND)
		{
			int			n = Min(FILES_PER_ROUND, nfiles - m.base);

			m.parallel = true;
			workers = capture_read_parallel(paths + m.base, n, &opt, workers, multi_sink,
											multi_done, &m);
			if (workers > 0)
				ereport(DEBUG1, (errmsg_internal("ntg.import_pcaps: %d files read by %d workers",
												 n, workers)));
		}
		/* what no worker read (none could start): here, one after the other */
		m.base = 0;
		m.parallel = false;
		read_serially(&m, &opt);
		capture_bulk_end(m.bulk);
		m.bulk = NULL;
	}
	else
	{
		ereport(DEBUG1, (errmsg_internal("ntg.import_pcaps: INSERT into %s because %s", name, why)));
		capture_check_read_pcap_execute(false);
		import_generic_each(fcinfo, &m, name);
	}
	emit_results(fcinfo, &m);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ntg_import_pcaps_pattern);
Datum
ntg_import_pcaps_pattern(PG_FUNCTION_ARGS)
{
	return import_files(fcinfo, true);
}

PG_FUNCTION_INFO_V1(ntg_import_pcaps_list);
Datum
ntg_import_pcaps_list(PG_FUNCTION_ARGS)
{
	return import_files(fcinfo, false);
}
