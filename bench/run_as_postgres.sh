#!/usr/bin/env bash
# bench/run_as_postgres.sh SCRIPT [ARGS] — run a Python benchmark of bench/ (one that starts its
# throw-away server through bench/pgserver.py) on the nDPI benchmark data, with /usr/bin/python3
# (Debian's numpy and scikit-learn).  The server comes from test/lib/pg_harness.sh: as root, this
# script re-runs itself as postgres in a copy of the tree, and what the benchmark writes under
# $NTG_OUT comes back into this tree.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ $# -ge 1 ] || { echo "usage: bench/run_as_postgres.sh SCRIPT [ARGS]" >&2; exit 2; }
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
if [ -z "$NTG_SHARED_DATA" ] || [ ! -d "$NTG_SHARED_DATA/ndpi" ]; then
	echo "skipped: $NTG_SHARED_DATA/ndpi is absent (set NTG_SHARED_DATA)"
	exit 0
fi
ntg_rerun_as_postgres bench/run_as_postgres.sh "$@"
ntg_tmp_install
script=$1
shift
exec /usr/bin/python3 "$repo/bench/$script" "$@"
