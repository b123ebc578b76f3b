-- test/demo.sql — the main job the README's quick start runs (test/demo.sh) on a throw-away server.
\set ON_ERROR_STOP on
\pset pager off
CREATE EXTENSION ntg;
SELECT ntg.version() AS ntg_version, ntg.library_versions() AS libraries;
