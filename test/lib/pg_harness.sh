# test/lib/pg_harness.sh — the one way ntg's tests, demo and benchmarks get a throw-away PostgreSQL:
# a private copy of the server with ntg installed into it (make tmp_install), initdb, a server on a
# Unix socket in a directory of its own (no TCP), stopped at the end.  initdb and postgres refuse to
# run as root, so as root either the whole calling script re-runs as the `postgres` user in a
# postgres-owned copy of the tree (ntg_rerun_as_postgres), or only the server runs as `postgres`
# (ntg_server_start).
#
# Sourced by bash scripts (test/run.sh, test/demo.sh, bench/*.sh):
#   ntg_shared_data                 set and export NTG_SHARED_DATA: as given (empty: no data), else
#                                   ../shared/data beside the tree when it is there, else empty
#   ntg_blas_own_kernels            unset OPENBLAS_CORETYPE (unless KEEP_CORETYPE=1), so that OpenBLAS
#                                   picks its kernels for the CPU as on a stock install; call before
#                                   ntg_rerun_as_postgres.  ntg_blas_kernels prints the kernels taken
#   ntg_rerun_as_postgres SCRIPT [ARGS]
#                                   as root: copy the tree to /tmp/ntg-<script>.XXXXXX, run SCRIPT
#                                   (a path in the tree) there as postgres, copy what it wrote under
#                                   $NTG_OUT back into this tree, and exit with its status.  The
#                                   copy is removed unless the run failed or NTG_KEEP_WORK=1.
#                                   Passes NTG_SHARED_DATA, CI and the variables NTG_PASS_ENV names.
#                                   Not root: sets NTG_OUT to the tree (unless set) and returns.
#   ntg_tmp_install                 build ntg and install it into tmp_install; sets NTG_BINDIR
#   ntg_server_start DIR PORT [DB]  initdb DIR/data (test/temp.conf appended), start the server on
#                                   a socket in DIR, create DB (default: postgres, always there).
#                                   Extra server options: NTG_SERVER_OPTS (e.g. "-c work_mem=64MB");
#                                   the server inherits the environment (OPENBLAS_NUM_THREADS).
#                                   Sets NTG_PGHOST, NTG_PGPORT, NTG_PGUSER, NTG_PGDATABASE and
#                                   NTG_PSQL (an array: psql -XqAt, ON_ERROR_STOP, connected to DB).
#   ntg_server_restart              restart the last server started, keeping its data, with
#                                   NTG_SERVER_OPTS as they are now
#   ntg_server_env                  export PGHOST, PGPORT, PGUSER, PGDATABASE for that server
#   ntg_server_stop [DIR]           stop the server in DIR (default: the last one started)
#   ntg_backend_peak_kb SQL         peak resident memory (VmHWM, kB) of a fresh backend after SQL
#
# Run, for programs in other languages (bench/pgserver.py):
#   bash test/lib/pg_harness.sh start DIR PORT [DB]   prints NAME=value lines (NTG_BINDIR, PGHOST,
#                                                     PGPORT, PGUSER, PGDATABASE); the server stays up
#   bash test/lib/pg_harness.sh stop DIR
#
# Used by test/run.sh; docs/development.md, "Tests", shows how to run some suites or one file.

ntg_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ntg_shared_data() {
	if [ -z "${NTG_SHARED_DATA+set}" ] && [ -d "$ntg_repo/../shared/data" ]; then
		NTG_SHARED_DATA=$(cd "$ntg_repo/../shared/data" && pwd)
	fi
	export NTG_SHARED_DATA=${NTG_SHARED_DATA:-}
}

# ntg_require_torch: the efficiency benchmarks' PyTorch side needs python3-torch; say so before any
# work rather than failing with a traceback halfway (SKIP_TORCH=1 runs ntg's side alone).
ntg_require_torch() {
	[ "${SKIP_TORCH:-0}" = 1 ] && return 0
	if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
		echo "error: the PyTorch reference needs python3-torch (Debian: sudo apt-get install python3-torch);" \
			"SKIP_TORCH=1 runs ntg's side alone" >&2
		exit 1
	fi
}

ntg_rerun_as_postgres() {
	if [ "$(id -u)" -ne 0 ]; then
		export NTG_OUT=${NTG_OUT:-$ntg_repo}
		return 0
	fi
	local script=$1 work name rc=0 var
	shift
	local pass=("NTG_SHARED_DATA=${NTG_SHARED_DATA:-}" "CI=${CI:-}" "NTG_SKIP_DEPS=1"
		"NTG_KEEP_WORK=${NTG_KEEP_WORK:-0}" "KEEP_CORETYPE=${KEEP_CORETYPE:-0}")
	for var in ${NTG_PASS_ENV:-}; do
		[ -n "${!var+set}" ] && pass+=("$var=${!var}")
	done
	name=$(basename "$script"); name=${name%.*}
	work=$(mktemp -d "${TMPDIR:-/tmp}/ntg-$name.XXXXXX")
	tar -C "$ntg_repo" --exclude=./.git --exclude=./tmp_install --exclude=./tmp_check \
		--exclude=./tmp_pgtap --exclude=./tmp_demo --exclude=./tmp_logs --exclude=./results \
		--exclude=./test/fuzz/bin --exclude=./bench/out --exclude=./bench/research/out -cf - . | tar -C "$work" -xf -
	mkdir -p "$work/.out"
	chown -R postgres: "$work"
	echo "running $script as postgres in $work"
	runuser -u postgres -- env "${pass[@]}" NTG_OUT="$work/.out" bash "$work/$script" "$@" || rc=$?
	cp -r --no-preserve=ownership "$work/.out/." "$ntg_repo/"
	if [ "$rc" -eq 0 ] && [ "${NTG_KEEP_WORK:-0}" != 1 ]; then
		rm -rf "$work"
	fi
	exit "$rc"
}

