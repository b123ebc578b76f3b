-- ntg install script, part 60: background jobs and their schedules (src/pg/jobs_*.c;
-- docs/jobs.md).  Jobs run in ntg's own background workers (ntg in shared_preload_libraries),
-- each as the role that submitted it; schedules are pg_cron entries that submit a job.

-- One row per submitted job.  Written only by ntg's functions and workers; a role reads (and
-- deletes, once finished) the jobs of roles whose privileges it has.
CREATE TABLE ntg.jobs (
	job_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_name		text,					-- the schedule that submitted it, or the name given
	command			text NOT NULL,			-- SQL, run in one transaction
	owner			regrole NOT NULL,		-- the role the command runs as: who submitted it
	owner_superuser	boolean NOT NULL,		-- whether owner was a superuser when it submitted
	max_attempts	integer NOT NULL DEFAULT 1 CHECK (max_attempts BETWEEN 1 AND 100),
	state			text NOT NULL DEFAULT 'queued'
					CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
	attempts		integer NOT NULL DEFAULT 0,	-- runs started
	cancel_requested boolean NOT NULL DEFAULT false,
	submitted_at	timestamptz NOT NULL DEFAULT now(),
	started_at		timestamptz,			-- of the first run
	finished_at		timestamptz,
	error			text					-- of the last failed run
);
CREATE INDEX jobs_queued_idx ON ntg.jobs (job_id) WHERE state = 'queued';
COMMENT ON TABLE ntg.jobs IS 'background jobs: one row per submitted command (ntg.submit, ntg.schedule)';

-- One row per attempt of a job.
CREATE TABLE ntg.job_runs (
	run_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id			bigint NOT NULL REFERENCES ntg.jobs ON DELETE CASCADE,
	attempt			integer NOT NULL,
	state			text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
	pid				integer,				-- of the job worker
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz,
	result			text,					-- first row of the last statement that returned rows
	error			text,
	error_detail	text,
	error_hint		text,
	sqlstate		text,
	progress		jsonb					-- the progress the run ended with
);
CREATE INDEX job_runs_job_idx ON ntg.job_runs (job_id);
CREATE INDEX job_runs_running_idx ON ntg.job_runs (run_id) WHERE state = 'running';
COMMENT ON TABLE ntg.job_runs IS 'runs of background jobs: one row per attempt';

-- Capture files ntg.import_new_captures imported, so that it skips them the next time.
CREATE TABLE ntg.imported_captures (
	target			regclass NOT NULL,		-- the biflow table they went into
	path			text NOT NULL,
	size			bigint NOT NULL,		-- bytes, when imported
	modified_at		timestamptz NOT NULL,	-- the file's modification time, when imported
	dataset			text,
	packets			bigint,
	biflows			bigint,
	owner			regrole NOT NULL,		-- the role that imported it
	imported_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (target, path)
);
COMMENT ON TABLE ntg.imported_captures IS 'capture files imported by ntg.import_new_captures, one row per target table and path';

-- Rows users create are theirs: include them in pg_dump.
SELECT pg_catalog.pg_extension_config_dump('ntg.jobs', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ntg.jobs', 'job_id'), '');
SELECT pg_catalog.pg_extension_config_dump('ntg.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ntg.job_runs', 'run_id'), '');
SELECT pg_catalog.pg_extension_config_dump('ntg.imported_captures', '');

