#!/usr/bin/env bash
# test/run.sh — run every ntg test suite and print one summary line:
#   1. plain-C unit tests of the core (TAP binaries, prove), then the mutation score
#      (test/mutation.py: each planted bug counts as one test, passed when a unit test catches it)
#   2. pg_regress with expected output, on a temporary instance
#   3. pgTAP files through pg_prove, and TAP scripts (test/tap/*.t), on a temporary server
# Installs missing Debian packages first (sudo when not root).  As root, the suites run as the
# `postgres` user in a copy of the tree, because initdb and postgres refuse to run as root.
# Tests that need ../shared/data skip, saying so, when it is absent (NTG_SHARED_DATA overrides).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/deps.sh
. test/deps.sh
# shellcheck disable=SC2086
ntg_install_packages $NTG_BUILD_PACKAGES $NTG_TEST_PACKAGES

if [ -z "${NTG_SHARED_DATA:-}" ] && [ -d "$repo/../shared/data" ]; then
	NTG_SHARED_DATA=$(cd "$repo/../shared/data" && pwd)
fi
export NTG_SHARED_DATA=${NTG_SHARED_DATA:-}

if [ "$(id -u)" -eq 0 ]; then
	work=$(mktemp -d /tmp/ntg-test.XXXXXX)
	tar -C "$repo" --exclude=./.git --exclude=./tmp_install --exclude=./tmp_check \
		--exclude=./tmp_pgtap --exclude=./tmp_demo --exclude=./tmp_logs -cf - . | tar -C "$work" -xf -
	chown -R postgres: "$work"
	echo "running the suites as postgres in $work"
	rc=0
	runuser -u postgres -- env NTG_SKIP_DEPS=1 NTG_SHARED_DATA="$NTG_SHARED_DATA" CI="${CI:-}" \
		bash "$work/test/run.sh" "$@" || rc=$?
	[ "$rc" -eq 0 ] && [ "${NTG_KEEP_WORK:-0}" != 1 ] && rm -rf "$work"
	exit "$rc"
fi

logs="$repo/tmp_logs"
rm -rf "$logs"; mkdir -p "$logs"
passed=0 failed=0 skipped=0

# Add prove/pg_prove results from a log to the totals.
count_tap() {
	local log=$1 tests bad died
	tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -1)
	bad=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	# A file that died or broke its plan counts as one more failure.
	died=$(grep -cE 'Parse errors|Non-zero (exit|wait) status|No subtests run' "$log" || true)
	passed=$((passed + ${tests:-0} - bad))
	failed=$((failed + bad + died))
	skipped=$((skipped + $(grep -c '\.\. skipped:' "$log" || true)))
}

echo "== build"
make -s -j2 >"$logs/build.log" 2>&1 || { cat "$logs/build.log"; echo "ntg: 0 passed, 1 failed"; exit 1; }

echo "== unit tests (plain-C core)"
make -s -j2 unit-build >"$logs/unit-build.log" 2>&1 || { cat "$logs/unit-build.log"; echo "ntg: 0 passed, 1 failed"; exit 1; }
prove -f $(make -s print-unit-bins) 2>&1 | tee "$logs/unit.log" || true
count_tap "$logs/unit.log"

# ---- mutation score (test/mutation.py): one test per planted bug, which its unit test must catch
echo "== mutation score (planted bugs the unit tests must catch)"
python3 test/mutation.py >"$logs/mutation.log" 2>&1 || true
cat "$logs/mutation.log"
passed=$((passed + $(grep -c '| killed (' "$logs/mutation.log" || true)))
skipped=$((skipped + $(grep -c '| skipped (' "$logs/mutation.log" || true)))
failed=$((failed + $(grep -cE '\| (SURVIVED|ERROR)' "$logs/mutation.log" || true)))
grep -qE '^mutation: [0-9]+ killed' "$logs/mutation.log" || failed=$((failed + 1))
# ---- end of the mutation score

echo "== pg_regress"
if make -s regresscheck >"$logs/regress.log" 2>&1; then :; fi
grep -E '^(ok|not ok|test | *[0-9]+ of|.*tests passed)' "$logs/regress.log" || cat "$logs/regress.log"
if grep -qE 'All [0-9]+ tests passed' "$logs/regress.log"; then
	passed=$((passed + $(sed -n 's/.*All \([0-9]*\) tests passed.*/\1/p' "$logs/regress.log")))
else
	n=$(sed -n 's/.* \([0-9]*\) of \([0-9]*\) tests failed.*/\1 \2/p' "$logs/regress.log")
	if [ -n "$n" ]; then
		set -- $n; failed=$((failed + $1)); passed=$((passed + $2 - $1))
	else
		failed=$((failed + 1))
	fi
	[ -f regression.diffs ] && head -200 regression.diffs
fi

echo "== pgTAP and TAP scripts (temporary server)"
bindir=$(make -s print-tmp-bindir)
pgdata="$repo/tmp_pgtap/data"; sock="$repo/tmp_pgtap"
rm -rf "$repo/tmp_pgtap"; mkdir -p "$sock"
"$bindir/initdb" -D "$pgdata" --no-locale -E UTF8 -A trust >"$logs/initdb.log" 2>&1
cat test/temp.conf >>"$pgdata/postgresql.conf"
"$bindir/pg_ctl" -D "$pgdata" -w -l "$logs/pgtap-server.log" \
	-o "-k $sock -c listen_addresses= -p 54329" start >/dev/null
trap '"$bindir/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true' EXIT
export PGHOST=$sock PGPORT=54329 PGDATABASE=ntgtest NTG_REPO=$repo
"$bindir/createdb" ntgtest
"$bindir/psql" -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pgtap; CREATE EXTENSION ntg;" >/dev/null
pg_prove --failures test/pgtap/*.sql 2>&1 | tee "$logs/pgtap.log" || true
count_tap "$logs/pgtap.log"
if compgen -G "test/tap/*.t" >/dev/null; then
	prove -f test/tap/*.t 2>&1 | tee "$logs/tap.log" || true
	count_tap "$logs/tap.log"
fi

[ -z "$NTG_SHARED_DATA" ] && echo "note: ../shared/data is absent; tests that need it were skipped"
echo "ntg: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