ntg_blas_own_kernels() {
	if [ "${KEEP_CORETYPE:-0}" != 1 ]; then
		unset OPENBLAS_CORETYPE
	fi
}

ntg_blas_kernels() {
	echo "OpenBLAS kernels: $(/usr/bin/python3 -c 'import ctypes, ctypes.util
lib = ctypes.CDLL(ctypes.util.find_library("openblas") or "libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())' 2>/dev/null || echo unknown) (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
}

ntg_tmp_install() {
	local log
	log=$(mktemp /tmp/ntg-tmp-install.XXXXXX)
	if ! (cd "$ntg_repo" && make -s -j2 tmp_install) >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
	NTG_BINDIR=$(cd "$ntg_repo" && make -s print-tmp-bindir)
	export NTG_BINDIR
}

ntg_server_start() {
	local dir=$1 port=$2 db=${3:-postgres} as=()
	[ -x "${NTG_BINDIR:-}/postgres" ] || ntg_tmp_install || return 1
	mkdir -p "$dir"
	[ -f "$dir/data/postmaster.pid" ] && ntg_server_stop "$dir"	# left by a killed earlier run
	rm -rf "$dir/data"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
		as=(runuser -u postgres --)
		if ! runuser -u postgres -- test -w "$dir"; then
			echo "pg_harness: $dir is not reachable by the postgres user (a parent directory is closed to it)" >&2
			return 1
		fi
	fi
	if ! "${as[@]}" "$NTG_BINDIR/initdb" -D "$dir/data" --no-locale -E UTF8 -A trust >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		return 1
	fi
	cat "$ntg_repo/test/temp.conf" >>"$dir/data/postgresql.conf"
	# where ntg_server_stop finds the server (also from another process: pg_harness.sh stop)
	echo "$NTG_BINDIR" >"$dir/harness.env"
	if ! "${as[@]}" "$NTG_BINDIR/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
		-o "-k $dir -c listen_addresses= -p $port ${NTG_SERVER_OPTS:-}" start >/dev/null; then
		tail -20 "$dir/server.log" >&2
		return 1
	fi
	NTG_SERVER_DIR=$dir NTG_PGHOST=$dir NTG_PGPORT=$port NTG_PGDATABASE=$db
	NTG_PGUSER=$(stat -c %U "$dir/data")
	if [ "$db" != postgres ]; then
		"$NTG_BINDIR/createdb" -h "$dir" -p "$port" -U "$NTG_PGUSER" "$db" || return 1
	fi
	NTG_PSQL=("$NTG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$NTG_PGUSER" -d "$db")
}

ntg_server_restart() {
	local dir=$NTG_SERVER_DIR as=()
	[ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
	"${as[@]}" "$NTG_BINDIR/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" -m fast \
		-o "-k $dir -c listen_addresses= -p $NTG_PGPORT ${NTG_SERVER_OPTS:-}" restart >/dev/null
}

ntg_server_env() {
	export PGHOST=$NTG_PGHOST PGPORT=$NTG_PGPORT PGUSER=$NTG_PGUSER PGDATABASE=$NTG_PGDATABASE
}

ntg_server_stop() {
	local dir=${1:-${NTG_SERVER_DIR:-}} bindir as=()
	[ -n "$dir" ] && [ -f "$dir/harness.env" ] && [ -d "$dir/data" ] || return 0
	read -r bindir <"$dir/harness.env"
	[ "$(id -u)" -eq 0 ] && as=(runuser -u "$(stat -c %U "$dir/data")" --)
	"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}

ntg_backend_peak_kb() {
	"${NTG_PSQL[@]}" -c "SET ntg.progress = off" -c "$1" -c \
		"SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*([0-9]+) kB')" \
		| tail -1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		[ $# -ge 3 ] || { echo "usage: $0 start DIR PORT [DB]" >&2; exit 2; }
		ntg_server_start "$2" "$3" "${4:-postgres}" >&2
		printf '%s=%s\n' NTG_BINDIR "$NTG_BINDIR" PGHOST "$NTG_PGHOST" PGPORT "$NTG_PGPORT" \
			PGUSER "$NTG_PGUSER" PGDATABASE "$NTG_PGDATABASE"
		;;
	stop)
		[ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
		ntg_server_stop "$2"
		;;
	*)
		echo "usage: $0 start DIR PORT [DB] | stop DIR" >&2
		exit 2
		;;
	esac
fi
