-- Background jobs on a server that did not preload ntg (the pg_regress instance): every function
-- that would start or schedule a job refuses with 55000 and says how to enable jobs; the view and
-- the tables work (and are empty).  test/tap/jobs.t runs jobs on a server that preloads ntg.
SELECT current_setting('shared_preload_libraries') ~ '(^|[ ,])ntg($|[ ,])' AS preloaded \gset
\if :preloaded
\echo skipped: ntg is in shared_preload_libraries on this server; test/tap/jobs.t covers jobs there
\quit
\endif

SELECT ntg.submit('SELECT 1');
SHOW ntg.max_job_workers;
SELECT ntg.submit('SELECT 1', job_name => 'x', max_attempts => 3);
SELECT ntg.cancel_job(1);
SELECT ntg.schedule('nightly', '0 3 * * *', 'SELECT 1');
SELECT count(*) AS live FROM ntg.job_progress();
SELECT count(*) AS jobs FROM ntg.job_status;
SELECT count(*) AS runs FROM ntg.job_runs;

-- Without pg_cron in this database, the schedule functions say how to install it.
SELECT ntg.unschedule('nightly');
SELECT * FROM ntg.schedules();

-- The check ntg.schedule makes first.
SELECT ntg._jobs_check(NULL);

-- The tables are readable to every role (row security shows each its own), not writable.
CREATE ROLE ntg_jobs_plain;
SET ROLE ntg_jobs_plain;
SELECT count(*) FROM ntg.jobs;
INSERT INTO ntg.jobs (command, owner, owner_superuser) VALUES ('SELECT 1', 'ntg_jobs_plain', true);
UPDATE ntg.job_runs SET state = 'succeeded';
RESET ROLE;
DROP ROLE ntg_jobs_plain;
