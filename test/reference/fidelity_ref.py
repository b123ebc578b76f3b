#!/usr/bin/python3
"""Reference implementation of ntg's fidelity metrics, written from the definitions in docs/definitions.md
and docs/metrics.md (not from the C code), in plain Python, to check ntg.fidelity against.

JSD is computed here through entropies, JSD(P, Q) = H((P+Q)/2) - (H(P) + H(Q))/2 in bits, a
different route from the C code's per-outcome terms, so that a shared slip is unlikely.

The size-matched comparison (docs/metrics.md, "Size-matched comparison": the seeded cut, size-matched
sets, synthetic rows against fresh real rows) is written here from its text in the same way.

Usage:
    fidelity_ref.py REAL.tsv SYNTHETIC.tsv            # metric<TAB>value, macro-averaged
    fidelity_ref.py --by-class REAL.tsv SYNTHETIC.tsv # label<TAB>metric<TAB>value<TAB>real_rows<TAB>synthetic_rows
A TSV row is `label<TAB>v1,v2,...` (an empty second field is an empty sequence).  Values print
with repr(), so they round-trip exactly; a value without real rows prints as NULL.
"""
import math
import sys
from collections import Counter, defaultdict

METRICS = ["jsd_num_packets", "jsd_1gram", "jsd_2gram", "jsd_markov", "uniq_align", "leakage"]
END = "END"  # next-value marker for the end of a sequence (values are ints, so it cannot clash)


def entropy_bits(probs):
    return -sum(p * math.log2(p) for p in probs if p > 0)


def jsd(hist_p, hist_q):
    """JSD in bits of two histograms (Counter); an empty histogram counts as a point mass on
    'nothing': two empty ones give 0, one empty one gives 1."""
    total_p = sum(hist_p.values())
    total_q = sum(hist_q.values())
    if total_p == 0 or total_q == 0:
        return 0.0 if total_p == total_q else 1.0
    keys = set(hist_p) | set(hist_q)
    p = {k: hist_p.get(k, 0) / total_p for k in keys}
    q = {k: hist_q.get(k, 0) / total_q for k in keys}
    mix = [(p[k] + q[k]) / 2 for k in keys]
    value = entropy_bits(mix) - (entropy_bits(p.values()) + entropy_bits(q.values())) / 2
    return min(1.0, max(0.0, value))


def histograms(seqs):
    lengths = Counter(len(s) for s in seqs)
    grams1 = Counter(v for s in seqs for v in s)
    grams2 = Counter((s[i], s[i + 1]) for s in seqs for i in range(len(s) - 1))
    return lengths, grams1, grams2


def transitions(seqs):
    """source value -> Counter of next values (END after the last value)."""
    out = defaultdict(Counter)
    for s in seqs:
        for i, v in enumerate(s):
            out[v][s[i + 1] if i + 1 < len(s) else END] += 1
    return out


def jsd_markov(real, synth):
    trans_r = transitions(real)
    trans_s = transitions(synth)
    if not trans_r:  # no real value at all: the empty-histogram convention
        return 0.0 if not trans_s else 1.0
    total = 0.0
    weight = 0
    for source, nexts in trans_r.items():
        w = sum(nexts.values())
        score = 1.0 if source not in trans_s else jsd(nexts, trans_s[source])
        total += w * score
        weight += w
    return total / weight


def uniqueness(seqs):
    return len(set(map(tuple, seqs))) / len(seqs)


def class_metrics(real, synth):
    """The six metrics of one class; real is non-empty."""
    if not synth:
        # a real class the synthetic set lacks: worst fidelity, nothing leaked
        return dict(zip(METRICS, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]))
    lr, g1r, g2r = histograms(real)
    ls, g1s, g2s = histograms(synth)
    set_r = set(map(tuple, real))
    set_s = set(map(tuple, synth))
    return {
        "jsd_num_packets": jsd(lr, ls),
        "jsd_1gram": jsd(g1r, g1s),
        "jsd_2gram": jsd(g2r, g2s),
        "jsd_markov": jsd_markov(real, synth),
        "uniq_align": abs(uniqueness(real) - uniqueness(synth)),
        "leakage": len(set_r & set_s) / len(set_r | set_s),
    }


def group(rows):
    by_class = defaultdict(list)
    for label, seq in rows:
        by_class[label].append(list(seq))
    return by_class


