#!/usr/bin/python3
"""bench/augment_sweep.py — the low-data augmentation sweep end to end in SQL on the nDPI benchmark.

Loads the 30-class benchmark, splits it 80/20 with ntg.split (stratified, seed), trains one model of
each generator kind of --kinds (default: llama) on the training split with ntg.train at the kind's
defaults, runs ntg.augment_sweep with those models and the SMOTE and Fast Retransmit baselines
(fractions 5, 10, 20, 50, 100 % of the real training split; forests with the default hyperparameters;
the models sample at their stored defaults), prints the table with real-only F1 beside each row, and
writes docs/augment_sweep.svg (ntg.line_chart_svg of that run) and docs/augment_sweep.md.  The
baselines see only the kept rows; a model was trained on the whole training split (the paper's
protocol: a generator trained once serves every fraction).
Run: bash bench/augment_sweep.sh [--seeds 1] [--kinds llama,mamba]  (--kinds '' for the baselines only)
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgserver import Server, ndpi_rows  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--kinds", default="llama", help="generator kinds to train at their defaults, comma-separated")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    gens = ["smote", "fast_retransmit"] + [f"{k}_default" for k in kinds]
    names = {"smote": "SMOTE", "fast_retransmit": "Fast Retransmit", **{f"{k}_default": f"{k} (defaults)" for k in kinds}}
    rows = ndpi_rows(os.environ["NTG_SHARED_DATA"])
    srv = Server(port=54343)
    try:
        srv.load("ndpi", rows)
        srv.psql("CREATE TABLE sweep (seed int, generator text, fraction float8, real_rows bigint, "
                 "synthetic_rows bigint, macro_f1 float8, real_only_f1 float8)")
        srv.psql("CREATE TABLE tstr (seed int, generator text, train_rows bigint, accuracy float8, "
                 "macro_f1 float8, weighted_f1 float8)")
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            srv.psql(f"DROP TABLE IF EXISTS parts; CREATE TABLE parts AS "
                     f"SELECT * FROM ntg.split('SELECT label, pl FROM ndpi', 0.2, {seed})")
            for k in kinds:
                srv.psql(f"""SET ntg.progress = off; SELECT 1 FROM ntg.train('{k}_default', '{k}',
                    'SELECT label, pl FROM parts WHERE NOT is_test ORDER BY label, pl', replace => true)""")
            arr = "{" + ",".join(gens) + "}"
            srv.psql(f"""INSERT INTO sweep SELECT {seed}, * FROM ntg.augment_sweep(
                'SELECT label, pl FROM parts WHERE NOT is_test', 'SELECT label, pl FROM parts WHERE is_test',
                '{arr}', '{{0.05,0.1,0.2,0.5,1}}', '{{"seed": {seed}}}', {seed})""")
            srv.psql(f"""INSERT INTO tstr SELECT {seed}, * FROM ntg.tstr(
                'SELECT label, pl FROM parts WHERE NOT is_test', 'SELECT label, pl FROM parts WHERE is_test',
                '{arr}', '{{"seed": {seed}}}', {seed})""")
        took = time.perf_counter() - t0
        cols = "".join(f"round(avg(macro_f1) FILTER (WHERE generator = '{g}')::numeric, 4), " for g in gens)
        table = srv.psql(f"""SELECT round(fraction * 100) || ' %', max(real_rows::int),
                round(avg(real_only_f1)::numeric, 4), {cols}
                max(synthetic_rows) FILTER (WHERE generator = 'smote')
            FROM sweep GROUP BY fraction ORDER BY fraction""")
        head = ("| real fraction | real rows | real only F1 | " + " | ".join(f"+ {names[g]} F1" for g in gens)
                + " | synthetic rows |\n" + "| --- " * (len(gens) + 4) + "|")
        lines = [head] + ["| " + " | ".join(r.split("|")) + " |" for r in table.splitlines()]
        md = "\n".join(lines)
        print(f"nDPI benchmark, {len(rows)} biflows, 30 classes; {args.seeds} seed(s); {took:.0f} s")
        print(md)
        tstr = srv.psql("""SELECT generator, max(train_rows), round(avg(accuracy)::numeric, 4),
                round(avg(macro_f1)::numeric, 4), round(avg(weighted_f1)::numeric, 4)
            FROM tstr GROUP BY generator ORDER BY min(CASE generator WHEN 'real' THEN 0 ELSE 1 END), generator""")
        tmd = "\n".join(["| trained on | train rows | accuracy | macro F1 | weighted F1 |",
                          "| --- | --- | --- | --- | --- |"] +
                         ["| " + " | ".join(r.split("|")) + " |" for r in tstr.splitlines()])
        print()
        print("TSTR (train on real / on synthetic rows only, test on real):")
        print(tmd)
        md = md + "\n\nTSTR (train on real / on synthetic rows only, test on real):\n\n" + tmd
        label = "CASE generator " + " ".join(f"WHEN '{g}' THEN 'real + {names[g]}'" for g in gens) + " END"
        svg = srv.psql(f"""SELECT ntg.line_chart_svg($$
            SELECT {label}, fraction * 100, avg(macro_f1) FROM sweep GROUP BY 1, 2
            UNION ALL SELECT 'real only', fraction * 100, avg(real_only_f1) FROM sweep GROUP BY 1, 2 $$,
            'nDPI benchmark: macro F1 vs real training data')""")
        out = os.path.join(os.environ["NTG_OUT"], "docs")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "augment_sweep.svg"), "w") as f:
            f.write(svg + "\n")
        with open(os.path.join(out, "augment_sweep.md"), "w") as f:
            f.write(f"<!-- written by bench/augment_sweep.sh: {args.seeds} seed(s), generator kinds at their defaults: "
                    f"{', '.join(kinds) or 'none'} -->\n{md}\n")
        print("wrote docs/augment_sweep.svg and docs/augment_sweep.md")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
