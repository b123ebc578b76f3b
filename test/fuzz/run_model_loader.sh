#!/usr/bin/env bash
# test/fuzz/run_model_loader.sh — build the libFuzzer target for the model loader and run it.
#   test/fuzz/run_model_loader.sh [SECONDS=60] [extra libFuzzer flags...]
# Needs clang with libFuzzer (Debian: clang).  The core is compiled with ASan + UBSan (any
# undefined behaviour is fatal) into test/fuzz/bin; the seed corpus (real saved tiny models) is
# written by make_corpus into test/fuzz/bin/seeds; new inputs go to test/fuzz/bin/corpus, or
# $NTG_FUZZ_CORPUS; crashes and leaks land in test/fuzz/bin/ as crash-* and leak-*.
# SECONDS 0 runs until a libFuzzer flag stops it (test/tap/fuzz_smoke.t: -runs=N -seed=1).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
secs=${1:-60}
shift || true
CLANG=${CLANG:-$(command -v clang-14 || command -v clang)}
out=test/fuzz/bin
corpus=${NTG_FUZZ_CORPUS:-$out/corpus}
mkdir -p "$out/obj" "$out/seeds" "$corpus"

flags="-g -O1 -std=gnu11 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Isrc/core -Itest/unit -I/usr/include/x86_64-linux-gnu"
# compile SRC: its object under $out/obj, unless one newer than the source and every core header
# is there already.
compile() {
	local src=$1 obj
	obj="$out/obj/$(basename "${src%.c}").o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src/core -name '*.h' -newer "$obj" -print -quit)" ]; then
		# shellcheck disable=SC2086
		"$CLANG" $flags -Wno-unknown-attributes -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
	fi
}
export -f compile
export CLANG flags out
printf '%s\n' src/core/*/*.c | xargs -P "$(nproc)" -n 1 bash -c 'compile "$1"' _
objs=()
for src in src/core/*/*.c; do objs+=("$out/obj/$(basename "${src%.c}").o"); done
# shellcheck disable=SC2086
"$CLANG" $flags -fsanitize=fuzzer -o "$out/fuzz_model_loader" test/fuzz/fuzz_model_loader.c "${objs[@]}" -lpcap -lopenblas -lm
# shellcheck disable=SC2086
"$CLANG" $flags -o "$out/make_corpus" test/fuzz/make_corpus.c "${objs[@]}" -lpcap -lopenblas -lm
"$out/make_corpus" "$out/seeds" >/dev/null
# One BLAS thread: the harness is single-threaded and short inputs run faster that way.
# -max_len above the largest seed (the tiny netdiffus model is about 130 kB), or libFuzzer would
# only ever try truncations of it.
OPENBLAS_NUM_THREADS=1 "$out/fuzz_model_loader" -max_total_time="$secs" -max_len=262144 \
	-artifact_prefix="$out/" "$@" "$corpus" "$out/seeds"
