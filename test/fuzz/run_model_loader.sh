#!/usr/bin/env bash
# test/fuzz/run_model_loader.sh — build the libFuzzer target for the model loader and run it.
#   test/fuzz/run_model_loader.sh [SECONDS=60] [extra libFuzzer flags...]
# Needs clang with libFuzzer (Debian: clang-14).  The core is compiled with ASan + UBSan into
# test/fuzz/bin; the seed corpus (real saved tiny models) is written by make_corpus into
# test/fuzz/bin/corpus; crashes land in test/fuzz/bin/ as crash-*.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
secs=${1:-60}
shift || true
CLANG=${CLANG:-$(command -v clang-14 || command -v clang)}
out=test/fuzz/bin
mkdir -p "$out/obj" "$out/corpus"

flags="-g -O1 -std=gnu11 -fno-omit-frame-pointer -fsanitize=address,undefined -Isrc/core -Itest/unit -I/usr/include/x86_64-linux-gnu"
objs=()
for src in src/core/*/*.c; do
	obj="$out/obj/$(basename "${src%.c}").o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
		"$CLANG" $flags -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
	fi
	objs+=("$obj")
done
"$CLANG" $flags -fsanitize=fuzzer -o "$out/fuzz_model_loader" test/fuzz/fuzz_model_loader.c "${objs[@]}" -lpcap -lopenblas -lm
"$CLANG" $flags -o "$out/make_corpus" test/fuzz/make_corpus.c "${objs[@]}" -lpcap -lopenblas -lm
"$out/make_corpus" "$out/corpus"
# One BLAS thread: the harness is single-threaded and short inputs run faster that way.
# -max_len above the largest seed (the tiny netdiffus model is about 130 kB), or libFuzzer would
# only ever try truncations of it.
OPENBLAS_NUM_THREADS=1 "$out/fuzz_model_loader" -max_total_time="$secs" -max_len=262144 \
	-artifact_prefix="$out/" "$@" "$out/corpus"
