#!/usr/bin/python3
"""TAP: ntg.fidelity and ntg.fidelity_by_class equal the independent Python reference
(test/reference/fidelity_ref.py) within 1e-9, on hand-made edge cases and on subsets of the nDPI
flows in $NTG_SHARED_DATA/ndpi (skipped, saying so, when that is absent); so do their size-matched
form (size_matched => true, seed => S) and ntg.fidelity_gap.  Talks to the server
that PGHOST/PGPORT/PGDATABASE name through psql; rows go in with \\copy."""
import os
import random
import re
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.environ.get("NTG_REPO", "."), "test", "reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fidelity_ref as ref  # noqa: E402
import taplib  # noqa: E402

TOL = 1e-9
SCHEMA = "fidref"
tap = taplib.Tap()
ok = tap.ok


def psql(sql, stdin=None):
    return taplib.psql(sql, stdin=stdin, sep="\t")


def load(cases):
    """cases: {name: (real_rows, synth_rows)} into table fidref.rows(subset, side, label, pl)."""
    psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; "
         f"CREATE TABLE {SCHEMA}.rows (subset text, side text, label text, pl int[])")
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        for name, (real, synth) in cases.items():
            for side, rows in (("real", real), ("synthetic", synth)):
                for label, seq in rows:
                    f.write(f"{name}\t{side}\t{label}\t{{{','.join(map(str, seq))}}}\n")
        path = f.name
    try:
        psql(f"\\copy {SCHEMA}.rows FROM '{path}'")
    finally:
        os.unlink(path)


def query(name, side):
    return (f"SELECT label, pl FROM {SCHEMA}.rows WHERE subset = ''{name}'' "
            f"AND side = ''{side}''")


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOL


def check(name, real, synth):
    args = f"'{query(name, 'real')}', '{query(name, 'synthetic')}'"
    got = {}
    for line in psql(f"SET client_min_messages = error; SELECT * FROM ntg.fidelity({args})").splitlines():
        metric, value = line.split("\t")
        got[metric] = float(value)
    want = ref.fidelity(real, synth)
    bad = [f"{m}: ntg {got.get(m)!r}, reference {want[m]!r}" for m in ref.METRICS
           if m not in got or not close(got[m], want[m])]
    ok(not bad and len(got) == 6, f"{name}: macro averages match the reference", "\n".join(bad))

    rows = []
    for line in psql(f"SET client_min_messages = error; "
                     f"SELECT * FROM ntg.fidelity_by_class({args})").splitlines():
        label, metric, value, nr, ns = line.split("\t")
        rows.append((label, metric, float(value) if value != "" else None, int(nr), int(ns)))
    want = ref.fidelity_by_class(real, synth)
    bad = []
    if len(rows) != len(want):
        bad.append(f"{len(rows)} rows, reference {len(want)}")
    for g, w in zip(rows, want):
        if g[0:2] != w[0:2] or g[3:] != w[3:] or not close(g[2], w[2]):
            bad.append(f"ntg {g}, reference {w}")
    ok(not bad, f"{name}: per-class values match the reference ({len(want) // 6} classes)",
       "\n".join(bad[:5]))


def check_size_matched(name, real, synth, seed):
    args = f"'{query(name, 'real')}', '{query(name, 'synthetic')}', size_matched => true, seed => {seed}"
    got = {}
    for line in psql(f"SET client_min_messages = error; SELECT * FROM ntg.fidelity({args})").splitlines():
        metric, value = line.split("\t")
        got[metric] = float(value)
    cut_real, cut_synth = ref.match_sizes(real, synth, seed)
    want = ref.fidelity(cut_real, cut_synth)
    bad = [f"{m}: ntg {got.get(m)!r}, reference {want[m]!r}" for m in ref.METRICS
           if m not in got or not close(got[m], want[m])]
    ok(not bad and len(got) == 6, f"{name}: size-matched (seed {seed}) macro averages match the reference",
       "\n".join(bad))
    rows = []
    for line in psql(f"SET client_min_messages = error; "
                     f"SELECT * FROM ntg.fidelity_by_class({args})").splitlines():
        label, metric, value, nr, ns = line.split("\t")
        rows.append((label, metric, float(value) if value != "" else None, int(nr), int(ns)))
    want = ref.fidelity_by_class(cut_real, cut_synth)
    bad = [f"ntg {g}, reference {w}" for g, w in zip(rows, want)
           if g[0:2] != w[0:2] or g[3:] != w[3:] or not close(g[2], w[2])]
    if len(rows) != len(want):
        bad.append(f"{len(rows)} rows, reference {len(want)}")
    ok(not bad, f"{name}: size-matched per-class values and row counts match the reference", "\n".join(bad[:5]))


