-- pgTAP: the SQL conventions every function of the extension keeps (docs/development.md), read
-- from the catalog so that a new function that breaks one fails here.
BEGIN;
SELECT plan(12);

-- The extension's functions, with their argument names and types.
CREATE TEMP VIEW fns AS
SELECT p.oid, p.oid::regprocedure AS sig, p.proname, l.lanname, p.proisstrict, p.prosecdef,
	   p.proconfig, p.prorettype, p.pronargs, p.pronargdefaults,
	   coalesce(p.proargnames, '{}') AS argnames,
	   coalesce(p.proallargtypes, p.proargtypes::oid[]) AS argtypes,
	   coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])) AS argmodes,
	   obj_description(p.oid, 'pg_proc') AS comment
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'ntg'
  JOIN pg_language l ON l.oid = p.prolang;
CREATE TEMP VIEW fn_args AS
SELECT f.sig, f.proname, a.name, a.type, a.mode, a.n
  FROM fns f, unnest(f.argnames, f.argtypes, f.argmodes) WITH ORDINALITY AS a(name, type, mode, n);

SELECT cmp_ok((SELECT count(*)::int FROM fns), '>', 40, 'the extension has its functions');

SELECT is_empty($$SELECT sig FROM fns WHERE proisstrict$$,
	'no function is STRICT: a NULL argument is an error (22004), never a silent NULL');

SELECT is_empty($$SELECT sig FROM fns WHERE prosecdef$$,
	'every function runs with the caller''s privileges (no SECURITY DEFINER)');

SELECT is_empty($$SELECT sig FROM fns WHERE lanname IN ('sql', 'plpgsql')
				   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)$$,
	'every SQL and PL/pgSQL function pins search_path = pg_catalog, pg_temp');

SELECT is_empty($$SELECT sig FROM fns WHERE comment IS NULL$$, 'every function has a comment');

SELECT is_empty($$SELECT sig, name FROM fn_args WHERE mode IN ('i', 'b')
				   AND name IN ('name', 'source', 'src', 'sql', 'q', 'weights', 'model_name')$$,
	'one name per role: a stored model is "model", a query "query" or "<role>_query"');

SELECT is_empty($$SELECT sig, name FROM fn_args WHERE mode IN ('i', 'b') AND name LIKE '%query%'
				   AND NOT (name = 'query' OR name ~ '^[a-z]+_query$'
							OR (name ~ '^[a-z]+_queries$' AND type = 'text[]'::regtype))$$,
	'query arguments are spelt query or <role>_query (train, test, real, synthetic)');

SELECT is_empty($$SELECT sig FROM fn_args WHERE mode IN ('i', 'b') AND name = 'seed'
				   AND (type <> 'bigint'::regtype OR fn_args.sig IN (
						SELECT f.sig FROM fns f WHERE f.comment NOT LIKE '%seed%'))$$,
	'every seed is a bigint, and the function''s comment says what it seeds');

SELECT is_empty($$SELECT sig::text, name, format_type(type, NULL) FROM fn_args
				   WHERE mode IN ('o', 't', 'b') AND name = 'pl' AND type <> 'integer[]'::regtype
				   UNION ALL
				   SELECT t.typname::text, a.attname::text, format_type(a.atttypid, NULL)
				   FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
				   WHERE t.typnamespace = 'ntg'::regnamespace AND a.attname = 'pl'
				   AND a.atttypid <> 'integer[]'::regtype$$,
	'every pl a function or row type returns is integer[], so that rows join');

SELECT is((SELECT prorettype FROM pg_proc WHERE oid = 'ntg.train(text,text,text,jsonb,boolean)'::regprocedure),
		  (SELECT prorettype FROM pg_proc WHERE oid = 'ntg.rf_train(text,text,jsonb,boolean)'::regprocedure),
		  'train and rf_train return the same kind of result');

-- Dynamically: every public function called with NULL for each argument it requires (those
-- without a default) raises 22004.  (Functions named _x are internal: ntg calls them with checked
-- arguments only.)
CREATE TEMP TABLE null_calls (sig text, outcome text);
DO $$
DECLARE
	f record;
	args text;
	n_required int;
	state text;
BEGIN
	FOR f IN SELECT * FROM fns
			 WHERE prorettype <> 'trigger'::regtype AND pronargs > pronargdefaults
			   AND proname NOT LIKE '\_%' LOOP
		n_required := f.pronargs - f.pronargdefaults;
		SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY i) INTO args
		  FROM unnest((SELECT proargtypes::oid[] FROM pg_proc WHERE oid = f.oid)) WITH ORDINALITY AS x(t, i)
		 WHERE i <= n_required;
		state := 'no error';
		BEGIN
			EXECUTE format('SELECT * FROM %s(%s)', f.oid::regproc, args);
		EXCEPTION WHEN others THEN
			state := SQLSTATE;
		END;
		INSERT INTO null_calls VALUES (f.sig::text, state);
	END LOOP;
END
$$;
SELECT cmp_ok((SELECT count(*)::int FROM null_calls), '>', 30, 'functions with required arguments were called');
SELECT is_empty($$SELECT * FROM null_calls WHERE outcome <> '22004'$$,
	'a NULL required argument is error 22004 in every function');

SELECT * FROM finish();
ROLLBACK;
