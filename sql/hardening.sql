-- Hardening (docs/security.md): what a plain role must not be able to do, and the limits that
-- stop it.  Each block is the regression test of one finding; roles are created and dropped here.
SET ntg.progress = on;
SET client_min_messages = notice;
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE h_rows (label text, pl integer[]);
INSERT INTO h_rows SELECT CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, ARRAY[i % 7 + 1, -(i % 5 + 1)]
  FROM generate_series(1, 40) i;
GRANT SELECT ON h_rows TO PUBLIC;
\set tiny '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 2, "seed": 1}'

-- 1. A shape that needs far more memory than ntg.training_memory_limit is refused at once, before
--    anything is allocated or trained (no epoch NOTICE comes before the error).
SELECT ntg.train('evil', 'llama', 'SELECT ''a''::text, ''{1,2}''::int[]',
	'{"dim": 2048, "hidden_dim": 8192, "n_layers": 8, "n_heads": 8, "epochs": 1}', replace => true);
SHOW ntg.training_memory_limit;
-- a plain role cannot raise the limit
CREATE ROLE regress_ntg_alice;
CREATE ROLE regress_ntg_bob;
CREATE ROLE regress_ntg_team;
GRANT regress_ntg_team TO regress_ntg_alice, regress_ntg_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ntg.models TO regress_ntg_alice, regress_ntg_bob;
SET ROLE regress_ntg_alice;
SET ntg.training_memory_limit = '100GB';
RESET ROLE;
-- the rows of a source count against the limit too
SET ntg.training_memory_limit = '1MB';
SELECT ntg.train('big_rows', 'llama', 'SELECT ''a''::text, array_fill(1, ARRAY[100]) FROM generate_series(1, 10000)');
RESET ntg.training_memory_limit;

-- Checks that need no trained model come before training: a read-only transaction (also for
-- rf_train), a missing privilege, a taken name.
BEGIN READ ONLY;
SELECT ntg.rf_train('ro_rf', 'SELECT label, pl FROM h_rows');
ROLLBACK;
CREATE ROLE regress_ntg_nobody;
SET ROLE regress_ntg_nobody;
SELECT ntg.train('nopriv', 'llama', 'SELECT label, pl FROM h_rows', :'tiny');
RESET ROLE;
DROP ROLE regress_ntg_nobody;

-- 4. search_path: a role with CREATE on a schema on the caller's path defines operators and
--    functions that would win over pg_catalog's in an unpinned function; none of ntg's runs them.
CREATE SCHEMA h_evil;
CREATE FUNCTION h_evil.mul(bigint, float8) RETURNS float8 LANGUAGE plpgsql AS
  $$ BEGIN RAISE NOTICE 'hijacked'; RETURN $1::float8 * $2; END $$;
CREATE OPERATOR h_evil.* (LEFTARG = bigint, RIGHTARG = float8, FUNCTION = h_evil.mul);
CREATE FUNCTION h_evil.cardinality(anyarray) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN RAISE NOTICE 'hijacked'; RETURN 0; END $$;
SET search_path = h_evil, public;
SELECT count(*) FROM ntg.split('SELECT label, pl FROM h_rows', 0.25, 1);
SELECT count(*) FROM ntg.list_models() WHERE name = 'h_none';
SELECT length(ntg.line_chart_svg('SELECT ''s'', 1, 0.5')) > 0 AS chart;
SELECT count(*) FROM ntg.augment_sweep('SELECT label, pl FROM h_rows', 'SELECT label, pl FROM h_rows',
	'{smote}', '{0.5}', '{"n_estimators": 2}', 1);
RESET search_path;
DROP SCHEMA h_evil CASCADE;

-- 5. smote and fast_retransmit stream their rows (no int row counter, memory does not grow with
--    the rows asked for): ten million rows through a LIMIT-free count in bounded memory.
SELECT count(*) FROM ntg.fast_retransmit('SELECT label, pl FROM h_rows', 5000000, 1);

-- 6. An empty label is a label like any other, for every kind.
SELECT model, classes FROM ntg.rf_train('h_empty', 'SELECT '''' AS label, pl FROM h_rows');
SELECT ntg.rf_predict('h_empty', '{1,-1}'::int[]) = '' AS predicts_empty, valid FROM ntg.describe_model('h_empty');
SELECT model, classes FROM ntg.train('h_empty_llama', 'llama',
	'SELECT CASE WHEN label = ''a'' THEN '''' ELSE label END, pl FROM h_rows', :'tiny');
SELECT label, count(*) FROM ntg.generate('h_empty_llama', n => 2) GROUP BY 1 ORDER BY 1;
SELECT ntg.drop_model('h_empty'), ntg.drop_model('h_empty_llama');

-- 7. Models have an owner: another role does not see, use, replace, rename or drop them; a model
--    owned by a group role is shared with its members.
SET ROLE regress_ntg_alice;
SELECT model FROM ntg.train('alice_m', 'llama', 'SELECT label, pl FROM h_rows', :'tiny');
SELECT name, owner FROM ntg.list_models() WHERE name = 'alice_m';
SET ROLE regress_ntg_bob;
SELECT count(*) AS bob_sees FROM ntg.models WHERE name = 'alice_m';
SELECT * FROM ntg.generate('alice_m', n => 1);
SELECT ntg.train('alice_m', 'llama', 'SELECT label, pl FROM h_rows', :'tiny');
SELECT ntg.train('alice_m', 'llama', 'SELECT label, pl FROM h_rows', :'tiny', replace => true);
SELECT ntg.rename_model('alice_m', 'bobs');
SELECT ntg.drop_model('alice_m');
UPDATE ntg.models SET weights = '' WHERE name = 'alice_m';
INSERT INTO ntg.models (name, kind, config, classes, weights, owner)
  VALUES ('forged', 'llama', '{}', '{}', '', 'regress_ntg_alice');
