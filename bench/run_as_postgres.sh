#!/usr/bin/env bash
# bench/run_as_postgres.sh SCRIPT [ARGS] — run a Python benchmark of bench/ against a private
# temporary server built from this tree (make tmp_install).  initdb and postgres refuse to run as
# root, so as root the script, bench/ and tmp_install are copied to a postgres-owned directory and
# run there as postgres.  Uses /usr/bin/python3 (Debian's numpy and scikit-learn).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script=$1; shift
cd "$repo"
make -s -j2 tmp_install >/dev/null
bindir=$(make -s print-tmp-bindir)
data=${NTG_SHARED_DATA:-$repo/../shared/data}
[ -d "$data" ] || { echo "bench: $data is absent (set NTG_SHARED_DATA)"; exit 1; }
data=$(cd "$data" && pwd)
if [ "$(id -u)" -eq 0 ]; then
	work=$(mktemp -d /tmp/ntg-bench.XXXXXX)
	mkdir -p "$work/repo"
	cp -a bench tmp_install docs "$work/repo/" 2>/dev/null || cp -a bench tmp_install "$work/repo/"
	chown -R postgres: "$work"
	rc=0
	runuser -u postgres -- env NTG_BINDIR="$work/repo${bindir#$repo}" NTG_SHARED_DATA="$data" \
		NTG_OUT="$work/out" /usr/bin/python3 "$work/repo/bench/$script" "$@" || rc=$?
	# results written under $work/out are copied back into the tree
	[ -d "$work/out" ] && cp -r --no-preserve=all "$work/out/." "$repo/"
	rm -rf "$work"
	exit $rc
fi
NTG_BINDIR=$bindir NTG_SHARED_DATA=$data NTG_OUT=$repo exec /usr/bin/python3 "$repo/bench/$script" "$@"