def fidelity_by_class(real_rows, synth_rows):
    """[(label, metric, value or None, real_rows, synthetic_rows)] sorted by label (bytewise)."""
    real = group(real_rows)
    synth = group(synth_rows)
    out = []
    for label in sorted(set(real) | set(synth), key=lambda s: s.encode()):
        r, s = real.get(label, []), synth.get(label, [])
        values = class_metrics(r, s) if r else dict.fromkeys(METRICS)
        out.extend((label, m, values[m], len(r), len(s)) for m in METRICS)
    return out


def fidelity(real_rows, synth_rows):
    """{metric: macro average over the classes of the real set}."""
    real = group(real_rows)
    if not real:
        raise ValueError("the real set has no rows")
    synth = group(synth_rows)
    per_class = [class_metrics(real[c], synth.get(c, [])) for c in real]
    return {m: sum(v[m] for v in per_class) / len(per_class) for m in METRICS}


# ---- size-matched comparison ------------------------------------------------------------------

M64 = (1 << 64) - 1


def row_key(seed, label, seq, occurrence):
    """splitmix64(fnv1a64(seed | label | NUL | len | values | occurrence)), integers little-endian."""
    data = ((seed & M64).to_bytes(8, "little") + label.encode() + b"\0" + len(seq).to_bytes(4, "little")
            + b"".join((v & 0xFFFFFFFF).to_bytes(4, "little") for v in seq) + occurrence.to_bytes(8, "little"))
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & M64
    z = (h + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def cut(rows, keep, seed):
    """The rows of each class with the keep[label] smallest keys (a class not in keep: all)."""
    seen = Counter()
    keyed = defaultdict(list)
    for label, seq in rows:
        k = seen[(label, tuple(seq))]
        seen[(label, tuple(seq))] += 1
        keyed[label].append((row_key(seed, label, seq, k), list(seq)))
    out = []
    for label, items in keyed.items():
        items.sort()
        out.extend((label, seq) for _, seq in items[:keep.get(label, len(items))])
    return out


def match_sizes(a_rows, b_rows, seed):
    """Both sets cut to min(rows of a, rows of b) in every class they share."""
    na, nb = Counter(l for l, _ in a_rows), Counter(l for l, _ in b_rows)
    keep = {l: min(na[l], nb[l]) for l in na if l in nb}
    return cut(a_rows, keep, seed), cut(b_rows, keep, seed)


def fidelity_size_matched(real_rows, synth_rows, seed):
    return fidelity(*match_sizes(real_rows, synth_rows, seed))


def fidelity_gap(train_rows, test_rows, synth_rows, seed):
    """{metric: (real, synthetic)}: per class of the training rows, JSDs and uniq_align of the training
    rows R' and the synthetic rows S' (cut to equal size) against the test rows T, R' / S' in the real
    rows' place; leakage of T'' and S'' (cut to equal size) against the training rows."""
    r1, s1 = (group(x) for x in match_sizes(train_rows, synth_rows, seed))
    t2, s2 = (group(x) for x in match_sizes(test_rows, synth_rows, seed))
    train, test = group(train_rows), group(test_rows)
    real = {m: 0.0 for m in METRICS}
    synth = {m: 0.0 for m in METRICS}
    for c in train:
        vr = class_metrics(r1[c], test.get(c, []))
        vs = class_metrics(s1[c], test.get(c, [])) if s1.get(c) else dict.fromkeys(METRICS, 1.0)
        for m in METRICS[:-1]:
            real[m] += vr[m] / len(train)
            synth[m] += vs[m] / len(train)
        real["leakage"] += class_metrics(train[c], t2.get(c, []))["leakage"] / len(train)
        synth["leakage"] += class_metrics(train[c], s2.get(c, []))["leakage"] / len(train)
    return {m: (real[m], synth[m]) for m in METRICS}


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, _, values = line.partition("\t")
            rows.append((label, [int(v) for v in values.split(",")] if values else []))
    return rows


def main(argv):
    by_class = argv[1:2] == ["--by-class"]
    args = argv[2:] if by_class else argv[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    real, synth = read_tsv(args[0]), read_tsv(args[1])
    if by_class:
        for label, metric, value, nr, ns in fidelity_by_class(real, synth):
            print(f"{label}\t{metric}\t{'NULL' if value is None else repr(value)}\t{nr}\t{ns}")
    else:
        for metric, value in fidelity(real, synth).items():
            print(f"{metric}\t{value!r}")


if __name__ == "__main__":
    main(sys.argv)