SET ROLE regress_ntg_alice;
SELECT count(*) FROM ntg.generate('alice_m', n => 1);
-- share it: hand it to the team
UPDATE ntg.models SET owner = 'regress_ntg_team' WHERE name = 'alice_m';
SET ROLE regress_ntg_bob;
SELECT count(*) AS bob_uses_shared FROM ntg.generate('alice_m', n => 1);
SELECT ntg.drop_model('alice_m');
RESET ROLE;

-- 8. (A diverged training is refused by the training driver: test/unit/test_train_driver.c.)

-- 10., 11. A query argument is one plain SELECT, never a second statement or a data-modifying one;
--    rows are checked wherever they come in.
SELECT count(*) FROM ntg.split('SELECT label, pl FROM h_rows; DELETE FROM h_rows', 0.2, 1);
SELECT count(*) FROM ntg.tstr('SELECT label, pl FROM h_rows; DELETE FROM h_rows', 'SELECT label, pl FROM h_rows', '{}');
SELECT count(*) FROM ntg.split('SELECT label, pl FROM h_rows -- comment', 0.2, 1);
SELECT count(*) AS rows_kept FROM h_rows;
SELECT ntg.train('del', 'llama', 'DELETE FROM h_rows RETURNING label, pl');
SELECT count(*) FROM ntg.split('WITH d AS (DELETE FROM h_rows RETURNING *) SELECT label, pl FROM d', 0.2, 1);
SELECT count(*) FROM ntg.split('SELECT label, pl FROM h_rows FOR UPDATE', 0.2, 1);
SELECT count(*) FROM ntg.split('SELECT NULL::text, pl FROM h_rows', 0.2, 1);
SELECT count(*) FROM ntg.split('SELECT label, NULL::int[] FROM h_rows', 0.2, 1);
SELECT count(*) FROM ntg.split('SELECT label, ''{{1,2},{3,4}}''::int[] FROM h_rows', 0.2, 1);
SELECT count(*) FROM ntg.split('SELECT label, ''{1,NULL}''::int[] FROM h_rows', 0.2, 1);
SELECT count(*) FROM ntg.split('SELECT label FROM h_rows', 0.2, 1);
SELECT count(*) FROM ntg.tstr('SELECT label, pl FROM h_rows', 'SELECT label, pl FROM h_rows', '{NULL}');
SELECT count(*) FROM ntg.synthesize('smote', 'SELECT label, pl FROM h_rows', -1);
SELECT count(*) FROM ntg.synthesize('smote', 'SELECT label, pl FROM h_rows', 25, top_up => true);

-- 12. A caller's temporary tables named like ntg's old scratch tables are left alone.
CREATE TEMP TABLE ntg_tstr_real (x int);
CREATE TEMP TABLE ntg_chart (x int);
INSERT INTO ntg_tstr_real VALUES (1);
SELECT generator, train_rows FROM ntg.tstr('SELECT label, pl FROM h_rows', 'SELECT label, pl FROM h_rows',
	'{fast_retransmit}', '{"n_estimators": 2}', 1);
SELECT length(ntg.line_chart_svg('SELECT ''s'', 1, 0.5')) > 0 AS chart;
SELECT count(*) AS mine_kept FROM ntg_tstr_real, ntg_chart;

-- 13. Seeds are exact integers: 2^53 and 2^53 + 1 give different models; 2^63 is out of range.
SET ntg.progress = off;
SELECT model FROM ntg.train('seed_a', 'llama', 'SELECT label, pl FROM h_rows',
	'{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 1, "seed": 9007199254740992}');
SELECT model FROM ntg.train('seed_b', 'llama', 'SELECT label, pl FROM h_rows',
	'{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 1, "seed": 9007199254740993}');
SELECT a.weights <> b.weights AS seeds_differ, b.config->'seed' AS seed
  FROM ntg.models a, ntg.models b WHERE a.name = 'seed_a' AND b.name = 'seed_b';
SELECT ntg.train('seed_c', 'llama', 'SELECT label, pl FROM h_rows', '{"seed": 9223372036854775808}');
SELECT (ntg.train('seed_c', 'llama', 'SELECT label, pl FROM h_rows', '{"seed": 9223372036854775807, "epochs": 0}')).model AS max_seed_ok;
SELECT ntg.drop_model(name) FROM ntg.models WHERE name LIKE 'seed_%';

RESET ROLE;
DELETE FROM ntg.models WHERE owner IN ('regress_ntg_alice'::regrole, 'regress_ntg_team'::regrole);
REVOKE ALL ON ntg.models FROM regress_ntg_alice, regress_ntg_bob;
DROP ROLE regress_ntg_alice, regress_ntg_bob, regress_ntg_team;
DROP TABLE h_rows;
