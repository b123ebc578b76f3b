-- bench/timed.sql — timed(q): the wall-clock and CPU milliseconds of a statement run in this
-- backend, for the efficiency benchmarks and first_call.sh (psql -f bench/timed.sql in their database).
--
-- CPU time is the backend's, from /proc/self/schedstat (ns).  Linux brings that figure up to date
-- only when the task leaves the CPU or at a scheduler tick (4 ms at HZ=250), so read while the
-- backend runs it is up to a tick old: 200 one-row calls of 0.06 ms (12 ms) read as 8 or 12 ms.
-- A 1 ms sleep before each reading makes the backend leave the CPU, so each reading is exact; the
-- CPU time of waking up and of the readings themselves (~0.15 ms per statement on a 2-core virtual
-- machine) is in the figure, the sleeps are not in the wall-clock time.
CREATE FUNCTION timed(q text, OUT wall_ms float8, OUT cpu_ms float8) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	c0 float8;
BEGIN
	PERFORM pg_sleep(0.001);
	c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::float8;
	t0 := clock_timestamp();
	EXECUTE q;
	wall_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	PERFORM pg_sleep(0.001);
	cpu_ms := (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::float8 - c0) / 1e6;
END $$;
