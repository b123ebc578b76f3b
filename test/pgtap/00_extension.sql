-- pgTAP: objects the extension creates and their properties.
BEGIN;
SELECT plan(9);

SELECT has_schema('ntg');
SELECT has_table('ntg', 'models', 'ntg.models exists');
SELECT col_is_pk('ntg', 'models', 'name', 'models are keyed by name');
SELECT has_function('ntg', 'version', 'ntg.version() exists');
SELECT is(ntg.version(), (SELECT extversion FROM pg_extension WHERE extname = 'ntg'),
          'version() reports the installed version');
SELECT throws_ok($$INSERT INTO ntg.models (name, kind, config, classes, weights)
                   VALUES ('', 'llama', '{}', '{}', '\x00')$$,
                 '23514', NULL, 'an empty model name is refused');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
            WHERE e.extname = 'ntg' AND d.deptype = 'e' AND d.classid = 'pg_namespace'::regclass), 1,
          'the schema belongs to the extension');

SELECT ok(has_schema_privilege('public', 'ntg', 'USAGE'),
          'every role may look up functions in schema ntg');
SELECT is((SELECT attstorage FROM pg_attribute
            WHERE attrelid = 'ntg.models'::regclass AND attname = 'weights'), 'e'::"char",
          'weights are stored out of line and uncompressed (no decompression when a backend loads a model)');

SELECT * FROM finish();
ROLLBACK;
