-- ntg install script, part 00: the schema and informational functions.
-- The script creates schema ntg itself (rather than ntg.control's `schema`), which makes the schema a
-- member of the extension: DROP EXTENSION removes it with everything in it.

CREATE SCHEMA ntg;
COMMENT ON SCHEMA ntg IS 'network-traffic synthesis (ntg extension)';
-- Everyone may look up ntg's functions, as in the public schema; what a call may then read or write
-- is decided by the caller's own privileges (functions are SECURITY INVOKER; reading server files
-- needs pg_read_server_files; ntg.models and ntg.biflows need grants from their owner).
GRANT USAGE ON SCHEMA ntg TO PUBLIC;

CREATE FUNCTION ntg.version() RETURNS text
	AS $$ SELECT extversion::text FROM pg_catalog.pg_extension WHERE extname = 'ntg' $$
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ntg.version() IS 'installed version of the ntg extension';

CREATE FUNCTION ntg.library_versions() RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_library_versions'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.library_versions() IS 'versions of the libraries ntg was built with';
