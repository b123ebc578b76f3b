#!/usr/bin/env bash
# test/run.sh [SUITE|FILE]... — run ntg's test suites and print, last, one summary line
#   ntg: N passed, N failed, N skipped
# counted at one grain: each TAP subtest (unit, pgTAP, TAP scripts) and each pg_regress test file.
# A subtest or file that skips is counted as skipped, never as passed; a file that dies counts as
# one failure.  Suites, in order:
#   unit     plain-C unit tests of the core (TAP binaries built from test/unit/test_*.c)
#   mutation the mutation score (test/mutation.py): each planted bug is one test, passed when a
#            unit test catches it
#   regress  pg_regress (sql/*.sql against expected/*.out) on a temporary instance
#   pgtap    pgTAP files test/pgtap/*.sql, and
#   tap      TAP scripts test/tap/*.t, both against one temporary server (test/lib/pg_harness.sh)
# With no argument every suite runs.  Arguments pick suites by name, or single files (paths from
# the tree's root): test/unit/test_x.c, sql/x.sql (a pg_regress test), test/pgtap/x.sql,
# test/tap/x.t.  Examples: `bash test/run.sh tap`, `bash test/run.sh test/tap/upgrade.t sql/forest.sql`.
#
# Installs missing Debian packages first (sudo when not root; NTG_SKIP_DEPS=1 skips that).  As root
# the suites run as `postgres` in a copy of the tree under /tmp, kept when a suite fails or with
# NTG_KEEP_WORK=1.  Tests that need the shared data (NTG_SHARED_DATA; by default ../shared/data
# beside the tree) skip, saying so, when it is absent or NTG_SHARED_DATA is set empty.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

usage() {
	sed -n '2,14s/^# \{0,1\}//p' "$0"
	exit "${1:-0}"
}

