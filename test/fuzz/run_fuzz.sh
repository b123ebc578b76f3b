#!/usr/bin/env bash
# test/fuzz/run_fuzz.sh [SECONDS] — build the capture reader with libFuzzer + ASan/UBSan and fuzz it,
# seeded with the project's captures (test/captures) and, when present, the fixture captures of the benchmark data (docs/data.md).
# Needs clang with libFuzzer (Debian: clang).  Crashes are written to test/fuzz/out/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-60}
out=$repo/test/fuzz/out
mkdir -p "$out/corpus"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 \
	-I"$repo/src/core" -o "$out/fuzz_capture" "$repo/test/fuzz/fuzz_capture.c" \
	"$repo"/src/core/capture/*.c "$repo"/src/core/common/ntg_core.c -lpcap
seeds=("$repo/test/captures")
[ -d "$repo/../shared/data/fixtures" ] && seeds+=("$repo/../shared/data/fixtures/"*/)
# small seeds only: libFuzzer mutates better on short inputs
mkdir -p "$out/seeds"
find "${seeds[@]}" -type f -size -64k \( -name '*.pcap' -o -name '*.pcapng' \) -exec cp -t "$out/seeds" {} + 2>/dev/null || true
"$out/fuzz_capture" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
	-artifact_prefix="$out/" "$out/corpus" "$out/seeds"
