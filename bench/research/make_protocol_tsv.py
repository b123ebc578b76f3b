#!/usr/bin/python3
"""Write the paper's efficiency-protocol training set as a TSV (label<TAB>comma-separated PLs).

The protocol (Table III of the paper): 5 classes x 500 rows.  Here: the 5 largest label_app
classes of ndpi/flows.tsv of the benchmark data (docs/data.md) with at least one payload packet (the same filter as
recommended_classes_min30.txt: no fuzz/garbage pcaps, no NA/Unknown labels), 500 rows each,
drawn without replacement when a class has 500 rows or more, otherwise all rows then the rest
with replacement.  Seeded, so every run writes the same file.  Never commit the output.

usage: make_protocol_tsv.py [--flows FILE] [--out FILE] [--classes 5] [--rows 500] [--seed 1]
"""
import argparse
import csv
import os
import random
import re
import sys
from collections import defaultdict


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", default=os.path.join(os.environ.get("NTG_SHARED_DATA") or os.path.join(here, "..", "..", "..", "shared", "data"),
                                                   "ndpi", "flows.tsv"))
    ap.add_argument("--out", default="/tmp/ntg_protocol.tsv")
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not os.path.exists(a.flows):
        sys.exit("no flows file at %s (the benchmark data is absent; set NTG_SHARED_DATA)" % a.flows)
    bad = re.compile(r"fuzz|badpackets|garbage|malformed|crash|ossfuzz", re.I)
    by_class = defaultdict(list)
    with open(a.flows) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            label, pl = r["label_app"], r["first10_signed_payload"]
            if not pl or label in ("NA", "Unknown", "") or bad.search(r["pcap"]):
                continue
            by_class[label].append(pl)
    top = sorted(by_class, key=lambda c: (-len(by_class[c]), c))[: a.classes]
    rng = random.Random(a.seed)
    with open(a.out, "w") as out:
        for c in top:
            rows = by_class[c]
            if len(rows) >= a.rows:
                pick = rng.sample(rows, a.rows)
            else:
                pick = list(rows) + [rng.choice(rows) for _ in range(a.rows - len(rows))]
            for pl in pick:
                out.write("%s\t%s\n" % (c, pl))
    print("wrote %s: %s" % (a.out, ", ".join("%s (%d real rows)" % (c, len(by_class[c])) for c in top)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
