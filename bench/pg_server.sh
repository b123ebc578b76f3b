# bench/pg_server.sh — sourced by the benchmark scripts: build ntg into ./tmp_install and run a
# throw-away PostgreSQL server from it, as test/run.sh does.  As root, the calling script is re-run
# as the `postgres` user in a postgres-owned copy of the tree (initdb and postgres refuse root).
#
#   bench_as_postgres "$@"     # first thing in a script: re-exec as postgres when root
#   bench_start_server PORT    # build, initdb, start; sets $PSQL; stops the server on exit

bench_as_postgres() {
	if [ -z "${NTG_SHARED_DATA:-}" ] && [ -d "$repo/../shared/data" ]; then
		NTG_SHARED_DATA=$(cd "$repo/../shared/data" && pwd)
	fi
	export NTG_SHARED_DATA
	[ "$(id -u)" -ne 0 ] && return 0
	local work=/tmp/ntg-bench.$(basename "$0" .sh)
	rm -rf "$work"; mkdir -p "$work"
	tar -C "$repo" --exclude=./.git --exclude=./tmp_install --exclude=./tmp_check \
		--exclude=./tmp_pgtap --exclude=./tmp_demo --exclude=./tmp_logs --exclude=./test/fuzz/bin \
		-cf - . | tar -C "$work" -xf -
	chown -R postgres: "$work"
	# Files the benchmark writes for the caller go to $BENCH_OUT (default: bench/out of the caller's tree).
	mkdir -p "${BENCH_OUT:=$repo/bench/out}"; chmod 777 "$BENCH_OUT"
	exec runuser -u postgres -- env BENCH_OUT="$BENCH_OUT" NTG_SHARED_DATA="${NTG_SHARED_DATA:-}" \
		"${BENCH_ENV[@]}" bash "$work/bench/$(basename "$0")" "$@"
}

bench_start_server() {
	local port=$1
	make -s -j2 tmp_install >/dev/null
	BENCH_BINDIR=$(make -s print-tmp-bindir)
	BENCH_DIR=$(mktemp -d /tmp/ntg-bench-pg.XXXXXX)
	"$BENCH_BINDIR/initdb" -D "$BENCH_DIR/data" --no-locale -E UTF8 -A trust >/dev/null
	cat test/temp.conf >>"$BENCH_DIR/data/postgresql.conf"
	# One BLAS thread: the comparison is on one core, like the PyTorch side.
	OPENBLAS_NUM_THREADS=1 "$BENCH_BINDIR/pg_ctl" -D "$BENCH_DIR/data" -w -l "$BENCH_DIR/server.log" \
		-o "-k $BENCH_DIR -c listen_addresses= -p $port" start >/dev/null
	trap '"$BENCH_BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast stop >/dev/null 2>&1; rm -rf "$BENCH_DIR"' EXIT
	"$BENCH_BINDIR/createdb" -h "$BENCH_DIR" -p "$port" ntgbench
	PSQL=("$BENCH_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p "$port" -d ntgbench)
	"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
}

# Peak resident memory (VmHWM, kB) of the backend that ran the statements given, in a fresh session.
bench_backend_peak_kb() {
	"${PSQL[@]}" -c "SET ntg.progress = off" -c "$1" -c \
		"SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*([0-9]+) kB')" \
		| tail -1
}