def check_gap(name, train, test, synth, seed):
    """ntg.fidelity_gap(train, test, synthetic): the real rows of a case as the training rows, its
    synthetic rows as the test rows, and train itself, reversed, thinned, as the synthetic rows."""
    q = lambda side: query(name, side)
    got = {}
    for line in psql(f"SET client_min_messages = error; SELECT * FROM ntg.fidelity_gap("
                     f"'{q('real')}', '{q('synthetic')}', '{q('gapsynth')}', {seed})").splitlines():
        metric, real, synth_v, diff = line.split("\t")
        got[metric] = (float(real), float(synth_v), float(diff))
    want = ref.fidelity_gap(train, test, synth, seed)
    bad = [f"{m}: ntg {got.get(m)!r}, reference {want[m]!r}" for m in ref.METRICS
           if m not in got or not (close(got[m][0], want[m][0]) and close(got[m][1], want[m][1])
                                   and close(got[m][2], want[m][1] - want[m][0]))]
    ok(not bad and len(got) == 6, f"{name}: fidelity_gap (seed {seed}) matches the reference", "\n".join(bad))


def gap_synth(real, synth):
    """A third set for fidelity_gap: every other real row, and a copy of every third synthetic one."""
    return real[::2] + [(l, s) for l, s in synth[::3]]


def hand_cases():
    rnd = random.Random(20261123)

    def random_rows(labels, n, max_len, values):
        return [(rnd.choice(labels), [rnd.choice(values) for _ in range(rnd.randint(0, max_len))])
                for _ in range(n)]

    def random_case(seed):
        """Random class pools (some classes on one side only), lengths 0..12, dense or wide values."""
        r = random.Random(seed)
        labels = [f"k{i}" for i in range(r.randint(1, 6))]
        real_labels = [l for l in labels if r.random() < 0.85] or labels[:1]
        synth_labels = [l for l in labels if r.random() < 0.85] or labels[-1:]
        alphabet = [r.choice((-1, 1)) * r.randint(1, r.choice((4, 40, 1500))) for _ in range(r.randint(2, 60))]

        def rows(pool, n):
            return [(r.choice(pool), [r.choice(alphabet) for _ in range(r.randint(0, r.choice((1, 3, 12))))])
                    for _ in range(n)]
        return rows(real_labels, r.randint(1, 300)), rows(synth_labels, r.randint(0, 300))

    cases = {f"random_case_{seed}": random_case(seed) for seed in range(12)}
    return {**cases,
        "worked_example": ([("a", [1, 2]), ("a", [1])], [("a", [1, 2]), ("a", [2])]),
        "empty_sequences": ([("e", []), ("e", []), ("f", [3])],
                            [("e", []), ("e", [3]), ("f", []), ("f", [3])]),
        "all_empty_both": ([("e", []), ("e", [])], [("e", [])]),
        "one_row_classes": ([("a", [100]), ("b", [-5, 5]), ("c", [])],
                            [("a", [100]), ("b", [5, -5]), ("c", [7])]),
        "class_on_one_side": ([("both", [1, 2, 3]), ("real_only", [4])],
                              [("both", [1, 2]), ("synthetic_only", [4])]),
        "wide_values": ([("w", [40000, -40000, 1460]), ("w", [-2147483648, 2147483647])],
                        [("w", [40000, -40000]), ("w", [2147483647, -2147483648])]),
        "no_pairs_vs_pairs": ([("p", [1]), ("p", [2])], [("p", [1, 2]), ("p", [2])]),
        "markov_source_missing": ([("m", [1, 2, 3]), ("m", [9, 1])], [("m", [1, 2]), ("m", [2, 3])]),
        "unicode_labels": ([("zoom é", [1]), ("Zoom", [2]), ("ä", [3])],
                           [("zoom é", [1]), ("ä", [1]), ("Zoom", [2])]),
        "random_small": (random_rows(["x", "y", "z"], 60, 5, [-3, -2, -1, 1, 2, 3]),
                         random_rows(["x", "y", "z"], 50, 5, [-3, -2, -1, 1, 2, 3])),
        "random_skewed": (random_rows(["x", "y"], 200, 10, [1, 2, 1460, -1460, -52]),
                          random_rows(["x", "y", "q"], 120, 3, [1, 2, 1460, 7])),
    }


