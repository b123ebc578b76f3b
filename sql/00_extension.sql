-- The extension itself: schema, version, clean removal.
-- (pg_regress has already run CREATE EXTENSION ntg.)
SELECT ntg.version();
SELECT ntg.library_versions() LIKE 'libpcap version %' AS has_libpcap;
SELECT nspname FROM pg_namespace WHERE nspname = 'ntg';
SELECT count(*) AS model_rows FROM ntg.models;

-- DROP EXTENSION removes the schema and every object in it.
DROP EXTENSION ntg;
SELECT count(*) AS ntg_schemas FROM pg_namespace WHERE nspname = 'ntg';
CREATE EXTENSION ntg;
SELECT extversion FROM pg_extension WHERE extname = 'ntg';

-- The GUC namespace is reserved: a misspelt setting is refused.
SET ntg.progress = off;
SHOW ntg.progress;
RESET ntg.progress;
SET ntg.no_such_setting = 1;
