# bench/pg_server.sh — sourced by the benchmark scripts: build ntg into ./tmp_install and run a
# throw-away PostgreSQL server from it, as test/run.sh does.  As root, the calling script is re-run
# as the `postgres` user in a postgres-owned copy of the tree (initdb and postgres refuse root).
#
#   bench_as_postgres "$@"     # first thing in a script: re-exec as postgres when root
#   bench_start_server PORT    # build, initdb, start; sets $PSQL; stops the server on exit
#   bench_server_up DIR PORT   # the same in DIR, without the re-exec: as root the server alone
#                              # runs as postgres (import and fidelity benchmarks)

bench_as_postgres() {
	if [ -z "${NTG_SHARED_DATA:-}" ] && [ -d "$repo/../shared/data" ]; then
		NTG_SHARED_DATA=$(cd "$repo/../shared/data" && pwd)
	fi
	export NTG_SHARED_DATA
	[ "$(id -u)" -ne 0 ] && return 0
	# one copy per script (and per NTG_BENCH_PORT, so that two runs on two ports can go together)
	local work=/tmp/ntg-bench.$(basename "$0" .sh)${NTG_BENCH_PORT:+.$NTG_BENCH_PORT}
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

# bench_server_up DIR PORT [DB]: build tmp_install, initdb DIR/data and start it on a socket in
# DIR (no TCP), with test/temp.conf and one BLAS thread; create DB (default: postgres, which is
# there).  As root, the server runs as `postgres` (runuser) while the calling script stays root.
# Sets BENCH_BINDIR and PSQL (DB, as the server's owner); stops the server on exit.
bench_server_up() {
	local dir=$1 port=$2 db=${3:-postgres}
	local as=()
	make -s -j2 tmp_install >/dev/null
	BENCH_BINDIR=$(make -s print-tmp-bindir)
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; as=(runuser -u postgres --); fi
	BENCH_SERVER_DIR=$dir
	BENCH_SERVER_AS=("${as[@]}")
	"${as[@]}" "$BENCH_BINDIR/initdb" -D "$dir/data" --no-locale -E UTF8 -A trust >/dev/null
	cat test/temp.conf >>"$dir/data/postgresql.conf"
	# One BLAS thread: the comparisons are on one core, like the PyTorch side.
	OPENBLAS_NUM_THREADS=1 "${as[@]}" "$BENCH_BINDIR/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
		-o "-k $dir -c listen_addresses= -p $port" start >/dev/null
	trap bench_server_down EXIT
	local owner
	owner=$(stat -c %U "$dir/data")
	[ "$db" = postgres ] || "$BENCH_BINDIR/createdb" -h "$dir" -p "$port" -U "$owner" "$db"
	PSQL=("$BENCH_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$owner" -d "$db")
}

bench_server_down() {
	"${BENCH_SERVER_AS[@]}" "$BENCH_BINDIR/pg_ctl" -D "$BENCH_SERVER_DIR/data" -m fast stop >/dev/null 2>&1 || true
}

# bench_start_server PORT: bench_server_up in a fresh temporary directory (removed on exit), with
# a database ntgbench that has ntg; PSQL connects to it.
bench_start_server() {
	bench_server_up "$(mktemp -d /tmp/ntg-bench-pg.XXXXXX)" "$1" ntgbench
	trap 'bench_server_down; rm -rf "$BENCH_SERVER_DIR"' EXIT
	"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
}

# Peak resident memory (VmHWM, kB) of the backend that ran the statements given, in a fresh session.
bench_backend_peak_kb() {
	"${PSQL[@]}" -c "SET ntg.progress = off" -c "$1" -c \
		"SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*([0-9]+) kB')" \
		| tail -1
}