EXCLUDE = re.compile(r"fuzz|badpackets|garbage|malformed|crash|ossfuzz", re.I)


def ndpi_cases(shared):
    base = os.path.join(shared, "ndpi")
    with open(os.path.join(base, "recommended_classes_min30.txt")) as f:
        classes = [l.split("\t")[0] for l in f if l.strip() and not l.startswith("#")]
    rows, other = [], []
    with open(os.path.join(base, "flows.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        col = {name: i for i, name in enumerate(header)}
        for line in f:
            r = line.rstrip("\n").split("\t")
            if EXCLUDE.search(r[col["pcap"]]):
                continue
            seq = [int(v) for v in r[col["first10_signed_payload"]].split(",") if v != ""]
            key = "|".join(r[col[c]] for c in ("pcap", "l4", "cli_ip", "cli_port", "srv_ip", "srv_port"))
            item = (zlib.crc32(key.encode()), r[col["label_app"]], seq)
            (rows if item[1] in classes else other).append(item)
    half_a = [(l, s) for h, l, s in rows if h % 2 == 0]
    half_b = [(l, s) for h, l, s in rows if h % 2 == 1]
    rotate = {c: classes[(i + 1) % len(classes)] for i, c in enumerate(classes)}
    sub = [(l, s) for h, l, s in rows if h % 3 == 0 and l not in classes[-2:]]
    extra = [(l, s) for h, l, s in other if h % 5 == 0][:40]
    return classes, {
        "ndpi_hash_halves": (half_a, half_b),
        "ndpi_cross_class": (half_a, [(rotate[l], s) for l, s in half_b]),
        "ndpi_subsample_missing_extra": ([(l, s) for _, l, s in rows], sub + extra),
        "ndpi_quarter_vs_all": ([(l, s) for h, l, s in rows if h % 4 == 0], [(l, s) for _, l, s in rows]),
    }


def main():
    shared = os.environ.get("NTG_SHARED_DATA", "")
    cases = hand_cases()
    ndpi = {}
    if shared and os.path.exists(os.path.join(shared, "ndpi", "flows.tsv")):
        classes, ndpi = ndpi_cases(shared)
        print(f"# nDPI subsets over {len(classes)} classes")
    cases.update(ndpi)
    load(cases)
    extra = {name: gap_synth(real, synth) for name, (real, synth) in cases.items()}
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        for name, rows in extra.items():
            for label, seq in rows:
                f.write(f"{name}\tgapsynth\t{label}\t{{{','.join(map(str, seq))}}}\n")
        path = f.name
    try:
        psql(f"\\copy {SCHEMA}.rows FROM '{path}'")
    finally:
        os.unlink(path)
    for i, (name, (real, synth)) in enumerate(cases.items()):
        check(name, real, synth)
        if synth:
            check_size_matched(name, real, synth, [0, 7, -3][i % 3])
            check_gap(name, real, synth, extra[name], [1, -9, 2 ** 62][i % 3])
    if not ndpi:
        tap.skip(20, "NTG_SHARED_DATA is empty: nDPI subsets not checked")
    psql(f"DROP SCHEMA {SCHEMA} CASCADE")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
