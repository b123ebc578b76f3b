#!/usr/bin/env bash
# bench/aligned_rows.sh — one-row sampling from a stored float model whose weights start on a cache
# line (how ntg stores them) against the same model with its weights 8, 16 and 32 bytes past one
# (where a value stored by an earlier build may put them), on the plain-C core (bench/aligned_rows.c),
# for the llama and the mamba at their default shapes, trained one epoch on the efficiency
# protocol's rows (5 classes x 500 rows of ndpi/flows.tsv).
#
#   bench/aligned_rows.sh                   KINDS=llama CALLS=300 ROUNDS=20 bench/aligned_rows.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
KINDS=${KINDS:-llama mamba}; CALLS=${CALLS:-300}; ROUNDS=${ROUNDS:-20}
data=$NTG_SHARED_DATA
if [ -z "$data" ] || [ ! -f "$data/ndpi/flows.tsv" ]; then
	echo "skipped: $data/ndpi/flows.tsv is absent (set NTG_SHARED_DATA)"; exit 0
fi
ntg_blas_kernels
work=$(mktemp -d /tmp/ntg-aligned-rows.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 bench/make_rows.py efficiency --flows "$data/ndpi/flows.tsv" --out "$work/eff.tsv" \
	--classes 5 --rows 500 --seed 1 2>/dev/null
make -s -j2 test/unit/bin/libntgcore.a >/dev/null
deps=$(make -s print-dep-flags)
# shellcheck disable=SC2086
gcc -O2 -std=gnu11 -Isrc/core -o "$work/aligned_rows" bench/aligned_rows.c test/unit/bin/libntgcore.a $deps
echo "$(nproc) cores; $(uptime | sed 's/.*load/load/')"
for kind in $KINDS; do
	OPENBLAS_NUM_THREADS=1 "$work/aligned_rows" --tsv "$work/eff.tsv" --kind "$kind" \
		--calls "$CALLS" --rounds "$ROUNDS" 2>/dev/null
done
