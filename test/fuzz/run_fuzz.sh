#!/usr/bin/env bash
# test/fuzz/run_fuzz.sh [SECONDS=60] [extra libFuzzer flags...] — build the capture reader with
# libFuzzer + ASan/UBSan and fuzz it, seeded with the project's captures (test/captures) and, when
# present, the fixture captures of the benchmark data ($NTG_SHARED_DATA/fixtures, docs/data.md).
# Needs clang with libFuzzer (Debian: clang).  New inputs go to test/fuzz/out/corpus, or
# $NTG_FUZZ_CORPUS; crashes and leaks are written to test/fuzz/out/.  SECONDS 0 runs until a
# libFuzzer flag stops it (test/tap/fuzz_smoke.t: -runs=N -seed=1).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-60}
shift || true
CLANG=${CLANG:-$(command -v clang-14 || command -v clang)}
out=$repo/test/fuzz/out
corpus=${NTG_FUZZ_CORPUS:-$out/corpus}
data=${NTG_SHARED_DATA-$repo/../shared/data}
mkdir -p "$corpus" "$out/seeds"
"$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 \
	-I"$repo/src/core" -o "$out/fuzz_capture" "$repo/test/fuzz/fuzz_capture.c" \
	"$repo"/src/core/capture/*.c "$repo"/src/core/common/ntg_core.c -lpcap
seeds=("$repo/test/captures")
[ -n "$data" ] && [ -d "$data/fixtures" ] && seeds+=("$data/fixtures/"*/)
# small seeds only: libFuzzer mutates better on short inputs
find "${seeds[@]}" -type f -size -64k \( -name '*.pcap' -o -name '*.pcapng' \) -exec cp -t "$out/seeds" {} + 2>/dev/null || true
"$out/fuzz_capture" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
	-artifact_prefix="$out/" "$@" "$corpus" "$out/seeds"
