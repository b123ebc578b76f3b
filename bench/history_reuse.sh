#!/usr/bin/env bash
# bench/history_reuse.sh — how many decode steps a one-row llama call needs, and how many a store of
# kept histories could save at most.  The model and the calls are first_call.sh's: the llama at its
# default shape trained one epoch on the efficiency protocol's rows, without dropout or token noise,
# and CALLS one-row calls in one statement (a LATERAL call per row, each with its own seed, cycling
# over the classes), timed inside the server.
#
#   bench/history_reuse.sh               CALLS=20000 bench/history_reuse.sh
#
# The generated rows are then replayed through models of the history store (llama_nodes.c): a row
# of values v1 … vL needs the next-token logits after <CLASS_c> v1 … vd for every d ≤ L short of
# max_len (10); the class's own step is kept for every call, and a history of up to 3 values is
# decoded only when the store does not hold it.  Rows: the store kept by first come until full
# (ntg's: 3,072 histories of the default shape in its 32 MB), the same with LRU eviction, 4 times
# larger, unlimited, and unlimited with deeper histories — the floor no store can go under.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
# shellcheck source=bench/small_calls_model.sh
. bench/small_calls_model.sh
ntg_shared_data
NTG_PASS_ENV="CALLS" ntg_rerun_as_postgres bench/history_reuse.sh "$@"

CALLS=${CALLS:-20000}
data=$NTG_SHARED_DATA
if [ -z "$data" ] || [ ! -f "$data/ndpi/flows.tsv" ]; then
	echo "skipped: $data/ndpi/flows.tsv is absent (set NTG_SHARED_DATA)"; exit 0
fi
srv=$(mktemp -d /tmp/ntg-bench-hr.XXXXXX)
out=$(mktemp /tmp/ntg-hr-out.XXXXXX)
trap 'ntg_server_stop "$srv" 2>/dev/null || true; rm -rf "$srv" "$out"' EXIT

small_calls_model "$srv" 54335		# the server, timed(q) and first_call.sh's llama 'fc'
PSQL=("${NTG_PSQL[@]}")
labels=$("${PSQL[@]}" -c "SELECT string_agg(quote_literal(c), ',') FROM unnest((SELECT classes FROM ntg.models WHERE name = 'fc')) c")
calls="FROM generate_series(1, $CALLS) s, LATERAL ntg.generate('fc', (ARRAY[$labels])[1 + s % 5], 1, s)"
# a new backend: the model is loaded and its store empty when the statement starts, as in the replay
timing=$("${PSQL[@]}" -F ' ' -c "SELECT round((wall_ms / $CALLS)::numeric, 3), round((cpu_ms / $CALLS)::numeric, 3)
	FROM timed(\$q\$SELECT count(*) $calls\$q\$)")
"${PSQL[@]}" -c "COPY (SELECT label, array_to_string(pl, ',') $calls) TO STDOUT" >"$out"

/usr/bin/python3 - "$out" "$CALLS" "$timing" <<'PY'
import sys
from collections import OrderedDict

path, calls, timing = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
MAX_LEN, KEPT_DEPTH, STORE = 10, 3, 3072

rows, n_values = [], 0
for line in open(path):
    label, pl = line.rstrip("\n").split("\t")
    values = pl.split(",") if pl else []
    n_values += len(values)
    # the histories whose logits the row's draws need, in order (the class's own step is kept)
    rows.append([(label, tuple(values[:d])) for d in range(1, len(values) + 1) if d < MAX_LEN])


def steps(capacity, depth, lru=False):
    """Decode steps a row, a store of `capacity` histories of up to `depth` values."""
    store, n = OrderedDict(), 0
    for row in rows:
        for h in row:
            if len(h[1]) <= depth and h in store:
                if lru:
                    store.move_to_end(h)
                continue
            n += 1
            if len(h[1]) > depth:
                continue
            if len(store) < capacity:
                store[h] = True
            elif lru:
                store.popitem(last=False)
                store[h] = True
    return n / len(rows)


unlimited = float("inf")
print("%d one-row calls of the default-shape llama (one epoch), inside the server: %s ms wall, %s ms CPU a call"
      % (calls, timing[0], timing[1]))
print("rows: %d, %.2f values a row on average" % (len(rows), n_values / len(rows)))
for d in (1, 2, 3):
    seen = {}
    for row in rows:
        for h in row:
            if len(h[1]) == d:
                seen[h] = seen.get(h, 0) + 1
    print("histories of %d value%s: %d distinct, %d of them seen once"
          % (d, "s" if d > 1 else "", len(seen), sum(1 for c in seen.values() if c == 1)))
print()
print("| history store | decode steps a row |")
print("| --- | --- |")
print("| none | %.2f |" % steps(0, KEPT_DEPTH))
print("| ntg's: %d histories of up to %d values, kept first come until full | %.2f |" % (STORE, KEPT_DEPTH, steps(STORE, KEPT_DEPTH)))
print("| the same size, least recently used evicted | %.2f |" % steps(STORE, KEPT_DEPTH, lru=True))
print("| 4 times larger (%d) | %.2f |" % (4 * STORE, steps(4 * STORE, KEPT_DEPTH)))
print("| unlimited, up to %d values | %.2f |" % (KEPT_DEPTH, steps(unlimited, KEPT_DEPTH)))
print("| unlimited, up to 6 values | %.2f |" % steps(unlimited, 6))
PY
