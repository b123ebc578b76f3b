-- ntg 0.1.0 -> 0.2.0, part 00.  Each subsystem's changes to the SQL surface go into a part of
-- their own here, in the same order as the install script's parts in sql/ext/, and the same
-- change into sql/ext/.  test/tap/upgrade.t checks that an updated database has the same
-- catalog as a fresh install.

-- Every SQL and PL/pgSQL function pins its search_path.
ALTER FUNCTION ntg.version() SET search_path = pg_catalog, pg_temp;