ALTER TABLE ntg.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_read ON ntg.jobs FOR SELECT
	USING (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY jobs_forget ON ntg.jobs FOR DELETE
	USING (pg_catalog.pg_has_role(owner, 'USAGE') AND state IN ('succeeded', 'failed', 'cancelled'));
GRANT SELECT, DELETE ON ntg.jobs TO PUBLIC;

ALTER TABLE ntg.job_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_runs_read ON ntg.job_runs FOR SELECT
	USING (EXISTS (SELECT FROM ntg.jobs j WHERE j.job_id = job_runs.job_id));
GRANT SELECT ON ntg.job_runs TO PUBLIC;

ALTER TABLE ntg.imported_captures ENABLE ROW LEVEL SECURITY;
CREATE POLICY imported_captures_owner ON ntg.imported_captures FOR SELECT
	USING (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY imported_captures_forget ON ntg.imported_captures FOR DELETE
	USING (pg_catalog.pg_has_role(owner, 'USAGE'));
GRANT SELECT, DELETE ON ntg.imported_captures TO PUBLIC;

CREATE FUNCTION ntg.submit(command text, job_name text DEFAULT NULL, max_attempts integer DEFAULT 1)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'ntg_submit'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.submit(text, text, integer) IS
	'queue an SQL command to run in a background worker as the calling role; returns the job id';

CREATE FUNCTION ntg.cancel_job(job_id bigint)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'ntg_cancel_job'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.cancel_job(bigint) IS
	'cancel a queued or running job; false when it had finished already';

CREATE FUNCTION ntg.job_progress()
	RETURNS TABLE (job_id bigint, run_id bigint, pid integer, phase text, epoch integer,
				   epochs integer, loss double precision, val_loss double precision,
				   best_epoch integer, rows bigint, files_done integer, files_total integer,
				   packets bigint, biflows bigint, message text, progress_at timestamptz)
	AS 'MODULE_PATHNAME', 'ntg_job_progress'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.job_progress() IS
	'live progress of the running jobs of this database that the caller may see, from shared memory';

-- Raises 55000 unless jobs can run (ntg preloaded); checks a command as ntg.submit would.
CREATE FUNCTION ntg._jobs_check(command text DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'ntg_jobs_check'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION ntg._jobs_check(text) IS
	'internal: refuse when background jobs are not available or command could not run as a job';

-- Every job with its last run, and its live progress while it runs.
CREATE VIEW ntg.job_status WITH (security_invoker = true) AS
SELECT j.job_id, j.job_name, j.owner, j.state, j.attempts, j.max_attempts,
	   j.submitted_at, j.started_at, j.finished_at, j.error, r.sqlstate, r.result,
	   p.pid,
	   coalesce(p.phase, r.progress->>'phase') AS phase,
	   coalesce(p.epoch, (r.progress->>'epoch')::integer) AS epoch,
	   coalesce(p.epochs, (r.progress->>'epochs')::integer) AS epochs,
	   coalesce(p.loss, (r.progress->>'loss')::double precision) AS loss,
	   coalesce(p.val_loss, (r.progress->>'val_loss')::double precision) AS val_loss,
	   coalesce(p.rows, (r.progress->>'rows')::bigint) AS rows,
	   coalesce(p.files_done, (r.progress->>'files_done')::integer) AS files_done,
	   coalesce(p.files_total, (r.progress->>'files_total')::integer) AS files_total,
	   coalesce(p.packets, (r.progress->>'packets')::bigint) AS packets,
	   coalesce(p.biflows, (r.progress->>'biflows')::bigint) AS biflows,
	   coalesce(p.message, r.progress->>'message') AS message,
	   p.progress_at,
	   j.command
  FROM ntg.jobs AS j
  LEFT JOIN LATERAL (SELECT * FROM ntg.job_runs AS x WHERE x.job_id = j.job_id
					 ORDER BY x.run_id DESC LIMIT 1) AS r ON true
  LEFT JOIN ntg.job_progress() AS p ON p.run_id = r.run_id;
COMMENT ON VIEW ntg.job_status IS
	'background jobs the caller may see: state, attempts, last error, and progress (live while running)';
GRANT SELECT ON ntg.job_status TO PUBLIC;

CREATE FUNCTION ntg.import_new_captures(pattern text, dataset text DEFAULT NULL,
										label text DEFAULT NULL,
										target regclass DEFAULT 'ntg.biflows',
										min_age interval DEFAULT '1 min',
										options jsonb DEFAULT '{}')
	RETURNS TABLE (path text, status text, size bigint, modified_at timestamptz, biflows bigint,
				   packets bigint)
	AS 'MODULE_PATHNAME', 'ntg_import_new_captures'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_new_captures(text, text, text, regclass, interval, jsonb) IS
	'import every capture file on the server matching a glob pattern that was not imported into target before (superuser or pg_read_server_files)';

-- Schedules: pg_cron entries named 'ntg:<job_name>' whose command submits the job.  pg_cron must
-- be installed in this database; these raise 55000 with the steps otherwise.
CREATE FUNCTION ntg._cron_check()
	RETURNS void
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = '55000',
				  DETAIL = 'ntg schedules jobs with the pg_cron extension.',
				  HINT = 'Install the postgresql-15-cron package, add pg_cron to '
						 'shared_preload_libraries, set cron.database_name to '
						 || pg_catalog.quote_literal(pg_catalog.current_database())
						 || ', restart the server and run CREATE EXTENSION pg_cron.';
	END IF;
	IF NOT pg_catalog.has_schema_privilege('cron', 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for schema cron'
			USING ERRCODE = '42501',
				  HINT = 'A superuser may grant it: GRANT USAGE ON SCHEMA cron TO '
						 || pg_catalog.quote_ident(current_user::text) || '.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION ntg._cron_check() IS
	'internal: refuse unless pg_cron is installed here and usable by the caller';

CREATE FUNCTION ntg.schedule(job_name text, schedule text, command text,
							 max_attempts integer DEFAULT 1)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF job_name IS NULL OR schedule IS NULL OR command IS NULL OR max_attempts IS NULL THEN
		RAISE EXCEPTION '% must not be null',
			CASE WHEN job_name IS NULL THEN 'job_name' WHEN schedule IS NULL THEN 'schedule'
				 WHEN command IS NULL THEN 'command' ELSE 'max_attempts' END
			USING ERRCODE = '22004';
	END IF;
	IF job_name = '' OR pg_catalog.octet_length(job_name) > 59 THEN
		RAISE EXCEPTION 'job_name must have 1 to 59 bytes' USING ERRCODE = '22023';
	END IF;
	IF max_attempts NOT BETWEEN 1 AND 100 THEN
		RAISE EXCEPTION 'max_attempts must be between 1 and 100' USING ERRCODE = '22023';
	END IF;
	PERFORM ntg._jobs_check(command);
	PERFORM ntg._cron_check();
	RETURN cron.schedule('ntg:' || job_name, schedule,
						 pg_catalog.format('SELECT ntg.submit(%L, job_name => %L, max_attempts => %s)',
										   command, job_name, max_attempts));
END
$fn$;
COMMENT ON FUNCTION ntg.schedule(text, text, text, integer) IS
	'submit command as a job on a cron schedule (pg_cron), as the calling role; replaces a schedule of the same name; returns the pg_cron job id';

CREATE FUNCTION ntg.unschedule(job_name text, if_exists boolean DEFAULT false)
	RETURNS boolean
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF job_name IS NULL OR if_exists IS NULL THEN
		RAISE EXCEPTION '% must not be null', CASE WHEN job_name IS NULL THEN 'job_name' ELSE 'if_exists' END
			USING ERRCODE = '22004';
	END IF;
	PERFORM ntg._cron_check();
	IF NOT EXISTS (SELECT FROM cron.job AS c WHERE c.jobname = 'ntg:' || job_name
				   AND c.username = current_user) THEN
		IF if_exists THEN
			RETURN false;
		END IF;
		RAISE EXCEPTION 'schedule "%" does not exist', job_name USING ERRCODE = '42704';
	END IF;
	RETURN cron.unschedule('ntg:' || job_name);
END
$fn$;
COMMENT ON FUNCTION ntg.unschedule(text, boolean) IS
	'remove a schedule of the calling role; jobs it submitted stay';

CREATE FUNCTION ntg.schedules()
	RETURNS TABLE (job_name text, schedule text, command text, active boolean, cron_job_id bigint)
	LANGUAGE plpgsql STABLE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	PERFORM ntg._cron_check();
	RETURN QUERY
		SELECT pg_catalog.substr(c.jobname, 5), c.schedule, c.command, c.active, c.jobid
		  FROM cron.job AS c
		 WHERE c.jobname LIKE 'ntg:%' AND c.username = current_user
		 ORDER BY 1;
END
$fn$;
COMMENT ON FUNCTION ntg.schedules() IS 'the calling role''s schedules (pg_cron entries that submit ntg jobs)';
