-- ntg.import_new_captures: the captures a glob pattern matches, each imported once per target
-- table; what a nightly import job runs (docs/jobs.md).  Files of test/captures, read in place.
\getenv abs_srcdir PG_ABS_SRCDIR
\set caps :abs_srcdir '/test/captures/'
SET ntg.progress = off;
SELECT set_config('ntg_test.caps', :'caps', false) IS NOT NULL AS caps_set;
CREATE TABLE jobs_flows (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE FUNCTION pg_temp.base(p text) RETURNS text LANGUAGE sql AS $$ SELECT regexp_replace(p, '.*/', '') $$;

-- The .pcap files: all new.
SELECT pg_temp.base(path) AS file, status, size, biflows > 0 AS has_biflows, packets
  FROM ntg.import_new_captures(:'caps' || '*.pcap', dataset => 'jobs', target => 'jobs_flows', min_age => '0');
-- The record: what each file gave, as the target table has it.
SELECT pg_temp.base(c.path) AS file, pg_temp.base(c.target::text) AS target, c.dataset, c.packets,
	   c.biflows = (SELECT count(*) FROM jobs_flows f WHERE f.source = c.path AND f.dataset = 'jobs') AS biflows_match,
	   c.owner = current_user::regrole AS mine, c.modified_at <= now() AS modified_before
  FROM ntg.imported_captures c ORDER BY 1;

-- Again, with the .pcapng files too ({a,b} braces work): only those are new.
SELECT pg_temp.base(path) AS file, status, biflows > 0 AS has_biflows
  FROM ntg.import_new_captures(:'caps' || '*.{pcap,pcapng}', target => 'jobs_flows', min_age => '0');
SELECT count(DISTINCT source) AS files,
	   count(*) = (SELECT sum(biflows) FROM ntg.imported_captures WHERE target = 'jobs_flows'::regclass) AS biflows_match
  FROM jobs_flows;

-- A file whose size or time differs from its record is reported, not imported twice.
UPDATE ntg.imported_captures SET size = size + 1 WHERE path LIKE '%/http.pcap';
SELECT pg_temp.base(path) AS file, status FROM ntg.import_new_captures(:'caps' || 'http.pcap', target => 'jobs_flows', min_age => '0');
-- Forgetting a file's record imports it again (its biflows stay: the caller deletes them if needed).
DELETE FROM ntg.imported_captures WHERE path LIKE '%/dns_ns.pcap';
SELECT pg_temp.base(path) AS file, status, biflows > 0 AS has_biflows FROM ntg.import_new_captures(:'caps' || 'dns_ns.pcap', target => 'jobs_flows', min_age => '0');

-- Another target table is a separate record: the same files are new there.  Options pass on to
-- ntg.import_pcap (n: PLs per biflow).  Files modified within min_age are left for later.
CREATE TABLE jobs_flows2 (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);
SELECT pg_temp.base(path) AS file, status FROM ntg.import_new_captures(:'caps' || '*.pcap', target => 'jobs_flows2', min_age => '100 years');
SELECT pg_temp.base(path) AS file, status FROM ntg.import_new_captures(:'caps' || 'tls.pcapng', target => 'jobs_flows2', min_age => '0', options => '{"n": 3, "filter": "tcp"}');
SELECT max(cardinality(pl)) AS max_pl, bool_and(protocol = 6) AS all_tcp FROM jobs_flows2;
-- No match: no rows.
SELECT count(*) FROM ntg.import_new_captures(:'caps' || '*.nothing', target => 'jobs_flows2', min_age => '0');

-- A file that is not a capture fails the whole call: nothing imported, nothing recorded.
SELECT count(*) AS recorded_before FROM ntg.imported_captures WHERE target = 'jobs_flows2'::regclass;
DO $$
BEGIN
	PERFORM * FROM ntg.import_new_captures(current_setting('ntg_test.caps') || '{postgres.pcap,make_captures.sh}',
										   target => 'jobs_flows2', min_age => '0');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'refused: %', SQLSTATE;
END $$;
SELECT count(*) AS recorded_after FROM ntg.imported_captures WHERE target = 'jobs_flows2'::regclass;

-- Errors.
SELECT * FROM ntg.import_new_captures(NULL);
SELECT * FROM ntg.import_new_captures('captures/*.pcap');
SELECT * FROM ntg.import_new_captures('/tmp/*.pcap', min_age => '-1 s');
SELECT * FROM ntg.import_new_captures('/tmp/*.pcap', target => NULL);
SELECT * FROM ntg.import_new_captures('/tmp/*.pcap', options => '[1]');
SELECT * FROM ntg.import_new_captures('/tmp/*.pcap', options => '{"path": "/etc/passwd"}');
SELECT * FROM ntg.import_new_captures('/tmp/*.pcap', options => '{"n); DROP TABLE x; --": 1}');
SELECT * FROM ntg.import_new_captures('/tmp/*.pcap', options => '{"n": [1]}');
-- Reading server files needs pg_read_server_files, checked before listing anything; the record
-- is not writable directly, and each role sees its own rows.
CREATE ROLE ntg_jobs_reader;
GRANT INSERT ON jobs_flows2 TO ntg_jobs_reader;
SET ROLE ntg_jobs_reader;
SELECT * FROM ntg.import_new_captures('/nonexistent/*.pcap', target => 'jobs_flows2', min_age => '0');
SELECT count(*) AS visible FROM ntg.imported_captures;
INSERT INTO ntg.imported_captures (target, path, size, modified_at, owner)
	VALUES ('jobs_flows2', '/x', 1, now(), 'ntg_jobs_reader');
RESET ROLE;
GRANT pg_read_server_files TO ntg_jobs_reader;
SET ROLE ntg_jobs_reader;
SELECT pg_temp.base(path) AS file, status FROM ntg.import_new_captures(:'caps' || 'http.pcap', target => 'jobs_flows2', min_age => '0');
SELECT pg_temp.base(path) AS file, owner FROM ntg.imported_captures ORDER BY 1;
RESET ROLE;

DELETE FROM ntg.imported_captures WHERE target IN ('jobs_flows'::regclass, 'jobs_flows2'::regclass);
DROP TABLE jobs_flows, jobs_flows2;
REVOKE pg_read_server_files FROM ntg_jobs_reader;
DROP ROLE ntg_jobs_reader;
