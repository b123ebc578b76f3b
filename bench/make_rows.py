#!/usr/bin/python3
"""bench/make_rows.py — benchmark rows from ndpi/flows.tsv of the benchmark data (docs/data.md).

efficiency: the K largest label_app classes (payload biflows, NA/Unknown and fuzz captures left out),
            R rows each drawn with replacement (seeded); writes label<TAB>v1,v2,... (the format of
            bench/torch_llama.py --tsv).
quality:    the classes of recommended_classes_min30.txt, every payload biflow of them, split 80/20
            per class (stratified) by a deterministic hash of (pcap, 5-tuple); writes split<TAB>label<TAB>{v1,...}.
"""
import argparse
import csv
import hashlib
import random
import re
import sys

EXCLUDE = re.compile(r"fuzz|badpackets|garbage|malformed|crash|ossfuzz", re.I)


def payload_flows(path):
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            pl = row["first10_signed_payload"].strip()
            label = row["label_app"]
            if not pl or label in ("NA", "Unknown", "") or EXCLUDE.search(row["pcap"]):
                continue
            yield row, label, [int(v) for v in pl.split(",")]


def efficiency(args):
    by_class = {}
    for _, label, pl in payload_flows(args.flows):
        by_class.setdefault(label, []).append(pl)
    classes = sorted(by_class, key=lambda c: (-len(by_class[c]), c))[: args.classes]
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        for c in sorted(classes):
            for _ in range(args.rows):
                out.write("%s\t%s\n" % (c, ",".join(map(str, rng.choice(by_class[c])))))
    print("classes: " + ", ".join(sorted(classes)), file=sys.stderr)


def hash_ordered_rows(flows, classes_file):
    """{label: [pl, ...]} for the classes of classes_file, each class's rows in the order of a
    SHA-256 hash of (pcap, 5-tuple): the order the quality split (and bench/research/llama_tune.py's
    validation split) cut."""
    keep = set()
    with open(classes_file) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                keep.add(line.split("\t")[0].strip())
    by_class = {}
    for row, label, pl in payload_flows(flows):
        if label not in keep:
            continue
        key = "|".join(row[k] for k in ("pcap", "l4", "cli_ip", "cli_port", "srv_ip", "srv_port"))
        by_class.setdefault(label, []).append((hashlib.sha256(key.encode()).hexdigest(), pl))
    return {label: [pl for _, pl in sorted(rows, key=lambda r: r[0])] for label, rows in by_class.items()}


def quality(args):
    # Stratified: in each class, the 20 % of rows with the smallest hashes are the test split.
    by_class = hash_ordered_rows(args.flows, args.classes_file)
    with open(args.out, "w") as out:
        for label in sorted(by_class):
            rows = by_class[label]
            n_test = round(0.2 * len(rows))
            for i, pl in enumerate(rows):
                split = "test" if i < n_test else "train"
                out.write("%s\t%s\t{%s}\n" % (split, label, ",".join(map(str, pl))))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["efficiency", "quality"])
    p.add_argument("--flows", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--classes-file")
    args = p.parse_args()
    efficiency(args) if args.mode == "efficiency" else quality(args)


if __name__ == "__main__":
    main()
