#!/usr/bin/python3
"""TAP: the documented defaults of the llama generator are the ones it has.  A model trained with no
hyperparameters ('{}') on a few rows records its full configuration; every row of the hyperparameter
table of docs/nn.md, every row of the "Defaults" table of docs/models.md and the sampling options of
ntg.model_kinds() must agree with it.  A default changed in the code without the docs (or the other
way round) fails here."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

REPO = os.environ.get("NTG_REPO", ".")
tap = taplib.Tap()
ok = tap.ok


def table_rows(path, start, stop=None):
    """The cells of the markdown table rows after the line that contains start (until the table ends)."""
    lines = open(os.path.join(REPO, path), encoding="utf-8").read().splitlines()
    at = next(i for i, l in enumerate(lines) if start in l)
    rows = []
    for l in lines[at + 1:]:
        if stop and stop in l:
            break
        if l.startswith("|"):
            cells = [c.strip() for c in l.strip().strip("|").split("|")]
            if not set(cells[0]) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header


def value(text):
    """A documented default as a Python value: numbers, true/false, quoted strings."""
    t = text.strip().strip("`").strip('"')
    if t in ("true", "false"):
        return t == "true"
    try:
        return float(t)
    except ValueError:
        return t


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-12 * max(1, abs(a))
    return a == b


def main():
    # 30 rows of 10 values: max_len comes out as its default, 10; 2 classes
    taplib.psql("DROP TABLE IF EXISTS defaults_rows; CREATE TABLE defaults_rows AS "
                "SELECT 'c' || (i % 2) AS label, ARRAY(SELECT (i * 7 + j) % 23 - 11 FROM generate_series(1, 10) j) AS pl "
                "FROM generate_series(1, 30) i")
    taplib.psql("SET ntg.progress = off; SELECT ntg.train('defaults_llama', 'llama', "
                "'SELECT label, pl FROM defaults_rows ORDER BY label, pl', replace => true)")
    config = json.loads(taplib.psql("SELECT config FROM ntg.models WHERE name = 'defaults_llama'"))
    options = json.loads(taplib.psql("SELECT sampling_options FROM ntg.model_kinds() WHERE kind = 'llama'"))

    # docs/nn.md: every hyperparameter of llama
    rows = table_rows("docs/nn.md", "| key | default | range | meaning |")
    ok(len(rows) >= 15, "docs/nn.md: the hyperparameter table is found", f"{len(rows)} rows")
    steps = config["epochs"] * -(-30 // config["batch_size"])
    for cells in rows:
        keys = re.findall(r"`([a-z_0-9]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(",")] if len(keys) > 1 else [cells[1]]
        for key, d in zip(keys, defaults):
            got = config.get(key)
            if key == "warmup":
                good = d.startswith("5 %") and got == steps // 20
            else:
                good = same(value(d), got)
            ok(good, f"docs/nn.md: {key} = {d}", f"the model has {got!r}")

    # docs/models.md, "Defaults": hyperparameters and sampling defaults of new models
    rows = table_rows("docs/models.md", "<!-- defaults: test/tap/defaults_docs.t -->")
    ok(len(rows) >= 3, "docs/models.md: the Defaults table is found", f"{len(rows)} rows")
    for cells in rows:
        kind, setting, default = cells[0].strip("`"), cells[1], cells[2]
        if kind != "llama":
            continue
        m = re.match(r"(sampling )?`([a-z_0-9]+)`", setting)
        if not m:
            ok(False, f"docs/models.md: a setting in backquotes: {setting}")
            continue
        if m.group(1):
            got, got_kind = config["sampling"].get(m.group(2)), options.get(m.group(2), {}).get("default")
            ok(same(value(default), got) and same(value(default), got_kind),
               f"docs/models.md: sampling {m.group(2)} = {default} (stored with a new model, ntg.model_kinds())",
               f"model {got!r}, ntg.model_kinds() {got_kind!r}")
        else:
            got = config.get(m.group(2))
            ok(same(value(default), got), f"docs/models.md: {m.group(2)} = {default}", f"the model has {got!r}")

    # every sampling option of llama is in the copy-control or generate tables of docs/models.md
    text = open(os.path.join(REPO, "docs/models.md"), encoding="utf-8").read()
    missing = [o for o in options if f"`{o}`" not in text]
    ok(not missing, "docs/models.md names every sampling option of llama", f"missing: {missing}")
    taplib.psql("SELECT ntg.drop_model('defaults_llama'); DROP TABLE defaults_rows")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
