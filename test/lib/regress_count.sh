#!/usr/bin/env bash
# test/lib/regress_count.sh LOG STATUS RESULTS_DIR — count a pg_regress run per test file and print
# `PASSED FAILED SKIPPED`.  LOG is pg_regress's output, STATUS its exit status, RESULTS_DIR the
# directory of its results/<name>.out files.
#   - a file reported `ok` passed, unless its output has a line starting `skipped:` — the marker a
#     test prints when it takes its skip variant (expected/<name>_1.out; docs/development.md):
#     then it is skipped;
#   - a file reported FAILED (or `failed (ignored)`) failed;
#   - pg_regress failing without a failing file (it could not start, or died) is one failure.
set -euo pipefail
log=$1 status=$2 results=$3
p=0 f=0 s=0
while read -r name result; do
	if [ "$result" = ok ]; then
		if grep -q '^skipped:' "$results/$name.out" 2>/dev/null; then
			s=$((s + 1))
		else
			p=$((p + 1))
		fi
	else
		f=$((f + 1))
	fi
done < <(sed -n -E 's/^(test +| +)([A-Za-z0-9_-]+) +\.\.\. +(ok|FAILED|failed).*/\2 \3/p' "$log")
if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
	f=1
fi
echo "$p $f $s"