# --- what to run ----------------------------------------------------------------------------
all_unit=0 all_regress=0 all_mutation=0
unit_bins=() regress_names=() pgtap_files=() tap_files=()
[ $# -eq 0 ] && set -- unit mutation regress pgtap tap
for arg in "$@"; do
	arg=${arg#./}
	case $arg in
	-h | --help) usage 0 ;;
	unit) all_unit=1 ;;
	mutation) all_mutation=1 ;;
	regress) all_regress=1 ;;
	pgtap) pgtap_files+=(test/pgtap/*.sql) ;;
	tap) compgen -G "test/tap/*.t" >/dev/null && tap_files+=(test/tap/*.t) ;;
	test/unit/test_*.c) unit_bins+=("test/unit/bin/$(basename "$arg" .c)") ;;
	test/unit/bin/test_*) unit_bins+=("$arg") ;;
	test/pgtap/*.sql) pgtap_files+=("$arg") ;;
	test/tap/*.t) tap_files+=("$arg") ;;
	sql/*.sql) regress_names+=("$(basename "$arg" .sql)") ;;
	*) echo "test/run.sh: unknown suite or test file: $arg" >&2; usage 2 >&2 ;;
	esac
	case $arg in
	test/unit/test_*.c | test/pgtap/*.sql | test/tap/*.t | sql/*.sql)
		[ -f "$arg" ] || { echo "test/run.sh: no such file: $arg" >&2; exit 2; } ;;
	esac
done

# shellcheck source=test/deps.sh
. test/deps.sh
# shellcheck disable=SC2086
ntg_install_packages $NTG_BUILD_PACKAGES $NTG_TEST_PACKAGES
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
ntg_rerun_as_postgres test/run.sh "$@"		# as root: runs this script as postgres and exits

logs="$repo/tmp_logs"
rm -rf "$logs"; mkdir -p "$logs"
passed=0 failed=0 skipped=0

summary() {
	[ -z "$NTG_SHARED_DATA" ] && echo "note: NTG_SHARED_DATA is empty or absent: the tests that need the shared data were skipped"
	echo "ntg: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}

# add NAME P F S: add a suite's counts to the totals and print them.
add() {
	echo "$1: $2 passed, $3 failed, $4 skipped"
	passed=$((passed + $2)) failed=$((failed + $3)) skipped=$((skipped + $4))
}

# run_tap NAME [--pgtap PSQL] FILE...: run TAP files, add their counts (test/lib/tap_count.pl).
run_tap() {
	local name=$1 counts
	shift
	counts="$logs/$name.counts"
	perl test/lib/tap_count.pl --counts "$counts" "$@" 2>&1 | tee "$logs/$name.log" || true
	if [ -s "$counts" ]; then
		# shellcheck disable=SC2046
		add "$name" $(cat "$counts")
	else
		add "$name" 0 1 0	# the harness itself died
	fi
}

echo "== build"
if ! make -s -j2 >"$logs/build.log" 2>&1; then
	cat "$logs/build.log"
	failed=1
	summary
	exit 1
fi

if [ "$all_unit" = 1 ] || [ ${#unit_bins[@]} -gt 0 ]; then
	echo "== unit tests (plain-C core)"
	if ! make -s -j2 unit-build >"$logs/unit-build.log" 2>&1; then
		cat "$logs/unit-build.log"
		add unit 0 1 0
	else
		# shellcheck disable=SC2207
		[ "$all_unit" = 1 ] && unit_bins=($(make -s print-unit-bins))
		run_tap unit "${unit_bins[@]}"
	fi
fi

if [ "$all_mutation" = 1 ]; then
	echo "== mutation score (planted bugs the unit tests must catch)"
	python3 test/mutation.py >"$logs/mutation.log" 2>&1 || true
	cat "$logs/mutation.log"
	killed=$(grep -c '| killed (' "$logs/mutation.log" || true)
	missed=$(grep -cE '\| (SURVIVED|ERROR)' "$logs/mutation.log" || true)
	grep -qE '^mutation: [0-9]+ killed' "$logs/mutation.log" || missed=$((missed + 1))
	add mutation "$killed" "$missed" "$(grep -c '| skipped (' "$logs/mutation.log" || true)"
fi

if [ "$all_regress" = 1 ] || [ ${#regress_names[@]} -gt 0 ]; then
	echo "== pg_regress (temporary instance)"
	regress_args=()
	[ "$all_regress" = 1 ] || regress_args=("REGRESS=${regress_names[*]}")
	rc=0
	make -s regresscheck "${regress_args[@]}" >"$logs/regress.log" 2>&1 || rc=$?
	grep -E '^(test | +[A-Za-z0-9_-]+ +\.\.\.|parallel group| *[0-9]+ of|.*tests passed)' "$logs/regress.log" ||
		tail -40 "$logs/regress.log"
	# shellcheck disable=SC2046
	add regress $(bash test/lib/regress_count.sh "$logs/regress.log" "$rc" results)
	[ -f regression.diffs ] && head -200 regression.diffs
fi

if [ ${#pgtap_files[@]} -gt 0 ] || [ ${#tap_files[@]} -gt 0 ]; then
	echo "== pgTAP and TAP scripts (temporary server)"
	# make regresscheck has just installed into tmp_install
	if [ "$all_regress" = 1 ] || [ ${#regress_names[@]} -gt 0 ]; then
		NTG_BINDIR=$(make -s print-tmp-bindir)
	else
		ntg_tmp_install
	fi
	trap ntg_server_stop EXIT
	if ntg_server_start "$repo/tmp_pgtap" 54329 ntgtest &&
		"${NTG_PSQL[@]}" -c "CREATE EXTENSION pgtap; CREATE EXTENSION ntg;"; then
		ntg_server_env
		export NTG_REPO=$repo
		[ ${#pgtap_files[@]} -gt 0 ] && run_tap pgtap --pgtap "$NTG_BINDIR/psql" "${pgtap_files[@]}"
		[ ${#tap_files[@]} -gt 0 ] && run_tap tap "${tap_files[@]}"
	else
		add "test server" 0 1 0		# no server: the pgTAP and TAP files did not run
	fi
fi

summary
